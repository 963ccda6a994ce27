"""Pick CPU or CUDA and prepare Jittor's environment before `import jittor`.

Jittor reads its configuration from environment variables at import time, so
this module must run first (``jittor_stylegan/__init__.py`` does that).
``JSG_DEVICE=cpu|cuda|auto`` (default auto) forces a device; CLIs map
``--device`` onto it.
"""
import glob
import os
import shutil
import sys

DEVICE_ENV = "JSG_DEVICE"
COMPILE_NOTICE = ("first iteration: Jittor compiles the kernels it has not cached yet "
                  "(a minute or more the first time; cached in ~/.cache/jittor)")
DEVICES = ("auto", "cpu", "cuda")

# Where Jittor 1.3 looks for the oneDNN it would otherwise download.
DNNL_HOME = os.path.join(
    os.environ.get("JITTOR_HOME", os.path.expanduser("~")),
    ".cache", "jittor", "mkl", "dnnl_lnx_2.2.0_cpu_gomp")
DEBIAN_DNNL_INCLUDE = "/usr/include"
DEBIAN_DNNL_LIBS = ("/usr/lib/x86_64-linux-gnu/libdnnl.so.2", "/usr/lib/aarch64-linux-gnu/libdnnl.so.2")


def gpu_visible():
    """True when this machine exposes an NVIDIA GPU device node."""
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def choose_device(requested=None):
    """Resolve 'auto' to 'cuda' when nvcc and a GPU are present, else 'cpu'."""
    requested = (requested or os.environ.get(DEVICE_ENV) or "auto").lower()
    if requested not in DEVICES:
        raise ValueError(f"{DEVICE_ENV} must be one of {DEVICES}, got {requested!r}")
    if requested != "auto":
        return requested
    has_nvcc = bool(os.environ.get("nvcc_path") or shutil.which("nvcc"))
    return "cuda" if has_nvcc and gpu_visible() else "cpu"


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


def configure(device=None):
    """Set Jittor's environment for `device`; effective until the first `import jittor`.

    Returns the device in use: once Jittor is imported it can no longer change.
    """
    if "jittor" in sys.modules:
        if device not in (None, "auto", os.environ.get(DEVICE_ENV)):
            raise RuntimeError(f"Jittor is already running on {os.environ.get(DEVICE_ENV)}; "
                               f"choose the device before importing Jittor")
        return os.environ.get(DEVICE_ENV) or choose_device(device)
    chosen = choose_device(device)
    os.environ[DEVICE_ENV] = chosen
    os.environ.setdefault("FIX_TORCH_ERROR", "0")  # keep `import jittor` from importing torch
    if chosen == "cpu":
        os.environ["nvcc_path"] = ""  # nvcc without a GPU: Jittor must not build CUDA
    if os.environ.get("use_mkl", "1") == "1" and link_debian_dnnl() == "missing":
        print("jittor_stylegan: oneDNN not found (apt-get install libdnnl-dev, or run ./setup.sh); "
              "using Jittor's slow convolutions (use_mkl=0)", file=sys.stderr)
        os.environ["use_mkl"] = "0"
    return chosen


def activate(jt):
    """Turn on Jittor's CUDA execution when the configured device is CUDA."""
    if os.environ.get(DEVICE_ENV) == "cuda":
        if not jt.has_cuda:
            raise RuntimeError(f"{DEVICE_ENV}=cuda but Jittor found no usable CUDA; use {DEVICE_ENV}=cpu")
        jt.flags.use_cuda = 1
