"""Device selection happens before `import jittor`, without any environment variable."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import build_library, set_up_environment, without_ansi
from jittor_stylegan import runtime


@pytest.fixture(autouse=True)
def environment_restored():
    """The runtime writes Jittor's switches into os.environ itself (monkeypatch restores only what it set):
    later tests, and the mpirun processes they start, must not inherit e.g. use_mpi=0."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def run_python(code, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in ("JSG_DEVICE", "nvcc_path")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=600)


@pytest.mark.skipif(runtime.gpu_visible(), reason="this machine has a GPU")
def test_import_without_gpu_chooses_cpu():
    result = run_python("import jittor_stylegan.ops, jittor as jt; print(jittor_stylegan.DEVICE, jt.flags.use_cuda)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["cpu", "0"]


def test_jittor_is_activated_by_its_own_import_and_ops_switch_nothing():
    """The configured device is switched on when Jittor is imported (whoever imports it), never as a side
    effect of importing this package's ops."""
    code = ("import sys, jittor_stylegan; from jittor_stylegan import runtime; seen = []; "
            "runtime.activate = lambda jt: seen.append(jt.__name__); "
            "import jittor_stylegan.layers.stylegan1_arch; print('jittor' in sys.modules, seen); "
            "import jittor; print(seen); runtime.configure(); print(seen); "
            "import jittor_stylegan.ops; print(seen)")
    result = run_python(code, JSG_DEVICE="cpu")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-5:-1] == ["False []", "['jittor']", "['jittor', 'jittor']",
                                                "['jittor', 'jittor']"]


def test_forced_cpu_and_bad_device():
    assert runtime.choose_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="JSG_DEVICE"):
        runtime.choose_device("tpu")
    result = run_python("import jittor_stylegan", JSG_DEVICE="gpu0")
    assert result.returncode != 0 and "JSG_DEVICE must be one of" in result.stderr


def test_debian_onednn_is_linked_idempotently(tmp_path):
    first = runtime.link_debian_dnnl(str(tmp_path / "dnnl"))
    if first == "missing":
        pytest.skip("libdnnl-dev not installed")
    assert first.startswith("linked") and (tmp_path / "dnnl" / "lib" / "libmkldnn.so").exists()
    assert (tmp_path / "dnnl" / "include" / "dnnl.hpp").exists()
    assert runtime.link_debian_dnnl(str(tmp_path / "dnnl")) == "present"


def test_device_options_set_the_gpu_policies_before_jittor():
    code = """
import argparse, os
from jittor_stylegan import runtime
parser = runtime.add_device_arguments(argparse.ArgumentParser())
for argv in ([], ["--device", "cpu", "--allow_tf32", "--deterministic"]):
    print(runtime.configure_from_args(parser.parse_args(argv)), os.environ.get("NVIDIA_TF32_OVERRIDE"),
          os.environ["cudnn_deterministic"], os.environ.get("JSG_ALLOW_TF32"), os.environ.get("JSG_DETERMINISTIC"))
"""
    result = run_python(code, JSG_DEVICE="cpu")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["cpu 0 0 None None", "cpu None 1 1 1"]
    result = run_python("import os, jittor_stylegan; print(os.environ.get('NVIDIA_TF32_OVERRIDE'))",
                        JSG_DEVICE="cpu", JSG_ALLOW_TF32="1")  # the environment alone, as child processes see it
    assert result.stdout.split() == ["None"], result.stderr


def test_policies_are_fixed_once_jittor_runs(monkeypatch):
    import jittor  # noqa: F401

    monkeypatch.setenv("JSG_ALLOW_TF32", "0")
    assert runtime.configure(allow_tf32=False) == os.environ["JSG_DEVICE"]
    with pytest.raises(RuntimeError, match="JSG_ALLOW_TF32=0; choose it before importing Jittor"):
        runtime.configure(allow_tf32=True)


@pytest.mark.parametrize("cli", ["train.py", "generate.py", "video_write.py", "calc_metrics.py",
                                 "bench/bench_training.py", "viewer.py", "bench/bench_viewer.py"])
def test_every_cli_takes_the_device_options(cli):
    result = subprocess.run([sys.executable] + cli.split() + ["--help"], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), timeout=120)
    assert result.returncode == 0, result.stderr
    assert all(option in result.stdout for option in ("--device", "--allow_tf32", "--deterministic"))


def test_cuda_start_up_is_offline_and_says_so(monkeypatch, capsys):
    for name in runtime.OFFLINE_SWITCHES + ("nvcc_path", runtime.SWITCHED_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("use_nccl", "1")  # a user's own choice stays
    monkeypatch.setattr(runtime, "_warnings_given", [])
    runtime._configure_cuda()
    assert [os.environ[n] for n in runtime.OFFLINE_SWITCHES] == ["0", "0", "1", "0"]
    err = capsys.readouterr().err
    assert "Jittor's downloads switched off (cutt, cutlass, mpi" in err
    from jittor_stylegan import jittor_compat

    if jittor_compat.cuda_home():
        assert os.environ["nvcc_path"] == os.path.join(jittor_compat.cuda_home(), "bin", "nvcc")
    if jittor_compat.pending_changes():
        assert "the installed Jittor lacks" in err and "jittor_compat" in err


def fake_nccl(folder):
    """An NCCL as the pip wheel lays it out: include/nccl.h, lib/libnccl.so.2 (no unversioned name)."""
    os.makedirs(os.path.join(folder, "include"))
    os.makedirs(os.path.join(folder, "lib"))
    with open(os.path.join(folder, "include", "nccl.h"), "w") as f:
        f.write("#define NCCL_MAJOR 2\n#define NCCL_MINOR 32\n#define NCCL_PATCH 3\n")
    open(os.path.join(folder, "lib", "libnccl.so.2"), "w").close()


@pytest.fixture
def under_mpirun(monkeypatch, tmp_path):
    """Rank 1 of 2 on a machine with GPUs 2 and 5 visible; a Jittor folder of its own (where setup links NCCL)."""
    from jittor_stylegan import jittor_compat

    for name in runtime.OFFLINE_SWITCHES + ("nvcc_path", "nccl_include_path", "nccl_lib_path", runtime.SWITCHED_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(runtime.MPI_ENV, "2")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "1")
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    monkeypatch.setattr(runtime, "_warnings_given", ["compat"])
    root = str(tmp_path / "jittor")
    monkeypatch.setattr(jittor_compat, "jittor_root", lambda: root)
    return root


def test_gpus_under_mpirun_use_the_linked_nccl(under_mpirun, tmp_path):
    """Jittor cannot start under mpirun with use_mpi=0; NCCL is the pip wheel's, linked by setup (never downloaded)."""
    from jittor_stylegan import jittor_compat

    fake_nccl(str(tmp_path / "site" / "nvidia" / "nccl"))
    found = jittor_compat.find_library("nccl", site_dirs=[str(tmp_path / "site")])
    assert found["version"] == (2, 32, 3) and found["where"] == "a pip nvidia-nccl wheel"
    jittor_compat.link_library(under_mpirun, found, log=lambda _: None)
    runtime._configure_cuda()
    links = os.path.join(under_mpirun, ".jsg_compat", "nccl")
    assert os.environ["nccl_include_path"] == os.path.join(links, "include")
    assert os.environ["nccl_lib_path"] == os.path.join(links, "lib")
    assert os.readlink(os.path.join(links, "lib", "libnccl.so")) == os.path.join(found["lib"], "libnccl.so.2")
    assert "use_mpi" not in os.environ and "use_nccl" not in os.environ
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2,5"  # NCCL's start-up gives each process its GPU


def test_mpirun_children_of_a_configured_process_decide_the_switches_afresh(under_mpirun, monkeypatch):
    """A process that configured CUDA for itself (NCCL off) and then starts mpirun: its ranks still use NCCL."""
    from jittor_stylegan import jittor_compat

    monkeypatch.delenv(runtime.MPI_ENV)
    runtime._configure_cuda()
    assert os.environ["use_nccl"] == "0" and os.environ[runtime.SWITCHED_ENV] == "use_cutt,use_cutlass,use_nccl,use_mpi"
    monkeypatch.setenv(runtime.MPI_ENV, "2")  # the same environment, in a rank
    monkeypatch.setattr(jittor_compat, "linked_library", lambda name: ("/inc", "/lib"))
    runtime._configure_cuda()
    assert "use_nccl" not in os.environ and "use_mpi" not in os.environ
    assert (os.environ["nccl_include_path"], os.environ["nccl_lib_path"]) == ("/inc", "/lib")
    monkeypatch.setenv("use_nccl", "0")  # the user's own choice stays
    runtime._configure_cuda()
    assert os.environ["use_nccl"] == "0"


def test_gpus_under_mpirun_without_nccl_get_one_gpu_each(under_mpirun, capsys, monkeypatch):
    runtime._configure_cuda()
    assert os.environ["use_nccl"] == "0" and "use_mpi" not in os.environ and "nccl_lib_path" not in os.environ
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "5"  # local rank 1 of the GPUs visible
    assert "no NCCL" not in capsys.readouterr().err  # rank 0 alone says so
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "0")
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "0")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    monkeypatch.delenv("use_nccl")
    runtime._configure_cuda()
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2"
    assert "no NCCL linked into Jittor" in capsys.readouterr().err


def test_mpi_processes_share_the_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "4")
    assert runtime.mpi_threads() == 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})  # mpirun bound the process to one core
    assert runtime.mpi_threads() == 1


def test_compiling_notice_counts_new_kernels():
    import uuid

    import jittor as jt

    token = uuid.uuid4().hex  # a kernel no cache has seen
    lines = []

    def kernel():
        return jt.code([2], "float32", [], cpu_src=f"// {token}\n@out(0) = 1; @out(1) = 2;",
                       cuda_src=f"// {token}\n__global__ static void kernel1(@ARGS_DEF) {{\n@PRECALC\n"
                                "@out(0) = 1; @out(1) = 2;\n}\nkernel1<<<1, 1>>>(@ARGS);").numpy()

    with runtime.compiling_notice("test", write=lines.append):
        assert kernel().tolist() == [1, 2]
    with runtime.compiling_notice("test", write=lines.append):
        kernel()
    assert lines[0].startswith("test: compiling kernels if needed (one-time, cached in")
    assert re.fullmatch(r"test: done in \d+ s, [1-9]\d* kernels compiled", lines[1]), lines
    assert re.fullmatch(r"test: done in \d+ s, 0 kernels compiled", lines[3]), lines


def fake_toolkit(home, major=12):
    """A CUDA toolkit as jittor_compat.cuda_home recognises it: bin/nvcc and the runtime headers."""
    os.makedirs(os.path.join(home, "bin"))
    os.makedirs(os.path.join(home, "include"))
    with open(os.path.join(home, "bin", "nvcc"), "w") as f:
        f.write("#!/bin/sh\nexit 1\n")
    os.chmod(os.path.join(home, "bin", "nvcc"), 0o755)
    with open(os.path.join(home, "include", "cuda_runtime.h"), "w") as f:
        f.write("#include \"cuda_runtime_api.h\"\n")
    with open(os.path.join(home, "include", "cuda_runtime_api.h"), "w") as f:
        f.write(f"#define CUDART_VERSION {major * 1000 + 40}\n")
    return home


@pytest.fixture
def no_nvcc_on_path(monkeypatch, tmp_path):
    """A machine whose toolkits sit where NVIDIA's installers put them (here: under tmp_path), none on PATH."""
    from jittor_stylegan import jittor_compat

    for name in ("nvcc_path", "CUDA_HOME", "CUDA_PATH", runtime.DEVICE_ENV) + runtime.OFFLINE_SWITCHES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert not os.path.exists("/usr/bin/nvcc") and not os.path.exists("/bin/nvcc")
    monkeypatch.setattr(jittor_compat, "TOOLKIT_DIRS", (str(tmp_path / "cuda"), str(tmp_path / "cuda-[0-9]*")))
    monkeypatch.setattr(runtime, "gpu_count", lambda: 1)
    monkeypatch.setattr(runtime, "_warnings_given", ["compat"])
    return tmp_path


def test_a_gpu_with_its_toolkit_off_path_trains_on_cuda(no_nvcc_on_path, monkeypatch):
    """NVIDIA's runfile and apt installers leave /usr/local/cuda*/bin off PATH: the toolkit is still found (the
    newest /usr/local/cuda-X.Y first) and given to Jittor, instead of a silent fall-back to CPU."""
    from jittor_stylegan import jittor_compat

    fake_toolkit(str(no_nvcc_on_path / "cuda-12.4"))
    newest = fake_toolkit(str(no_nvcc_on_path / "cuda-12.10"))
    fake_toolkit(str(no_nvcc_on_path / "cuda-9.2"))
    assert jittor_compat.cuda_home() == newest
    assert runtime.choose_device() == "cuda"
    runtime._configure_cuda()
    assert os.environ["nvcc_path"] == os.path.join(newest, "bin", "nvcc")
    monkeypatch.delenv("nvcc_path")
    fake_toolkit(str(no_nvcc_on_path / "cuda"))  # /usr/local/cuda (the installers' link) comes first
    assert jittor_compat.cuda_home() == str(no_nvcc_on_path / "cuda")


def test_a_gpu_without_a_toolkit_is_named_once(no_nvcc_on_path):
    """A GPU but no toolkit anywhere: CPU, and the user is told why, once per process."""
    assert runtime.choose_device() == "cpu"
    code = f"""
import os
from jittor_stylegan import jittor_compat, runtime
jittor_compat.TOOLKIT_DIRS = ({str(no_nvcc_on_path / "cuda")!r},)
runtime.gpu_count = lambda: 1
os.environ.pop("JSG_DEVICE")  # chosen at the package's import, without the fake GPU
print(runtime.configure(), runtime.configure(), runtime.configure("cpu"))
"""
    result = run_python(code, PATH="/usr/bin:/bin")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["cpu", "cpu", "cpu"]
    assert result.stderr.count(runtime.NO_TOOLKIT) == 1, result.stderr


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the stand-in libraries")
def test_cusparse_finds_the_toolkits_nvjitlink(tmp_path):
    """libcusparse (CUDA 12.x/13) needs libnvJitLink, which a runfile toolkit leaves off the loader's path; Jittor
    loads cuSPARSE when it starts. Stand-ins with the real names: without the runtime's preload, cuSPARSE does not
    load; with it (from CUDA start-up), it does."""
    home = fake_toolkit(str(tmp_path / "cuda"), major=13)
    lib64 = os.path.join(home, "lib64")
    jitlink = build_library(os.path.join(lib64, "libnvJitLink.so.13.0.88"), "int jsg_jit(void) { return 13; }\n",
                            "libnvJitLink.so.13")
    os.symlink(os.path.basename(jitlink), os.path.join(lib64, "libnvJitLink.so.13"))
    cusparse = build_library(os.path.join(lib64, "libcusparse.so.12"),
                             "int jsg_jit(void);\nint jsg_sparse(void) { return jsg_jit() + 1; }\n",
                             "libcusparse.so.12", jitlink)
    code = f"""
import ctypes, os
try:
    ctypes.CDLL({cusparse!r})
    print("loaded without the preload")
except OSError as e:
    print("not loaded:", "libnvJitLink.so.13" in str(e))
from jittor_stylegan import runtime
os.environ["nvcc_path"] = {os.path.join(home, "bin", "nvcc")!r}
runtime._configure_cuda()
print(ctypes.CDLL({cusparse!r}).jsg_sparse())
"""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["not loaded: True", "14"]
    assert runtime.preload_toolkit_libraries(str(tmp_path / "none")) == []


def test_a_new_jittor_cache_prints_no_info_line(tmp_path):
    """Jittor's logger, imported for the first time with a new cache folder, prints "[i ... Create lock file"
    (setup.sh once read that line as the device): hidden unless verbose. (This process's quiet start-up,
    log_silent=1 until it imports Jittor, is handed to the child too, which arranges its own.)"""
    # Jittor's own log and cache switches, which this test process may hold, are left out
    env = {k: v for k, v in os.environ.items()
           if k not in ("log_silent", runtime.QUIET_IMPORT_ENV, "JITTOR_HOME", "cache_path", "log_v")}
    for verbose, shown in (("0", False), ("1", True)):
        home = tmp_path / verbose
        done = subprocess.run([sys.executable, "-c", "import jittor_stylegan; print('device', jittor_stylegan.DEVICE)"],
                              env=dict(env, HOME=str(home), JSG_DEVICE="cpu", JSG_VERBOSE=verbose),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.splitlines()[-1] == "device cpu", done.stderr
        assert ("Create lock file" in done.stdout + done.stderr) == shown, done.stdout


def test_a_set_up_machine_prints_no_info_line():
    """With Jittor's cache built (setup.sh's state), a CLI's start-up (importing jittor_stylegan configures it,
    the CLI configures it again from its options, then imports Jittor) prints none of Jittor's "[i ...]" lines:
    its core's coloured "Load cc_path: ..." / "Load nvcc_path:" included (the second configure once undid the
    first one's quiet import, taking it for a parent process's). JSG_VERBOSE=1 shows them; warnings still show."""
    start = ("import jittor_stylegan; from jittor_stylegan import runtime; runtime.configure(); import jittor; "
             "jittor.LOG.w('a warning')")
    for verbose, shown in (("0", False), ("1", True)):
        done = subprocess.run([sys.executable, "-c", start], env=dict(set_up_environment(), JSG_VERBOSE=verbose),
                              capture_output=True, text=True, timeout=120)
        printed = without_ansi(done.stdout + done.stderr)
        assert done.returncode == 0 and "a warning" in printed, printed
        assert ("[i " in printed) == shown and ("Load cc_path" in printed) == shown, printed
