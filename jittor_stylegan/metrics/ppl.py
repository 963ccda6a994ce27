"""Perceptual path length (Karras et al. 2019) as NVIDIA's ``metrics/perceptual_path_length.py`` computes
``ppl2_wend``: pairs of latents mapped to w, the image at w0 against the image a step ``epsilon`` from w0
towards w1 (sampling "end": t = 0; no crop, which ppl2_wend leaves off), noise maps drawn afresh per batch and
shared by its images, images over 256 px area-resized to 256, distance |f(x0) - f(x1)|^2 / epsilon^2 of a feature
network f (NVIDIA's: LPIPS-VGG16), averaged between the 1st and 99th percentiles. A conditional generator's pair i
takes class i mod classes (``Sampler.labels_of``; NVIDIA draws the dataset's labels)."""
import jittor as jt
import numpy as np

from .vgg16 import LPIPS_MAX_SIZE

EPSILON = 1e-4


def path_distances(sampler, features, count, epsilon=EPSILON, seed=0, batch_size=8):
    """(count,) float64 distances; ``features(images)`` maps float images (N, C, H, W) in [0, 255] to (N, D)
    (NVIDIA feeds LPIPS-VGG16 the same range)."""
    rng = np.random.default_rng([seed, 13])
    out = []
    for first in range(0, count, batch_size):
        n = min(batch_size, count - first)
        z = rng.standard_normal((2 * n, sampler.latent_dim), dtype=np.float32)
        labels = sampler.labels_of(first, n)
        w = sampler.mapping(z, None if labels is None else np.concatenate([labels, labels])).numpy()
        w0, w1 = w[:n], w[n:]
        ws = np.concatenate([w0, w0 + np.float32(epsilon) * (w1 - w0)])  # lerp(w0, w1, t) at t = 0 and epsilon
        noise = [a.repeat(2 * n, 0) for a in sampler.noise(1, rng)]
        with jt.no_grad():
            images = sampler.generator.synthesize([jt.array(ws)] * sampler.levels, [jt.array(a) for a in noise],
                                                  sampler.size, sampler.alpha).numpy()
        factor = images.shape[2] // LPIPS_MAX_SIZE
        if factor > 1:
            images = images.reshape(2 * n, images.shape[1], images.shape[2] // factor, factor,
                                    images.shape[3] // factor, factor).mean((3, 5))
        f = np.asarray(features((images.astype(np.float64) + 1) * (255 / 2)), np.float64)
        out.append(((f[:n] - f[n:]) ** 2).sum(1) / epsilon ** 2)
    return np.concatenate(out)


def ppl(distances):
    """The mean of the distances between the 1st (lower) and 99th (higher) percentiles."""
    lo = np.percentile(distances, 1, method="lower")
    hi = np.percentile(distances, 99, method="higher")
    return float(distances[(distances >= lo) & (distances <= hi)].mean())
