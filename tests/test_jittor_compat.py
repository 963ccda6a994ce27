"""jittor_compat: the changes that let Jittor 1.3.11 run on CUDA 12/13 + cuDNN 9, on a copy of the
installed Jittor (the installed one is never touched here).

Without a GPU: applying is idempotent and all-or-nothing, restoring gives back the original bytes,
unknown versions and foreign edits are refused, cuDNN is found where users have it. With nvcc (no GPU
needed): the Jittor sources the changes touch compile against CUDA 13 and cuDNN 9's headers (from the
PyPI wheel nvidia-cudnn-cu<major>, downloaded once and cached) with the flags the patched Jittor gives
nvcc, and the unpatched sources are shown to fail, so a regression of the step fails CI. About 1 min.
"""
import ast
import concurrent.futures
import glob
import hashlib
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import types

import pytest

from conftest import build_library
from jittor_stylegan import jittor_compat as compat

NVCC = compat.cuda_home() and os.path.join(compat.cuda_home(), "bin", "nvcc")
needs_nvcc = pytest.mark.skipif(not NVCC, reason="nvcc not found: the patched CUDA sources are not compiled")


def tree_digest(root):
    """{relative path: sha256} of every file under ``root`` but caches."""
    digest = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                digest[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return digest


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A copy of the installed Jittor as released (restored, should the installed one be patched)."""
    root = str(tmp_path_factory.mktemp("jittor") / "jittor")
    shutil.copytree(compat.jittor_root(), root, ignore=shutil.ignore_patterns("__pycache__"))
    compat.restore(root, log=lambda _: None)
    return root


@pytest.fixture(scope="module")
def patched(pristine, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("patched") / "jittor")
    shutil.copytree(pristine, root)
    compat.apply(root, log=lambda _: None)
    return root


def copy_of(pristine, tmp_path):
    root = str(tmp_path / "jittor")
    shutil.copytree(pristine, root)
    return root


def test_apply_is_idempotent_and_restore_exact(pristine, tmp_path):
    root = copy_of(pristine, tmp_path)
    original = tree_digest(root)
    assert compat.pending_changes(root) == [c.path for c in compat.CHANGES]
    lines = []
    assert compat.apply(root, log=lines.append) == len(compat.CHANGES)
    assert all("jittor_compat: " in line and "(" in line for line in lines)  # each change says why
    once = tree_digest(root)
    assert once != original and compat.pending_changes(root) == []
    assert compat.apply(root, log=lines.append) == 0
    assert tree_digest(root) == once
    for change in compat.CHANGES:
        if isinstance(change, compat.Remove):
            assert not os.path.exists(os.path.join(root, change.path))
        else:
            with open(os.path.join(root, change.path)) as f:
                assert compat.TAG in f.read(), change.path  # the edited file says why, where it changed
    assert compat.restore(root, log=lines.append) == len(compat.CHANGES)
    assert tree_digest(root) == original


def test_reinstalled_or_outdated_files_are_patched_again(pristine, tmp_path):
    root = copy_of(pristine, tmp_path)
    compat.apply(root, log=lambda _: None)
    edit = next(c for c in compat.CHANGES if isinstance(c, compat.Edit))
    shutil.copy(os.path.join(pristine, edit.path), os.path.join(root, edit.path))  # as after a reinstall
    removed = next(c for c in compat.CHANGES if isinstance(c, compat.Remove))
    shutil.copy(os.path.join(pristine, removed.path), os.path.join(root, removed.path))
    assert compat.pending_changes(root) == [edit.path, removed.path]
    assert compat.apply(root, log=lambda _: None) == 2 and compat.pending_changes(root) == []


def test_unknown_version_and_foreign_edits_change_nothing(pristine, tmp_path):
    root = copy_of(pristine, tmp_path)
    init = os.path.join(root, "__init__.py")
    with open(init) as f:
        text = f.read()
    with open(init, "w") as f:
        f.write(re.sub(r"__version__ = '[^']+'", "__version__ = '1.4.0.0'", text))
    before = tree_digest(root)
    with pytest.raises(compat.CompatError, match="Jittor 1.4.0.0 .* not a version these changes were written for"):
        compat.apply(root)
    assert tree_digest(root) == before
    assert compat.pending_changes(root) == []  # nothing claimed missing for a version we do not know
    with open(init, "w") as f:
        f.write(text)
    target = os.path.join(root, "extern/cuda/cub/ops/cub_where_op.cc")  # the last edit: all or nothing
    with open(target) as f:
        source = f.read()
    with open(target, "w") as f:
        f.write(source.replace("cub::CountingInputIterator", "cub::SomethingElse"))
    before = tree_digest(root)
    with pytest.raises(compat.CompatError, match="cub_where_op.cc: text differs"):
        compat.apply(root)
    assert tree_digest(root) == before


def fake_cudnn(folder, major=9, libs=("libcudnn.so.9", "libcudnn_graph.so.9", "libcudnn_ops.so.9",
                                      "libcudnn_cnn.so.9")):
    os.makedirs(os.path.join(folder, "include"), exist_ok=True)
    os.makedirs(os.path.join(folder, "lib"), exist_ok=True)
    with open(os.path.join(folder, "include", "cudnn.h"), "w") as f:
        f.write('#include "cudnn_version.h"\n')
    with open(os.path.join(folder, "include", "cudnn_version.h"), "w") as f:
        f.write(f"#define CUDNN_MAJOR {major}\n#define CUDNN_MINOR 19\n#define CUDNN_PATCHLEVEL 0\n")
    for lib in libs:
        open(os.path.join(folder, "lib", lib), "w").close()


def test_cudnn_found_in_a_pip_wheel_and_linked_idempotently(tmp_path):
    site = tmp_path / "site-packages"
    fake_cudnn(str(site / "nvidia" / "cudnn"))
    found = compat.find_library("cudnn", home=None, site_dirs=[str(site)])
    assert found["version"] == (9, 19, 0) and found["where"] == "a pip nvidia-cudnn wheel"
    root = str(tmp_path / "jittor")
    assert compat.link_library(root, found, log=lambda _: None) > 0
    links = compat.LIBRARIES["cudnn"].links(root)
    lib = os.path.join(links, "lib")
    assert os.readlink(os.path.join(lib, "libcudnn.so")) == os.path.join(found["lib"], "libcudnn.so.9")
    assert os.readlink(os.path.join(lib, "libcudnn_cnn.so")) == os.path.join(found["lib"], "libcudnn_cnn.so.9")
    assert os.path.islink(os.path.join(links, "include", "cudnn_version.h"))
    assert compat.link_library(root, found, log=lambda _: None) == 0
    assert compat.linked_library("cudnn", root) == (os.path.join(links, "include"), lib)
    # a cuDNN in the CUDA toolkit comes first, and replaces the links to the wheel
    toolkit = tmp_path / "cuda"
    fake_cudnn(str(toolkit), libs=("libcudnn.so.9",))
    os.rename(toolkit / "lib", toolkit / "lib64")
    found = compat.find_library("cudnn", home=str(toolkit), site_dirs=[str(site)])
    assert found["where"] == "the CUDA toolkit"
    assert compat.link_library(root, found, log=lambda _: None) > 0
    assert sorted(os.listdir(lib)) == ["libcudnn.so", "libcudnn.so.9"]


@needs_nvcc
def test_cuda_home_follows_a_wrapper_script(tmp_path):
    wrapper = tmp_path / "nvcc"
    wrapper.write_text(f'#!/bin/sh\nexec {NVCC} "$@"\n')
    wrapper.chmod(0o755)
    assert compat.cuda_home(str(wrapper)) == compat.cuda_home(NVCC)
    major = compat.cuda_major(compat.cuda_home())
    assert compat.library_wheel("cudnn", compat.cuda_home()) == f"nvidia-cudnn-cu{major}>=9,<10"
    assert compat.library_wheel("nccl", compat.cuda_home()) == f"nvidia-nccl-cu{major}>=2,<3"


def function_from(path, name):
    """A function defined (at any depth) in a Jittor source file, as a callable."""
    with open(path) as f:
        source = f.read()
    node = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name == name)
    return source, textwrap.dedent(ast.get_source_segment(source, node))


def nvcc_flags(root):
    """The flags the patched compiler.py gives nvcc: its convert_nvcc_flags applied to its own cc_flags."""
    source, function = function_from(os.path.join(root, "compiler.py"), "convert_nvcc_flags")
    cc_flags = re.search(r'^cc_flags \+= "( -Wall[^"]*)"', source, re.M).group(1)
    scope = dict(os=os, nvcc_version=[compat.cuda_major(compat.cuda_home()) or 13, 0], cc_path=shutil.which("g++"),
                 jittor_path=root, map_flags=None)
    exec(function, scope)
    return scope["convert_nvcc_flags"](cc_flags)


def test_patched_python_parts(patched, pristine, tmp_path):
    """The nvcc flags ask for C++17 (CUB of CUDA 12.x/13), and the cuDNN version helper reads CUDNN_MAJOR."""
    assert "-std=c++17" in nvcc_flags(patched) and "-std=c++17" not in nvcc_flags(pristine)
    _, function = function_from(os.path.join(patched, "compile_extern.py"), "jsg_cudnn_major")
    scope = dict(os=os)
    exec(function, scope)
    for major in (8, 9):
        fake_cudnn(str(tmp_path / str(major)), major=major)
        assert scope["jsg_cudnn_major"](str(tmp_path / str(major) / "include" / "cudnn.h")) == major


@pytest.fixture(scope="module")
def cudnn_include():
    return compat.library_headers("cudnn", compat.cuda_major(compat.cuda_home()) or 13)


def compile_all(jobs):
    """Run the compile commands (2 at a time); {label: stderr} of those that failed."""
    def run(job):
        label, cmd = job
        result = subprocess.run(cmd, capture_output=True, text=True)
        return label, (result.stderr[-3000:] if result.returncode else None)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return {label: err for label, err in pool.map(run, jobs) if err is not None}


def jit_source(root, rel, defs, out):
    """A JIT-compiled op's CUDA source as Jittor writes it: its @-macros expanded for ``defs``."""
    import jittor as jt

    with open(os.path.join(root, rel)) as f:
        body = jt.core.op_compiler.precompile(dict(defs, JIT="1", JIT_cuda="1"), f.read())
    head = "#define JIT 1\n#define JIT_cuda 1\n" + "".join(f"#define {k} {v}\n" for k, v in defs.items())
    out.write_text(head + body)
    return str(out)


def compile_jobs(root, cudnn_include, tmp_path):
    """(label, command) for every source the changes touch, as Jittor compiles them on a GPU machine."""
    cuda = compat.cuda_home()
    cc = shutil.which("g++")
    includes = [f"-I{cuda}/include", f"-I{root}/src", f"-I{root}/extern/cuda/inc", f"-I{cudnn_include}"]
    cc_flags = ["-std=c++14", "-fPIC", "-DHAS_CUDA", "-DIS_CUDA", "-w"] + includes
    nvcc = [NVCC] + shlex.split(nvcc_flags(root)) + ["-DHAS_CUDA", "-DIS_CUDA"] + includes
    jobs = [("helper_cuda.cc", [cc] + cc_flags + ["-c", f"{root}/extern/cuda/src/helper_cuda.cc"])]
    jobs.append(("nan_checker.cu", nvcc + ["-c", f"{root}/src/misc/nan_checker.cu"]))
    cudnn = f"{root}/extern/cuda/cudnn"
    for folder in ("src", "ops"):  # the cuDNN op library as compile_extern builds it (g++)
        for name in sorted(os.listdir(f"{cudnn}/{folder}")):
            if name.endswith(".cc"):
                jobs.append((f"cudnn/{folder}/{name}", [cc] + cc_flags + [f"-I{cudnn}/inc", f"-I{cudnn}/ops", "-c",
                                                                          f"{cudnn}/{folder}/{name}"]))
    conv = dict(Tx="float32", Ty="float32", Tw="float32", XFORMAT="abcd", WFORMAT="oihw", YFORMAT="abcd",
                index_t="int32")
    for op in ("cudnn_conv_op", "cudnn_conv_backward_x_op", "cudnn_conv_backward_w_op"):  # their JIT part (nvcc)
        source = jit_source(root, f"extern/cuda/cudnn/ops/{op}.cc", conv, tmp_path / f"{op}_jit.cc")
        jobs.append((f"{op} (JIT)", nvcc + [f"-I{cudnn}/inc", f"-I{cudnn}/ops", "-c", source]))
    where = jit_source(root, "extern/cuda/cub/ops/cub_where_op.cc", dict(Ti="bool", To="int32", NDIM="2",
                                                                         index_t="int32"), tmp_path / "where.cc")
    jobs.append(("cub_where_op (JIT)", nvcc + [f"-I{root}/extern/cuda/cub/ops", "-c", where]))
    return [(label, cmd + ["-o", str(tmp_path / f"{i}.o")]) for i, (label, cmd) in enumerate(jobs)]


@needs_nvcc
def test_patched_sources_compile_with_cuda_and_cudnn_9(patched, cudnn_include, tmp_path):
    jobs = compile_jobs(patched, cudnn_include, tmp_path)
    assert {"cudnn/ops/cudnn_conv_op.cc", "cudnn_conv_backward_w_op (JIT)"} <= {label for label, _ in jobs}
    assert not any("rnn" in label for label, _ in jobs)
    failed = compile_all(jobs)
    assert not failed, "\n\n".join(f"{label}:\n{err}" for label, err in failed.items())


def nccl_jobs(root, nccl_include, tmp_path):
    """(label, command) for Jittor's NCCL library as compile_extern.setup_nccl builds it under mpirun on GPUs
    (g++, NCCL's and MPI's headers) and the JIT part of its all-reduce (nvcc)."""
    cuda, cc = compat.cuda_home(), shutil.which("g++")
    mpi = shlex.split(subprocess.run(["mpicc", "--showme:compile"], capture_output=True, text=True, check=True).stdout)
    nccl = f"{root}/extern/cuda/nccl"
    includes = [f"-I{cuda}/include", f"-I{root}/src", f"-I{root}/extern/cuda/inc", f"-I{root}/extern/mpi/inc",
                f"-I{nccl}/inc", f"-I{nccl}/ops", f"-I{nccl_include}"] + mpi
    cc_flags = ["-std=c++14", "-fPIC", "-DHAS_CUDA", "-DIS_CUDA", "-w"] + includes
    jobs = [(f"nccl/{folder}/{name}", [cc] + cc_flags + ["-c", f"{nccl}/{folder}/{name}"])
            for folder in ("src", "ops") for name in sorted(os.listdir(f"{nccl}/{folder}")) if name.endswith(".cc")]
    source = jit_source(root, "extern/cuda/nccl/ops/nccl_all_reduce_op.cc", dict(Tx="float32"),
                        tmp_path / "nccl_all_reduce_jit.cc")
    nvcc = [NVCC] + shlex.split(nvcc_flags(root)) + ["-DHAS_CUDA", "-DIS_CUDA"] + includes
    jobs.append(("nccl_all_reduce_op (JIT)", nvcc + ["-c", source]))
    return [(label, cmd + ["-o", str(tmp_path / f"nccl{i}.o")]) for i, (label, cmd) in enumerate(jobs)]


@needs_nvcc
@pytest.mark.skipif(shutil.which("mpicc") is None, reason="mpicc not found: Jittor builds NCCL support only with MPI")
def test_jittor_nccl_compiles_with_the_pip_nccl(patched, tmp_path):
    """Several GPUs: Jittor's NCCL ops build against the NCCL of the pip wheel setup installs (nvidia-nccl-cu<major>,
    headers fetched once and cached), with the patched nvcc flags; without NCCL's headers they do not."""
    nccl_include = compat.library_headers("nccl", compat.cuda_major(compat.cuda_home()) or 13)
    assert compat.library_version(compat.LIBRARIES["nccl"], nccl_include)[0] == 2
    jobs = nccl_jobs(patched, nccl_include, tmp_path)
    assert {"nccl/src/nccl_wrapper.cc", "nccl/ops/nccl_all_reduce_op.cc", "nccl_all_reduce_op (JIT)"} <= dict(jobs).keys()
    failed = compile_all(jobs)
    assert not failed, "\n\n".join(f"{label}:\n{err}" for label, err in failed.items())
    empty = tmp_path / "no-nccl"
    empty.mkdir()
    failed = compile_all([job for job in nccl_jobs(patched, empty, tmp_path) if job[0] == "nccl/src/nccl_wrapper.cc"])
    assert "nccl.h" in failed["nccl/src/nccl_wrapper.cc"]


@needs_nvcc
@pytest.mark.parametrize("reverted, job, message", [
    ("extern/cuda/inc/helper_cuda.h", "helper_cuda.cc", "computeMode"),
    ("extern/cuda/cudnn/ops/cudnn_rnn_op.cc", "cudnn/ops/cudnn_rnn_op.cc", "RNN"),
    ("compiler.py", "cub_where_op (JIT)", "C++17"),
    ("extern/cuda/cub/ops/cub_where_op.cc", "cub_where_op (JIT)", "CountingInputIterator"),
])
def test_each_change_is_needed(pristine, cudnn_include, tmp_path, reverted, job, message):
    """The check can fail: with any one change reverted, Jittor's source stops compiling with CUDA 13 / cuDNN 9."""
    if compat.cuda_major(compat.cuda_home()) < 13:
        pytest.skip("CUDA < 13 still has the APIs that CUDA 13 removed")
    root = copy_of(pristine, tmp_path)
    compat.apply(root, log=lambda _: None)
    for change in compat.CHANGES:
        if change.path == reverted or (reverted.endswith("cudnn_rnn_op.cc") and isinstance(change, compat.Remove)):
            shutil.copy(os.path.join(root, compat.STATE_DIR, "original", change.path), os.path.join(root, change.path))
    failed = compile_all([(label, cmd) for label, cmd in compile_jobs(root, cudnn_include, tmp_path) if label == job])
    assert message in failed.get(job, ""), failed


def test_debian_cudnn_headers_with_major_suffixes(tmp_path, monkeypatch):
    """Ubuntu's cuDNN 8 and 9 packages side by side (before 9.10): headers named cudnn_v9.h, cudnn_version_v9.h
    (the unversioned names only as alternatives links), libraries of both majors in one folder. cuDNN 9 is found,
    linked under the names Jittor includes (cudnn.h), and nothing of cuDNN 8 comes along; a file that includes
    cudnn.h compiles against the links."""
    home = tmp_path / "cudnn"
    (home / "include").mkdir(parents=True)
    (home / "lib").mkdir()
    for major, minor in ((8, 9), (9, 8)):
        (home / "include" / f"cudnn_v{major}.h").write_text(
            f'#include "cudnn_version.h"\n#include "cudnn_graph.h"\n#if CUDNN_MAJOR != {major}\n#error wrong\n#endif\n')
        (home / "include" / f"cudnn_version_v{major}.h").write_text(
            f"#define CUDNN_MAJOR {major}\n#define CUDNN_MINOR {minor}\n#define CUDNN_PATCHLEVEL 0\n")
        (home / "include" / f"cudnn_graph_v{major}.h").write_text("typedef int cudnnStatus_t;\n")
        for lib in ("libcudnn", "libcudnn_ops" if major == 9 else "libcudnn_ops_infer"):
            (home / "lib" / f"{lib}.so.{major}.{minor}.0").write_text("")
            os.symlink(f"{lib}.so.{major}.{minor}.0", home / "lib" / f"{lib}.so.{major}")
    monkeypatch.setenv("CUDNN_HOME", str(home))
    found = compat.find_library("cudnn", home=None, site_dirs=[])
    assert found["version"] == (9, 8, 0) and found["where"] == "$CUDNN_HOME"
    root = str(tmp_path / "jittor")
    compat.link_library(root, found, log=lambda _: None)
    links = compat.LIBRARIES["cudnn"].links(root)
    include = os.path.join(links, "include")
    assert sorted(os.listdir(include)) == ["cudnn.h", "cudnn_graph.h", "cudnn_graph_v9.h", "cudnn_v9.h",
                                          "cudnn_version.h", "cudnn_version_v9.h"]
    assert os.readlink(os.path.join(include, "cudnn.h")) == str(home / "include" / "cudnn_v9.h")
    assert sorted(os.listdir(os.path.join(links, "lib"))) == [
        "libcudnn.so", "libcudnn.so.9", "libcudnn.so.9.8.0", "libcudnn_ops.so", "libcudnn_ops.so.9",
        "libcudnn_ops.so.9.8.0"]
    assert os.readlink(os.path.join(links, "lib", "libcudnn.so")) == str(home / "lib" / "libcudnn.so.9")
    source = tmp_path / "uses_cudnn.cc"
    source.write_text("#include <cudnn.h>\ncudnnStatus_t status = CUDNN_MINOR;\n")
    if shutil.which("g++"):
        subprocess.run(["g++", "-fsyntax-only", f"-I{include}", str(source)], check=True)


CUDNN9_NEEDS = {  # the sub-libraries each cuDNN 9 library needs (the shim libcudnn.so.9 loads them by name)
    "graph": (), "engines_runtime_compiled": ("graph",), "engines_precompiled": ("graph",), "heuristic": ("graph",),
    "ops": ("graph",), "cnn": ("ops", "graph"), "adv": ("ops", "graph"), "": (),
}


def fake_cudnn9_libraries(folder, nvrtc=None):
    """Real libraries with cuDNN 9's names and dependencies (no RUNPATH, as far as this test knows); with
    ``nvrtc`` (a library path), the runtime-compiled engines need it."""
    paths = {}
    for part, needs in CUDNN9_NEEDS.items():  # in dependency order: each links against those before it
        name = f"libcudnn_{part}.so.9" if part else "libcudnn.so.9"
        extra = (nvrtc,) if nvrtc and part == "engines_runtime_compiled" else ()
        paths[part] = build_library(os.path.join(folder, name), f"int jsg_{part or 'shim'}(void) {{ return 9; }}\n",
                                    name, *(paths[n] for n in needs), *extra)
    return paths


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the stand-in libraries")
def test_cudnn9_sub_libraries_all_come_from_one_folder(patched, tmp_path):
    """Another cuDNN 9.x on LD_LIBRARY_PATH: cuDNN loads its sub-libraries by name, which finds that copy unless
    the sub-library of the same name is already loaded (CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH). The patched
    Jittor loads every sub-library of its cuDNN by path, each after those it needs: then every later load by name
    is its own. Loading only the four that Jittor's first cuDNN 9 change loaded leaves the engines to the other."""
    good = fake_cudnn9_libraries(str(tmp_path / "good"))
    fake_cudnn9_libraries(str(tmp_path / "decoy"))
    _, loader = function_from(os.path.join(patched, "compile_extern.py"), "jsg_load_cudnn9")
    code = f"""
import ctypes, os, sys
dlopen_flags = os.RTLD_NOW | os.RTLD_GLOBAL
LOG = None
{loader}
good = {os.path.dirname(good[""])!r}
if sys.argv[1] == "patched":
    jsg_load_cudnn9(good)
else:
    for name in ("libcudnn.so.9", "libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9"):
        ctypes.CDLL(os.path.join(good, name), dlopen_flags)
for part in {list(CUDNN9_NEEDS)!r}:  # as the shim does
    ctypes.CDLL(f"libcudnn_{{part}}.so.9" if part else "libcudnn.so.9", dlopen_flags)
with open("/proc/self/maps") as f:
    print(sorted({{line.split()[-1] for line in f if "libcudnn" in line}}))
"""
    env = dict(os.environ, LD_LIBRARY_PATH=str(tmp_path / "decoy"))
    mapped = {}
    for mode in ("patched", "four"):
        result = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        mapped[mode] = ast.literal_eval(result.stdout.strip())
    assert mapped["patched"] == sorted(good.values())
    assert {os.path.basename(p) for p in mapped["four"] if "/decoy/" in p} == {
        "libcudnn_engines_runtime_compiled.so.9", "libcudnn_engines_precompiled.so.9", "libcudnn_heuristic.so.9",
        "libcudnn_adv.so.9"}


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the stand-in libraries")
def test_cudnn9_engine_library_without_its_nvrtc_is_left_to_cudnn(patched, tmp_path):
    """The runtime-compiled engines need NVRTC, which the loader may not find at start-up: that library is left for
    cuDNN to load when needed (a warning), the others load; a core library that does not load still stops."""
    nvrtc = build_library(str(tmp_path / "nvrtc" / "libnvrtc.so.13"), "int jsg_nvrtc(void) { return 13; }\n",
                          "libnvrtc.so.13")
    good = fake_cudnn9_libraries(str(tmp_path / "good"), nvrtc=nvrtc)
    _, loader = function_from(os.path.join(patched, "compile_extern.py"), "jsg_load_cudnn9")
    code = f"""
import ctypes, os
dlopen_flags = os.RTLD_NOW | os.RTLD_GLOBAL
class LOG:
    w = print
{loader}
jsg_load_cudnn9({os.path.dirname(good[""])!r})
with open("/proc/self/maps") as f:
    print(sorted({{os.path.basename(line.split()[-1]) for line in f if "libcudnn" in line}}))
"""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    warning, mapped = result.stdout.strip().splitlines()
    assert warning.startswith("cuDNN: libcudnn_engines_runtime_compiled.so.9 not loaded now (libnvrtc.so.13")
    assert ast.literal_eval(mapped) == sorted(os.path.basename(p) for p in good.values()
                                              if "runtime_compiled" not in p)
    os.remove(good["ops"])
    build_library(good["ops"], "int jsg_ops(void) { return 9; }\n", "libcudnn_ops.so.9", nvrtc)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode != 0 and "libcudnn_ops.so.9" not in result.stdout and "libnvrtc.so.13" in result.stderr


@pytest.mark.parametrize("failing, fatal_in_patched", [("cusparse", False), ("cufft", False), ("cudnn", False),
                                                       ("cublas", True)])
def test_optional_cuda_libraries_do_not_stop_the_import(pristine, patched, failing, fatal_in_patched):
    """Jittor's CUDA start-up (setup_cuda_extern) with one library failing to load, e.g. cuSPARSE without
    libnvJitLink: released Jittor stops the import (LOG.f); patched, cuDNN, cuFFT and cuSPARSE are warnings and
    Jittor goes on to the next library, while cuBLAS and cuRAND stay required."""
    class Log:
        def __init__(self):
            self.lines = []

        def __getattr__(self, level):
            def log(*msg):
                self.lines.append((level, " ".join(map(str, msg))))
                if level == "f":
                    raise RuntimeError("LOG.f")
            return log

    def run(root):
        setups = []

        def setup_cuda_lib(lib_name, extra_flags=""):
            setups.append(lib_name)
            if lib_name == failing:
                raise RuntimeError(f"lib{lib_name}: cannot open shared object file")

        _, function = function_from(os.path.join(root, "compile_extern.py"), "setup_cuda_extern")
        scope = dict(os=os, sys=sys, platform=platform, has_cuda=1, LOG=Log(), cache_path=str(root),
                     jittor_path=root, make_cache_dir=lambda path: None, compile=lambda *args: None, so=".so",
                     cc_path="g++", cc_flags="", dlopen_flags=0, setup_cub=lambda: None,
                     setup_cuda_lib=setup_cuda_lib, ctypes=types.SimpleNamespace(CDLL=lambda *args: None))
        exec(function, scope)
        try:
            scope["setup_cuda_extern"]()
            stopped = False
        except RuntimeError:
            stopped = True
        return stopped, setups, scope["LOG"].lines

    stopped, _, lines = run(pristine)
    assert stopped and lines[-1][0] == "f"
    stopped, setups, lines = run(patched)
    assert stopped == fatal_in_patched
    if not fatal_in_patched:
        assert setups == ["cublas", "cudnn", "curand", "cufft", "cusparse"]
        problems = [message for level, message in lines if level in ("w", "e", "f")]
        assert len(problems) == 1 and f"{failing} is not loaded" in problems[0], problems
        assert f"continues without {failing}" in problems[0]


# The headers each CUDA library's Jittor sources include (a toolkit may lack some: those are not compiled)
LIBRARY_HEADERS = {"cublas": "cublas_v2.h", "curand": "curand.h", "cufft": "cufftXt.h", "cusparse": "cusparse.h",
                   "cudnn": "cudnn.h"}


def gpp_cuda_jobs(root, cudnn_include, tmp_path):
    """(label, command) for every source Jittor builds with g++ (not nvcc) that sees CUDA's headers on a GPU machine:
    the core's CUDA parts and the CUDA libraries' wrappers (NCCL: its own test), with the flags compiler.py gives
    g++ (C++14), syntax only."""
    import sysconfig

    cuda = compat.cuda_home()
    with open(os.path.join(root, "compiler.py")) as f:
        flags = shlex.split(re.search(r'^cc_flags \+= "( -Wall[^"]*)"', f.read(), re.M).group(1))
    includes = [f"-I{cuda}/include", f"-I{root}/src", f"-I{root}/extern/cuda/inc", f"-I{cudnn_include}",
                f"-I{sysconfig.get_paths()['include']}"]
    sources = []
    for folder, _, files in os.walk(os.path.join(root, "src")):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(".cc"):
                with open(path) as f:
                    if re.search(r"HAS_CUDA|IS_CUDA|#include <cu|helper_cuda", f.read()):
                        sources.append(path)
    sources += glob.glob(os.path.join(root, "extern", "cuda", "src", "*.cc"))
    for lib, header in LIBRARY_HEADERS.items():
        if lib == "cudnn" or os.path.isfile(os.path.join(cuda, "include", header)):
            includes.append(f"-I{root}/extern/cuda/{lib}/inc")
            sources += glob.glob(os.path.join(root, "extern", "cuda", lib, "src", "*.cc"))
    command = [shutil.which("g++")] + flags + ["-DHAS_CUDA", "-DIS_CUDA", "-w", "-fsyntax-only"] + includes
    return [(os.path.relpath(path, root), command + [path]) for path in sorted(sources)]


@needs_nvcc
def test_gpp_builds_with_cuda_headers_compile(patched, cudnn_include, tmp_path):
    """nvcc builds with C++17 (the compiler.py change), g++ still with Jittor's C++14: every source g++ builds
    against the toolkit's headers must compile that way (the core's allocators, executor, array and fetch ops,
    the CUDA libraries' wrappers). GCC keeps one ABI across -std modes, so the two kinds of objects link."""
    jobs = gpp_cuda_jobs(patched, cudnn_include, tmp_path)
    labels = {label for label, _ in jobs}
    assert {"src/executor.cc", "src/mem/allocator/cuda_device_allocator.cc", "extern/cuda/src/helper_cuda.cc",
            "extern/cuda/cudnn/src/cudnn_wrapper.cc"} <= labels, labels
    assert all("-std=c++14" in cmd for _, cmd in jobs)
    failed = compile_all(jobs)
    assert not failed, "\n\n".join(f"{label}:\n{err}" for label, err in failed.items())


def test_cudnn_in_the_venv_of_the_python3_on_path(tmp_path, monkeypatch):
    """A machine whose cuDNN is a pip wheel in another environment (its torch venv), whose python3 is the one on
    PATH: found there without CUDNN_HOME."""
    site = tmp_path / "torch_venv" / "site-packages"
    fake_cudnn(str(site / "nvidia" / "cudnn"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(f"#!/bin/sh\necho {site}\n")
    (bin_dir / "python3").chmod(0o755)
    monkeypatch.delenv("CUDNN_HOME", raising=False)
    monkeypatch.delenv("CUDNN_PATH", raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert compat.path_python_site() == str(site)
    found = compat.find_library("cudnn", home=None)
    assert found and found["include"] == str(site / "nvidia" / "cudnn" / "include")
    monkeypatch.setenv("PATH", "/nowhere")
    assert compat.path_python_site() is None
