"""Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al. 2018, Progressive
GAN ``metrics/sliced_wasserstein.py``): no weights, any number of channels.

Per pyramid level (full resolution down to 16 px): 128 random 7x7 patches per image,
normalised per channel within each image set, compared along 4 x 128 random directions.
Reported x 1e3, per level and averaged.
"""
import numpy as np
import scipy.ndimage

NHOOD_SIZE, NHOODS_PER_IMAGE = 7, 128
DIR_REPEATS, DIRS_PER_REPEAT = 4, 128
MIN_RESOLUTION = 16
MIN_IMAGE_SIZE = NHOOD_SIZE + 1  # room for a random patch position
GAUSSIAN = np.float32([[1, 4, 6, 4, 1], [4, 16, 24, 16, 4], [6, 24, 36, 24, 6], [4, 16, 24, 16, 4],
                       [1, 4, 6, 4, 1]]) / 256.0


def levels(resolution):
    """Pyramid resolutions: resolution, resolution / 2, ... >= 16 (at least one level)."""
    out = [resolution]
    while out[-1] // 2 >= MIN_RESOLUTION:
        out.append(out[-1] // 2)
    return out


def pyr_down(x):
    return scipy.ndimage.convolve(x, GAUSSIAN[None, None], mode="mirror")[:, :, ::2, ::2]


def pyr_up(x):
    up = np.zeros(x.shape[:2] + (x.shape[2] * 2, x.shape[3] * 2), x.dtype)
    up[:, :, ::2, ::2] = x
    return scipy.ndimage.convolve(up, GAUSSIAN[None, None] * 4.0, mode="mirror")


def laplacian_pyramid(images, num_levels):
    pyramid = [np.float32(images)]
    for _ in range(1, num_levels):
        pyramid.append(pyr_down(pyramid[-1]))
        pyramid[-2] -= pyr_up(pyramid[-1])
    return pyramid


def patches(images, rng, nhood_size=NHOOD_SIZE, per_image=NHOODS_PER_IMAGE):
    """(N * per_image, C, k, k) random patches of (N, C, H, W) images."""
    n, c, h, w = images.shape
    half = nhood_size // 2
    count = per_image * n
    nhood, chan, x, y = np.ogrid[0:count, 0:c, -half:half + 1, -half:half + 1]
    image = nhood // per_image
    x = x + rng.integers(half, w - half, size=(count, 1, 1, 1))
    y = y + rng.integers(half, h - half, size=(count, 1, 1, 1))
    return images.reshape(-1)[((image * c + chan) * h + y) * w + x]


def descriptors(batches, seed=0):
    """Per pyramid level, the normalised patch descriptors (M, C * 49) of uint8 NCHW batches."""
    rng = np.random.default_rng(seed)
    per_level = None
    for batch in batches:
        if min(batch.shape[2:]) < MIN_IMAGE_SIZE:
            raise ValueError(f"SWD needs images of at least {MIN_IMAGE_SIZE} px, got {batch.shape[2]} px")
        pyramid = laplacian_pyramid(batch, len(levels(batch.shape[2])))
        found = [patches(level, rng) for level in pyramid]
        per_level = [[d] for d in found] if per_level is None else [a + [d] for a, d in zip(per_level, found)]
    if per_level is None:
        raise ValueError("SWD: no images")
    out = []
    for parts in per_level:
        desc = np.concatenate(parts)
        desc -= desc.mean(axis=(0, 2, 3), keepdims=True)
        desc /= desc.std(axis=(0, 2, 3), keepdims=True) + 1e-12
        out.append(desc.reshape(desc.shape[0], -1))
    return out


def sliced_wasserstein(a, b, seed=0, dir_repeats=DIR_REPEATS, dirs_per_repeat=DIRS_PER_REPEAT):
    """Mean |sorted projections of a - sorted projections of b| over random unit directions."""
    if a.shape != b.shape:
        raise ValueError(f"SWD: descriptor sets differ in shape {a.shape} vs {b.shape} (use equal image counts)")
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(dir_repeats):
        dirs = rng.standard_normal((a.shape[1], dirs_per_repeat)).astype(np.float32)
        dirs /= np.sqrt((dirs * dirs).sum(axis=0, keepdims=True))
        results.append(np.abs(np.sort(a @ dirs, axis=0) - np.sort(b @ dirs, axis=0)).mean())
    return float(np.mean(results))


def swd(real_descriptors, fake_descriptors):
    """Distance x 1e3 per pyramid level, from two ``descriptors`` results."""
    return [sliced_wasserstein(r, f) * 1e3 for r, f in zip(real_descriptors, fake_descriptors)]
