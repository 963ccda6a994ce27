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
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import textwrap

import pytest

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
