"""Sampling from a trained generator: grids, truncation, style mixing, latent interpolation
(rosinality's ``generate.py``)."""
import jittor as jt
import numpy as np

from .images import to_uint8
from .video import write_mp4

# Which synthesis blocks take the source's style in a style-mixing grid.
MIXING_RANGES = {"coarse": (0, 1), "middle": (2, 3), "fine": (4, None)}


@jt.no_grad()
def mean_style(generator, code_dim, n=1024, repeats=10):
    """Average mapped style over repeats x n random latents (the truncation centre)."""
    return sum(generator.mean_style(jt.randn(n, code_dim)) for _ in range(repeats)) / repeats


@jt.no_grad()
def generate(generator, z, step, mean=None, truncation=1.0, **kwargs):
    """Images in [-1, 1] at 4 * 2**step px, as a numpy array."""
    if mean is not None and truncation < 1:
        kwargs.update(mean_style=mean, style_weight=truncation)
    return generator(z, step=step, alpha=1, **kwargs).numpy()


def style_mixing_grid(generator, step, code_dim, n_source, n_target, mixing_range, mean=None, truncation=1.0):
    """An (n_target + 1) x (n_source + 1) grid: sources on the top row, targets in the left
    column, each cell the target with the source's styles in ``mixing_range`` blocks."""
    lo, hi = mixing_range
    hi = step if hi is None else hi
    source, target = jt.randn(n_source, code_dim), jt.randn(n_target, code_dim)
    source_images = generate(generator, source, step, mean, truncation)
    target_images = generate(generator, target, step, mean, truncation)
    blank = -np.ones_like(source_images[:1])
    rows = [np.concatenate([blank, source_images])]
    for i in range(n_target):
        target_i = target[i:i + 1].broadcast((n_source, code_dim))
        mixed = generate(generator, [target_i, source], step, mean, truncation, mixing_range=(lo, hi))
        rows.append(np.concatenate([target_images[i:i + 1], mixed]))
    return np.concatenate(rows)


def slerp(a, b, t):
    """Spherical interpolation between latent batches a and b (rows), t in [0, 1]."""
    a_n = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b_n = b / np.linalg.norm(b, axis=-1, keepdims=True)
    omega = np.arccos(np.clip((a_n * b_n).sum(-1, keepdims=True), -1, 1))
    so = np.sin(omega)
    return np.where(so < 1e-6, (1 - t) * a + t * b, np.sin((1 - t) * omega) / np.maximum(so, 1e-12) * a
                    + np.sin(t * omega) / np.maximum(so, 1e-12) * b)


def interpolation(generator, step, code_dim, seeds, frames_per_pair, mean=None, truncation=1.0):
    """Images along a slerp path through the latents of ``seeds`` (fixed noise), (N, C, H, W)."""
    latents = [np.random.default_rng(s).standard_normal((1, code_dim)).astype(np.float32) for s in seeds]
    size = 4 * 2 ** step
    noise = [jt.array(np.random.default_rng(seeds[0] + 1000 + i).standard_normal(
        (1, 1, 4 * 2 ** i, 4 * 2 ** i)).astype(np.float32)) for i in range(step + 1)]
    frames = []
    for a, b in zip(latents[:-1], latents[1:]):
        for t in np.linspace(0, 1, frames_per_pair, endpoint=False):
            z = jt.array(slerp(a, b, t).astype(np.float32))
            frames.append(generate(generator, z, step, mean, truncation, noise=noise)[0])
    frames.append(generate(generator, jt.array(latents[-1]), step, mean, truncation, noise=noise)[0])
    assert frames[0].shape[-1] == size
    return np.stack(frames)


def interpolation_mp4(frames, path, fps=12):
    """Write interpolation frames (N, C, H, W) in [-1, 1] as an RGB mp4."""
    rgb = to_uint8(frames)
    rgb = rgb.repeat(3, axis=3) if rgb.shape[3] == 1 else rgb[..., :3]
    return write_mp4(rgb, path, fps=fps)
