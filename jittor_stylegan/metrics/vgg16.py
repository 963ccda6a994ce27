"""NVIDIA's VGG16 (stylegan2-ada-pytorch's ``metrics/vgg16.pt``: a TorchScript port of the TF1 VGG16 with Zhang et
al.'s LPIPS weights), read with ``torchscript.load`` (nothing in it runs) and computed in Jittor: the LPIPS feature
vector (``vgg16(img, resize_images=False, return_lpips=True)``: PPL, the projector) and the 4096-d features
(``vgg16(img, return_features=True)``: precision/recall).

The file holds ``layers.conv1`` ... ``conv13`` (3x3, blocks of 2, 2, 3, 3, 3 between 2x2 max poolings),
``layers.fc1`` ... ``fc3`` (torch Linear, weight (out, in); fc1 reads the 7x7 pool5 maps flattened channel-major)
and ``lpips0`` ... ``lpips4`` (LPIPS's per-channel weights of each block's last ReLU); channel counts and fc widths
are read from the file. Images come in [0, 255] (NVIDIA's range), (N, C, H, W), 1 or 3 channels.
"""
import pickle
import zipfile

import jittor as jt
import numpy as np
from jittor import nn

from . import torchscript
from ..ops import scalar

# LPIPS's ScalingLayer (torchvision's ImageNet mean / std for inputs in [-1, 1]), applied to [0, 255] pixels.
LPIPS_SHIFT = np.array([-.030, -.088, -.188], np.float32)
LPIPS_SCALE = np.array([.458, .448, .450], np.float32)
BLOCKS = (2, 2, 3, 3, 3)  # convolutions per block; each block's last ReLU is an LPIPS feature
FC_LAYERS = 3  # fc1, fc2 (its ReLU output: the features), fc3 (the logits, unused)
LPIPS_MAX_SIZE = 256  # NVIDIA's projector and PPL area-resize larger images to this before LPIPS
FEATURES_SIZE = 224  # return_features resizes images to this (TF1's bilinear resize), so pool5 is 7x7
NORM_EPS = 1e-10  # LPIPS's normalize_tensor
MIN_SIZE = 16  # the four 2x2 poolings before pool5 need 16 px; smaller (test-sized) images are enlarged (nearest)


class Vgg16Error(ValueError):
    """A file that is not NVIDIA's vgg16.pt layout: the message says what is missing."""


def pool(x, factor, reduce="mean"):
    """Non-overlapping ``factor`` x ``factor`` pooling ("mean" or "max"), dropping the rows and columns past a
    multiple of ``factor`` as torch does (Jittor's ``nn.pool`` refuses maps no larger than the window)."""
    n, c, h, w = x.shape
    h, w = h // factor, w // factor
    x = x[:, :, :h * factor, :w * factor].reshape(n, c, h, factor, w, factor)
    return x.mean(dims=(3, 5)) if reduce == "mean" else x.max(dims=(3, 5))


def enlarge(images, min_size):
    """Images under ``min_size`` px enlarged (nearest neighbour, an integer factor) to at least ``min_size``."""
    factor = -(-min_size // images.shape[2])
    return nn.upsample(images, (images.shape[2] * factor, images.shape[3] * factor), mode="nearest") \
        if factor > 1 else images


def normalised(feature):
    """LPIPS's unit normalisation over channels, divided by sqrt(H W) so the squared distance of two
    flattened features is the spatial mean of the squared difference."""
    norm = jt.sqrt((feature * feature).sum(1, keepdims=True))
    h, w = feature.shape[2:]
    return feature / (norm + scalar(NORM_EPS, feature)) * scalar(1 / np.sqrt(h * w), feature)


def tf_resize_matrix(size_in, size_out=FEATURES_SIZE):
    """(size_out, size_in) float32 weights of TF1's bilinear resize (``align_corners=False``: target pixel i reads
    source position i * size_in / size_out, the next pixel clamped at the edge)."""
    source = np.arange(size_out) * (size_in / size_out)
    lo = np.floor(source).astype(np.int64)
    frac = source - lo
    m = np.zeros((size_out, size_in))
    np.add.at(m, (np.arange(size_out), lo), 1 - frac)
    np.add.at(m, (np.arange(size_out), np.minimum(lo + 1, size_in - 1)), frac)
    return m.astype(np.float32)


def _resize(x, size=FEATURES_SIZE):
    """(N, C, size, size): TF1's bilinear resize, as two matrix products."""
    n, c, h, w = x.shape
    x = nn.matmul(x.reshape(n * c * h, w), jt.array(tf_resize_matrix(w, size).T))
    x = x.reshape(n, c, h, size).transpose(0, 1, 3, 2).reshape(n * c * size, h)
    return nn.matmul(x, jt.array(tf_resize_matrix(h, size).T)).reshape(n, c, size, size).transpose(0, 1, 3, 2)


class Vgg16:
    """NVIDIA's vgg16.pt in Jittor (weights read once, constant)."""

    def __init__(self, path):
        self.path = path
        try:
            module = torchscript.load(path)
            layers = module.layers
            self._convs = [self._pair(getattr(layers, f"conv{i + 1}")) for i in range(sum(BLOCKS))]
            self._fcs = [self._pair(getattr(layers, f"fc{i + 1}")) for i in range(FC_LAYERS)]
            self._lpips = [jt.array(np.sqrt(getattr(module, f"lpips{k}").astype(np.float32)).reshape(1, -1, 1, 1))
                           .stop_grad() for k in range(len(BLOCKS))]
        except (AttributeError, KeyError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError) as e:
            raise Vgg16Error(f"{path} is not NVIDIA's vgg16.pt ({type(e).__name__}: {e})") from None
        self._shift = jt.array(((1 + LPIPS_SHIFT) * 127.5).reshape(1, 3, 1, 1))
        self._scale = jt.array((2 / (LPIPS_SCALE * 255)).reshape(1, 3, 1, 1))

    @staticmethod
    def _pair(layer):
        return (jt.array(layer.weight.astype(np.float32)).stop_grad(),
                jt.array(layer.bias.astype(np.float32)).stop_grad())

    def _blocks(self, pixels):
        """The five blocks' last ReLU outputs of images in [0, 255]."""
        x = (pixels.repeat(1, 3, 1, 1) if pixels.shape[1] == 1 else pixels) - self._shift
        x = x * self._scale
        out, k = [], 0
        for block, n in enumerate(BLOCKS):
            if block:
                x = pool(x, 2, "max")
            for weight, bias in self._convs[k:k + n]:
                x = nn.relu(nn.conv2d(x, weight, bias, padding=1))
            k += n
            out.append(x)
        return out

    def lpips(self, pixels):
        """(N, F): the LPIPS feature vector (``return_lpips=True``, no resize): each block's normalised ReLU
        output times sqrt(its LPIPS weights), flattened and concatenated; the squared distance of two is LPIPS."""
        return jt.concat([(normalised(f) * s).reshape(f.shape[0], -1)
                          for f, s in zip(self._blocks(enlarge(pixels, MIN_SIZE)), self._lpips)], 1)

    def features(self, pixels):
        """(N, 4096): fc2's ReLU output (``return_features=True``) of images resized to 224 px."""
        x = pool(self._blocks(_resize(pixels))[-1], 2, "max")
        x = x.reshape(x.shape[0], -1)
        for weight, bias in self._fcs[:2]:
            x = nn.relu(nn.matmul_transpose(x, weight) + bias)
        return x
