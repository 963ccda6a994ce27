"""StyleGAN in Jittor with custom fused kernels.

Importing the package chooses CPU or CUDA and prepares Jittor's environment (oneDNN)
before Jittor itself is imported; set ``JSG_DEVICE=cpu|cuda`` to force a device, or call
``jittor_stylegan.runtime.configure(device)`` before importing the Jittor-based modules.
Data preparation and video writing never import Jittor.
"""
from . import runtime

DEVICE = runtime.configure()
__version__ = "0.1.0"
