"""StyleGAN 2 networks (rosinality's stylegan2-pytorch ``model.py``), in Jittor.

Module and parameter names are the reference's, so its state_dicts convert one to one.
Its buffers are private here (never parameters); ``torch_buffers()`` gives them by their
reference names: the fixed FIR kernels (``...kernel``), checked on load, and the
generator's fixed noise maps (``noises.noise_<i>``), loaded. Every random draw (noise
maps, the style-mixing crossover, mean_latent's inputs, the path-length probe) comes from
numpy: ``rng`` is an ``np.random.Generator``, or None for numpy's global generator.
Beyond the reference: ``image_channels`` (1, 3, 4, ...) and ``channels`` ({resolution:
width}) for small models; the defaults build exactly the reference networks. ``use_fp16`` turns on
NVIDIA's mixed precision (a training setting, not an architecture one: it is no constructor argument).
``c_dim`` > 0 makes the networks class-conditional as NVIDIA's stylegan2-ada-pytorch (``labels``: one-hot
(batch, c_dim)): G embeds the label next to z (``embed``), D is a projection discriminator (``mapping``).
"""
import math

import jittor as jt
import numpy as np
from jittor import nn

from ..layers.common import ConstantInput, PixelNorm
from ..layers.stylegan2 import (STDDEV_FEATURES, STDDEV_GROUP, ConvLayer, EqualLinear, LabelMapping,  # noqa: F401
                                NoiseBuffers, ResBlock, StyledConv, ToRGB, minibatch_stddev)
from ..ops import cast, scalar


D_MAPPING_LAYERS = 8  # NVIDIA's projection discriminator maps the label with its MappingNetwork's default depth


def _labels(net, labels, like):
    """``labels`` (one-hot (batch, c_dim)) in ``like``'s dtype for a conditional network; None for another."""
    if not net.c_dim:
        if labels is not None:
            raise ValueError("labels given to an unconditional network (c_dim=0)")
        return None
    if labels is None:
        raise ValueError(f"a conditional network (c_dim={net.c_dim}) needs labels")
    labels = labels if isinstance(labels, jt.Var) else jt.array(np.asarray(labels))
    if tuple(labels.shape) != (like.shape[0], net.c_dim):
        raise ValueError(f"labels of shape {tuple(labels.shape)}, expected ({like.shape[0]}, {net.c_dim})")
    return cast(labels, like.dtype)


def reference_channels(channel_multiplier=2):
    """The reference's width per resolution."""
    m = channel_multiplier
    return {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * m, 128: 128 * m, 256: 64 * m, 512: 32 * m, 1024: 16 * m}


def _log_size(size):
    log_size = int(math.log2(size)) if size >= 4 else 0
    if size < 4 or 2 ** log_size != size:
        raise ValueError(f"size must be a power of two >= 4, got {size}")
    return log_size


def _widths(size, channels, channel_multiplier):
    """{resolution: width}; ``channels`` may come back from JSON, with its keys as strings."""
    channels = reference_channels(channel_multiplier) if channels is None else {int(s): w for s, w in channels.items()}
    missing = [2 ** i for i in range(2, _log_size(size) + 1) if 2 ** i not in channels]
    if missing:
        raise ValueError(f"channels has no width for resolutions {missing}")
    return channels


def fp16_resolution(size, fp16_res):
    """The lowest resolution that runs in float16 when the ``fp16_res`` highest do (NVIDIA's rule: never
    below 8 px, so the 4 px layers always run in float32); None when ``fp16_res`` is 0."""
    if not isinstance(fp16_res, int) or isinstance(fp16_res, bool) or fp16_res < 0:
        raise ValueError(f"fp16_res must be an int >= 0, got {fp16_res!r}")
    return max(2 ** (_log_size(size) + 1 - fp16_res), 8) if fp16_res else None


class _MixedPrecision:
    """The dtype each resolution runs in: float16 from ``fp16_resolution`` up, else the weights' dtype."""

    _fp16_from = None

    def use_fp16(self, fp16_res):
        """Run the ``fp16_res`` highest resolutions in float16 (NVIDIA's ``num_fp16_res``; 0: none), weights
        staying in their dtype; pair it with ``conv_clamp`` (NVIDIA: 256) so float16 cannot overflow."""
        self._fp16_from = fp16_resolution(self.config["size"], fp16_res)

    def _dtype_at(self, resolution, weights_dtype):
        return jt.float16 if self._fp16_from and resolution >= self._fp16_from else weights_dtype


def _normal(rng, shape):
    return (rng or np.random).standard_normal(shape)


def _integer(rng, low, high):
    """A random int in [low, high)."""
    rng = rng or np.random
    return int(rng.integers(low, high) if hasattr(rng, "integers") else rng.randint(low, high))


def _noise_size(layer):
    """Resolution of the generator's ``layer``-th noise input."""
    return 2 ** ((layer + 5) // 2)


class Generator(_MixedPrecision, nn.Module):
    """Mapping network ``style`` and the synthesis network with skip ToRGB outputs; ``conv_clamp`` (NVIDIA's)
    clamps every convolution's output to +-conv_clamp. ``w_avg`` (None, or a (style_dim,) array an NVIDIA
    network brings) is the truncation centre samplers use. ``c_dim`` > 0: NVIDIA's conditional mapping, z and
    the label's embedding (``embed``) each normalised and concatenated before the MLP; ``class_names`` (set by
    loaders, None when unknown) names the classes."""

    def __init__(self, size, style_dim=512, n_mlp=8, channel_multiplier=2, blur_kernel=(1, 3, 3, 1), lr_mlp=0.01,
                 image_channels=3, channels=None, conv_clamp=None, c_dim=0):
        self.size, self.style_dim, self.log_size, self.c_dim = size, style_dim, _log_size(size), c_dim
        widths = _widths(size, channels, channel_multiplier)
        self.config = dict(size=size, style_dim=style_dim, n_mlp=n_mlp, channel_multiplier=channel_multiplier,
                           blur_kernel=tuple(blur_kernel), lr_mlp=lr_mlp, image_channels=image_channels,
                           channels=channels, conv_clamp=conv_clamp, c_dim=c_dim)
        self.w_avg = self.class_names = None
        if c_dim:
            self.embed = EqualLinear(c_dim, style_dim)
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(style_dim * (2 if c_dim and i == 0 else 1), style_dim,
                                                              lr_mul=lr_mlp, activation="fused_lrelu")
                                                  for i in range(n_mlp)])
        self.input = ConstantInput(widths[4])
        clamp = dict(conv_clamp=conv_clamp)
        self.conv1 = StyledConv(widths[4], widths[4], 3, style_dim, blur_kernel=blur_kernel, **clamp)
        self.to_rgb1 = ToRGB(widths[4], style_dim, upsample=False, image_channels=image_channels, **clamp)
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2
        convs, to_rgbs = [], []
        in_channel = widths[4]
        for i in range(3, self.log_size + 1):
            out_channel = widths[2 ** i]
            convs += [StyledConv(in_channel, out_channel, 3, style_dim, upsample=True, blur_kernel=blur_kernel,
                                 **clamp),
                      StyledConv(out_channel, out_channel, 3, style_dim, blur_kernel=blur_kernel, **clamp)]
            to_rgbs.append(ToRGB(out_channel, style_dim, blur_kernel=blur_kernel, image_channels=image_channels,
                                 **clamp))
            in_channel = out_channel
        self.convs, self.to_rgbs = nn.ModuleList(convs), nn.ModuleList(to_rgbs)
        self.noises = NoiseBuffers([(1, 1, _noise_size(i), _noise_size(i)) for i in range(self.num_layers)])

    @property
    def dtype(self):
        return self.input.input.dtype

    # The inference surface both families offer (``sampling.Sampler``): z -> w, then images from one w
    # per resolution level (level l = 4 * 2**l px, latent indices 2l and 2l + 1) and noise maps.

    @property
    def latent_dim(self):
        return self.style_dim

    def mapping(self, z, labels=None):
        """w of latents z (and of one-hot ``labels`` for a conditional generator)."""
        labels = _labels(self, labels, z)
        if labels is None:
            return self.style(z)
        norm, *layers = list(self.style)
        x = jt.concat([norm(z), norm(self.embed(labels))], 1)
        for layer in layers:
            x = layer(x)
        return x

    def _check_size(self, size):
        if size not in (None, self.size):
            raise ValueError(f"this StyleGAN 2 generator makes {self.size} px images, not {size}")

    def sizes(self):
        """The image sizes it makes: one."""
        return [self.size]

    def levels(self, size=None):
        self._check_size(size)
        return self.log_size - 1

    def noise_sizes(self, size=None):
        """The resolution of each layer's noise map."""
        self._check_size(size)
        return [_noise_size(i) for i in range(self.num_layers)]

    def synthesize(self, level_ws, noise, size=None, alpha=1.0):
        """Images from one w per level (latent index k takes level k // 2) and one noise map per layer."""
        self._check_size(size)
        latent = jt.stack([level_ws[k // 2] for k in range(self.n_latent)], 1)
        return self([latent], noise=noise, input_is_latent=True, randomize_noise=False)[0]

    def make_noise(self, rng=None):
        """One fresh noise map (1, 1, res, res) per layer."""
        return [jt.array(_normal(rng, (1, 1, _noise_size(i), _noise_size(i))), dtype=self.dtype)
                for i in range(self.num_layers)]

    def fixed_noise(self):
        """The fixed noise maps (1, 1, res, res) per layer, numpy (NVIDIA's ``noise_mode='const'``): those its file
        stores (rosinality's, NVIDIA's), else one fixed draw (``layers.common.fixed_noise_maps``)."""
        return [m.copy() for m in self.noises.torch_buffers().values()]

    def mean_latent(self, n_latent, rng=None, labels=None):
        """Mean of ``n_latent`` mapped random latents (a constant: no gradient flows through it)."""
        z = jt.array(_normal(rng, (n_latent, self.style_dim)), dtype=self.dtype)
        return self.mapping(z, labels).mean(0, keepdims=True).detach()

    def get_latent(self, z, labels=None):
        return self.mapping(z, labels)

    def execute(self, styles, noise=None, inject_index=None, truncation=1, truncation_latent=None,
                input_is_latent=False, return_latents=False, randomize_noise=True, rng=None, labels=None):
        """styles: a list of one or two z (or w with ``input_is_latent``; a w+ of shape
        (batch, n_latent, style_dim) is used as is); ``labels``: one-hot (batch, c_dim) of a conditional
        generator, shared by both z. Returns (image, latent or None)."""
        if not input_is_latent:
            styles = [self.mapping(s, labels) for s in styles]
        batch = styles[0].shape[0]
        if noise is None:
            if randomize_noise:
                noise = [jt.array(_normal(rng, (batch, 1, _noise_size(i), _noise_size(i))), dtype=self.dtype)
                         for i in range(self.num_layers)]
            else:
                noise = self.noises.maps(self.dtype)
        if len(noise) != self.num_layers:
            raise ValueError(f"expected {self.num_layers} noise maps, got {len(noise)}")
        if truncation < 1:
            styles = [truncation_latent + scalar(truncation, s) * (s - truncation_latent) for s in styles]
        latent = self._latent(styles, inject_index, rng)

        out = self.input(latent)
        out = self.conv1(out, latent[:, 0], noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        for j, to_rgb in enumerate(self.to_rgbs):
            i = 2 * j + 1
            out = cast(out, self._dtype_at(2 ** (j + 3), skip.dtype))
            out = self.convs[2 * j](out, latent[:, i], noise[i])
            out = self.convs[2 * j + 1](out, latent[:, i + 1], noise[i + 1])
            skip = to_rgb(out, latent[:, i + 2], skip)
        return skip, (latent if return_latents else None)

    def _latent(self, styles, inject_index, rng):
        """(batch, n_latent, style_dim): the first style up to the crossover, then the second."""
        if len(styles) == 1:
            style = styles[0]
            if style.ndim >= 3:
                return style
            return style.unsqueeze(1).broadcast((style.shape[0], self.n_latent, style.shape[1]))
        if len(styles) != 2:
            raise ValueError(f"styles must hold one or two latents, got {len(styles)}")
        if inject_index is None:
            inject_index = _integer(rng, 1, self.n_latent)
        if not 0 < inject_index < self.n_latent:
            raise ValueError(f"inject_index must be in [1, {self.n_latent - 1}], got {inject_index}")
        first, second = styles
        return jt.concat([first.unsqueeze(1).broadcast((first.shape[0], inject_index, first.shape[1])),
                          second.unsqueeze(1).broadcast((second.shape[0], self.n_latent - inject_index,
                                                          second.shape[1]))], 1)


class Discriminator(_MixedPrecision, nn.Module):
    """Residual discriminator with minibatch standard deviation; ``conv_clamp`` (NVIDIA's) clamps each
    activated convolution's output to +-conv_clamp; ``architecture="orig"`` (NVIDIA's) drops the blocks'
    skip connections. ``c_dim`` > 0: NVIDIA's projection discriminator, its output of ``cmap_dim`` features
    (default: the 4 px width) projected on the label's ``mapping``, times 1/sqrt(cmap_dim)."""

    def __init__(self, size, channel_multiplier=2, blur_kernel=(1, 3, 3, 1), image_channels=3, channels=None,
                 conv_clamp=None, architecture="resnet", c_dim=0, cmap_dim=None):
        log_size = _log_size(size)
        widths = _widths(size, channels, channel_multiplier)
        if architecture not in ("resnet", "orig"):
            raise ValueError(f"discriminator architecture {architecture!r}: resnet or orig")
        self.config = dict(size=size, channel_multiplier=channel_multiplier, blur_kernel=tuple(blur_kernel),
                           image_channels=image_channels, channels=channels, conv_clamp=conv_clamp,
                           architecture=architecture, c_dim=c_dim, cmap_dim=cmap_dim)
        self.c_dim, self.cmap_dim = c_dim, (cmap_dim or widths[4]) if c_dim else 0
        convs = [ConvLayer(image_channels, widths[size], 1, conv_clamp=conv_clamp)]
        in_channel = widths[size]
        for i in range(log_size, 2, -1):
            convs.append(ResBlock(in_channel, widths[2 ** (i - 1)], blur_kernel, conv_clamp=conv_clamp,
                                  skip=architecture == "resnet"))
            in_channel = widths[2 ** (i - 1)]
        self.convs = nn.Sequential(*convs)
        self.final_conv = ConvLayer(in_channel + STDDEV_FEATURES, widths[4], 3, conv_clamp=conv_clamp)
        self.final_linear = nn.Sequential(EqualLinear(widths[4] * 4 * 4, widths[4], activation="fused_lrelu"),
                                          EqualLinear(widths[4], self.cmap_dim or 1))
        if c_dim:
            self.mapping = LabelMapping(c_dim, self.cmap_dim, D_MAPPING_LAYERS)

    def execute(self, x, labels=None):
        dtype = self.final_conv[0].weight.dtype
        for k, layer in enumerate(self.convs):  # fromrgb at full size, then one block per resolution
            x = layer(cast(x, self._dtype_at(self.config["size"] >> max(k - 1, 0), dtype)))
        out = self.final_conv(minibatch_stddev(cast(x, dtype)))
        out = self.final_linear(out.reshape(out.shape[0], -1))
        labels = _labels(self, labels, out)
        if labels is None:
            return out
        return (out * self.mapping(labels)).sum(1, keepdims=True) * scalar(1 / math.sqrt(self.cmap_dim), out)
