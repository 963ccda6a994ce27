"""Make the installed Jittor 1.3.11 build and run on current NVIDIA stacks (CUDA 12.x / 13, cuDNN 9).

    python -m jittor_stylegan.jittor_compat             # apply the changes below, link the cuDNN and NCCL found
    python -m jittor_stylegan.jittor_compat --check     # say what is applied; exit 1 when something is not
    python -m jittor_stylegan.jittor_compat --restore   # put Jittor's original files back
    python -m jittor_stylegan.jittor_compat --wheels    # the pip cuDNN / NCCL to install, for those not found
    python -m jittor_stylegan.jittor_compat --headers nccl  # cuDNN 9 / NCCL headers for compile checks (no GPU)

Jittor 1.3.11 (its newest release) stops on such a machine in several places (upstream issue #666);
``setup.sh`` runs this step on machines with an NVIDIA GPU. Every change edits a file of the installed
Jittor as text (Jittor is never imported here: importing it compiles it), says why in a comment where
it lands, and is applied only when the file reads exactly as in the known release: an unknown version,
or a file changed by someone else, leaves everything untouched with a message. Running it twice changes
nothing. The originals are kept under ``<jittor>/.jsg_compat/original`` for ``--restore``.
"""
import argparse
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

KNOWN_VERSIONS = ("1.3.11.0",)
STATE_DIR = ".jsg_compat"
HEADER_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "jittor_stylegan", "headers")
TAG = "jittor_stylegan compat"


class CompatError(RuntimeError):
    """The installed Jittor is not one these changes are known to fit; nothing was changed."""


class Edit:
    """Text replacements in one file: each ``old`` must occur exactly ``count`` times in the original."""

    def __init__(self, path, why, replacements):
        self.path, self.why, self.replacements = path, why, replacements

    def patched(self, text):
        for old, new, count in self.replacements:
            if text.count(old) != count:
                return None
            text = text.replace(old, new)
        return text


class Remove:
    """A file taken out of Jittor (kept among the originals)."""

    def __init__(self, path, why):
        self.path, self.why = path, why


HELPER_ATTR = """#ifdef __CUDA_RUNTIME_H__
// jittor_stylegan compat: CUDA 13 removed cudaDeviceProp::computeMode and ::clockRate; read them as
// device attributes, which every CUDA version has.
inline int jsgDeviceAttribute(cudaDeviceAttr attr, int device) {
  int value = 0;
  cudaDeviceGetAttribute(&value, attr, device);
  return value;
}
"""

DETERMINISTIC_PICK = ("            if (perf_results[i].status == CUDNN_STATUS_SUCCESS){",
                      "            if (perf_results[i].status == CUDNN_STATUS_SUCCESS\n"
                      "                && (!cudnn_deterministic || perf_results[i].determinism == CUDNN_DETERMINISTIC)){", 1)


def deterministic_search(cache):
    """With cudnn_deterministic, skip cudnnFind (timing decides, so runs may differ) for cuDNN's heuristic."""
    return (f"        if ({cache}.size()>=max_cache_size) benchmark = false;",
            f"        // {TAG}: cudnn_deterministic=1 chooses by cuDNN's heuristic (same choice in every run)\n"
            f"        // and takes only algorithms whose results are bit-reproducible\n"
            f"        if ({cache}.size()>=max_cache_size || cudnn_deterministic) benchmark = false;", 1)


# A function added to compile_extern.py: cuDNN 9's shim libcudnn.so.9 and its sub-libraries load the other
# sub-libraries by name (libcudnn_engines_precompiled.so.9, ...); the dynamic loader takes an already loaded
# library of that name first, else searches LD_LIBRARY_PATH, where another cuDNN 9.x gives
# CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH. So every sub-library is loaded by path, each after those it needs.
CUDNN9_LOADER = (
    "def jsg_load_cudnn9(cudnn_dir):\n"
    f'    """{TAG}: every libcudnn*.so.9 of `cudnn_dir`, each after the sub-libraries it needs, so that\n'
    "    cuDNN's own loads by name find these (not another cuDNN 9.x on LD_LIBRARY_PATH). An engine library\n"
    '    that does not load here (its NVRTC not found) is left to cuDNN, as before; the core four must load."""\n'
    "    import glob\n"
    '    order = ["graph", "engines_runtime_compiled", "engines_precompiled", "heuristic", "ops", "cnn", "adv"]\n'
    "    def part(path):\n"
    '        return os.path.basename(path).split(".so")[0][len("libcudnn"):].lstrip("_")\n'
    "    def rank(path):\n"
    "        return (order.index(part(path)) if part(path) in order else len(order), path)\n"
    '    for path in sorted(glob.glob(os.path.join(cudnn_dir, "libcudnn*.so.9")), key=rank):\n'
    "        try:\n"
    "            ctypes.CDLL(path, dlopen_flags)\n"
    "        except OSError as e:\n"
    '            if part(path) in ("", "graph", "ops", "cnn"):\n'
    "                raise\n"
    '            LOG.w(f"cuDNN: {os.path.basename(path)} not loaded now ({e}); cuDNN loads it by name if needed")\n\n')

CHANGES = [
    Edit("extern/cuda/inc/helper_cuda.h",
         "CUDA 13 removed cudaDeviceProp::computeMode and ::clockRate: Jittor's core stops compiling",
         [("#ifdef __CUDA_RUNTIME_H__\n", HELPER_ATTR, 1),
          ("deviceProp.computeMode == cudaComputeModeProhibited",
           "jsgDeviceAttribute(cudaDevAttrComputeMode, devID) == cudaComputeModeProhibited", 1),
          ("deviceProp.computeMode != cudaComputeModeProhibited",
           "jsgDeviceAttribute(cudaDevAttrComputeMode, current_device) != cudaComputeModeProhibited", 2),
          ("sm_per_multiproc * deviceProp.clockRate;",
           "sm_per_multiproc * jsgDeviceAttribute(cudaDevAttrClockRate, current_device);", 1)]),
    Edit("compiler.py",
         "CUB/Thrust of CUDA 12.x and 13 need C++17 (`#error CUB requires at least C++17`), Jittor gives nvcc "
         "C++14; nvcc 12.8+ builds for Blackwell (sm_100/sm_120), which Jittor clamped to sm_90 code",
         [('        if nvcc_version >= [11,4]:\n'
           '            nvcc_flags = nvcc_flags.replace("-std=c++17", "-std=c++14 -Xcompiler -std:c++14")\n',
           f'        # {TAG}: CUB/Thrust of CUDA 12.x and 13 (CCCL) need C++17; g++ builds of .cc stay C++14\n'
           '        if nvcc_version >= [11,4]:\n'
           '            nvcc_flags = nvcc_flags.replace("-std=c++14", "-std=c++17")\n', 1),
          ("    max_arch = 90\n",
           f"    # {TAG}: nvcc 12.8+ builds for Blackwell; sm_90 code (the old clamp) cannot run there\n"
           "    max_arch = 121 if nvcc_version >= [12,9] else 120 if nvcc_version >= [12,8] else 90\n", 1)]),
    Edit("compile_extern.py",
         "cuDNN 9: Jittor looks for cudnn.h and an unversioned libcudnn.so only in the CUDA and system dirs "
         "(a pip cuDNN is elsewhere, with versioned names) and loads cuDNN 8's sub-libraries "
         "libcudnn_{ops,cnn}_{infer,train}, which cuDNN 9 replaced by libcudnn_{graph,ops,cnn,adv,engines_*,...} "
         "(loaded by name, so another cuDNN 9.x on LD_LIBRARY_PATH mixes in: SUBLIBRARY_VERSION_MISMATCH); and a "
         "cuDNN, cuFFT or cuSPARSE that does not load (cuSPARSE needs libnvJitLink) stops the whole import",
         [("def setup_cuda_lib(lib_name, link=True, extra_flags=\"\"):\n",
           "def jsg_cudnn_major(cudnn_h):\n"
           f'    """{TAG}: CUDNN_MAJOR from cudnn_version.h (cuDNN 8+) or cudnn.h beside `cudnn_h`."""\n'
           "    import re\n"
           '    for name in ("cudnn_version.h", "cudnn.h"):\n'
           "        path = os.path.join(os.path.dirname(cudnn_h), name)\n"
           "        if os.path.isfile(path):\n"
           "            with open(path) as f:\n"
           '                found = re.search(r"#define\\s+CUDNN_MAJOR\\s+(\\d+)", f.read())\n'
           "            if found:\n"
           "                return int(found.group(1))\n"
           "    return 0\n\n"
           + CUDNN9_LOADER +
           "def setup_cuda_lib(lib_name, link=True, extra_flags=\"\"):\n", 1),
          ("            LOG.f(msg)\n",
           f"            # {TAG}: cuDNN (Jittor has convolutions of its own), cuFFT and cuSPARSE (unused by\n"
           "            # StyleGAN) are optional: one that does not load is a warning, not a stopped import\n"
           '            if lib_name in ("cudnn", "cufft", "cusparse"):\n'
           '                LOG.w(f"{msg}\\n{e}\\njittor_stylegan: Jittor continues without {lib_name}")\n'
           "                continue\n"
           "            LOG.f(msg)\n", 1),
          ('        cuda_include_name = search_file([cuda_include, extra_include_path, "/usr/include"], lib_name+".h")\n',
           f"        # {TAG}: first where `python -m jittor_stylegan.jittor_compat` linked the cuDNN it found\n"
           "        # (system package, CUDA dir or pip wheel) under the unversioned names searched here\n"
           f'        jsg_dirs = [os.path.join(jittor_path, "{STATE_DIR}", "cudnn")] if lib_name == "cudnn" else []\n'
           '        cuda_include_name = search_file([os.path.join(d, "include") for d in jsg_dirs] + '
           '[cuda_include, extra_include_path, "/usr/include"], lib_name+".h")\n', 1),
          ('        culib_path = search_file([cuda_bin, cuda_lib, extra_lib_path, f"/usr/lib/{arch_key}-linux-gnu", '
           '"/usr/lib"], f"lib{lib_name}.so", prefer_version)\n',
           '        culib_path = search_file([os.path.join(d, "lib") for d in jsg_dirs] + [cuda_bin, cuda_lib, '
           'extra_lib_path, f"/usr/lib/{arch_key}-linux-gnu", "/usr/lib"], f"lib{lib_name}.so", prefer_version)\n', 1),
          ("            if nvcc_version >= (11,0,0):\n"
           '                libs = ["libcudnn_ops_infer.so", "libcudnn_ops_train.so", "libcudnn_cnn_infer.so", '
           '"libcudnn_cnn_train.so"]\n',
           f"            # {TAG}: cuDNN 9's sub-libraries, all of them from libcudnn's own folder\n"
           "            if jsg_cudnn_major(cuda_include_name) >= 9:\n"
           "                jsg_load_cudnn9(os.path.dirname(os.path.realpath(culib_path)))\n"
           "            elif nvcc_version >= (11,0,0):\n"
           '                libs = ["libcudnn_ops_infer.so", "libcudnn_ops_train.so", "libcudnn_cnn_infer.so", '
           '"libcudnn_cnn_train.so"]\n', 1),
          ('        link_flags = f"-l{lib_name} -L\\"{os.path.dirname(culib_path)}\\""\n',
           '        link_flags = f"-l{lib_name} -L\\"{os.path.dirname(culib_path)}\\""\n'
           f"        # {TAG}: compile the cuDNN ops against the cudnn.h found above\n"
           '        if lib_name == "cudnn" and os.path.dirname(cuda_include_name) != "/usr/include":\n'
           '            link_flags += f" -I\\"{os.path.dirname(cuda_include_name)}\\""\n', 1)]),
    Remove("extern/cuda/cudnn/ops/cudnn_rnn_op.cc", "cuDNN 9 removed the legacy RNN API (StyleGAN uses no RNN)"),
    Remove("extern/cuda/cudnn/ops/cudnn_rnn_op.h", "cuDNN 9 removed the legacy RNN API (StyleGAN uses no RNN)"),
    Remove("extern/cuda/cudnn/ops/cudnn_rnn_backward_x_op.cc", "cuDNN 9 removed the legacy RNN API"),
    Remove("extern/cuda/cudnn/ops/cudnn_rnn_backward_x_op.h", "cuDNN 9 removed the legacy RNN API"),
    Remove("extern/cuda/cudnn/src/cudnn_rnn_descriptor.cc", "cuDNN 9 removed the legacy RNN API"),
    Remove("extern/cuda/cudnn/inc/cudnn_rnn_descriptor.h", "cuDNN 9 removed the legacy RNN API"),
    Edit("extern/cuda/cub/ops/cub_where_op.cc",
         "CCCL 3 (CUDA 13) removed cub::CountingInputIterator and cub::TransformInputIterator (jt.where on CUDA)",
         [("#include <thrust/transform.h>\n",
           "#include <thrust/transform.h>\n#include <thrust/iterator/counting_iterator.h>\n"
           "#include <thrust/iterator/transform_iterator.h>\n", 1),
          ("    cub::CountingInputIterator<To> counting_itr(0);\n"
           "    cub::TransformInputIterator<bool, NonZeroOp<Ti>, Ti*> itr(cond->ptr<Ti>(), NonZeroOp<Ti>());\n",
           f"    // {TAG}: CCCL 3 removed cub's CountingInputIterator / TransformInputIterator\n"
           "    thrust::counting_iterator<To> counting_itr(0);\n"
           "    thrust::transform_iterator<NonZeroOp<Ti>, Ti*, bool> itr(cond->ptr<Ti>(), NonZeroOp<Ti>());\n", 1)]),
    Edit("extern/cuda/cudnn/inc/cudnn_wrapper.h",
         "--deterministic: cuDNN convolution algorithms chosen without timing, bit-reproducible ones only",
         [("EXTERN_LIB float max_workspace_ratio;\n",
           "EXTERN_LIB float max_workspace_ratio;\n"
           f"// {TAG}: environment variable cudnn_deterministic=1 (read once, at load): convolution\n"
           "// algorithms by cuDNN's heuristic, deterministic ones only (jittor_stylegan --deterministic)\n"
           "EXTERN_LIB int cudnn_deterministic;\n", 1)]),
    Edit("extern/cuda/cudnn/src/cudnn_wrapper.cc",
         "--deterministic: the switch the convolution ops read",
         [("float max_workspace_ratio = 0.25;\n",
           "float max_workspace_ratio = 0.25;\n"
           f"// {TAG}: --deterministic (see cudnn_wrapper.h)\n"
           'int cudnn_deterministic = getenv("cudnn_deterministic") && getenv("cudnn_deterministic")[0] == \'1\';\n',
           1)]),
    Edit("extern/cuda/cudnn/ops/cudnn_conv_op.cc", "--deterministic: forward convolution algorithm",
         [deterministic_search("fwd_algo_cache"), DETERMINISTIC_PICK]),
    Edit("extern/cuda/cudnn/ops/cudnn_conv_backward_x_op.cc", "--deterministic: input-gradient algorithm",
         [deterministic_search("bwdx_algo_cache"), DETERMINISTIC_PICK]),
    Edit("extern/cuda/cudnn/ops/cudnn_conv_backward_w_op.cc", "--deterministic: weight-gradient algorithm",
         [deterministic_search("bwdw_algo_cache"), DETERMINISTIC_PICK]),
]


def jittor_root():
    """The installed Jittor package folder, found without importing Jittor."""
    spec = importlib.util.find_spec("jittor")
    if spec is None or not spec.submodule_search_locations:
        raise CompatError("Jittor is not installed in this Python")
    return list(spec.submodule_search_locations)[0]


def jittor_version(root):
    with open(os.path.join(root, "__init__.py"), encoding="utf8") as f:
        found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", f.read(), re.M)
    return found.group(1) if found else "unknown"


def _read(path):
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf8") as f:
        return f.read()


def _original(root, path):
    return os.path.join(root, STATE_DIR, "original", path)


def status(root):
    """[(change, state)] with state 'applied', 'pending' or a sentence saying why it cannot be applied."""
    result = []
    for change in CHANGES:
        target, original = os.path.join(root, change.path), _original(root, change.path)
        current = _read(target)
        if isinstance(change, Remove):
            if current is None:
                state = "applied" if os.path.isfile(original) else "missing"
            elif not os.path.isfile(original) or current == _read(original):
                state = "pending"  # (again, after a reinstall of the same Jittor)
            else:
                state = "differs from the original kept at removal (reinstall Jittor)"
        elif current is None:
            state = "missing"
        elif os.path.isfile(original):
            if current == change.patched(_read(original)):
                state = "applied"
            elif current == _read(original) or TAG in current:
                state = "pending"  # reinstalled, or patched by an earlier version of this step
            else:
                state = "changed since it was patched (reinstall Jittor)"
        else:
            state = "pending" if change.patched(current) is not None else "text differs from Jittor 1.3.11"
        result.append((change, state))
    return result


def pending_changes(root=None):
    """Paths of the changes not applied to the installed Jittor ([] for a version they were not written for)."""
    root = root or jittor_root()
    if jittor_version(root) not in KNOWN_VERSIONS:
        return []
    return [change.path for change, state in status(root) if state != "applied"]


def check_version(root):
    version = jittor_version(root)
    if version not in KNOWN_VERSIONS:
        raise CompatError(
            f"Jittor {version} at {root} is not a version these changes were written for "
            f"({', '.join(KNOWN_VERSIONS)}); nothing was changed. If it starts on your GPU as it is, nothing is "
            f"needed; otherwise install jittor=={KNOWN_VERSIONS[-1]} (this project's pin).")
    return version


def apply(root, log=print):
    """Apply every pending change; all or nothing. Returns the number of files changed (0 when all applied)."""
    check_version(root)
    states = status(root)
    bad = [f"{c.path}: {s}" for c, s in states if s not in ("applied", "pending")]
    if bad:
        raise CompatError("Jittor's files are not as expected; nothing was changed:\n  " + "\n  ".join(bad))
    changed = 0
    for change, state in states:
        if state == "applied":
            continue
        target, original = os.path.join(root, change.path), _original(root, change.path)
        os.makedirs(os.path.dirname(original), exist_ok=True)
        if not os.path.isfile(original):
            shutil.copy2(target, original)
        if isinstance(change, Remove):
            os.remove(target)
        else:
            with open(target, "w", encoding="utf8") as f:
                f.write(change.patched(_read(original)))
        log(f"jittor_compat: {change.path}: {'removed' if isinstance(change, Remove) else 'patched'} ({change.why})")
        changed += 1
    return changed


def restore(root, log=print):
    """Put every original file back and remove this step's folder; returns the number of files restored."""
    originals = os.path.join(root, STATE_DIR, "original")
    restored = 0
    for change in CHANGES:
        original = _original(root, change.path)
        if os.path.isfile(original):
            shutil.copy2(original, os.path.join(root, change.path))
            log(f"jittor_compat: {change.path}: original restored")
            restored += 1
    if os.path.isdir(originals) or any(os.path.isdir(lib.links(root)) for lib in LIBRARIES.values()):
        shutil.rmtree(os.path.join(root, STATE_DIR))
    return restored


# ---------------------------------------------------------------- cuDNN and NCCL discovery

class Library:
    """A CUDA library Jittor loads by an unversioned name (lib<name>.so) that pip wheels and packages ship
    versioned: its version header(s) and the key of the last version number, its pip wheel per CUDA major,
    and what Jittor does without it."""

    def __init__(self, name, title, version_headers, patch_key, wheel_spec, without):
        self.name, self.title, self.without = name, title, without
        self.version_headers, self.patch_key, self.wheel_spec = version_headers, patch_key, wheel_spec

    def links(self, root):
        """Where ``link_library`` exposes it for Jittor: ``<jittor>/.jsg_compat/<name>/{include,lib}``."""
        return os.path.join(root, STATE_DIR, self.name)


LIBRARIES = {
    # cuDNN: Jittor's convolutions on the GPU; 8 and 9 both work once the changes above are applied
    "cudnn": Library("cudnn", "cuDNN", ("cudnn_version.h", "cudnn.h"), "PATCHLEVEL", ">=9,<10",
                     "Jittor will run its slower convolutions"),
    # NCCL: Jittor's all-reduce between GPUs under mpirun (runtime points Jittor at the links)
    "nccl": Library("nccl", "NCCL", ("nccl.h",), "PATCH", ">=2,<3",
                    "training on several GPUs (mpirun) will all-reduce through MPI in host memory"),
}


def header_variants(include_dir, header):
    """``header`` in ``include_dir``, then its major-versioned names, newest first: Debian/Ubuntu packages of
    cuDNN before 9.10 install ``cudnn_v9.h``, ``cudnn_version_v9.h`` (unversioned names only as alternatives)."""
    stem = header[:-len(".h")]
    versioned = glob.glob(os.path.join(include_dir, f"{stem}_v[0-9]*.h"))
    versioned = [p for p in versioned if re.fullmatch(rf"{stem}_v\d+\.h", os.path.basename(p))]
    plain = os.path.join(include_dir, header)
    return ([plain] if os.path.isfile(plain) else []) + sorted(versioned, key=_header_major, reverse=True)


def _header_major(path):
    """N of a ``<name>_vN.h`` header, else None."""
    found = re.search(r"_v(\d+)\.h$", path)
    return int(found.group(1)) if found else None


def library_version(library, include_dir):
    """(major, minor, patch) from the library's version header in ``include_dir``, else None."""
    key = library.name.upper()
    for name in library.version_headers:
        for path in header_variants(include_dir, name):
            with open(path, encoding="utf8", errors="replace") as f:
                text = f.read()
            parts = [re.search(rf"#define\s+{key}_{part}\s+(\d+)", text) for part in ("MAJOR", "MINOR", library.patch_key)]
            if all(parts):
                return tuple(int(p.group(1)) for p in parts)
    return None


# Where NVIDIA's installers (runfile, apt cuda-toolkit-X-Y) put the toolkit; none of them adds it to PATH
TOOLKIT_DIRS = ("/usr/local/cuda", "/usr/local/cuda-[0-9]*")


def _toolkit_version(nvcc):
    """[12, 10] for /usr/local/cuda-12.10/bin/nvcc (numbers compare as numbers: 12.10 is newer than 12.4)."""
    return [int(n) for n in re.findall(r"\d+", os.path.basename(os.path.dirname(os.path.dirname(nvcc))))]


def cuda_home(nvcc=None):
    """The CUDA toolkit folder of ``nvcc`` (default: $nvcc_path, $CUDA_HOME, $CUDA_PATH, PATH, then
    ``TOOLKIT_DIRS``, the newest /usr/local/cuda-X.Y first), or None.

    A wrapper script on PATH (``exec /usr/local/cuda-13.0/bin/nvcc``) is followed to the toolkit it runs.
    """
    candidates = [nvcc, os.environ.get("nvcc_path")]
    candidates += [os.path.join(os.environ[v], "bin", "nvcc") for v in ("CUDA_HOME", "CUDA_PATH") if os.environ.get(v)]
    candidates.append(shutil.which("nvcc"))
    for pattern in TOOLKIT_DIRS:
        candidates += sorted(glob.glob(os.path.join(pattern, "bin", "nvcc")), key=_toolkit_version, reverse=True)
    for path in filter(None, candidates):
        if not os.path.isfile(path):
            continue
        home = os.path.dirname(os.path.dirname(os.path.realpath(path)))
        if os.path.isfile(os.path.join(home, "include", "cuda_runtime.h")):
            return home
        try:
            with open(path, "rb") as f:
                head = f.read(4096)
        except OSError:
            continue
        if head.startswith(b"#!"):
            for target in re.findall(rb"(/\S+/bin/nvcc)\b", head):
                home = cuda_home(target.decode())
                if home:
                    return home
    return None


def cuda_major(home):
    """The toolkit's major version from its cuda_runtime_api.h (CUDART_VERSION 13000 -> 13), or None."""
    try:
        with open(os.path.join(home, "include", "cuda_runtime_api.h"), encoding="utf8", errors="replace") as f:
            found = re.search(r"#define\s+CUDART_VERSION\s+(\d+)", f.read())
    except (OSError, TypeError):
        return None
    return int(found.group(1)) // 1000 if found else None


def path_python_site():
    """The site-packages of the ``python3`` on PATH when that is another environment than this Python (e.g. the
    machine's torch venv, with cuDNN and NCCL as pip wheels), else None."""
    python = shutil.which("python3")
    if python is None or os.path.realpath(python) == os.path.realpath(sys.executable):
        return None
    try:
        site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return site if site and os.path.isdir(site) else None


def library_candidates(library, home=None, site_dirs=None):
    """(include dir, lib dir, where) pairs where users have ``library``, in the order they are tried:
    $<NAME>_HOME / $<NAME>_PATH, the CUDA toolkit, system packages, pip nvidia-<name> wheels (this Python's
    path, then the ``python3`` on PATH: ``site_dirs`` instead, when given)."""
    arch = "x86_64" if os.uname().machine in ("x86_64", "AMD64") else "aarch64"
    pairs = []
    for var in (f"{library.name.upper()}_HOME", f"{library.name.upper()}_PATH"):
        if os.environ.get(var):
            pairs += [(os.path.join(os.environ[var], "include"), os.path.join(os.environ[var], lib), f"${var}")
                      for lib in ("lib64", "lib")]
    if home:
        pairs += [(os.path.join(home, "include"), os.path.join(home, lib), "the CUDA toolkit")
                  for lib in ("lib64", "lib")]
        pairs.append((os.path.join(home, "targets", f"{arch}-linux", "include"),
                      os.path.join(home, "targets", f"{arch}-linux", "lib"), "the CUDA toolkit"))
    pairs += [("/usr/include", f"/usr/lib/{arch}-linux-gnu", "system packages"),
              (f"/usr/include/{arch}-linux-gnu", f"/usr/lib/{arch}-linux-gnu", "system packages")]
    if site_dirs is None:
        site_dirs = sys.path + [site for site in [path_python_site()] if site and site not in sys.path]
    for site in site_dirs:
        folder = os.path.join(site, "nvidia", library.name)
        pairs.append((os.path.join(folder, "include"), os.path.join(folder, "lib"),
                      f"a pip nvidia-{library.name} wheel"))
    return pairs


def find_library(name, home=None, site_dirs=None):
    """The first ``name`` ("cudnn" or "nccl") with headers and a library: dict(name, include, lib, version,
    where), or None."""
    library = LIBRARIES[name]
    for include, lib, where in library_candidates(library, home, site_dirs):
        version = library_version(library, include) if header_variants(include, f"{name}.h") else None
        if version and _library_files(lib, name, version[0]):
            return dict(name=name, include=include, lib=lib, version=version, where=where)
    return None


def _library_files(lib_dir, name, major):
    """lib<name>*.so.<major>[.*] in ``lib_dir`` (another major's files, e.g. cuDNN 8 beside 9, left out)."""
    pattern = re.compile(rf"lib{name}(_\w+)?\.so\.{major}(\..*)?")
    return sorted(p for p in glob.glob(os.path.join(lib_dir, f"lib{name}*.so.*"))
                  if pattern.fullmatch(os.path.basename(p)))


def link_library(root, found, log=print):
    """Expose ``found`` (from ``find_library``) under ``<jittor>/.jsg_compat/<name>/{include,lib}`` with the
    unversioned names Jittor searches (libcudnn.so -> libcudnn.so.9); idempotent. Returns the number of
    links made or replaced."""
    library = LIBRARIES[found["name"]]
    made = 0
    links = library.links(root)
    wanted = {}
    major = found["version"][0]
    for header in glob.glob(os.path.join(found["include"], f"{library.name}*")):  # NCCL also has a nccl_device/
        name, header_major = os.path.basename(header), _header_major(header)
        if header_major in (None, major):
            wanted[os.path.join(links, "include", name)] = header
        if header_major == major:  # cudnn_v9.h also as cudnn.h, unless the folder has a cudnn.h of its own
            plain = re.sub(r"_v\d+\.h$", ".h", name)
            if not os.path.exists(os.path.join(found["include"], plain)):
                wanted[os.path.join(links, "include", plain)] = header
    for lib in _library_files(found["lib"], library.name, major):
        name = os.path.basename(lib)
        wanted[os.path.join(links, "lib", name)] = lib
        unversioned = os.path.join(links, "lib", name.split(".so")[0] + ".so")
        if unversioned not in wanted or len(lib) < len(wanted[unversioned]):
            wanted[unversioned] = lib  # the shortest versioned name: libcudnn.so.9 rather than .so.9.19.0
    for subdir in ("include", "lib"):  # links to another copy found before go
        folder = os.path.join(links, subdir)
        for stale in (glob.glob(os.path.join(folder, "*")) if os.path.isdir(folder) else []):
            if stale not in wanted:
                os.remove(stale)
                made += 1
    for link, target in wanted.items():
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(target, link)
        made += 1
    if made:
        v = ".".join(map(str, found["version"]))
        log(f"jittor_compat: {library.title} {v} from {found['where']} ({found['lib']}) linked for Jittor")
    return made


def linked_library(name, root=None):
    """(include dir, lib dir) of the ``name`` that ``link_library`` exposed in the installed Jittor, or None."""
    try:
        links = LIBRARIES[name].links(root or jittor_root())
    except CompatError:
        return None
    include, lib = os.path.join(links, "include"), os.path.join(links, "lib")
    ok = os.path.isfile(os.path.join(include, f"{name}.h")) and os.path.isfile(os.path.join(lib, f"lib{name}.so"))
    return (include, lib) if ok else None


def library_wheel(name, home):
    """The pip package of ``name`` built for this toolkit's CUDA major (nvidia-cudnn-cu13, nvidia-nccl-cu12)."""
    major = cuda_major(home)
    if major is None or major < 11:
        raise CompatError(f"no CUDA 11, 12 or 13 toolkit found (nvcc: {home}); {LIBRARIES[name].title} from pip "
                          f"needs one")
    return f"nvidia-{name}-cu{major}{LIBRARIES[name].wheel_spec}"


def library_headers(name, major=13, cache=HEADER_CACHE, python=sys.executable, log=print):
    """A folder with the headers of ``name`` from its PyPI wheel nvidia-<name>-cu<major> (for compile checks on
    machines without it): downloaded once with pip, only ``include/`` kept, cached under ``cache``."""
    library = LIBRARIES[name]
    target = os.path.join(cache, f"{name}-cu{major}")
    if library_version(library, target):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        log(f"jittor_compat: downloading nvidia-{name}-cu{major} ({library.title}) for its headers")
        subprocess.run([python, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
                        "-d", tmp, f"nvidia-{name}-cu{major}{library.wheel_spec}"], check=True)
        wheel, = glob.glob(os.path.join(tmp, "*.whl"))
        partial = target + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        with zipfile.ZipFile(wheel) as z:
            for member in z.namelist():
                inside = member.split("/include/", 1)
                if len(inside) == 2 and member.endswith(".h"):
                    path = os.path.join(partial, inside[1])
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with z.open(member) as src, open(path, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        shutil.rmtree(target, ignore_errors=True)
        os.rename(partial, target)
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m jittor_stylegan.jittor_compat", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="report; exit 1 unless every change is applied")
    group.add_argument("--restore", action="store_true", help="put Jittor's original files back")
    group.add_argument("--wheels", action="store_true",
                       help="print the pip packages of cuDNN and NCCL to install, for those not found (one a line)")
    group.add_argument("--headers", choices=sorted(LIBRARIES),
                       help="print a folder with that library's headers (downloaded once from PyPI, cached)")
    parser.add_argument("--jittor", help="Jittor package folder (default: the installed one)")
    args = parser.parse_args(argv)
    try:
        home = cuda_home()
        if args.headers:
            print(library_headers(args.headers, cuda_major(home) or 13, log=lambda m: print(m, file=sys.stderr)))
            return 0
        if args.wheels:
            for name in LIBRARIES:
                if find_library(name, home) is None:
                    print(library_wheel(name, home))
            return 0
        root = args.jittor or jittor_root()
        if args.restore:
            n = restore(root)
            print(f"jittor_compat: {n} original files restored" if n else "jittor_compat: nothing to restore")
            return 0
        found = {name: find_library(name, home) for name in LIBRARIES}
        if args.check:
            version = jittor_version(root)
            states = status(root)
            for change, state in states:
                print(f"{state:>8s}  {change.path}: {change.why}")
            print(f"Jittor {version} at {root}; CUDA toolkit {home or 'not found'}" + "".join(
                f"; {LIBRARIES[name].title} " + (f"{'.'.join(map(str, f['version']))} from {f['where']} ({f['lib']})"
                                                 if f else "not found") for name, f in found.items()))
            return 0 if all(s == "applied" for _, s in states) else 1
        changed = apply(root)
        for name, f in found.items():
            if f is None:
                print(f"jittor_compat: no {LIBRARIES[name].title} found (CUDA dir, system packages, pip "
                      f"nvidia-{name}-cu*): {LIBRARIES[name].without}", file=sys.stderr)
            else:
                changed += link_library(root, f)
        if not changed:
            print(f"jittor_compat: Jittor {jittor_version(root)} already patched; nothing to do")
        return 0
    except (CompatError, subprocess.CalledProcessError) as e:
        print(f"jittor_compat: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
