"""NVIDIA's ``projector.py`` procedure in PyTorch on rosinality's StyleGAN 2 (bench/torch_stylegan2.py), the
baseline of ``bench_projector.py --torch``: the step of jittor_stylegan/projector.py (Adam on w and the noise
maps, its lr schedule and w noise, the noise regularisation and re-normalisation) written as NVIDIA writes it,
on a Jittor generator's weights and with the offline distance of jittor_stylegan/metrics/perceptual.py.
"""
import math

import numpy as np
import torch
from torch.nn import functional as F

import torch_stylegan2 as tsg2
from jittor_stylegan import convert, projector
from jittor_stylegan.metrics.perceptual import INCEPTION_MIN_SIZE, PIXEL_SCALES
from jittor_stylegan.metrics.vgg16 import LPIPS_MAX_SIZE, NORM_EPS
from jittor_stylegan.models import stylegan2


def generator(jittor_generator):
    """rosinality's Generator holding a Jittor StyleGAN 2 generator's weights (strict load of
    ``convert.numpy_state``, as bench_training.py hands its weights over), frozen as NVIDIA's projector freezes G."""
    config = getattr(jittor_generator, "config", {})
    if not isinstance(jittor_generator, stylegan2.Generator) or config["c_dim"] or config["conv_clamp"]:
        raise ValueError("--torch needs an unconditional StyleGAN 2 generator without conv_clamp")
    channels = {int(k): v for k, v in config["channels"].items()} if config["channels"] else None
    net = tsg2.Generator(config["size"], config["style_dim"], config["n_mlp"], config["channel_multiplier"],
                         config["blur_kernel"], config["lr_mlp"], channels=channels,
                         image_channels=config["image_channels"])
    net.load_state_dict({k: torch.from_numpy(v) for k, v in convert.numpy_state(jittor_generator).items()})
    return net.eval().requires_grad_(False)


class OfflineDistance:
    """``perceptual.OfflineDistance.features`` in PyTorch, on that distance's own Inception stem (BN folded)."""

    def __init__(self, distance):
        self.description = distance.description
        self.stem = [(torch.from_numpy(conv._weight.numpy()), torch.from_numpy(conv._bias.numpy()), conv._stride,
                      conv._padding) for conv in distance._stem]

    def features(self, images):
        factor = images.shape[2] // LPIPS_MAX_SIZE
        images = F.avg_pool2d(images, factor) if factor > 1 else images
        out = []
        if self.stem:
            x = (images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images) * (127.5 / 128) - 0.5 / 128
            factor = -(-INCEPTION_MIN_SIZE // x.shape[2])
            x = F.interpolate(x, scale_factor=factor, mode="nearest") if factor > 1 else x
            for weight, bias, stride, padding in self.stem:
                x = F.relu(F.conv2d(x, weight, bias, stride, padding))
                norm = x.square().sum(1, keepdim=True).sqrt()
                out.append((x / (norm + NORM_EPS) / math.sqrt(x.shape[2] * x.shape[3])).flatten(1))
        x = images
        for scale in range(PIXEL_SCALES):
            x = F.avg_pool2d(x, 2) if scale else x
            out.append(x.flatten(1) / math.sqrt(x[0].numel()))
        return torch.cat(out, 1)


def noise_regularization(noises):
    """NVIDIA's ``reg_loss``: squared lag-1 autocorrelations of every map, halved down to 8 px."""
    reg = 0
    for noise in noises:
        while True:
            reg = reg + (noise * torch.roll(noise, 1, 3)).mean() ** 2 + (noise * torch.roll(noise, 1, 2)).mean() ** 2
            if noise.shape[2] <= projector.NOISE_REG_MIN_SIZE:
                break
            noise = F.avg_pool2d(noise, 2)
    return reg


def project(G, target, distance, w_avg, w_std, settings, on_step=None):
    """The distance at every step of projecting ``target`` ((C, H, W) in [-1, 1]) into ``G`` from
    ``projector.w_statistics``' ``w_avg``, ``w_std``; random draws as ``projector.project`` makes them (same seed:
    the same start and w noise), and as it does, W+ is one w per resolution level (latent k takes level k // 2)."""
    rng = np.random.RandomState(settings.seed)
    levels = G.log_size - 1
    target_features = distance.features(torch.from_numpy(np.asarray(target, np.float32)[None]))
    w_opt = torch.tensor(np.repeat(w_avg[:, None], levels if settings.w_plus else 1, 1), requires_grad=True)
    noises = [torch.tensor(rng.standard_normal((1, 1, s, s)).astype(np.float32), requires_grad=True)
              for s in (2 ** ((i + 5) // 2) for i in range(G.num_layers))]
    optimizer = torch.optim.Adam([w_opt] + noises, lr=settings.initial_learning_rate, betas=(0.9, 0.999))
    distances = []
    for step in range(settings.num_steps):
        for group in optimizer.param_groups:
            group["lr"] = projector.learning_rate(step, settings)
        w_noise = rng.standard_normal(w_opt.shape).astype(np.float32) * projector.w_noise_scale(step, w_std, settings)
        w = w_opt + torch.from_numpy(w_noise)
        latent = torch.stack([w[:, min(k // 2, w.shape[1] - 1)] for k in range(G.n_latent)], 1)
        images, _ = G([latent], input_is_latent=True, noise=noises)
        dist = (target_features - distance.features(images)).square().sum()
        loss = dist + noise_regularization(noises) * settings.regularize_noise_weight
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        distances.append(dist.item())
        with torch.no_grad():
            for noise in noises:
                noise -= noise.mean()
                noise *= noise.square().mean().rsqrt()
        if on_step:
            on_step(step, distances[-1], images)
    return distances
