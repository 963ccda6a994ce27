"""Layers both StyleGAN families share under the same names: PixelNorm and the learned constant input; and the
constant noise maps of a generator whose file stores none."""
import jittor as jt
import numpy as np
from jittor import nn

from ..ops import scalar

FIXED_NOISE_SEED = 0  # the constant noise maps of a generator whose file stores none: one draw from this seed


def fixed_noise_maps(sizes):
    """Constant noise maps (1, 1, s, s) for ``sizes``, float32 numpy: one draw from FIXED_NOISE_SEED, the same in
    every process (NVIDIA's ``noise_mode='const'`` for generators stored without their maps)."""
    rng = np.random.default_rng(FIXED_NOISE_SEED)
    return [rng.standard_normal((1, 1, s, s), dtype=np.float32) for s in sizes]


def normalize_2nd_moment(x):
    """x over the root mean square of its features (NVIDIA's ``normalize_2nd_moment``, rosinality's PixelNorm)."""
    return x / jt.sqrt((x * x).mean(dim=1, keepdims=True) + scalar(1e-8, x))


class PixelNorm(nn.Module):
    def execute(self, x):
        return normalize_2nd_moment(x)



class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        self.input = jt.randn(1, channel, size, size)

    def execute(self, batch_like):
        return self.input.broadcast((batch_like.shape[0],) + tuple(self.input.shape[1:]))
