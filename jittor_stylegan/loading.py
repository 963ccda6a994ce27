"""Generators read back for sampling, for the CLIs (``generate.py``, ``video_write.py``, the viewer, the
metrics CLI): the EMA generator of a checkpoint in any format ``formats`` reads (this project's, rosinality's
PyTorch files, StyleGanJittor's ``jt.save`` files, NVIDIA's network pickles), told apart by their bytes.
"""
import numpy as np

from . import formats
from .formats import CheckpointError  # noqa: F401  (the error every reader here raises)


def generator_from_checkpoint(path):
    """(EMA generator, arch, the largest step it was trained to or None when unknown) of a checkpoint of
    this project, a rosinality PyTorch file, a StyleGanJittor jt.save file or an NVIDIA pickle. Problems
    are one-line CheckpointErrors."""
    contents = formats.read(path, ema_only=True)
    return contents.build(contents.generator), contents.arch, contents.step


def sampler_for_size(path, size=None):
    """A ``sampling.Sampler`` of a checkpoint's EMA generator at ``size`` px (default: the largest it was
    trained to); a size the checkpoint cannot produce (not one of its generator's sizes, or beyond what it
    was trained to) is a ValueError."""
    return sampler_of(generator_from_checkpoint(path), size)


def sampler_of(loaded, size=None):
    """``sampler_for_size`` of what ``generator_from_checkpoint`` returned."""
    from .sampling import Sampler
    generator, _, step = loaded
    trained = None if step is None else 4 * 2 ** step
    sizes = generator.sizes()
    if size is None:
        size = trained or sizes[-1]
    if size not in sizes:
        raise ValueError(f"--size {size} does not match the checkpoint (its generator makes "
                         f"{', '.join(map(str, sizes))} px)")
    if trained is not None and size > trained:
        raise ValueError(f"the checkpoint was trained up to {trained} px; --size {size} has untrained layers")
    alpha = getattr(generator, "trained_alpha", 1.0) if size == trained else 1.0  # StyleGAN 1 mid fade-in
    return Sampler(generator, size, alpha, labels=conditional_labels(generator))


def conditional_labels(generator):
    """The classes a conditional generator's sampler gives its images by default: every class in turn (a
    balanced set's distribution); None for an unconditional generator."""
    c_dim = getattr(generator, "c_dim", 0)
    return np.arange(c_dim) if c_dim else None
