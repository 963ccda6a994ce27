"""Layers both StyleGAN families share under the same names: PixelNorm and the learned constant input."""
import jittor as jt
from jittor import nn

from ..ops import scalar


class PixelNorm(nn.Module):
    def execute(self, x):
        return x / jt.sqrt((x * x).mean(dim=1, keepdims=True) + scalar(1e-8, x))



class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        self.input = jt.randn(1, channel, size, size)

    def execute(self, batch_like):
        return self.input.broadcast((batch_like.shape[0],) + tuple(self.input.shape[1:]))
