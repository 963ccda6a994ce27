"""Sampling from a trained generator of any family: grids, truncation, style mixing, latent
interpolation (rosinality's ``generate.py`` products).

``Sampler`` knows no family: it uses the inference surface every generator offers (``latent_dim``,
``mapping`` z -> w, ``levels``, ``noise_sizes``, ``fixed_noise`` and ``synthesize`` from one w per
resolution level, level l = 4 * 2**l px, and noise maps); latents (numpy) in, images in [-1, 1] (numpy) out.
A conditional generator (``c_dim`` > 0) maps each latent with a class: the sampler's ``labels`` in turn, or those
given to ``images``.
"""
import jittor as jt
import numpy as np

from .images import rgb, to_uint8
from .ops import scalar
from .video import write_mp4

# Which resolution levels take the source's style in a style-mixing grid.
MIXING_RANGES = {"coarse": (0, 1), "middle": (2, 3), "fine": (4, None)}


class Sampler:
    """A trained (EMA) generator at one output ``size`` (``alpha`` < 1: StyleGAN 1 fading its last
    resolution in); ``labels``: the class indices the images of a conditional generator take in turn (image i of a
    call: ``labels[i % len(labels)]``), e.g. one class."""

    def __init__(self, generator, size, alpha=1.0, labels=None):
        self.generator, self.size, self.alpha = generator, size, alpha
        self.latent_dim = generator.latent_dim
        self.channels = generator.config["image_channels"]
        self.levels = generator.levels(size)
        self._noise_sizes = generator.noise_sizes(size)
        self.c_dim = getattr(generator, "c_dim", 0)
        self.class_names = getattr(generator, "class_names", None)
        self.labels = None if labels is None else self._checked(labels)

    def classes(self):
        """A conditional generator's classes in words: "0 cat, 1 dog" (indices alone when it has no names)."""
        names = self.class_names or [None] * self.c_dim
        return ", ".join(str(k) if n is None or n == str(k) else f"{k} {n}" for k, n in enumerate(names))

    def select_class(self, text):
        """Make every image of the class ``text`` names (its index, as NVIDIA's ``--class``, or its name); None:
        only an unconditional generator. One-line ValueErrors otherwise."""
        if not self.c_dim:
            if text is not None:
                raise ValueError(f"--class {text}: the network is unconditional (it has no classes)")
            return
        if text is None:
            raise ValueError(f"Must specify class label with --class when using a conditional network (its classes: "
                             f"{self.classes()})")
        names = list(self.class_names or [])
        index = names.index(text) if text in names else int(text) if str(text).isdigit() else None
        if index is None or index >= self.c_dim:
            raise ValueError(f"--class {text}: no such class (the network's classes: {self.classes()})")
        self.labels = self._checked([index])

    def _checked(self, labels):
        labels = np.asarray(labels, np.int64).reshape(-1)
        if not self.c_dim:
            raise ValueError("class labels for an unconditional generator")
        if labels.size == 0 or labels.min() < 0 or labels.max() >= self.c_dim:
            raise ValueError(f"class labels {labels.tolist()[:8]} of a generator of {self.c_dim} classes "
                             f"(0..{self.c_dim - 1})")
        return labels

    def _one_hot(self, n, labels=None):
        """float32 one-hot (n, c_dim) Var of ``labels`` (else the sampler's) in turn; None for an unconditional
        generator."""
        if not self.c_dim and labels is None:
            return None
        labels = self.labels if labels is None else self._checked(labels)
        if labels is None:
            raise ValueError(f"a conditional generator ({self.c_dim} classes) needs a class")
        return jt.array(np.eye(self.c_dim, dtype=np.float32)[labels[np.arange(n) % len(labels)]])

    def _mapping(self, z, c):
        return self.generator.mapping(z) if c is None else self.generator.mapping(z, c)

    def labels_of(self, first, n):
        """Class indices of images ``first`` .. ``first + n - 1`` of a sequence that takes the sampler's ``labels``
        in turn (image i: ``labels[i % len(labels)]``: every class, exactly balanced, by default); None for an
        unconditional generator."""
        return None if self.labels is None else self.labels[np.arange(first, first + n) % len(self.labels)]

    @jt.no_grad()
    def mapping(self, z, labels=None):
        """w (Var, (N, w_dim)) of latents ``z`` (numpy (N, D)); ``labels`` as ``images`` takes them."""
        return self._mapping(jt.array(z), self._one_hot(len(z), labels))

    def noise(self, n, rng):
        """Fixed noise maps for ``n`` images, drawn from a numpy generator."""
        return [rng.standard_normal((n, 1, s, s), dtype=np.float32) for s in self._noise_sizes]

    def fixed_noise(self, n):
        """The generator's own constant noise maps for ``n`` images (NVIDIA's ``noise_mode='const'``)."""
        return [a.repeat(n, 0) for a in self.generator.fixed_noise()[:len(self._noise_sizes)]]

    @jt.no_grad()
    def mean_latent(self, n=4096, seed=0, labels=None):
        """The truncation centre: the generator's ``w_avg`` when it brings one (NVIDIA's networks track it
        in training), else the mean mapped latent of ``n`` seeded draws (of ``labels``' classes in turn, default
        the sampler's)."""
        centre = getattr(self.generator, "w_avg", None)
        if centre is not None:
            return jt.array(np.asarray(centre, np.float32)[None])
        z = jt.array(np.random.default_rng([seed, 11]).standard_normal((n, self.latent_dim), dtype=np.float32))
        return self._mapping(z, self._one_hot(n, labels)).mean(0, keepdims=True)

    @jt.no_grad()
    def images(self, z, noise=None, truncation=1.0, mean=None, mix=None, rng=None, cutoff=None, labels=None,
               shift=None, w=None):
        """Images for latents ``z`` (N, D); ``noise`` as from ``noise()`` (default: drawn from
        ``rng``); ``truncation`` psi moves styles from ``mean`` (psi < 1 towards it, > 1 away) at
        the levels below ``cutoff`` (default: all); ``mix = (z_source, (lo, hi))`` gives levels
        lo..hi (hi None: the last) the source's styles; ``labels``: class indices of a conditional generator's
        images (default: the sampler's); ``shift`` (1, D) is added to z's w before truncation (an edit along
        SeFa directions, as rosinality's apply_factor.py); ``w`` (N, levels or 1, D), e.g. a projection's (W+ or
        W), replaces z's mapped w (z is then ignored: None).

        Every setting runs the same graph (settings are inputs, each level's style a 0/1-weighted sum
        of the four candidates, exact), so a viewer's changes compile no new kernels."""
        n = len(z if w is None else w)
        noise = [jt.array(a) for a in (noise if noise is not None else self.noise(n, rng or np.random.default_rng()))]
        c = self._one_hot(n, labels)
        if w is None:
            ws = [self._mapping(jt.array(a), c) for a in (z, mix[0] if mix else z)]
        else:
            w = jt.array(np.asarray(w, np.float32))
            ws = [w, self._mapping(jt.array(mix[0]), c) if mix else w]
        if shift is not None:
            ws[0] = ws[0] + jt.array(np.asarray(shift, np.float32).reshape((1,) * (ws[0].ndim - 1) + (-1,)))
        centre = mean if mean is not None else jt.zeros_like(ws[-1])
        psi = scalar(truncation, ws[-1])
        candidates = ws + [centre + psi * (w - centre) for w in ws]  # plain, source, truncated, truncated source
        weights = jt.array(self._style_weights(mean is not None and truncation != 1, mix[1] if mix else None, cutoff))
        level_ws = [sum(weights[level, c] * _level(w, level) for c, w in enumerate(candidates))
                    for level in range(self.levels)]
        return self.generator.synthesize(level_ws, noise, self.size, self.alpha).numpy()

    def _style_weights(self, truncate, mixing_range, cutoff):
        """(levels, 4) one-hot: which of (plain, source, truncated, truncated source) each level takes."""
        lo, hi = mixing_range if mixing_range else (self.levels, None)
        hi = self.levels - 1 if hi is None else hi
        cutoff = self.levels if cutoff is None else cutoff
        weights = np.zeros((self.levels, 4), np.float32)
        for level in range(self.levels):
            weights[level, int(lo <= level <= hi) + 2 * int(truncate and level < cutoff)] = 1
        return weights


def _level(w, level):
    """The style (N, D) of resolution ``level`` in w: (N, D) drives every level, (N, levels or 1, D) level by level."""
    return w if w.ndim == 2 else w[:, min(level, w.shape[1] - 1)]


def seed_latent(seed, latent_dim):
    """The latent (1, D) of an integer seed (interpolations and the viewer walk between these)."""
    return np.random.default_rng(seed).standard_normal((1, latent_dim)).astype(np.float32)


def mixing_inputs(sampler, n_source, n_target, rng):
    """(source latents, target latents, one noise draw) for a style-mixing grid."""
    source = rng.standard_normal((n_source, sampler.latent_dim), dtype=np.float32)
    target = rng.standard_normal((n_target, sampler.latent_dim), dtype=np.float32)
    return source, target, sampler.noise(1, rng)


def style_mixing_grid(sampler, inputs, mixing_range, mean=None, truncation=1.0):
    """An (n_target + 1) x (n_source + 1) grid of ``mixing_inputs``: sources on the top row, targets in
    the left column, each cell the target with the source's styles in the ``mixing_range`` levels."""
    source, target, noise = inputs
    n_source, n_target = len(source), len(target)
    source_images = sampler.images(source, [a.repeat(n_source, 0) for a in noise], truncation, mean)
    target_images = sampler.images(target, [a.repeat(n_target, 0) for a in noise], truncation, mean)
    blank = -np.ones_like(source_images[:1])
    rows = [np.concatenate([blank, source_images])]
    for i in range(n_target):
        mixed = sampler.images(target[i:i + 1].repeat(n_source, 0), [a.repeat(n_source, 0) for a in noise],
                               truncation, mean, mix=(source, mixing_range))
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


def interpolation(sampler, seeds, frames_per_pair, mean=None, truncation=1.0):
    """Images along a slerp path through the latents of ``seeds`` (fixed noise), (N, C, H, W)."""
    latents = [seed_latent(s, sampler.latent_dim) for s in seeds]
    noise = sampler.noise(1, np.random.default_rng(seeds[0] + 1000))
    frames = []
    for a, b in zip(latents[:-1], latents[1:]):
        for t in np.linspace(0, 1, frames_per_pair, endpoint=False):
            frames.append(sampler.images(slerp(a, b, t).astype(np.float32), noise, truncation, mean)[0])
    frames.append(sampler.images(latents[-1], noise, truncation, mean)[0])
    return np.stack(frames)


def interpolation_mp4(frames, path, fps=12):
    """Write interpolation frames (N, C, H, W) in [-1, 1] as an RGB mp4."""
    return write_mp4(rgb(to_uint8(frames)), path, fps=fps)


def synthesize_w(generator, size, w, noise, alpha=1.0):
    """Images (a Jittor Var) of w (N, levels or 1, w_dim; one row drives every level) and noise maps (Vars);
    ``alpha``: a StyleGAN 1 generator's fade-in of ``size`` (a ``Sampler``'s)."""
    return generator.synthesize([w[:, min(level, w.shape[1] - 1)] for level in range(generator.levels(size))],
                                noise, size, alpha)


@jt.no_grad()
def render_w(sampler, w, noise):
    """Images (N, C, H, W) in [-1, 1] of w (N, levels or 1, w_dim) numpy and noise maps (1, 1, s, s)."""
    noise = [jt.array(np.asarray(n, np.float32).repeat(len(w), 0)) for n in noise]
    return synthesize_w(sampler.generator, sampler.size, jt.array(np.asarray(w, np.float32)), noise,
                        sampler.alpha).numpy()


@jt.no_grad()
def seed_ws(sampler, seeds, truncation=1.0):
    """w (N, w_dim) numpy of integer seeds as NVIDIA's generate.py draws them (RandomState(seed).randn(1, z_dim)),
    truncated towards the sampler's centre."""
    if not len(seeds):
        return np.zeros((0, sampler.latent_dim), np.float32)
    z = np.concatenate([np.random.RandomState(s).randn(1, sampler.latent_dim) for s in seeds]).astype(np.float32)
    w = sampler.generator.mapping(jt.array(z)).numpy()
    if truncation != 1:
        mean = sampler.mean_latent().numpy()
        w = mean + truncation * (w - mean)
    return w
