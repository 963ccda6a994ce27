"""StyleGAN 1 networks with progressive growing (rosinality's ``style-based-gan-pytorch``).

The defaults build exactly the reference configuration (512-d latents, 8 mapping
layers, RGB, 4 to 1024 px, widths 512 ... 16). Other widths, latent sizes, mapping
depths, image channels and maximum sizes use the same classes, so small models
train on a CPU and grayscale images work.

``step`` s means resolution 4 * 2**s; ``alpha`` in [0, 1) fades the newest block in.
"""
import jittor as jt
import numpy as np
from jittor import nn

from .. import distributed
from ..layers.common import PixelNorm, fixed_noise_maps
from ..layers.stylegan1 import (ConvBlock, EqualConv2d, EqualLinear, LeakyReLU, Sequential, StyledConvBlock,
                                avg_pool2x, upsample_nearest2x)
from ..layers.stylegan1_arch import DISCRIMINATOR_FUSED_FROM, GENERATOR_FUSED_FROM, channel_width, n_steps, step_size
from ..ops import scalar


class Generator(nn.Module):
    """Synthesis network: a constant 4x4 input grown by StyledConvBlocks, one to_rgb per size."""

    def __init__(self, style_dim=512, max_size=1024, channel_base=16384, max_channels=512, image_channels=3):
        def width(size):
            return channel_width(size, channel_base, max_channels)

        blocks, to_rgb = [], []
        for step in range(n_steps(max_size)):
            size = step_size(step)
            if step == 0:
                blocks.append(StyledConvBlock(width(4), width(4), 3, 1, style_dim=style_dim, initial=True))
            else:
                blocks.append(StyledConvBlock(width(size // 2), width(size), 3, 1, style_dim=style_dim,
                                              upsample=True, fused=size >= GENERATOR_FUSED_FROM))
            to_rgb.append(EqualConv2d(width(size), image_channels, 1))
        self.progression = nn.ModuleList(blocks)
        self.to_rgb = nn.ModuleList(to_rgb)

    def execute(self, style, noise, step=0, alpha=-1, mixing_range=(-1, -1), inject_index=None, rng=None):
        """``inject_index``: the sorted crossover points of style mixing (block i > point k takes style
        k + 1); when not given, drawn as the reference draws them (distinct points, sorted) from ``rng`` (a
        numpy Generator) or numpy's global one: nothing here touches Python's global ``random``."""
        if len(style) < 2:
            inject_index = [len(self.progression) + 1]
        elif inject_index is None and tuple(mixing_range) == (-1, -1):  # none possible at 4 px
            points, count = max(step, len(style) - 1), len(style) - 1
            inject_index = sorted((rng or np.random).choice(points, count, replace=False).tolist())
        block_styles, crossover = [], 0
        for i in range(min(step + 1, len(self.progression))):
            if tuple(mixing_range) == (-1, -1):
                if crossover < len(inject_index) and i > inject_index[crossover]:
                    crossover = min(crossover + 1, len(style))
                block_styles.append(style[crossover])
            else:
                block_styles.append(style[1] if mixing_range[0] <= i <= mixing_range[1] else style[0])
        return self.synthesize(block_styles, noise, step, alpha)

    def synthesize(self, block_styles, noise, step, alpha=-1):
        """The image at ``step`` from one style per block (blocks 0 .. step) and one noise map each."""
        out, out_prev = noise[0], None
        for i, (conv, to_rgb) in enumerate(zip(self.progression, self.to_rgb)):
            out_prev = out
            out = conv(out, block_styles[i], noise[i])
            if i == step:
                out = to_rgb(out)
                if i > 0 and 0 <= alpha < 1:
                    skip_rgb = upsample_nearest2x(self.to_rgb[i - 1](out_prev))
                    out = scalar(1 - alpha, out) * skip_rgb + scalar(alpha, out) * out
                return out
        raise ValueError(f"step {step} exceeds this generator's {len(self.progression) - 1}")

    def parameters_used(self, step, alpha):
        """The parameters an output at (step, alpha) depends on: blocks up to ``step``, its
        to_rgb and, while fading in, the previous to_rgb."""
        modules = list(self.progression[:step + 1]) + [self.to_rgb[step]]
        if step > 0 and 0 <= alpha < 1:
            modules.append(self.to_rgb[step - 1])
        return [p for m in modules for p in m.parameters()]


class StyledGenerator(nn.Module):
    """Mapping network (``style``) + synthesis network (``generator``)."""

    def __init__(self, code_dim=512, n_mlp=8, max_size=1024, channel_base=16384, max_channels=512,
                 image_channels=3):
        self.config = dict(code_dim=code_dim, n_mlp=n_mlp, max_size=max_size, channel_base=channel_base,
                           max_channels=max_channels, image_channels=image_channels)
        self.generator = Generator(code_dim, max_size, channel_base, max_channels, image_channels)
        layers = [PixelNorm()]
        for _ in range(n_mlp):
            layers += [EqualLinear(code_dim, code_dim), LeakyReLU()]
        self.style = Sequential(*layers)

    def execute(self, input, noise=None, step=0, alpha=-1, mean_style=None, style_weight=0,
                mixing_range=(-1, -1), inject_index=None, rng=None):
        inputs = list(input) if isinstance(input, (list, tuple)) else [input]
        styles = [self.style(z) for z in inputs]
        if noise is None:
            batch = inputs[0].shape[0]
            noise = [jt.array((rng or np.random).standard_normal((batch, 1, step_size(i), step_size(i))).astype(np.float32))
                     for i in range(step + 1)]
        if mean_style is not None:  # truncation trick
            styles = [mean_style + scalar(style_weight, s) * (s - mean_style) for s in styles]
        return self.generator(styles, noise, step, alpha, mixing_range=mixing_range, inject_index=inject_index, rng=rng)

    def parameters_used(self, step, alpha):
        return self.style.parameters() + self.generator.parameters_used(step, alpha)

    def mean_style(self, input):
        return self.style(input).mean(dim=0, keepdims=True)

    # The inference surface both families offer (``sampling.Sampler``): z -> w, then images from one w
    # per resolution level (level l = 4 * 2**l px) and noise maps, at an output ``size``.

    @property
    def latent_dim(self):
        return self.config["code_dim"]

    def mapping(self, z):
        """w of latents z."""
        return self.style(z)

    def sizes(self):
        """The image sizes it makes: 4 px to ``max_size``."""
        return [step_size(i) for i in range(n_steps(self.config["max_size"]))]

    def levels(self, size):
        """Style levels of an image of ``size`` px: one per block."""
        return n_steps(size)

    def noise_sizes(self, size):
        return [step_size(i) for i in range(n_steps(size))]

    def fixed_noise(self):
        """Constant noise maps (1, 1, s, s) per size s, 4 px to ``max_size``, numpy (NVIDIA's
        ``noise_mode='const'``): rosinality's networks store none, so ``fixed_noise_maps``' draw, the same in
        every process, each size's map the same whatever the largest size."""
        return fixed_noise_maps(self.sizes())

    def synthesize(self, level_ws, noise, size, alpha=1.0):
        """Images of ``size`` px from one w per level (``alpha`` < 1 fades the last block in)."""
        return self.generator.synthesize(level_ws, noise, n_steps(size) - 1, alpha)


class Discriminator(nn.Module):
    """Progressive discriminator with from_rgb per size and minibatch standard deviation."""

    def __init__(self, fused=True, from_rgb_activate=False, max_size=1024, channel_base=16384,
                 max_channels=512, image_channels=3):
        self.config = dict(fused=fused, from_rgb_activate=from_rgb_activate, max_size=max_size,
                           channel_base=channel_base, max_channels=max_channels, image_channels=image_channels)

        def width(size):
            return channel_width(size, channel_base, max_channels)

        def make_from_rgb(out_channel):
            conv = EqualConv2d(image_channels, out_channel, 1)
            return Sequential(conv, LeakyReLU()) if from_rgb_activate else conv

        blocks, from_rgb = [], []
        for step in reversed(range(n_steps(max_size))):  # index 0 takes the largest images
            size = step_size(step)
            if step == 0:  # the extra input channel is the minibatch standard deviation
                blocks.append(ConvBlock(width(4) + 1, width(4), 3, 1, 4, 0))
            else:
                blocks.append(ConvBlock(width(size), width(size // 2), 3, 1, downsample=True,
                                        fused=fused and size >= DISCRIMINATOR_FUSED_FROM))
            from_rgb.append(make_from_rgb(width(size)))
        self.progression = nn.ModuleList(blocks)
        self.from_rgb = nn.ModuleList(from_rgb)
        self.n_layer = len(blocks)
        self.linear = EqualLinear(width(4), 1)

    def execute(self, input, step=0, alpha=-1):
        if step >= self.n_layer:
            raise ValueError(f"step {step} exceeds this discriminator's {self.n_layer - 1}")
        for i in range(step, -1, -1):
            index = self.n_layer - i - 1
            if i == step:
                out = self.from_rgb[index](input)
            if i == 0:
                out = jt.concat([out, minibatch_stddev(out)], dim=1)
            out = self.progression[index](out)
            if i > 0 and i == step and 0 <= alpha < 1:
                skip_rgb = self.from_rgb[index + 1](avg_pool2x(input))
                out = scalar(1 - alpha, out) * skip_rgb + scalar(alpha, out) * out
        return self.linear(out.reshape(out.shape[0], -1))

    def parameters_used(self, step, alpha):
        """The parameters a score at (step, alpha) depends on (see Generator.parameters_used)."""
        first = self.n_layer - step - 1
        modules = list(self.progression[first:]) + [self.from_rgb[first], self.linear]
        if step > 0 and 0 <= alpha < 1:
            modules.append(self.from_rgb[first + 1])
        return [p for m in modules for p in m.parameters()]


def minibatch_stddev(x):
    """Mean over features of the per-feature standard deviation across the batch (biased
    variance, +1e-8), as one extra constant feature map of x's spatial size. Under MPI the
    batch is the global one (every rank's share)."""
    centered = x - distributed.batch_mean(x)
    std = jt.sqrt(distributed.batch_mean(centered * centered) + scalar(1e-8, x)).mean()
    return std.broadcast((x.shape[0], 1, x.shape[2], x.shape[3]))
