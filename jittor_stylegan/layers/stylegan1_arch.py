"""StyleGAN 1 architecture constants and size rules, free of any framework import.

Shared by the Jittor networks and the PyTorch benchmark baseline, so both build the
same layers from one definition.
"""
import math

LRELU_SLOPE = 0.2
BLUR_KERNEL = ((1.0, 2.0, 1.0), (2.0, 4.0, 2.0), (1.0, 2.0, 1.0))  # normalised to sum 1
GENERATOR_FUSED_FROM = 128  # fused transposed-conv upsampling from this output size up
DISCRIMINATOR_FUSED_FROM = 128  # fused strided-conv downsampling in the blocks that take this size and up


def n_steps(max_size):
    """Number of resolutions from 4 px to ``max_size`` (a power of two >= 4)."""
    steps = int(math.log2(max_size)) - 1
    if max_size < 4 or 4 * 2 ** (steps - 1) != max_size:
        raise ValueError(f"max_size must be a power of two >= 4, got {max_size}")
    return steps


def channel_width(size, channel_base=16384, max_channels=512):
    """Feature maps at a resolution: min(max_channels, channel_base / size).

    The defaults give the reference widths 512 (4-32 px), 256, 128, 64, 32, 16 (1024 px).
    """
    return max(1, min(max_channels, channel_base // size))


def step_size(step):
    """Resolution of progressive step ``step``: 4 * 2**step."""
    return 4 * 2 ** step
