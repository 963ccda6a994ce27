"""rosinality's StyleGAN 2 (``stylegan2-pytorch``: ``model.py`` and the iteration of ``train.py``)
in PyTorch, the baseline the StyleGAN 2 benchmarks compare against.

Same modules, state_dict names and math as the reference, on the ops it runs on a CPU:
``upfirdn2d_native`` and the leaky-ReLU CPU branch (bench/torch_ops.py) and plain torch
convolutions (what its ``conv2d_gradfix`` falls back to); no compiled extension. Widths follow
its table (``channel_multiplier``), or a ``channels`` dict {4: ..., 8: ..., ...} replacing the
table, for small benchmark models. tests/test_bench_torch_stylegan2.py proves it equal to the
reference fixtures (sg2.npz, sg2_f64.npz).
"""
import math
import random

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from torch_ops import fused_leaky_relu, upfirdn2d
from torch_stylegan1 import ConstantInput  # the same layer in both families

BLUR_KERNEL = (1, 3, 3, 1)
# Training settings of rosinality's train.py.
R1, PATH_REGULARIZE, D_REG_EVERY, G_REG_EVERY, PATH_BATCH_SHRINK, MIXING = 10, 2, 16, 4, 2, 0.9
EMA_DECAY = 0.5 ** (32 / (10 * 1000))


def channel_table(channel_multiplier=2, channels=None):
    """Feature maps per resolution: the reference's table, or ``channels`` in its place."""
    if channels is not None:
        return dict(channels)
    return {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier, 128: 128 * channel_multiplier,
            256: 64 * channel_multiplier, 512: 32 * channel_multiplier, 1024: 16 * channel_multiplier}


def make_kernel(k):
    """Separable 1-D taps -> normalized 2-D kernel."""
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


class PixelNorm(nn.Module):
    def forward(self, input):
        return input * torch.rsqrt(torch.mean(input ** 2, dim=1, keepdim=True) + 1e-8)


class Upsample(nn.Module):
    """2x upsampling through upfirdn2d (the ToRGB skip path)."""

    def __init__(self, kernel, factor=2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel) * factor ** 2)
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, input):
        return upfirdn2d(input, self.kernel, up=self.factor, pad=self.pad)


class Blur(nn.Module):
    def __init__(self, kernel, pad, upsample_factor=1):
        super().__init__()
        self.register_buffer("kernel", make_kernel(kernel) * upsample_factor ** 2)
        self.pad = pad

    def forward(self, input):
        return upfirdn2d(input, self.kernel, pad=self.pad)


class EqualConv2d(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(out_channel)) if bias else None

    def forward(self, input):
        return F.conv2d(input, self.weight * self.scale, self.bias, self.stride, self.padding)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, bias_init=0, lr_mul=1, activation=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init)) if bias else None
        self.activation = activation
        self.scale = 1 / math.sqrt(in_dim) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, input):
        if self.activation:
            return fused_leaky_relu(F.linear(input, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(input, self.weight * self.scale, self.bias * self.lr_mul)


class ModulatedConv2d(nn.Module):
    """Per-sample modulated (and demodulated) weights applied as one grouped convolution;
    upsampling by a stride-2 transposed convolution and a blur, downsampling by a blur and a
    stride-2 convolution."""

    def __init__(self, in_channel, out_channel, kernel_size, style_dim, demodulate=True, upsample=False,
                 downsample=False, blur_kernel=BLUR_KERNEL):
        super().__init__()
        self.kernel_size, self.in_channel, self.out_channel = kernel_size, in_channel, out_channel
        self.upsample, self.downsample = upsample, downsample
        factor = 2
        if upsample:
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        if downsample:
            p = (len(blur_kernel) - factor) + (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2, p // 2))
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
        self.demodulate = demodulate

    def forward(self, input, style):
        batch, in_channel, height, width = input.shape
        k = self.kernel_size
        style = self.modulation(style).view(batch, 1, in_channel, 1, 1)
        weight = self.scale * self.weight * style
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(batch, self.out_channel, 1, 1, 1)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(batch * in_channel, self.out_channel, k, k)
            out = F.conv_transpose2d(input.view(1, batch * in_channel, height, width), weight, stride=2,
                                     groups=batch)
            return self.blur(out.view(batch, self.out_channel, *out.shape[2:]))
        weight = weight.view(batch * self.out_channel, in_channel, k, k)
        if self.downsample:
            input = self.blur(input)
            out = F.conv2d(input.view(1, batch * in_channel, *input.shape[2:]), weight, stride=2, groups=batch)
        else:
            out = F.conv2d(input.view(1, batch * in_channel, height, width), weight, padding=self.padding,
                           groups=batch)
        return out.view(batch, self.out_channel, *out.shape[2:])


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, image, noise=None):
        if noise is None:
            noise = image.new_empty(image.shape[0], 1, *image.shape[2:]).normal_()
        return image + self.weight * noise


class FusedLeakyReLU(nn.Module):
    def __init__(self, channel, bias=True):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel)) if bias else None

    def forward(self, input):
        return fused_leaky_relu(input, self.bias)


class StyledConv(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False, blur_kernel=BLUR_KERNEL):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, input, style, noise=None):
        return self.activate(self.noise(self.conv(input, style), noise=noise))


class ToRGB(nn.Module):
    def __init__(self, in_channel, style_dim, upsample=True, blur_kernel=BLUR_KERNEL, image_channels=3):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, image_channels, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, image_channels, 1, 1))

    def forward(self, input, style, skip=None):
        out = self.conv(input, style) + self.bias
        return out if skip is None else out + self.upsample(skip)


class Generator(nn.Module):
    def __init__(self, size, style_dim=512, n_mlp=8, channel_multiplier=2, blur_kernel=BLUR_KERNEL, lr_mlp=0.01,
                 channels=None, image_channels=3):
        super().__init__()
        self.size, self.style_dim = size, style_dim
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp,
                                                              activation="fused_lrelu") for _ in range(n_mlp)])
        self.channels = channel_table(channel_multiplier, channels)
        self.input = ConstantInput(self.channels[4])
        self.conv1 = StyledConv(self.channels[4], self.channels[4], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(self.channels[4], style_dim, upsample=False, image_channels=image_channels)
        self.log_size = int(math.log(size, 2))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.convs, self.to_rgbs, self.noises = nn.ModuleList(), nn.ModuleList(), nn.Module()
        for layer_idx in range(self.num_layers):
            res = 2 ** ((layer_idx + 5) // 2)
            self.noises.register_buffer(f"noise_{layer_idx}", torch.randn(1, 1, res, res))
        in_channel = self.channels[4]
        for i in range(3, self.log_size + 1):
            out_channel = self.channels[2 ** i]
            self.convs.append(StyledConv(in_channel, out_channel, 3, style_dim, upsample=True, blur_kernel=blur_kernel))
            self.convs.append(StyledConv(out_channel, out_channel, 3, style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_channel, style_dim, image_channels=image_channels))
            in_channel = out_channel
        self.n_latent = self.log_size * 2 - 2

    def make_noise(self):
        device = self.input.input.device
        return [torch.randn(1, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2), device=device)
                for i in range(self.num_layers)]

    def mean_latent(self, n_latent):
        return self.style(torch.randn(n_latent, self.style_dim, device=self.input.input.device)).mean(0, keepdim=True)

    def get_latent(self, input):
        return self.style(input)

    def forward(self, styles, return_latents=False, inject_index=None, truncation=1, truncation_latent=None,
                input_is_latent=False, noise=None, randomize_noise=True):
        """(image, latent or None); ``inject_index`` is drawn as the reference does when mixing
        without one (Python's ``random``)."""
        if not input_is_latent:
            styles = [self.style(s) for s in styles]
        if noise is None:
            noise = ([None] * self.num_layers if randomize_noise
                     else [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)])
        if truncation < 1:
            styles = [truncation_latent + truncation * (s - truncation_latent) for s in styles]
        if len(styles) < 2:
            latent = styles[0].unsqueeze(1).repeat(1, self.n_latent, 1) if styles[0].ndim < 3 else styles[0]
        else:
            if inject_index is None:
                inject_index = random.randint(1, self.n_latent - 1)
            latent = torch.cat([styles[0].unsqueeze(1).repeat(1, inject_index, 1),
                                styles[1].unsqueeze(1).repeat(1, self.n_latent - inject_index, 1)], 1)
        out = self.conv1(self.input(latent), latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(self.convs[::2], self.convs[1::2], noise[1::2],
                                                        noise[2::2], self.to_rgbs):
            out = conv2(conv1(out, latent[:, i], noise=noise1), latent[:, i + 1], noise=noise2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip, (latent if return_latents else None)


class ConvLayer(nn.Sequential):
    """[blur] + equalized conv (stride 2 after the blur) + [fused leaky ReLU with its bias]."""

    def __init__(self, in_channel, out_channel, kernel_size, downsample=False, blur_kernel=BLUR_KERNEL, bias=True,
                 activate=True):
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
        layers.append(EqualConv2d(in_channel, out_channel, kernel_size, padding=0 if downsample else kernel_size // 2,
                                  stride=2 if downsample else 1, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channel, bias=bias))
        super().__init__(*layers)


class ResBlock(nn.Module):
    def __init__(self, in_channel, out_channel):
        super().__init__()
        # The reference builds its layers with the default blur kernel whatever it is given.
        self.conv1 = ConvLayer(in_channel, in_channel, 3)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True)
        self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, activate=False, bias=False)

    def forward(self, input):
        return (self.conv2(self.conv1(input)) + self.skip(input)) / math.sqrt(2)


class Discriminator(nn.Module):
    def __init__(self, size, channel_multiplier=2, blur_kernel=BLUR_KERNEL, channels=None, image_channels=3):
        super().__init__()
        channels = channel_table(channel_multiplier, channels)
        log_size = int(math.log(size, 2))
        convs = [ConvLayer(image_channels, channels[size], 1)]
        in_channel = channels[size]
        for i in range(log_size, 2, -1):
            convs.append(ResBlock(in_channel, channels[2 ** (i - 1)]))
            in_channel = channels[2 ** (i - 1)]
        self.convs = nn.Sequential(*convs)
        self.stddev_group, self.stddev_feat = 4, 1
        self.final_conv = ConvLayer(in_channel + 1, channels[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(channels[4] * 4 * 4, channels[4], activation="fused_lrelu"),
                                          EqualLinear(channels[4], 1))

    def forward(self, input):
        out = self.convs(input)
        batch, channel, height, width = out.shape
        group = min(batch, self.stddev_group)
        stddev = out.view(group, -1, self.stddev_feat, channel // self.stddev_feat, height, width)
        stddev = torch.sqrt(stddev.var(0, unbiased=False) + 1e-8)
        stddev = stddev.mean([2, 3, 4], keepdim=True).squeeze(2).repeat(group, 1, height, width)
        out = self.final_conv(torch.cat([out, stddev], 1))
        return self.final_linear(out.view(batch, -1))


# ---------------------------------------------------------------- training (train.py)

def make_training(size, style_dim=512, n_mlp=8, channel_multiplier=2, channels=None, lr=0.002, device="cpu",
                  image_channels=3):
    """(G, D, g_ema, g_optim, d_optim) as rosinality's train.py builds them: g_ema starts as a
    copy of G; Adam's lr and betas carry the lazy-regularization ratios."""
    kwargs = dict(channel_multiplier=channel_multiplier, channels=channels, image_channels=image_channels)
    G = Generator(size, style_dim, n_mlp, **kwargs).to(device)
    D = Discriminator(size, **kwargs).to(device)
    g_ema = Generator(size, style_dim, n_mlp, **kwargs).to(device)
    g_ema.eval()
    accumulate(g_ema, G, 0)

    def adam(params, every):
        ratio = every / (every + 1)
        return torch.optim.Adam(params, lr=lr * ratio, betas=(0 ** ratio, 0.99 ** ratio))
    return G, D, g_ema, adam(G.parameters(), G_REG_EVERY), adam(D.parameters(), D_REG_EVERY)


def requires_grad(model, flag=True):
    for p in model.parameters():
        p.requires_grad = flag


def accumulate(model1, model2, decay=EMA_DECAY):
    """model1 <- decay * model1 + (1 - decay) * model2, parameters only."""
    par2 = dict(model2.named_parameters())
    for name, p in model1.named_parameters():
        p.data.mul_(decay).add_(par2[name].data, alpha=1 - decay)


def d_logistic_loss(real_pred, fake_pred):
    return F.softplus(-real_pred).mean() + F.softplus(fake_pred).mean()


def d_r1_loss(real_pred, real_img):
    grad_real, = torch.autograd.grad(real_pred.sum(), real_img, create_graph=True)
    return grad_real.pow(2).reshape(grad_real.shape[0], -1).sum(1).mean()


def g_nonsaturating_loss(fake_pred):
    return F.softplus(-fake_pred).mean()


def g_path_regularize(fake_img, latents, mean_path_length, image_noise, decay=0.01):
    """(penalty, new mean path length, path lengths); ``image_noise`` is the reference's
    ``randn_like(fake_img)``, which this divides by sqrt(H * W) as it does."""
    noise = image_noise / math.sqrt(fake_img.shape[2] * fake_img.shape[3])
    grad, = torch.autograd.grad((fake_img * noise).sum(), latents, create_graph=True)
    path_lengths = torch.sqrt(grad.pow(2).sum(2).mean(1))
    path_mean = mean_path_length + decay * (path_lengths.mean() - mean_path_length)
    return (path_lengths - path_mean).pow(2).mean(), path_mean.detach(), path_lengths


def iteration_inputs(rng, i, batch, style_dim, size, mixing=MIXING, image_channels=3):
    """The random inputs of iteration ``i`` as float32 numpy arrays, drawn from ``rng`` instead of
    torch's generators so that another implementation can be fed the same: for the D step, the
    G step and (every G_REG_EVERY) the path-length step, {"z": 1 or 2 latent batches (2 with
    probability ``mixing``), "inject_index", "noise": one map per layer}; the path step also
    has "image_noise"."""
    log_size = int(math.log(size, 2))
    n_latent, num_layers = log_size * 2 - 2, (log_size - 2) * 2 + 1

    def normal(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    def generator_inputs(b):
        n = 2 if mixing > 0 and rng.random() < mixing else 1
        return {"z": [normal(b, style_dim) for _ in range(n)],
                "inject_index": int(rng.integers(1, n_latent)) if n == 2 else None,
                "noise": [normal(b, 1, 2 ** ((k + 5) // 2), 2 ** ((k + 5) // 2)) for k in range(num_layers)]}

    inputs = {"d": generator_inputs(batch), "g": generator_inputs(batch)}
    if i % G_REG_EVERY == 0:
        path_batch = max(1, batch // PATH_BATCH_SHRINK)
        inputs["path"] = dict(generator_inputs(path_batch), image_noise=normal(path_batch, image_channels, size, size))
    return inputs


def train_iteration(G, D, g_ema, g_optim, d_optim, i, real_img, inputs, mean_path_length, ema_decay=EMA_DECAY,
                    r1=R1):
    """Iteration ``i`` of rosinality's train.py (no augmentation): D step with the non-saturating
    logistic loss; lazy R1 (weight ``r1``, every D_REG_EVERY); G step; lazy path-length
    regularization (weight PATH_REGULARIZE on a batch shrunk by PATH_BATCH_SHRINK, every
    G_REG_EVERY); EMA of G into g_ema at ``ema_decay`` (rosinality's by default). ``inputs`` from
    ``iteration_inputs``. Returns ({d, g, r1, path, path_length}: float or None where not computed,
    new mean path length)."""
    device = real_img.device

    def generate(key, return_latents=False):
        x = inputs[key]
        return G([torch.from_numpy(z).to(device) for z in x["z"]], return_latents=return_latents,
                 inject_index=x["inject_index"], noise=[torch.from_numpy(n).to(device) for n in x["noise"]])

    losses = dict.fromkeys(("r1", "path", "path_length"))
    requires_grad(G, False)
    requires_grad(D, True)
    fake_pred = D(generate("d")[0])
    d_loss = d_logistic_loss(D(real_img), fake_pred)
    D.zero_grad()
    d_loss.backward()
    d_optim.step()
    losses["d"] = d_loss.item()
    if i % D_REG_EVERY == 0:
        real_img = real_img.detach().requires_grad_(True)
        real_pred = D(real_img)
        r1_loss = d_r1_loss(real_pred, real_img)
        D.zero_grad()
        (r1 / 2 * r1_loss * D_REG_EVERY + 0 * real_pred[0]).backward()
        d_optim.step()
        losses["r1"] = r1_loss.item()

    requires_grad(G, True)
    requires_grad(D, False)
    g_loss = g_nonsaturating_loss(D(generate("g")[0]))
    G.zero_grad()
    g_loss.backward()
    g_optim.step()
    losses["g"] = g_loss.item()
    if i % G_REG_EVERY == 0:
        fake_img, latents = generate("path", return_latents=True)
        path_loss, mean_path_length, path_lengths = g_path_regularize(
            fake_img, latents, mean_path_length, torch.from_numpy(inputs["path"]["image_noise"]).to(device))
        G.zero_grad()
        (PATH_REGULARIZE * G_REG_EVERY * path_loss + 0 * fake_img[0, 0, 0, 0]).backward()
        g_optim.step()
        losses["path"], losses["path_length"] = path_loss.item(), path_lengths.mean().item()
    accumulate(g_ema, G, ema_decay)
    return losses, mean_path_length
