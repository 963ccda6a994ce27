"""Perceptual distances between images, for the projector: a feature vector per image whose squared
Euclidean distance is the distance (NVIDIA's ``vgg16(..., return_lpips=True)`` form).

``Vgg16Lpips`` is LPIPS on VGG16 read from NVIDIA's ``vgg16.pt`` (a TorchScript archive, read with
``torchscript.load``: nothing in it runs): the five ReLU outputs relu1_2 ... relu5_3, each unit-normalised
over channels, scaled by the square root of its LPIPS linear weights and of 1 / (H W), concatenated.
``OfflineDistance`` needs no download: the FID Inception's three stem convolutions (the weights the FID
already reads) in the same normalised form, plus the pixel MSE at 1, 1/2 and 1/4 scale.
Images come in [-1, 1], (N, C, H, W), 1 or 3 channels; larger than 256 px they are area-resized to 256
first (as NVIDIA's projector does).
"""
import pickle
import zipfile

import jittor as jt
import numpy as np
from jittor import nn

from . import inception, torchscript
from ..ops import scalar

MAX_SIZE = 256  # NVIDIA's projector: images larger than this are area-resized to it before VGG16
NORM_EPS = 1e-10  # LPIPS's normalize_tensor
# LPIPS's ScalingLayer (torchvision's ImageNet mean / std for inputs in [-1, 1]), applied to [0, 255] pixels.
LPIPS_SHIFT = np.array([-.030, -.088, -.188], np.float32)
LPIPS_SCALE = np.array([.458, .448, .450], np.float32)
VGG16_BLOCKS = (2, 2, 3, 3, 3)  # convolutions per block; each block's last ReLU is an LPIPS feature
VGG16_MIN_SIZE = 16  # VGG16's four 2x2 poolings need 16 px; smaller (test-sized) images are enlarged (nearest)
INCEPTION_MIN_SIZE = 64  # images under this are enlarged (nearest) so the stem's maps keep some extent
PIXEL_SCALES = 3  # the pixel MSE at 1, 1/2, 1/4


class Vgg16Error(Exception):
    """A file that is not NVIDIA's vgg16.pt layout: the message says what is missing."""


def _rgb(images):
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images


def pool(x, factor, reduce="mean"):
    """Non-overlapping ``factor`` x ``factor`` pooling ("mean" or "max") of maps whose sides it divides (Jittor's
    ``nn.pool`` refuses maps no larger than the window)."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // factor, factor, w // factor, factor)
    return x.mean(dims=(3, 5)) if reduce == "mean" else x.max(dims=(3, 5))


def _limit_size(images):
    """Area-resize (integer factor) images larger than MAX_SIZE down to MAX_SIZE."""
    factor = images.shape[2] // MAX_SIZE
    return pool(images, factor) if factor > 1 else images


def _enlarge(images, min_size):
    """Images under ``min_size`` px enlarged (nearest neighbour, an integer factor) to at least ``min_size``."""
    factor = -(-min_size // images.shape[2])
    return nn.upsample(images, (images.shape[2] * factor, images.shape[3] * factor), mode="nearest") \
        if factor > 1 else images


def _normalised(feature):
    """LPIPS's unit normalisation over channels, divided by sqrt(H W) so the squared distance of two
    flattened features is the spatial mean of the squared difference."""
    norm = jt.sqrt((feature * feature).sum(1, keepdims=True))
    h, w = feature.shape[2:]
    return feature / (norm + scalar(NORM_EPS, feature)) * scalar(1 / np.sqrt(h * w), feature)


class Vgg16Lpips(nn.Module):
    """LPIPS-VGG16 features of NVIDIA's vgg16.pt (``layers.conv1`` ... ``conv13``, ``lpips0`` ... ``lpips4``);
    the channel counts are read from the file."""

    description = "LPIPS on VGG16 (NVIDIA's vgg16.pt)"

    def __init__(self, path):
        try:
            module = torchscript.load(path)
            convs = [getattr(module.layers, f"conv{i + 1}") for i in range(sum(VGG16_BLOCKS))]
            self._convs = [(jt.array(c.weight.astype(np.float32)).stop_grad(),
                            jt.array(c.bias.astype(np.float32)).stop_grad()) for c in convs]
            self._lpips = [jt.array(np.sqrt(getattr(module, f"lpips{k}").astype(np.float32)).reshape(1, -1, 1, 1))
                           .stop_grad() for k in range(len(VGG16_BLOCKS))]
        except (AttributeError, KeyError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError) as e:
            raise Vgg16Error(f"{path} is not NVIDIA's vgg16.pt ({type(e).__name__}: {e})") from None
        self._shift = jt.array(((1 + LPIPS_SHIFT) * 127.5).reshape(1, 3, 1, 1))
        self._scale = jt.array((2 / (LPIPS_SCALE * 255)).reshape(1, 3, 1, 1))

    def layer_features(self, pixels):
        """The five LPIPS layers' ReLU outputs of images in [0, 255] (NVIDIA's input range)."""
        x = (pixels - self._shift) * self._scale
        out, k = [], 0
        for block, n in enumerate(VGG16_BLOCKS):
            if block:
                x = pool(x, 2, "max")
            for weight, bias in self._convs[k:k + n]:
                x = nn.relu(nn.conv2d(x, weight, bias, padding=1))
            k += n
            out.append(x)
        return out

    def features(self, images):
        """(N, F): the LPIPS feature vector of images in [-1, 1]."""
        pixels = _enlarge(_limit_size((_rgb(images) + 1) * 127.5), VGG16_MIN_SIZE)
        return jt.concat([(_normalised(f) * s).reshape(f.shape[0], -1)
                          for f, s in zip(self.layer_features(pixels), self._lpips)], 1)


class OfflineDistance(nn.Module):
    """The FID Inception's stem features (normalised as LPIPS normalises) plus multi-scale pixel MSE;
    pixel MSE alone when the Inception weights are not installed."""

    def __init__(self):
        try:
            layers = torchscript.load(inception.weights_path()).net.layers
            self._stem = [inception.ConvBN(getattr(layers, name)) for name in ("conv", "conv_1", "conv_2")]
            self.description = ("the FID Inception's stem features + pixel MSE at 3 scales (pass --vgg16 "
                                "vgg16.pt for NVIDIA's LPIPS)")
        except FileNotFoundError:
            self._stem = []
            self.description = ("pixel MSE at 3 scales (no FID Inception weights installed; pass --vgg16 "
                                "vgg16.pt for NVIDIA's LPIPS)")

    def features(self, images):
        """(N, F): Inception stem maps, then the image at each pixel scale scaled to give its MSE."""
        images = _limit_size(images)
        out = []
        if self._stem:
            x = _rgb(images) * scalar(127.5 / 128, images) - scalar(0.5 / 128, images)  # (v - 128) / 128
            x = _enlarge(x, INCEPTION_MIN_SIZE)
            for conv in self._stem:
                x = conv(x)
                out.append(_normalised(x).reshape(x.shape[0], -1))
        x = images
        for scale in range(PIXEL_SCALES):
            if scale:
                x = pool(x, 2)
            out.append(x.reshape(x.shape[0], -1) * scalar(1 / np.sqrt(np.prod(x.shape[1:])), x))
        return jt.concat(out, 1)


def distance_for(vgg16=None):
    """The projector's distance: LPIPS-VGG16 from the file at ``vgg16``, else the offline one."""
    return Vgg16Lpips(vgg16) if vgg16 else OfflineDistance()
