"""What D sees (``--aug``): the images as they are, NVIDIA's augmentation pipeline (``augment``) at a
fixed or an adaptive strength p (ADA), or DiffAugment; and ADA's controller, as stylegan2-ada-pytorch's
training loop: every ``ADA_INTERVAL`` iterations p moves by ``sign(E[sign(D(real))] - target)`` times
the images of those iterations over ``ada_kimg`` thousand images, clipped to [0, 1].

p and the sign statistic since the last adjustment (summed over the processes under MPI, every
iteration) are training progress, kept in checkpoints: a resumed run adapts as the uninterrupted one.
The draws come from numpy, seeded by (seed, iteration), in the order D is called, for the whole global
batch: each process draws its images' augmentations as one process would (``Rows``; NVIDIA's reflect
padding spans what the images of one call need, so pixels near the border may differ).
"""
import numpy as np

from .. import distributed
from .augment import PIPES, augment_pipe, diff_augment
from .settings import AUG_MODES

ADA_INTERVAL = 4  # iterations between adjustments of p (NVIDIA's ada_interval)
RNG_STREAM = 3  # the augmentation draws' own numpy stream beside an iteration's inputs
LOG_FIELDS = ("augment_p",)
# The progress keys augmentation adds (a checkpoint from before they existed trained without augmentation:
# p 0, no signs).
PROGRESS_KEYS = ("augment_p", "ada_signs")


def check_settings(cfg):
    """One-line ValueErrors for settings that do not go together (as NVIDIA's train.py checks them)."""
    mode, p = cfg.get("aug"), cfg.get("p")
    if mode not in AUG_MODES:
        raise ValueError(f"--aug {mode}: choose from {', '.join(AUG_MODES)}")
    if mode == "fixed" and p is None:
        raise ValueError("--aug fixed needs --p (the augmentation probability, e.g. --p 0.2)")
    if mode != "fixed" and p is not None:
        raise ValueError(f"--p {p:g} is the probability of --aug fixed, not of --aug {mode}")
    if p is not None and not 0 <= p <= 1:
        raise ValueError(f"--p {p:g}: a probability in [0, 1]")
    if mode == "ada" and not (0 <= cfg["target"] <= 1 and cfg["ada_kimg"] > 0):
        raise ValueError(f"--target {cfg['target']:g} must be in [0, 1] and --ada_kimg {cfg['ada_kimg']} positive")
    if cfg["augpipe"] not in PIPES:
        raise ValueError(f"--augpipe {cfg['augpipe']}: choose from {', '.join(PIPES)}")


class Augmentation:
    """The augmentation of one run (``cfg``: its --aug, --p, --augpipe, --target, --ada_kimg); the state it
    adapts lives in the family's ``progress`` dict (``PROGRESS_KEYS``), handed to each call."""

    def __init__(self, cfg):
        # a config without --aug: made before augmentation existed, or without data (tests, benchmarks)
        self.mode = cfg.get("aug") or "none"
        if cfg.get("aug"):
            check_settings(cfg)
        self.cfg = cfg
        self.pipe = augment_pipe(cfg["augpipe"]) if self.mode in ("ada", "fixed") else None
        self.rng = self.batch = self.rows = None
        self._signs = []

    def initial_progress(self):
        """p (--p under --aug fixed, else 0) and ADA's sign statistic since the last adjustment (sum, count)."""
        return {"augment_p": float(self.cfg["p"]) if self.mode == "fixed" else 0.0, "ada_signs": [0.0, 0.0]}

    def begin(self, iteration, batch):
        """Seed the draws of an iteration of ``batch`` (global) images."""
        self.rng, self.batch = np.random.default_rng([self.cfg["seed"], iteration, RNG_STREAM]), batch

    def select(self, rows):
        """The next calls augment the images ``rows`` of the global batch (this process's micro-batch)."""
        self.rows = rows

    def __call__(self, images, progress):
        """``images`` as D sees them, differentiable (G's and R1's gradients flow through)."""
        draws = Rows(self.rng, self.batch, slice(None) if self.rows is None else self.rows)
        if self.mode == "diffaugment":
            return diff_augment(images, draws)
        p = progress["augment_p"]
        # at p = 0 every stage is off: NVIDIA's pipeline then resamples the images through an identity
        # transform (equal to them within float error), skipped here
        return self.pipe(images, p, draws) if self.pipe is not None and p > 0 else images

    def observe(self, real_scores):
        """Note D's scores of real images (ADA's statistic: the mean of their signs)."""
        if self.mode == "ada":
            scores = real_scores.detach()
            # (sum of the signs, how many): Jittor has no sign()
            self._signs.append((((scores > 0).float64() - (scores < 0).float64()).sum(), int(np.prod(scores.shape))))

    def end(self, progress, iteration, batch):
        """After an iteration of ``batch`` (global) images: add its signs, summed over the processes, and
        every ``ADA_INTERVAL`` iterations (NVIDIA's: after iterations 0, 4, 8, ...) adjust p. Returns the
        logged values."""
        if self.mode == "ada":
            signs, self._signs = self._signs, []
            mine = [float(sum(total.item() for total, _ in signs)), float(sum(count for _, count in signs))]
            total = [a + b for a, b in zip(progress["ada_signs"], distributed.sum_values(mine))]
            if iteration % ADA_INTERVAL == 0:
                if total[1]:
                    step = batch * ADA_INTERVAL / (self.cfg["ada_kimg"] * 1000)
                    adjust = np.sign(total[0] / total[1] - self.cfg["target"]) * step
                    progress["augment_p"] = float(min(max(progress["augment_p"] + adjust, 0.0), 1.0))
                total = [0.0, 0.0]
            progress["ada_signs"] = total
        return {"augment_p": progress["augment_p"] if self.mode in ("ada", "fixed") else None}

    def describe(self):
        """The augmentation in words, for the plan paragraph."""
        if self.mode == "ada":
            return (f"ADA ({self.cfg['augpipe']}, p from 0 towards D's real-sign target {self.cfg['target']:g} "
                    f"at {self.cfg['ada_kimg']:,} kimg per unit)")
        if self.mode == "fixed":
            return f"augmentation {self.cfg['augpipe']} at p {self.cfg['p']:g}"
        if self.mode == "diffaugment":
            return "DiffAugment (translation, cutout, colour)"
        return "no augmentation"


class Rows:
    """Draws (numpy ``Generator``'s ``random``, ``standard_normal``, ``integers``, each batch-first) made for
    the ``total`` images of a global batch, of which the caller keeps rows ``rows``."""

    def __init__(self, rng, total, rows):
        self.rng, self.total, self.rows = rng, total, rows

    def _global(self, shape):
        return (self.total,) + tuple(shape)[1:]

    def random(self, shape):
        return self.rng.random(self._global(shape))[self.rows]

    def standard_normal(self, shape):
        return self.rng.standard_normal(self._global(shape))[self.rows]

    def integers(self, low, high=None, size=None):
        return self.rng.integers(low, high, size=self._global(size))[self.rows]
