"""Pick CPU or CUDA and prepare Jittor's environment before `import jittor`.

Jittor (and the CUDA libraries it loads) read their configuration from environment variables
at import time, so this module must run first (``jittor_stylegan/__init__.py`` does that).
``JSG_DEVICE=cpu|cuda|auto`` (default auto) forces a device, ``JSG_ALLOW_TF32=1`` and
``JSG_DETERMINISTIC=1`` the GPU precision and reproducibility policies; CLIs map
``--device``, ``--allow_tf32`` and ``--deterministic`` onto them (``add_device_arguments``).
"""
import contextlib
import glob
import io
import importlib.abc
import importlib.util
import os
import sys
import time

DEVICE_ENV = "JSG_DEVICE"
DEVICES = ("auto", "cpu", "cuda")
TF32_ENV = "JSG_ALLOW_TF32"
DETERMINISTIC_ENV = "JSG_DETERMINISTIC"
VERBOSE_ENV = "JSG_VERBOSE"
# Set with log_silent=1 while Jittor imports (quiet_startup): a child process started meanwhile re-arranges it
QUIET_IMPORT_ENV = "JSG_QUIET_IMPORT"
# Jittor's CUDA start-up would download these (and fail offline); single-GPU training uses none of them:
# cutt (transposes: Jittor's own kernels instead), cutlass, nccl and mpi (several GPUs: under mpirun, mpi
# stays on, as Jittor cannot start without it, and nccl comes from the copy setup linked; see _configure_nccl)
OFFLINE_SWITCHES = ("use_cutt", "use_cutlass", "use_nccl", "use_mpi")
MPI_ENV = "OMPI_COMM_WORLD_SIZE"  # set by OpenMPI's mpirun: Jittor's test for running under MPI
# The switches this module set (not the user): a child process, e.g. under mpirun, decides them afresh
SWITCHED_ENV = "JSG_SWITCHED_OFF"

# Where Jittor 1.3 looks for the oneDNN it would otherwise download.
DNNL_HOME = os.path.join(
    os.environ.get("JITTOR_HOME", os.path.expanduser("~")),
    ".cache", "jittor", "mkl", "dnnl_lnx_2.2.0_cpu_gomp")
DEBIAN_DNNL_INCLUDE = "/usr/include"
DEBIAN_DNNL_LIBS = ("/usr/lib/x86_64-linux-gnu/libdnnl.so.2", "/usr/lib/aarch64-linux-gnu/libdnnl.so.2")


def gpu_count():
    """The NVIDIA GPU device nodes this machine exposes."""
    return len(glob.glob("/dev/nvidia[0-9]*"))


def gpu_visible():
    return gpu_count() > 0


def choose_device(requested=None):
    """Resolve 'auto' to 'cuda' when a GPU and a CUDA toolkit are present (nvcc on PATH or not: see
    ``jittor_compat.cuda_home``), else 'cpu'."""
    requested = (requested or os.environ.get(DEVICE_ENV) or "auto").lower()
    if requested not in DEVICES:
        raise ValueError(f"{DEVICE_ENV} must be one of {DEVICES}, got {requested!r}")
    if requested != "auto" or not gpu_visible():
        return "cpu" if requested == "auto" else requested
    from . import jittor_compat

    return "cuda" if jittor_compat.cuda_home() else "cpu"


NO_TOOLKIT = ("jittor_stylegan: NVIDIA GPU found but no CUDA toolkit (nvcc with its headers: $nvcc_path, $CUDA_HOME, "
              "PATH, /usr/local/cuda*): running on CPU; install the toolkit or set CUDA_HOME, or JSG_DEVICE=cpu")


def link_debian_dnnl(home=DNNL_HOME):
    """Expose Debian's libdnnl-dev where Jittor expects its oneDNN; returns what it did.

    Idempotent: an existing installation (downloaded or linked) is left alone.
    """
    lib = os.path.join(home, "lib", "libmkldnn.so")
    if os.path.isfile(lib):
        return "present"
    debian_lib = next((p for p in DEBIAN_DNNL_LIBS if os.path.isfile(p)), None)
    if debian_lib is None or not os.path.isfile(os.path.join(DEBIAN_DNNL_INCLUDE, "dnnl.hpp")):
        return "missing"
    include = os.path.join(home, "include")
    os.makedirs(include, exist_ok=True)
    os.makedirs(os.path.dirname(lib), exist_ok=True)
    # Link only oneDNN's headers: `-I/usr/include` would break libstdc++'s #include_next.
    for src in glob.glob(os.path.join(DEBIAN_DNNL_INCLUDE, "dnnl*.h*")) + [os.path.join(DEBIAN_DNNL_INCLUDE, "oneapi")]:
        dst = os.path.join(include, os.path.basename(src))
        if os.path.exists(src) and not os.path.lexists(dst):
            os.symlink(src, dst)
    if os.path.lexists(lib):
        os.remove(lib)
    os.symlink(debian_lib, lib)
    return "linked " + debian_lib


def _env_flag(name, value):
    """``value`` when given (and recorded in the environment, for child processes), else the environment's."""
    if value is None:
        return os.environ.get(name, "0") == "1"
    os.environ[name] = "1" if value else "0"
    return bool(value)


def mpi_threads():
    """CPU threads for one of the processes mpirun started on this machine: its share of the cores,
    within the cores it is bound to (mpirun binds each of 2 processes to one core), so that the
    processes' OpenMP threads do not outnumber the cores."""
    local = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE", "1"))
    return max(1, min(len(os.sched_getaffinity(0)), (os.cpu_count() or 1) // local))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls ``then(module)`` once the module ``name`` has finished importing, whoever imports it."""

    def __init__(self, name, then):
        self.name, self.then = name, then

    def find_spec(self, name, path, target=None):
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            self.then(module)
        spec.loader.exec_module = exec_module
        return spec


def quiet_startup(verbose=None):
    """Hide Jittor's ``[i ...]`` start-up lines (found nvcc, cache dirs, compile processes) unless ``verbose`` /
    JSG_VERBOSE=1; warnings and errors still show. Jittor's core logs its own at load unless log_silent=1,
    which would also hide warnings: it is set only while Jittor's package imports, then switched off again.
    Python-side info lines go through Jittor's logger (``jittor_utils.LOG``), whose ``i`` is muted; the one
    its own first import prints (a new cache's lock file) is filtered out of what that import writes."""
    verbose = _env_flag(VERBOSE_ENV, verbose)
    if os.environ.get(QUIET_IMPORT_ENV) == "1" and "jittor" not in sys.modules and not _arranged(_loud_again):
        # a parent's arrangement (this process's own, from an earlier call, stands): decided afresh
        os.environ.pop("log_silent", None)
        os.environ.pop(QUIET_IMPORT_ENV, None)
    if "jittor_utils" in sys.modules or verbose:
        import jittor_utils
    else:  # Jittor's logger, imported without Jittor itself (its LOG reads log_silent now: 0)
        written = io.StringIO()
        with contextlib.redirect_stdout(written):
            import jittor_utils
        sys.stdout.write("".join(line for line in written.getvalue().splitlines(True) if not line.startswith("[i ")))
    if verbose:
        jittor_utils.LOG.__dict__.pop("i", None)
        if _arranged(_loud_again):  # arranged before --verbose was read
            sys.meta_path[:] = [f for f in sys.meta_path if not (isinstance(f, _AfterImport) and f.then is _loud_again)]
            os.environ.pop("log_silent", None)
            os.environ.pop(QUIET_IMPORT_ENV, None)
        return
    jittor_utils.LOG.i = lambda *msg: None
    if "jittor" in sys.modules or _arranged(_loud_again) or "log_silent" in os.environ:
        return  # already imported, already arranged, or the user's own choice
    os.environ["log_silent"] = os.environ[QUIET_IMPORT_ENV] = "1"
    sys.meta_path.insert(0, _AfterImport("jittor", _loud_again))


def _loud_again(jittor):
    jittor.flags.log_silent = 0
    os.environ.pop("log_silent", None)
    os.environ.pop(QUIET_IMPORT_ENV, None)


def _arranged(then):
    """Whether ``then`` already waits for Jittor's import."""
    return any(isinstance(f, _AfterImport) and f.then is then for f in sys.meta_path)


def configure(device=None, allow_tf32=None, deterministic=None, verbose=None):
    """Set Jittor's environment for `device` and the GPU policies; effective until the first `import jittor`.

    ``allow_tf32`` (default off, ``JSG_ALLOW_TF32``): off sets NVIDIA_TF32_OVERRIDE=0, which keeps
    cuDNN and cuBLAS from rounding float32 convolution/matmul inputs to TF32 (cuDNN's default on
    Ampere and newer; measured on an H100: the generator then misses the 1e-4 parity bound). On:
    cuDNN's default math, so convolutions use TF32 tensor cores; Jittor's matmuls stay float32.
    ``deterministic`` (default off, ``JSG_DETERMINISTIC``): cudnn_deterministic=1 for the patched
    Jittor (jittor_compat): cuDNN convolution algorithms chosen by heuristic, deterministic ones only.
    ``verbose`` (default off, ``JSG_VERBOSE``): Jittor's info lines shown (``quiet_startup``).
    Jittor runs on CUDA from its import on (or at once, when it is already imported): ``activate``.
    Returns the device in use: once Jittor is imported it can no longer change.
    """
    quiet_startup(verbose)
    if "jittor" in sys.modules:
        if device not in (None, "auto", os.environ.get(DEVICE_ENV)):
            raise RuntimeError(f"Jittor is already running on {os.environ.get(DEVICE_ENV)}; "
                               f"choose the device before importing Jittor")
        for name, value in ((TF32_ENV, allow_tf32), (DETERMINISTIC_ENV, deterministic)):
            if value is not None and bool(value) != (os.environ.get(name, "0") == "1"):
                raise RuntimeError(f"Jittor is already running with {name}={os.environ.get(name, '0')}; "
                                   f"choose it before importing Jittor")
        _activate_when_imported()
        return os.environ.get(DEVICE_ENV) or choose_device(device)
    chosen = choose_device(device)
    auto = (device or os.environ.get(DEVICE_ENV) or "auto").lower() == "auto"
    if chosen == "cpu" and auto and gpu_visible() and "toolkit" not in _warnings_given:
        _warnings_given.append("toolkit")  # the GPU left unused: say so, once per process
        print(NO_TOOLKIT, file=sys.stderr)
    os.environ[DEVICE_ENV] = chosen
    os.environ.setdefault("FIX_TORCH_ERROR", "0")  # keep `import jittor` from importing torch
    if MPI_ENV in os.environ and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(mpi_threads())
    tf32 = _env_flag(TF32_ENV, allow_tf32)
    if tf32:
        if os.environ.get("NVIDIA_TF32_OVERRIDE") == "0":
            del os.environ["NVIDIA_TF32_OVERRIDE"]
    else:
        os.environ["NVIDIA_TF32_OVERRIDE"] = "0"
    os.environ["cudnn_deterministic"] = "1" if _env_flag(DETERMINISTIC_ENV, deterministic) else "0"
    if chosen == "cpu":
        os.environ["nvcc_path"] = ""  # nvcc without a GPU: Jittor must not build CUDA
    else:
        _configure_cuda()
    if os.environ.get("use_mkl", "1") == "1" and link_debian_dnnl() == "missing":
        print("jittor_stylegan: oneDNN not found (apt-get install libdnnl-dev, or run ./setup.sh); "
              "using Jittor's slow convolutions (use_mkl=0)", file=sys.stderr)
        os.environ["use_mkl"] = "0"
    _activate_when_imported()
    return chosen


# Toolkit libraries that other toolkit libraries need (libcusparse of CUDA 12.x/13 needs libnvJitLink) but that
# the dynamic loader finds only through ld.so.cache or LD_LIBRARY_PATH, which a runfile install sets up neither:
# Jittor loads cuSPARSE at import, and stops there without them
TOOLKIT_PRELOADS = ("libnvJitLink",)


def preload_toolkit_libraries(home):
    """Load ``TOOLKIT_PRELOADS`` from the toolkit ``home`` into this process, so that a later load by name
    finds them loaded; returns the paths loaded."""
    import ctypes

    loaded = []
    for name in TOOLKIT_PRELOADS:
        for lib_dir in ("lib64", "lib", os.path.join("targets", "*", "lib")):
            found = sorted(glob.glob(os.path.join(home, lib_dir, f"{name}.so.[0-9]*")), key=len)  # .so.13 first
            if found:
                try:
                    ctypes.CDLL(found[0], mode=os.RTLD_NOW | os.RTLD_GLOBAL)
                    loaded.append(found[0])
                except OSError:  # not loadable here (another architecture): Jittor reports what it lacks
                    pass
                break
    return loaded


_warnings_given = []  # the no-toolkit and missing-changes warnings, once per process


def _configure_cuda():
    """CUDA start-up: the toolkit's own nvcc (Jittor takes its CUDA dir from nvcc's folder, so a wrapper
    script on PATH would mislead it), its libnvJitLink loaded, downloads switched off, a word when Jittor
    lacks jittor_compat."""
    from . import jittor_compat

    home = jittor_compat.cuda_home()  # $nvcc_path's toolkit, when set
    if home and not os.environ.get("nvcc_path"):
        os.environ["nvcc_path"] = os.path.join(home, "bin", "nvcc")
    if home:
        preload_toolkit_libraries(home)
    for name in os.environ.pop(SWITCHED_ENV, "").split(","):  # inherited from a parent's configure
        if name in OFFLINE_SWITCHES and os.environ.get(name) == "0":
            del os.environ[name]
    under_mpi = MPI_ENV in os.environ
    if under_mpi:
        _configure_nccl()
    switched = [name for name in OFFLINE_SWITCHES
                if name not in os.environ and not (under_mpi and name in ("use_mpi", "use_nccl"))]
    for name in switched:
        os.environ[name] = "0"
    if switched:
        os.environ[SWITCHED_ENV] = ",".join(switched)
        print(f"jittor_stylegan: Jittor's downloads switched off ({', '.join(n[4:] for n in switched)}: "
              f"unused by single-GPU training); set {switched[0]}=1 etc. to allow them", file=sys.stderr)
    if "compat" in _warnings_given:
        return
    _warnings_given.append("compat")
    try:
        pending = jittor_compat.pending_changes()
    except jittor_compat.CompatError:
        pending = []
    if pending:
        print(f"jittor_stylegan: the installed Jittor lacks {len(pending)} of the changes it needs on CUDA 12/13 + "
              f"cuDNN 9; run ./setup.sh or `python -m jittor_stylegan.jittor_compat`", file=sys.stderr)


def _configure_nccl():
    """Under mpirun on GPUs: Jittor's NCCL all-reduce, built against the NCCL that setup linked into Jittor
    (pip nvidia-nccl-cu12/13 or a system copy; Jittor's own NCCL download fails offline and wants an
    unversioned libnccl.so, which the wheel lacks). Jittor gives each process its own GPU (by local rank)
    only when NCCL is on: without NCCL (none found, or use_nccl=0) this process is pinned to one with
    CUDA_VISIBLE_DEVICES, and MPI all-reduces the gradients in host memory (slower; rank 0 says so)."""
    from . import jittor_compat

    if os.environ.get("use_nccl", "1") != "0":
        if os.environ.get("nccl_include_path") and os.environ.get("nccl_lib_path"):
            return  # the user's own NCCL
        linked = jittor_compat.linked_library("nccl")
        if linked:
            os.environ["nccl_include_path"], os.environ["nccl_lib_path"] = linked
            return
        os.environ["use_nccl"] = "0"
        if os.environ.get("OMPI_COMM_WORLD_RANK", "0") == "0":
            print("jittor_stylegan: no NCCL linked into Jittor (./setup.sh installs the pip nvidia-nccl wheel): "
                  "the processes all-reduce through MPI in host memory, one GPU each", file=sys.stderr)
    local = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK", "0"))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(i) for i in range(gpu_count())]
    if len(devices) > 1:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices[local % len(devices)]


def add_device_arguments(parser):
    """The device and GPU-policy options every CLI takes (read by ``configure_from_args``)."""
    group = parser.add_argument_group("device")
    group.add_argument("--device", choices=DEVICES, default="auto",
                       help="auto: CUDA when nvcc and an NVIDIA GPU are present (env JSG_DEVICE)")
    group.add_argument("--allow_tf32", action="store_true", default=None,
                       help="GPU: let cuDNN run float32 convolutions on TF32 tensor cores (faster; inputs rounded "
                            "to 10 mantissa bits); default off: true float32, as in NVIDIA's stylegan2-ada-pytorch")
    group.add_argument("--deterministic", action="store_true", default=None,
                       help="GPU: deterministic cuDNN convolution algorithms chosen without timing, so the "
                            "choice repeats in every run (cost unmeasured). Not covered: Jittor's own CUDA "
                            "reductions may add in a varying order (float atomics), so bit-identical GPU runs "
                            "are not guaranteed; CPU runs are bit-reproducible anyway")
    group.add_argument("--verbose", action="store_true", default=None,
                       help="show Jittor's start-up information lines (env JSG_VERBOSE=1)")
    return parser


def configure_from_args(args):
    """``configure`` with the options of ``add_device_arguments``; returns the device in use."""
    return configure(args.device, args.allow_tf32, args.deterministic, args.verbose)


@contextlib.contextmanager
def compiling_notice(what="first iteration", write=None):
    """Say that Jittor is compiling kernels around a first run (on a GPU ~50 s of silence otherwise), and
    afterwards how long it took and how many kernels were new (0 when all came from the cache)."""
    import jittor as jt

    write = write or (lambda line: print(line, file=sys.stderr, flush=True))
    jit_dir = os.path.join(jt.flags.cache_path, "jit")

    def kernels():
        return sum(1 for e in os.scandir(jit_dir) if e.name.endswith(".so")) if os.path.isdir(jit_dir) else 0

    before, start = kernels(), time.perf_counter()
    write(f"{what}: compiling kernels if needed (one-time, cached in {jt.flags.cache_path}) ...")
    yield
    write(f"{what}: done in {time.perf_counter() - start:.0f} s, {kernels() - before} kernels compiled")


def activate(jt):
    """Turn on Jittor's CUDA execution when the configured device is CUDA (``configure`` arranges it for
    Jittor's import, so that no module of this package switches the device as a side effect)."""
    if os.environ.get(DEVICE_ENV) == "cuda":
        if not jt.has_cuda:
            raise RuntimeError(f"{DEVICE_ENV}=cuda but Jittor found no usable CUDA; use {DEVICE_ENV}=cpu")
        jt.flags.use_cuda = 1


def _activate_when_imported():
    """``activate`` Jittor now when it is already imported, else right after its import."""
    if "jittor" in sys.modules:
        activate(sys.modules["jittor"])
    elif not _arranged(_activate_imported):
        sys.meta_path.insert(0, _AfterImport("jittor", _activate_imported))


def _activate_imported(jittor):
    activate(jittor)
