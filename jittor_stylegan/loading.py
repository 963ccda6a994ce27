"""Generators read back for sampling, for the CLIs (``generate.py``, ``video_write.py``, the metrics CLI):
this project's checkpoints, rosinality's PyTorch files and NVIDIA's network pickles, told apart by their
first bytes.

A checkpoint's EMA generator is rebuilt as ``Generator(**args)``: the constructor arguments the
checkpoint stores (``networks`` in its metadata), which must be those its family derives from the run's
config (what a checkpoint written before they were stored is rebuilt from). A rosinality file's generator
is inferred from its state (``convert.torch_generator``), an NVIDIA pickle's from its G_ema (``nvidia``;
nothing in it is run).
"""
import json
import os
import pickle
import zipfile

import numpy as np

from . import convert, nvidia
from .training import checkpoint, families
from .training.checkpoint import CheckpointError  # noqa: F401  (the error every reader here raises)

# torch.save's legacy (non-zip) format starts with this number, pickled (protocol 2: PROTO, LONG1 of 10 bytes).
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
# NVIDIA's network pickles (PyTorch's and TensorFlow's) name a dnnlib / torch_utils global near their start.
NVIDIA_MARKERS, NVIDIA_HEAD = (b"torch_utils", b"dnnlib"), 1 << 16


def file_format(path):
    """What a file holds, from its first bytes: "checkpoint" (this project's), "torch" (a PyTorch file:
    a zip holding ``data.pkl``, or the legacy format), "nvidia" (a pickle of NVIDIA's networks), "pickle"
    (another pickle, e.g. an old checkpoint of this project) or None."""
    with open(path, "rb") as f:
        head = f.read(NVIDIA_HEAD)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            return None
        if checkpoint.META_KEY + ".npy" in names:
            return "checkpoint"
        return "torch" if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names) else None
    if head.startswith(b"\x80"):
        if head.startswith(TORCH_LEGACY_MAGIC):
            return "torch"
        return "nvidia" if any(marker in head for marker in NVIDIA_MARKERS) else "pickle"
    return None


def generator_from_checkpoint(path):
    """(EMA generator, the largest size it was trained to or None when unknown) of a checkpoint of this
    project, a rosinality PyTorch file or an NVIDIA pickle. Problems are one-line CheckpointErrors."""
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path}")
    kind = "checkpoint" if path.endswith(checkpoint.SUFFIX) else file_format(path)
    if kind in ("checkpoint", "pickle"):  # a pickle: refused by checkpoint.load, which says how to convert it
        return _project_generator(path, *checkpoint.load(path))
    if kind == "torch":
        try:
            arch, args, state = convert.torch_generator(convert.network_states(convert.read_torch(path)))
            generator = families.family_class(arch).Generator(**args)
            convert.load_state(generator, state)
        except (KeyError, ValueError, RuntimeError, ImportError, pickle.UnpicklingError) as e:
            raise CheckpointError(f"{path} is not a rosinality StyleGAN checkpoint ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0][:200]})") from None
        return generator, None
    if kind == "nvidia":
        try:
            return nvidia.build_generator(*nvidia.networks(path, ["G_ema"])["G_ema"]), None
        except nvidia.NvidiaPickleError as e:
            raise CheckpointError(str(e)) from None
    raise CheckpointError(f"{path} is neither a jittor-stylegan checkpoint, a rosinality PyTorch file nor an "
                          "NVIDIA network pickle")


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
    step = meta["progress"].get("step")
    return generator, None if step is None else 4 * 2 ** step


def sampler_for_size(path, size=None):
    """A ``sampling.Sampler`` of a checkpoint's EMA generator at ``size`` px (default: the largest it was
    trained to); a size the checkpoint cannot produce (not one of its generator's sizes, or beyond what it
    was trained to) is a ValueError."""
    from .sampling import Sampler
    generator, trained = generator_from_checkpoint(path)
    sizes = generator.sizes()
    if size is None:
        size = trained or sizes[-1]
    if size not in sizes:
        raise ValueError(f"--size {size} does not match the checkpoint (its generator makes "
                         f"{', '.join(map(str, sizes))} px)")
    if trained is not None and size > trained:
        raise ValueError(f"the checkpoint was trained up to {trained} px; --size {size} has untrained layers")
    return Sampler(generator, size)
