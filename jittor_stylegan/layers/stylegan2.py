"""StyleGAN 2 layers (rosinality's stylegan2-pytorch ``model.py``), in Jittor.

Module and parameter names are the reference's, so its state_dicts convert one to one. Its buffers
are private here (never parameters); ``torch_buffers()`` gives them by their reference names: the
fixed FIR kernels (``...kernel``), checked on load, and the generator's fixed noise maps
(``noise_<i>``), loaded (a state without them: ``fixed_noise_maps``). Weights are drawn from numpy's global
generator.

Mixed precision (NVIDIA's): a layer runs in its input's dtype (float16 in a network's float16
resolutions); its weights stay in their own dtype (float32), are scaled, modulated and demodulated
there, and are cast to the input's dtype at use. ToRGB hands its image back in the weights' dtype.
"""
import math

import jittor as jt
import numpy as np
from jittor import nn

from ..ops import cast, conv2d, conv_transpose2d, fused_leaky_relu, scalar, upfirdn2d
from .common import fixed_noise_maps, normalize_2nd_moment

STDDEV_GROUP = 4  # minibatch standard deviation: group size and feature count
STDDEV_FEATURES = 1


def _randn(*shape):
    """A float32 parameter initialised from numpy's global generator."""
    return jt.array(np.random.standard_normal(shape).astype(np.float32))



def make_kernel(kernel):
    """The normalised 2-D FIR kernel (outer product of a 1-D one), float32 as the reference's."""
    k = np.asarray(kernel, dtype=np.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


class Blur(nn.Module):
    """upfirdn2d with a fixed kernel (times ``kernel_scale``): the reference's Blur, and its
    Upsample when ``up`` is 2."""

    def __init__(self, kernel, pad, up=1, kernel_scale=1):
        self._kernel_np = make_kernel(kernel) * np.float32(kernel_scale)
        self._kernel = jt.array(self._kernel_np).stop_grad()
        self._pad, self._up = tuple(pad), up

    def execute(self, x):
        return upfirdn2d(x, self._kernel, up=self._up, pad=self._pad)

    def torch_buffers(self):
        return {"kernel": self._kernel_np}


def make_upsample(kernel, factor=2):
    """The reference's Upsample: zero insertion and the FIR kernel scaled by factor**2."""
    p = len(kernel) - factor
    return Blur(kernel, ((p + 1) // 2 + factor - 1, p // 2), up=factor, kernel_scale=factor ** 2)


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate and learning-rate multiplier ``lr_mul``;
    ``activation="fused_lrelu"`` applies the bias inside a fused leaky ReLU."""

    def __init__(self, in_dim, out_dim, bias_init=0, lr_mul=1, activation=None):
        self.weight = _randn(out_dim, in_dim) / lr_mul
        self.bias = jt.full((out_dim,), float(bias_init))
        self._scale = (1 / math.sqrt(in_dim)) * lr_mul
        self._lr_mul, self._activation = lr_mul, activation

    def execute(self, x):
        out = nn.matmul_transpose(x, self.weight * scalar(self._scale, x))
        bias = self.bias * scalar(self._lr_mul, x)
        return fused_leaky_relu(out, bias) if self._activation else out + bias


class EqualConv2d(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, stride=1, padding=0, bias=True):
        self.weight = _randn(out_channel, in_channel, kernel_size, kernel_size)
        if bias:
            self.bias = jt.zeros(out_channel)
        self._scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self._stride, self._padding = stride, padding

    def execute(self, x):
        weight = cast(self.weight * scalar(self._scale, self.weight), x.dtype)
        bias = getattr(self, "bias", None)
        return conv2d(x, weight, None if bias is None else cast(bias, x.dtype), self._stride, self._padding)


class LabelMapping(nn.Module):
    """NVIDIA's ``MappingNetwork`` without a latent (``z_dim=0``), as its projection discriminator maps the
    one-hot label c: ``embed`` (c_dim -> out_dim), normalised, then ``num_layers`` layers ``fc0``... with
    leaky ReLU and the learning-rate multiplier ``lr_mul``."""

    def __init__(self, c_dim, out_dim, num_layers, lr_mul=0.01):
        self.embed = EqualLinear(c_dim, out_dim)
        self._num_layers = num_layers
        for i in range(num_layers):
            setattr(self, f"fc{i}", EqualLinear(out_dim, out_dim, lr_mul=lr_mul, activation="fused_lrelu"))

    def execute(self, c):
        x = normalize_2nd_moment(self.embed(c))
        for i in range(self._num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


def clamp(x, conv_clamp):
    """x limited to [-conv_clamp, conv_clamp] (NVIDIA's ``conv_clamp``), or x itself when it is None."""
    if conv_clamp is None:
        return x
    return x.maximum(scalar(-conv_clamp, x)).minimum(scalar(conv_clamp, x))


class Clamp(nn.Module):
    """``clamp`` as a layer (the last of a ``ConvLayer``)."""

    def __init__(self, conv_clamp):
        self._conv_clamp = conv_clamp

    def execute(self, x):
        return clamp(x, self._conv_clamp)


class FusedLeakyReLU(nn.Module):
    def __init__(self, channel):
        self.bias = jt.zeros(channel)

    def execute(self, x):
        return fused_leaky_relu(x, self.bias)


class ModulatedConv2d(nn.Module):
    """Convolution whose weight is scaled per sample by the style (and demodulated), run as
    one convolution grouped by sample; ``upsample`` is a stride-2 transposed convolution then
    a blur, ``downsample`` a blur then a stride-2 convolution."""

    def __init__(self, in_channel, out_channel, kernel_size, style_dim, demodulate=True,
                 upsample=False, downsample=False, blur_kernel=(1, 3, 3, 1)):
        self.weight = _randn(1, out_channel, in_channel, kernel_size, kernel_size)
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
        self._scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self._demodulate, self._upsample, self._downsample = demodulate, upsample, downsample
        factor = 2
        if upsample:
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, ((p + 1) // 2 + factor - 1, p // 2 + 1), kernel_scale=factor ** 2)
        elif downsample:
            p = (len(blur_kernel) - factor) + (kernel_size - 1)
            self.blur = Blur(blur_kernel, ((p + 1) // 2, p // 2))

    def execute(self, x, style):
        batch, in_channel, height, width = x.shape
        _, out_channel, _, k, _ = self.weight.shape
        style = self.modulation(style).reshape(batch, 1, in_channel, 1, 1)
        weight = scalar(self._scale, self.weight) * self.weight * style
        if self._demodulate:
            demod = 1 / jt.sqrt((weight * weight).sum([2, 3, 4]) + scalar(1e-8, weight))
            weight = weight * demod.reshape(batch, out_channel, 1, 1, 1)
        weight = cast(weight, x.dtype)
        if self._upsample:
            weight = weight.transpose(0, 2, 1, 3, 4).reshape(batch * in_channel, out_channel, k, k)
            out = conv_transpose2d(x.reshape(1, batch * in_channel, height, width), weight, stride=2, groups=batch)
            return self.blur(out.reshape(batch, out_channel, out.shape[2], out.shape[3]))
        if self._downsample:
            x = self.blur(x)
        weight = weight.reshape(batch * out_channel, in_channel, k, k)
        stride, padding = (2, 0) if self._downsample else (1, k // 2)
        out = conv2d(x.reshape(1, batch * in_channel, x.shape[2], x.shape[3]), weight, stride=stride,
                     padding=padding, groups=batch)
        return out.reshape(batch, out_channel, out.shape[2], out.shape[3])


class NoiseInjection(nn.Module):
    def __init__(self):
        self.weight = jt.zeros(1)

    def execute(self, image, noise):
        return image + cast(self.weight * cast(noise, self.weight.dtype), image.dtype)


class StyledConv(nn.Module):
    """Modulated convolution, noise, fused leaky ReLU, [clamp to +-conv_clamp]."""

    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False, blur_kernel=(1, 3, 3, 1),
                 conv_clamp=None):
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)
        self._conv_clamp = conv_clamp

    def execute(self, x, style, noise):
        return clamp(self.activate(self.noise(self.conv(x, style), noise)), self._conv_clamp)


class ToRGB(nn.Module):
    """1x1 modulated convolution (no demodulation) to image channels, [clamped to +-conv_clamp], plus the
    upsampled skip."""

    def __init__(self, in_channel, style_dim, upsample=True, blur_kernel=(1, 3, 3, 1), image_channels=3,
                 conv_clamp=None):
        if upsample:
            self.upsample = make_upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, image_channels, 1, style_dim, demodulate=False)
        self.bias = jt.zeros(1, image_channels, 1, 1)
        self._conv_clamp = conv_clamp

    def execute(self, x, style, skip=None):
        out = cast(clamp(self.conv(x, style) + cast(self.bias, x.dtype), self._conv_clamp), self.bias.dtype)
        return out if skip is None else out + self.upsample(skip)


class NoiseBuffers(nn.Module):
    """The generator's fixed noise maps (``randomize_noise=False``), float32 numpy arrays: drawn at construction
    from numpy's global generator (a seeded run's later weights continue that stream), replaced when loaded."""

    def __init__(self, shapes):
        self._maps = [np.random.standard_normal(shape).astype(np.float32) for shape in shapes]

    def torch_buffers(self):
        return {f"noise_{i}": m for i, m in enumerate(self._maps)}

    def load_torch_buffers(self, state):
        """The maps ``state`` holds; those it lacks (this project's checkpoints store none) are
        ``fixed_noise_maps``' draw, so a loaded generator has the same constant maps in every process."""
        fixed = fixed_noise_maps([m.shape[-1] for m in self._maps])
        self._maps = [np.asarray(state.get(f"noise_{i}", m), np.float32).copy() for i, m in enumerate(fixed)]

    def maps(self, dtype):
        return [jt.array(m, dtype=dtype) for m in self._maps]



class ConvLayer(nn.Sequential):
    """[blur,] equalized conv (stride 2 after the blur), [fused leaky ReLU with the bias [, clamp]]."""

    def __init__(self, in_channel, out_channel, kernel_size, downsample=False, blur_kernel=(1, 3, 3, 1),
                 bias=True, activate=True, conv_clamp=None):
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, ((p + 1) // 2, p // 2)))
        stride, padding = (2, 0) if downsample else (1, kernel_size // 2)
        layers.append(EqualConv2d(in_channel, out_channel, kernel_size, stride=stride, padding=padding,
                                  bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channel))
            if conv_clamp is not None:
                layers.append(Clamp(conv_clamp))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Two convolutions (the second downsampling) plus a 1x1 downsampling skip, the sum over sqrt(2); without
    ``skip``, the two convolutions alone (NVIDIA's 'orig' discriminator blocks)."""

    def __init__(self, in_channel, out_channel, blur_kernel=(1, 3, 3, 1), conv_clamp=None, skip=True):
        self.conv1 = ConvLayer(in_channel, in_channel, 3, blur_kernel=blur_kernel, conv_clamp=conv_clamp)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True, blur_kernel=blur_kernel,
                               conv_clamp=conv_clamp)
        if skip:
            self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, blur_kernel=blur_kernel,
                                  activate=False, bias=False)

    def execute(self, x):
        out = self.conv2(self.conv1(x))
        if not hasattr(self, "skip"):
            return out
        return (out + self.skip(x)) / scalar(math.sqrt(2), x)


def minibatch_stddev(x, group_size=STDDEV_GROUP):
    """x with one more channel: the standard deviation over each group of samples (sample b
    is in group b % (batch / group)), averaged over features and pixels."""
    batch, channel, height, width = x.shape
    group = min(batch, group_size)
    if batch % group:
        raise ValueError(f"batch {batch} is not divisible by the stddev group size {group}")
    y = x.reshape(group, -1, STDDEV_FEATURES, channel // STDDEV_FEATURES, height, width)
    y = y - y.mean(0, keepdims=True)
    y = jt.sqrt((y * y).mean(0) + scalar(1e-8, x)).mean([2, 3, 4])  # (batch / group, features)
    y = y.reshape(1, -1, STDDEV_FEATURES, 1, 1).broadcast((group, batch // group, STDDEV_FEATURES, height, width))
    return jt.concat([x, y.reshape(batch, STDDEV_FEATURES, height, width)], 1)
