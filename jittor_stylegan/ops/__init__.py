"""StyleGAN's ops on Jittor, one module per op with its reference beside it:

* ``fused_leaky_relu`` / ``fused_leaky_relu_ref`` (``leaky_relu``): ``scale * leaky_relu(x + bias)``;
* ``upfirdn2d`` / ``upfirdn2d_ref`` (``upfirdn``): upsample, pad, FIR filter, downsample;
* ``channel_sum`` (``channelsum``): a sum over every dim but 1;
* ``conv2d`` / ``conv_transpose2d`` (``conv``): PyTorch's convolutions, every derivative a convolution.

The first three are custom kernels (``kernels/``, run by ``loader``); every backward pass is itself
differentiable, so R1, WGAN-GP and path-length penalties get exact gradients of gradients. Each takes
float16 (computed in float32 and stored as float16, on CPU as on CUDA), float32 or float64. Importing
this package changes no setting: the device is Jittor's (see ``runtime``).
"""
from .channelsum import channel_sum  # noqa: F401
from .common import cast, scalar  # noqa: F401
from .conv import conv2d, conv_transpose2d  # noqa: F401
from .leaky_relu import fused_leaky_relu, fused_leaky_relu_ref  # noqa: F401
from .loader import KERNEL_DIR  # noqa: F401
from .upfirdn import upfirdn2d, upfirdn2d_ref  # noqa: F401
