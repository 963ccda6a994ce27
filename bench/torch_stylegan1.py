"""rosinality's StyleGAN 1 ``model.py`` in PyTorch, the baseline the benchmarks compare against.

The same modules, parameter names and math as ``style-based-gan-pytorch`` (its blur is the
grouped 3x3 convolution it runs; PyTorch's autograd gives the same derivatives of every
order as its custom BlurFunction), with the width/size options of ``jittor_stylegan.stylegan1``
so the small benchmark models exist in both frameworks. ``tests/test_bench_torch_model.py``
proves it equal to the reference fixtures, with either blur (``set_blur``).
"""
import math
import random

import torch
from torch import nn
from torch.nn import functional as F

from jittor_stylegan.layers.stylegan1_arch import (BLUR_KERNEL, DISCRIMINATOR_FUSED_FROM, GENERATOR_FUSED_FROM,
                                                   LRELU_SLOPE, channel_width, n_steps, step_size)


class EqualLR:
    """Stores ``<name>_orig`` and uses it times sqrt(2 / fan_in) (rosinality's equal_lr hook)."""

    def __init__(self, name):
        self.name = name

    def compute_weight(self, module):
        weight = getattr(module, self.name + "_orig")
        fan_in = weight.data.size(1) * weight.data[0][0].numel()
        return weight * math.sqrt(2 / fan_in)

    @staticmethod
    def apply(module, name):
        fn = EqualLR(name)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_orig", nn.Parameter(weight.data))
        module.register_forward_pre_hook(fn)
        return fn

    def __call__(self, module, input):
        setattr(module, self.name, self.compute_weight(module))


def equal_lr(module, name="weight"):
    EqualLR.apply(module, name)
    return module


def four_tap_average(weight):
    """Pad by one and average the four shifted copies: the kernel of fused up/downsampling."""
    weight = F.pad(weight, [1, 1, 1, 1])
    return (weight[:, :, 1:, 1:] + weight[:, :, :-1, 1:] + weight[:, :, 1:, :-1] + weight[:, :, :-1, :-1]) / 4


class FusedUpsample(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, padding=0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_channel, out_channel, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channel))
        self.multiplier = math.sqrt(2 / (in_channel * kernel_size * kernel_size))
        self.pad = padding

    def forward(self, input):
        weight = four_tap_average(self.weight * self.multiplier)
        return F.conv_transpose2d(input, weight, self.bias, stride=2, padding=self.pad)


class FusedDownsample(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, padding=0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channel))
        self.multiplier = math.sqrt(2 / (in_channel * kernel_size * kernel_size))
        self.pad = padding

    def forward(self, input):
        weight = four_tap_average(self.weight * self.multiplier)
        return F.conv2d(input, weight, self.bias, stride=2, padding=self.pad)


class PixelNorm(nn.Module):
    def forward(self, input):
        return input / torch.sqrt(torch.mean(input ** 2, dim=1, keepdim=True) + 1e-8)


class Blur(nn.Module):
    def __init__(self, channel):
        super().__init__()
        weight = torch.tensor(BLUR_KERNEL, dtype=torch.float32).view(1, 1, 3, 3)
        weight = (weight / weight.sum()).repeat(channel, 1, 1, 1)
        self.register_buffer("weight", weight)
        self.register_buffer("weight_flip", torch.flip(weight, [2, 3]))
        self.grouped = True

    def forward(self, input):
        if self.grouped:
            return F.conv2d(input, self.weight, padding=1, groups=input.shape[1])
        n, c, h, w = input.shape  # every channel has the same kernel: one 1-channel conv over all planes
        return F.conv2d(input.reshape(n * c, 1, h, w), self.weight[:1], padding=1).view(n, c, h, w)


BLURS = ("grouped", "planes")


def set_blur(model, blur):
    """``grouped``: rosinality's depthwise (groups=C) conv, which PyTorch differentiates twice group by
    group (most of its GPU time at 64 px); ``planes``: the same blur as one conv over an (N*C, 1, H, W)
    view, upfirdn2d-style, the fastest PyTorch formulation. Returns ``model``."""
    if blur not in BLURS:
        raise ValueError(f"blur must be one of {BLURS}")
    for module in model.modules():
        if isinstance(module, Blur):
            module.grouped = blur == "grouped"
    return model


class EqualConv2d(nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        conv = nn.Conv2d(*args, **kwargs)
        conv.weight.data.normal_()
        conv.bias.data.zero_()
        self.conv = equal_lr(conv)

    def forward(self, input):
        return self.conv(input)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        linear = nn.Linear(in_dim, out_dim)
        linear.weight.data.normal_()
        linear.bias.data.zero_()
        self.linear = equal_lr(linear)

    def forward(self, input):
        return self.linear(input)


class ConvBlock(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, padding, kernel_size2=None, padding2=None,
                 downsample=False, fused=False):
        super().__init__()
        kernel2 = kernel_size if kernel_size2 is None else kernel_size2
        pad2 = padding if padding2 is None else padding2
        self.conv1 = nn.Sequential(EqualConv2d(in_channel, out_channel, kernel_size, padding=padding),
                                   nn.LeakyReLU(LRELU_SLOPE))
        if downsample and fused:
            self.conv2 = nn.Sequential(Blur(out_channel), FusedDownsample(out_channel, out_channel, kernel2, padding=pad2),
                                       nn.LeakyReLU(LRELU_SLOPE))
        elif downsample:
            self.conv2 = nn.Sequential(Blur(out_channel), EqualConv2d(out_channel, out_channel, kernel2, padding=pad2),
                                       nn.AvgPool2d(2), nn.LeakyReLU(LRELU_SLOPE))
        else:
            self.conv2 = nn.Sequential(EqualConv2d(out_channel, out_channel, kernel2, padding=pad2),
                                       nn.LeakyReLU(LRELU_SLOPE))

    def forward(self, input):
        return self.conv2(self.conv1(input))


class AdaptiveInstanceNorm(nn.Module):
    def __init__(self, in_channel, style_dim):
        super().__init__()
        self.norm = nn.InstanceNorm2d(in_channel)
        self.style = EqualLinear(style_dim, in_channel * 2)
        self.style.linear.bias.data[:in_channel] = 1
        self.style.linear.bias.data[in_channel:] = 0

    def forward(self, input, style):
        gamma, beta = self.style(style).unsqueeze(2).unsqueeze(3).chunk(2, 1)
        return gamma * self.norm(input) + beta


class NoiseInjection(nn.Module):
    def __init__(self, channel):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, channel, 1, 1))

    def forward(self, image, noise):
        return image + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, input):
        return self.input.repeat(input.shape[0], 1, 1, 1)


class StyledConvBlock(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size=3, padding=1, style_dim=512, initial=False,
                 upsample=False, fused=False):
        super().__init__()
        if initial:
            self.conv1 = ConstantInput(in_channel)
        elif upsample and fused:
            self.conv1 = nn.Sequential(FusedUpsample(in_channel, out_channel, kernel_size, padding=padding),
                                       Blur(out_channel))
        elif upsample:
            self.conv1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                       EqualConv2d(in_channel, out_channel, kernel_size, padding=padding),
                                       Blur(out_channel))
        else:
            self.conv1 = EqualConv2d(in_channel, out_channel, kernel_size, padding=padding)
        self.noise1 = equal_lr(NoiseInjection(out_channel))
        self.adain1 = AdaptiveInstanceNorm(out_channel, style_dim)
        self.lrelu1 = nn.LeakyReLU(LRELU_SLOPE)
        self.conv2 = EqualConv2d(out_channel, out_channel, kernel_size, padding=padding)
        self.noise2 = equal_lr(NoiseInjection(out_channel))
        self.adain2 = AdaptiveInstanceNorm(out_channel, style_dim)
        self.lrelu2 = nn.LeakyReLU(LRELU_SLOPE)

    def forward(self, input, style, noise):
        out = self.adain1(self.lrelu1(self.noise1(self.conv1(input), noise)), style)
        return self.adain2(self.lrelu2(self.noise2(self.conv2(out), noise)), style)


class Generator(nn.Module):
    def __init__(self, style_dim=512, max_size=1024, channel_base=16384, max_channels=512, image_channels=3):
        super().__init__()

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

    def forward(self, style, noise, step=0, alpha=-1, mixing_range=(-1, -1)):
        out = noise[0]
        if len(style) < 2:
            inject_index = [len(self.progression) + 1]
        else:
            inject_index = sorted(random.sample(list(range(max(step, len(style) - 1))), len(style) - 1))
        crossover = 0
        for i, (conv, to_rgb) in enumerate(zip(self.progression, self.to_rgb)):
            if mixing_range == (-1, -1):
                if crossover < len(inject_index) and i > inject_index[crossover]:
                    crossover = min(crossover + 1, len(style))
                style_step = style[crossover]
            else:
                style_step = style[1] if mixing_range[0] <= i <= mixing_range[1] else style[0]
            if i > 0 and step > 0:
                out_prev = out
            out = conv(out, style_step, noise[i])
            if i == step:
                out = to_rgb(out)
                if i > 0 and 0 <= alpha < 1:
                    skip_rgb = F.interpolate(self.to_rgb[i - 1](out_prev), scale_factor=2, mode="nearest")
                    out = (1 - alpha) * skip_rgb + alpha * out
                break
        return out


class StyledGenerator(nn.Module):
    def __init__(self, code_dim=512, n_mlp=8, max_size=1024, channel_base=16384, max_channels=512,
                 image_channels=3):
        super().__init__()
        self.generator = Generator(code_dim, max_size, channel_base, max_channels, image_channels)
        layers = [PixelNorm()]
        for _ in range(n_mlp):
            layers += [EqualLinear(code_dim, code_dim), nn.LeakyReLU(LRELU_SLOPE)]
        self.style = nn.Sequential(*layers)

    def forward(self, input, noise=None, step=0, alpha=-1, mean_style=None, style_weight=0, mixing_range=(-1, -1)):
        if type(input) not in (list, tuple):
            input = [input]
        styles = [self.style(i) for i in input]
        batch = input[0].shape[0]
        if noise is None:
            noise = [torch.randn(batch, 1, step_size(i), step_size(i), device=input[0].device)
                     for i in range(step + 1)]
        if mean_style is not None:
            styles = [mean_style + style_weight * (style - mean_style) for style in styles]
        return self.generator(styles, noise, step, alpha, mixing_range=mixing_range)

    def mean_style(self, input):
        return self.style(input).mean(0, keepdim=True)


class Discriminator(nn.Module):
    def __init__(self, fused=True, from_rgb_activate=False, max_size=1024, channel_base=16384, max_channels=512,
                 image_channels=3):
        super().__init__()

        def width(size):
            return channel_width(size, channel_base, max_channels)

        def make_from_rgb(out_channel):
            conv = EqualConv2d(image_channels, out_channel, 1)
            return nn.Sequential(conv, nn.LeakyReLU(LRELU_SLOPE)) if from_rgb_activate else conv

        blocks, from_rgb = [], []
        for step in reversed(range(n_steps(max_size))):
            size = step_size(step)
            if step == 0:
                blocks.append(ConvBlock(width(4) + 1, width(4), 3, 1, 4, 0))
            else:
                blocks.append(ConvBlock(width(size), width(size // 2), 3, 1, downsample=True,
                                        fused=fused and size >= DISCRIMINATOR_FUSED_FROM))
            from_rgb.append(make_from_rgb(width(size)))
        self.progression = nn.ModuleList(blocks)
        self.from_rgb = nn.ModuleList(from_rgb)
        self.n_layer = len(self.progression)
        self.linear = EqualLinear(width(4), 1)

    def forward(self, input, step=0, alpha=-1):
        for i in range(step, -1, -1):
            index = self.n_layer - i - 1
            if i == step:
                out = self.from_rgb[index](input)
            if i == 0:
                out_std = torch.sqrt(out.var(0, unbiased=False) + 1e-8)
                mean_std = out_std.mean().expand(out.size(0), 1, 4, 4)
                out = torch.cat([out, mean_std], 1)
            out = self.progression[index](out)
            if i > 0 and i == step and 0 <= alpha < 1:
                skip_rgb = self.from_rgb[index + 1](F.avg_pool2d(input, 2))
                out = (1 - alpha) * skip_rgb + alpha * out
        return self.linear(out.squeeze(2).squeeze(2))
