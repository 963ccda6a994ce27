"""Perceptual distances between images, for the projector: a feature vector per image whose squared
Euclidean distance is the distance (NVIDIA's ``vgg16(..., return_lpips=True)`` form).

``Vgg16Lpips`` is LPIPS on VGG16 read from NVIDIA's ``vgg16.pt`` (``vgg16.Vgg16``: nothing in the file runs): the
five ReLU outputs relu1_2 ... relu5_3, each unit-normalised over channels, scaled by the square root of its LPIPS
linear weights and of 1 / (H W), concatenated.
``OfflineDistance`` needs no download: the FID Inception's three stem convolutions (the weights the FID
already reads) in the same normalised form, plus the pixel MSE at 1, 1/2 and 1/4 scale.
Images come in [-1, 1], (N, C, H, W), 1 or 3 channels; larger than 256 px they are area-resized to 256
first (as NVIDIA's projector does).
"""
import jittor as jt
import numpy as np
from jittor import nn

from . import inception, torchscript
from .vgg16 import LPIPS_MAX_SIZE, Vgg16, enlarge, normalised, pool
from ..ops import scalar

INCEPTION_MIN_SIZE = 64  # images under this are enlarged (nearest) so the stem's maps keep some extent
PIXEL_SCALES = 3  # the pixel MSE at 1, 1/2, 1/4


def _rgb(images):
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images


def limit_size(images):
    """Area-resize (integer factor) images larger than LPIPS_MAX_SIZE down to it (as NVIDIA's projector)."""
    factor = images.shape[2] // LPIPS_MAX_SIZE
    return pool(images, factor) if factor > 1 else images


class Vgg16Lpips(nn.Module):
    """LPIPS-VGG16 of NVIDIA's vgg16.pt (``vgg16.Vgg16.lpips``) on images in [-1, 1] limited to LPIPS_MAX_SIZE."""

    description = "LPIPS on VGG16 (NVIDIA's vgg16.pt)"

    def __init__(self, path):
        self._vgg16 = Vgg16(path)

    def features(self, images):
        """(N, F): the LPIPS feature vector of images in [-1, 1]."""
        return self._vgg16.lpips(limit_size((images + 1) * 127.5))


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
        images = limit_size(images)
        out = []
        if self._stem:
            x = _rgb(images) * scalar(127.5 / 128, images) - scalar(0.5 / 128, images)  # (v - 128) / 128
            x = enlarge(x, INCEPTION_MIN_SIZE)
            for conv in self._stem:
                x = conv(x)
                out.append(normalised(x).reshape(x.shape[0], -1))
        x = images
        for scale in range(PIXEL_SCALES):
            if scale:
                x = pool(x, 2)
            out.append(x.reshape(x.shape[0], -1) * scalar(1 / np.sqrt(np.prod(x.shape[1:])), x))
        return jt.concat(out, 1)


def distance_for(vgg16=None):
    """The projector's distance: LPIPS-VGG16 from the file at ``vgg16``, else the offline one."""
    return Vgg16Lpips(vgg16) if vgg16 else OfflineDistance()
