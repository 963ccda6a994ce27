"""Generators read back for sampling, for the CLIs (``generate.py``, ``video_write.py``, the metrics CLI):
this project's checkpoints, rosinality's PyTorch files, StyleGanJittor's ``jt.save`` files and NVIDIA's
network pickles, told apart by their bytes (``file_format``), never by trying readers.

A checkpoint's EMA generator is rebuilt as ``Generator(**args)``: the constructor arguments the
checkpoint stores (``networks`` in its metadata), which must be those its family derives from the run's
config (what a checkpoint written before they were stored is rebuilt from). A foreign file's generator
is shaped as its state (``convert.generator_shapes``), an NVIDIA pickle's read from its G_ema
(``nvidia``; nothing in the file is run).
"""
import json
import os
import pickle

import numpy as np

from . import convert, nvidia
from .training import checkpoint, families
from .training.checkpoint import CheckpointError  # noqa: F401  (the error every reader here raises)

GENERATOR_KEYS = ("g_ema", "g", "g_running", "generator", None)  # a foreign file's EMA generator, first found


# NVIDIA's network pickles (PyTorch's and TensorFlow's) name a dnnlib / torch_utils global near their start.
NVIDIA_MARKERS, NVIDIA_HEAD = (b"torch_utils", b"dnnlib"), 1 << 16


def file_format(path):
    """What a file holds, from its bytes: "checkpoint" (this project's), "torch" (torch.save), "jt.save"
    (StyleGanJittor's), "nvidia" (a pickle of NVIDIA's networks), "pickle" (another pickle, e.g. an old
    checkpoint of this project) or None."""
    if checkpoint.is_checkpoint(path):
        return "checkpoint"
    foreign = convert.file_format(path)
    if foreign:
        return foreign
    if not checkpoint.is_pickle(path):
        return None
    with open(path, "rb") as f:
        head = f.read(NVIDIA_HEAD)
    return "nvidia" if any(marker in head for marker in NVIDIA_MARKERS) else "pickle"


def generator_from_checkpoint(path):
    """(EMA generator, arch, the largest step it was trained to or None when unknown) of a checkpoint of
    this project, a rosinality PyTorch file, a StyleGanJittor jt.save file or an NVIDIA pickle. Problems
    are one-line CheckpointErrors."""
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path}")
    kind = "checkpoint" if path.endswith(checkpoint.SUFFIX) else file_format(path)
    if kind in ("checkpoint", "pickle"):  # a pickle: refused by checkpoint.load, which says how to convert it
        return _project_generator(path, *checkpoint.load(path))
    if kind == "nvidia":
        try:
            return nvidia.build_generator(*nvidia.networks(path, ["G_ema"])["G_ema"]), "stylegan2", None
        except nvidia.NvidiaPickleError as e:
            raise CheckpointError(str(e)) from None
    if kind is None:
        raise CheckpointError(f"{path} is neither a jittor-stylegan checkpoint nor a rosinality / StyleGanJittor "
                              "/ NVIDIA one")
    try:
        states = convert.network_states(convert.read_foreign(path))
        state = states[next(k for k in GENERATOR_KEYS if k in states)]
        arch, args = convert.generator_shapes(state)
        generator = families.family_class(arch).Generator(**args)
        convert.load_state(generator, state)
    except convert.UnsafePickleError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (KeyError, ValueError, RuntimeError, ImportError, pickle.UnpicklingError) as e:
        raise CheckpointError(f"{path} is neither a jittor-stylegan checkpoint nor a usable rosinality / "
                              f"StyleGanJittor one ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    return generator, arch, None


def _project_generator(path, meta, tensors):
    try:
        cls = families.family_class(meta["arch"])
    except ValueError as e:
        raise CheckpointError(f"{path}: {e}") from None
    key = cls.KEYS["ema"]
    try:
        derived = json.loads(json.dumps(cls.network_args(meta["config"])[key]))  # as stored: JSON
        args = meta.get("networks", {}).get(key, derived)
        if args != derived:
            raise ValueError(f"its constructor arguments {args} differ from its config's {derived}")
        generator = cls.Generator(**args)
        convert.load_state(generator, tensors[key])
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: the EMA generator does not fit its config ({e})") from None
    if meta.get("w_avg") is not None:  # the truncation centre of an exported NVIDIA network
        generator.w_avg = np.asarray(meta["w_avg"], np.float32)
    generator.class_names = meta["config"].get("class_names")  # a conditional run's
    return generator, meta["arch"], meta["progress"].get("step")


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
    return Sampler(generator, size, labels=conditional_labels(generator))


def conditional_labels(generator):
    """The classes a conditional generator's sampler gives its images by default: every class in turn (a
    balanced set's distribution); None for an unconditional generator."""
    c_dim = getattr(generator, "c_dim", 0)
    return np.arange(c_dim) if c_dim else None
