"""Projection of an image into a trained generator's latent space: NVIDIA's stylegan2-ada-pytorch
``projector.py`` procedure, for any generator with the sampling surface (``mapping``, ``levels``,
``noise_sizes``, ``synthesize``) of either family.

Start at the mean w (and its spread) of 10,000 mapped latents; Adam (lr 0.1, ramped up over the first 5 %
of the steps and down, cosine, over the last 25 %) on w and on the noise maps; Gaussian noise added to w,
decaying quadratically to 0 at 75 % of the steps; loss = the perceptual distance + 1e5 x the noise maps'
autocorrelation at every scale down to 8 px (+ rosinality's optional pixel MSE); the noise maps
re-normalised to mean 0, variance 1 after each step. In W one w drives every level; in W+ (rosinality's
``--w_plus``) each resolution level has its own.
"""
import dataclasses
import os
import zipfile

import jittor as jt
import numpy as np
from jittor import nn
from PIL import Image, UnidentifiedImageError

from .sampling import synthesize_w

W_AVG_SAMPLES, W_AVG_SEED = 10000, 123  # NVIDIA's w statistics: RandomState(123).randn(10000, z_dim)
MAPPING_CHUNK = 1000
NOISE_REG_MIN_SIZE = 8  # the noise regularisation stops halving a map at this size


@dataclasses.dataclass
class Settings:
    """NVIDIA's ``project()`` arguments (names and defaults), plus rosinality's ``w_plus`` and ``mse``."""
    num_steps: int = 1000
    initial_learning_rate: float = 0.1
    initial_noise_factor: float = 0.05
    lr_rampdown_length: float = 0.25
    lr_rampup_length: float = 0.05
    noise_ramp_length: float = 0.75
    regularize_noise_weight: float = 1e5
    mse: float = 0.0
    w_plus: bool = False
    seed: int = 303


@dataclasses.dataclass
class Projection:
    """What a projection found: ``w`` (levels or 1, w_dim), the noise maps (1, 1, s, s), the image
    (C, H, W) in [-1, 1] they make and the distance at every step."""
    w: np.ndarray
    noise: list
    image: np.ndarray
    distances: list


class TargetError(Exception):
    """A target that cannot be read as an image: the message says why."""


class Cancelled(Exception):
    """A projection stopped by its ``cancel`` event."""


def load_target(path, size, channels, name=None):
    """``target_array`` of the image file at ``path`` (or a file object, called ``name`` in messages); a file that
    is not an image (or a decompression bomb) is a TargetError."""
    try:
        with Image.open(path) as image:
            return target_array(image, size, channels)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise TargetError(f"{name or path} is not an image ({type(e).__name__})") from None


def target_array(image, size, channels):
    """(image (channels, size, size) float32 in [-1, 1], what was done to it): a PIL image centre-cropped
    to a square and resized with Lanczos to ``size`` px, as NVIDIA's projector reads its target; grey for
    a 1-channel generator, RGB otherwise."""
    image = image.convert("L" if channels == 1 else "RGB")
    w, h = image.size
    side = min(w, h)
    done = [f"{w}x{h}"]
    if w != h:
        image = image.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
        done.append(f"centre-cropped to {side}x{side}")
    if side != size:
        image = image.resize((size, size), Image.LANCZOS)
        done.append(f"resized to {size}x{size}")
    array = np.asarray(image, np.float32).reshape(size, size, -1)[:, :, :channels]
    if array.shape[2] < channels:
        array = array.repeat(channels, axis=2)
    return array.transpose(2, 0, 1) / 127.5 - 1, ", ".join(done)


@jt.no_grad()
def w_statistics(generator, n=W_AVG_SAMPLES, seed=W_AVG_SEED):
    """(w_avg (1, w_dim), w_std): the mean of ``n`` mapped latents and their RMS distance to it."""
    z = np.random.RandomState(seed).randn(n, generator.latent_dim).astype(np.float32)
    w = np.concatenate([generator.mapping(jt.array(z[i:i + MAPPING_CHUNK])).numpy()
                        for i in range(0, n, MAPPING_CHUNK)]).astype(np.float64)
    w_avg = w.mean(0, keepdims=True)
    return w_avg.astype(np.float32), float(np.sqrt(((w - w_avg) ** 2).sum() / n))


def learning_rate(step, settings):
    """NVIDIA's schedule: linear ramp-up, cosine ramp-down."""
    t = step / settings.num_steps
    ramp = min(1.0, (1.0 - t) / settings.lr_rampdown_length)
    ramp = 0.5 - 0.5 * np.cos(ramp * np.pi)
    return settings.initial_learning_rate * ramp * min(1.0, t / settings.lr_rampup_length)


def w_noise_scale(step, w_std, settings):
    """The spread of the noise added to w: quadratic decay to 0 at ``noise_ramp_length``."""
    t = step / settings.num_steps
    return w_std * settings.initial_noise_factor * max(0.0, 1.0 - t / settings.noise_ramp_length) ** 2


def noise_regularization(noises):
    """Sum over maps and scales (halved down to 8 px) of the squared mean horizontal and vertical
    autocorrelation at lag 1 (NVIDIA's ``reg_loss``)."""
    reg = 0
    for noise in noises:
        while True:
            for dim in (3, 2):
                corr = (noise * jt.roll(noise, 1, dim)).mean()
                reg = reg + corr * corr
            if noise.shape[2] <= NOISE_REG_MIN_SIZE:
                break
            noise = nn.pool(noise, 2, "mean", stride=2)
    return reg


def project(generator, size, target, distance, settings=None, on_step=None, alpha=1.0, cancel=None):
    """Project ``target`` ((C, size, size) in [-1, 1]) with a perceptual ``distance`` (an object with
    ``features(images)``, ``metrics.perceptual``); ``on_step(step, dist, images)`` is called after every
    step (``images`` the step's Jittor output); ``alpha``: StyleGAN 1's fade-in of ``size``; ``cancel``: a
    ``threading.Event`` checked before every step, raising Cancelled once set. Returns a ``Projection``."""
    settings = settings or Settings()
    rng = np.random.RandomState(settings.seed)
    levels = generator.levels(size)
    w_avg, w_std = w_statistics(generator)
    target_var = jt.array(np.asarray(target, np.float32)[None])
    target_features = distance.features(target_var).detach()
    w_opt = jt.array(np.repeat(w_avg[:, None], levels if settings.w_plus else 1, 1))
    noises = [jt.array(rng.standard_normal((1, 1, s, s)).astype(np.float32)) for s in generator.noise_sizes(size)]
    optimizer = jt.optim.Adam([w_opt] + noises, lr=settings.initial_learning_rate, betas=(0.9, 0.999))
    distances = []
    for step in range(settings.num_steps):
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"cancelled at step {step}/{settings.num_steps}")
        optimizer.lr = learning_rate(step, settings)
        w_noise = rng.standard_normal(w_opt.shape).astype(np.float32) * w_noise_scale(step, w_std, settings)
        images = synthesize_w(generator, size, w_opt + jt.array(w_noise), noises, alpha)
        diff = target_features - distance.features(images)
        dist = (diff * diff).sum()
        loss = dist + noise_regularization(noises) * settings.regularize_noise_weight
        if settings.mse:
            loss = loss + ((images - target_var) ** 2).mean() * settings.mse
        optimizer.step(loss)
        distances.append(float(dist.item()))
        with jt.no_grad():
            for noise in noises:
                centred = noise - noise.mean()
                noise.update(centred / jt.sqrt((centred * centred).mean()))
        if on_step:
            on_step(step, distances[-1], images)
    with jt.no_grad():
        image = synthesize_w(generator, size, w_opt, noises, alpha).numpy()[0]
    return Projection(w_opt.numpy()[0], [n.numpy() for n in noises], image, distances)


def save_w(path, projection, checkpoint, size):
    """Write ``projected_w.npz``: ``w`` (levels or 1, w_dim), ``noise_<i>`` maps, ``checkpoint``, ``size``."""
    np.savez(path, w=projection.w, checkpoint=str(checkpoint), size=size,
             **{f"noise_{i}": n for i, n in enumerate(projection.noise)})
    return path


def describe_w(path):
    """``{"path", "checkpoint", "size"}`` of a ``projected_w.npz`` (this projector's; NVIDIA's has only ``w``: None
    for the others), or None for a file that is not one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "w" not in data.files:
                return None
            return {"path": path, **{k: data[k].item() if k in data.files else None for k in ("checkpoint", "size")}}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def find_projections(root):
    """``describe_w`` of every ``projected_w.npz``-format file under ``root`` (projector outputs, the viewer's
    projections), sorted by path; training checkpoint folders are skipped."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "checkpoint")
        found += [describe_w(os.path.join(folder, n)) for n in sorted(files) if n.endswith(".npz")]
    return [d for d in found if d]


def load_w(path, latent_dim, levels, noise_sizes):
    """(w (levels or 1, latent_dim), noise maps or None) of a ``projected_w.npz`` (also NVIDIA's, whose w is its
    projection in W repeated (1, num_ws, w_dim)) for a generator of these shapes; a file that does not fit is a
    ValueError."""
    try:
        with np.load(path, allow_pickle=False) as data:
            w = np.asarray(data["w"], np.float32)
            noise = [data[f"noise_{i}"] for i in range(len(noise_sizes))] if "noise_0" in data else None
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"{path} is not a projected_w.npz ({type(e).__name__}: {e})") from None
    if w.ndim == 3 and w.shape[0] == 1:
        w = w[0]
    if w.ndim == 2 and w.shape[0] not in (1, levels) and (w == w[:1]).all():  # NVIDIA's: one w per layer, repeated
        w = w[:1]
    if w.ndim != 2 or w.shape[0] not in (1, levels) or w.shape[1] != latent_dim:
        raise ValueError(f"{path}: w of shape {w.shape} does not fit this generator (1 or {levels} rows of "
                         f"{latent_dim})")
    if noise is not None and [n.shape[-1] for n in noise] != list(noise_sizes):
        raise ValueError(f"{path}: its noise maps do not fit this generator")
    return w, noise

