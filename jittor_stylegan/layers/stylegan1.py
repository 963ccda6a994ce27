"""StyleGAN 1 building blocks (rosinality's ``style-based-gan-pytorch``), in Jittor.

Module and parameter names mirror the PyTorch reference state_dict, so converting a
checkpoint is a one-to-one name mapping. Equalized learning rate: a layer stores
``weight_orig`` ~ N(0, 1) and multiplies it by sqrt(2 / fan_in) at run time.
Wherever a bias is followed by a leaky ReLU with only bias-commuting steps in
between (noise injection, 2x2 average pooling), both run as one ``fused_leaky_relu``.
Constant kernels are private attributes: never parameters, never saved.
"""
import math

import jittor as jt
from jittor import nn

from ..ops import conv2d, fused_leaky_relu, scalar, upfirdn2d
from .common import ConstantInput
from .stylegan1_arch import BLUR_KERNEL, LRELU_SLOPE


def equal_lr_multiplier(weight_shape):
    """sqrt(2 / fan_in) with fan_in = size(1) * prod(size[2:]), as rosinality's EqualLR."""
    return math.sqrt(2 / (weight_shape[1] * math.prod(weight_shape[2:])))


class _EqualLRConv2d(nn.Module):
    """Holds ``weight_orig`` and ``bias`` (the reference's ``nn.Conv2d`` under ``equal_lr``)."""

    def __init__(self, in_channel, out_channel, kernel_size, padding):
        self.weight_orig = jt.randn(out_channel, in_channel, kernel_size, kernel_size)
        self.bias = jt.zeros(out_channel)
        self._padding = padding
        self._multiplier = equal_lr_multiplier(self.weight_orig.shape)

    def execute(self, x, add_bias=True):
        return conv2d(x, self.weight_orig * scalar(self._multiplier, x), self.bias if add_bias else None,
                         padding=self._padding)


class _EqualLRLinear(nn.Module):
    """Holds ``weight_orig`` and ``bias`` (the reference's ``nn.Linear`` under ``equal_lr``)."""

    def __init__(self, in_dim, out_dim):
        self.weight_orig = jt.randn(out_dim, in_dim)
        self.bias = jt.zeros(out_dim)
        self._multiplier = equal_lr_multiplier(self.weight_orig.shape)

    def execute(self, x, add_bias=True):
        out = nn.matmul_transpose(x, self.weight_orig * scalar(self._multiplier, x))
        return out + self.bias if add_bias else out


class EqualConv2d(nn.Module):
    """Conv2d with equalized learning rate; ``add_bias=False`` leaves the bias to a fused activation."""

    def __init__(self, in_channel, out_channel, kernel_size, padding=0):
        self.conv = _EqualLRConv2d(in_channel, out_channel, kernel_size, padding)

    def execute(self, x, add_bias=True):
        return self.conv(x, add_bias)

    def bias_param(self):
        return self.conv.bias


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate; see EqualConv2d for ``add_bias``."""

    def __init__(self, in_dim, out_dim):
        self.linear = _EqualLRLinear(in_dim, out_dim)

    def execute(self, x, add_bias=True):
        return self.linear(x, add_bias)

    def bias_param(self):
        return self.linear.bias


class LeakyReLU(nn.Module):
    def __init__(self, negative_slope=LRELU_SLOPE):
        self.negative_slope = negative_slope

    def execute(self, x):
        return fused_leaky_relu(x, None, self.negative_slope, 1.0)


class AvgPool2d(nn.Module):
    """2x2 average pooling (the reference's ``nn.AvgPool2d(2)``); commutes with a per-channel bias."""

    def execute(self, x):
        return avg_pool2x(x)


def avg_pool2x(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(dims=(3, 5))


def upsample_nearest2x(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h, 1, w, 1).broadcast((n, c, h, 2, w, 2)).reshape(n, c, 2 * h, 2 * w)


class Upsample(nn.Module):
    """Nearest-neighbour 2x upsampling (the reference's ``nn.Upsample(scale_factor=2)``)."""

    def execute(self, x):
        return upsample_nearest2x(x)


class Sequential(nn.Sequential):
    """Numbered children like ``torch.nn.Sequential``; runs each biased layer followed by a
    LeakyReLU (optionally with AvgPool2d between) as one ``fused_leaky_relu``."""

    def execute(self, x):
        layers = list(self.layers.values())
        i = 0
        while i < len(layers):
            j = i + 1
            while j < len(layers) and isinstance(layers[j], AvgPool2d):
                j += 1
            if hasattr(layers[i], "bias_param") and j < len(layers) and isinstance(layers[j], LeakyReLU):
                x = layers[i](x, add_bias=False)
                for pool in layers[i + 1:j]:
                    x = pool(x)
                x = fused_leaky_relu(x, layers[i].bias_param(), layers[j].negative_slope, 1.0)
                i = j + 1
            else:
                x = layers[i](x)
                i += 1
        return x


class Blur(nn.Module):
    """[1, 2, 1] x [1, 2, 1] / 16 blur with zero padding 1, through ``upfirdn2d``."""

    def __init__(self, channel):
        self._channel = channel
        self._kernel = (jt.array(BLUR_KERNEL) / 16).stop_grad()

    def execute(self, x):
        return upfirdn2d(x, self._kernel, pad=(1, 1))

    def torch_buffers(self):
        """The reference's registered buffers ``weight`` and ``weight_flip``, shape (C, 1, 3, 3)."""
        kernel = self._kernel.numpy().reshape(1, 1, 3, 3).repeat(self._channel, axis=0)
        return {"weight": kernel, "weight_flip": kernel[:, :, ::-1, ::-1].copy()}


def _four_tap_average(weight):
    """Pad by one and average the four shifted copies: the 4x4 kernel of fused up/downsampling."""
    w = nn.pad(weight, [1, 1, 1, 1])
    return (w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]) / 4


class FusedUpsample(nn.Module):
    """Transposed stride-2 conv with the 4-tap-averaged kernel (generator, 128 px and up)."""

    def __init__(self, in_channel, out_channel, kernel_size, padding=0):
        self.weight = jt.randn(in_channel, out_channel, kernel_size, kernel_size)
        self.bias = jt.zeros(out_channel)
        self._multiplier = math.sqrt(2 / (in_channel * kernel_size * kernel_size))
        self._padding = padding

    def execute(self, x):
        weight = _four_tap_average(self.weight * scalar(self._multiplier, x))
        return nn.conv_transpose2d(x, weight, self.bias, stride=2, padding=self._padding)


class FusedDownsample(nn.Module):
    """Stride-2 conv with the 4-tap-averaged kernel (discriminator, 64 px and up)."""

    def __init__(self, in_channel, out_channel, kernel_size, padding=0):
        self.weight = jt.randn(out_channel, in_channel, kernel_size, kernel_size)
        self.bias = jt.zeros(out_channel)
        self._multiplier = math.sqrt(2 / (in_channel * kernel_size * kernel_size))
        self._padding = padding

    def execute(self, x, add_bias=True):
        weight = _four_tap_average(self.weight * scalar(self._multiplier, x))
        return conv2d(x, weight, self.bias if add_bias else None, stride=2, padding=self._padding)

    def bias_param(self):
        return self.bias


class NoiseInjection(nn.Module):
    """Adds per-channel-scaled noise; ``weight_orig`` is equalized like a 1x1 layer (fan_in = C)."""

    def __init__(self, channel):
        self.weight_orig = jt.zeros(1, channel, 1, 1)
        self._multiplier = equal_lr_multiplier(self.weight_orig.shape)

    def execute(self, image, noise):
        return image + self.weight_orig * scalar(self._multiplier, image) * noise


class AdaptiveInstanceNorm(nn.Module):
    """Instance norm (eps 1e-5, no affine) modulated by a style: gamma * norm(x) + beta."""

    def __init__(self, in_channel, style_dim):
        self.style = EqualLinear(style_dim, in_channel * 2)
        self.style.linear.bias = jt.concat([jt.ones(in_channel), jt.zeros(in_channel)])

    def execute(self, x, style):
        style = self.style(style).unsqueeze(2).unsqueeze(3)
        gamma, beta = jt.chunk(style, 2, dim=1)
        mean = x.mean(dims=(2, 3), keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(dims=(2, 3), keepdims=True)
        return gamma * (centered / jt.sqrt(var + scalar(1e-5, x))) + beta


class StyledConvBlock(nn.Module):
    """conv -> noise -> leaky ReLU -> AdaIN, twice; one noise map feeds both layers."""

    def __init__(self, in_channel, out_channel, kernel_size=3, padding=1, style_dim=512,
                 initial=False, upsample=False, fused=False):
        if initial:
            self.conv1 = ConstantInput(in_channel)
        elif upsample and fused:
            self.conv1 = Sequential(FusedUpsample(in_channel, out_channel, kernel_size, padding=padding),
                                    Blur(out_channel))
        elif upsample:
            self.conv1 = Sequential(Upsample(), EqualConv2d(in_channel, out_channel, kernel_size, padding=padding),
                                    Blur(out_channel))
        else:
            self.conv1 = EqualConv2d(in_channel, out_channel, kernel_size, padding=padding)
        self.noise1 = NoiseInjection(out_channel)
        self.adain1 = AdaptiveInstanceNorm(out_channel, style_dim)
        self.conv2 = EqualConv2d(out_channel, out_channel, kernel_size, padding=padding)
        self.noise2 = NoiseInjection(out_channel)
        self.adain2 = AdaptiveInstanceNorm(out_channel, style_dim)

    @staticmethod
    def _conv_noise_lrelu(conv, noise_layer, x, noise):
        """conv (+ bias) + noise, leaky ReLU; the bias commutes with the noise, so it is fused."""
        if hasattr(conv, "bias_param"):
            out = noise_layer(conv(x, add_bias=False), noise)
            return fused_leaky_relu(out, conv.bias_param(), LRELU_SLOPE, 1.0)
        return fused_leaky_relu(noise_layer(conv(x), noise), None, LRELU_SLOPE, 1.0)

    def execute(self, x, style, noise):
        out = self.adain1(self._conv_noise_lrelu(self.conv1, self.noise1, x, noise), style)
        return self.adain2(self._conv_noise_lrelu(self.conv2, self.noise2, out, noise), style)


class ConvBlock(nn.Module):
    """Discriminator block: conv + leaky ReLU, then conv + leaky ReLU with optional
    blur and 2x downsampling (fused stride-2 conv, or conv then average pooling)."""

    def __init__(self, in_channel, out_channel, kernel_size, padding, kernel_size2=None, padding2=None,
                 downsample=False, fused=False):
        kernel2 = kernel_size if kernel_size2 is None else kernel_size2
        pad2 = padding if padding2 is None else padding2
        self.conv1 = Sequential(EqualConv2d(in_channel, out_channel, kernel_size, padding=padding), LeakyReLU())
        if downsample and fused:
            self.conv2 = Sequential(Blur(out_channel), FusedDownsample(out_channel, out_channel, kernel2, padding=pad2),
                                    LeakyReLU())
        elif downsample:
            self.conv2 = Sequential(Blur(out_channel), EqualConv2d(out_channel, out_channel, kernel2, padding=pad2),
                                    AvgPool2d(), LeakyReLU())
        else:
            self.conv2 = Sequential(EqualConv2d(out_channel, out_channel, kernel2, padding=pad2), LeakyReLU())

    def execute(self, x):
        return self.conv2(self.conv1(x))
