"""StyleGAN in Jittor with custom fused kernels.

Importing the package configures Jittor's runtime (CPU or CUDA, oneDNN) before
Jittor itself is imported; set ``JSG_DEVICE=cpu|cuda`` to force a device.
"""
from . import runtime

DEVICE = runtime.configure()

import jittor as jt  # noqa: E402  (must follow runtime.configure)

if DEVICE == "cuda":
    if not jt.has_cuda:
        raise RuntimeError("JSG_DEVICE=cuda but Jittor found no usable CUDA; use JSG_DEVICE=cpu")
    jt.flags.use_cuda = 1

__version__ = "0.1.0"
