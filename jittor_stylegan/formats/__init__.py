"""Every checkpoint format this project reads, one module each: its own ``.npz`` (``checkpoint``),
rosinality's torch.save ``.pt`` / ``.model`` files (``rosinality``), StyleGanJittor's jt.save files
(``stylegan_jittor``) and NVIDIA's network pickles (``nvidia``). ``sniff`` tells them apart by their bytes,
never by trying readers; ``read`` reads any of them into the same ``Contents`` (family, constructor
arguments, network states, training state where the format has one). Nothing in a file is run.
"""
import os

from . import checkpoint, nvidia, rosinality, stylegan_jittor
from .contents import CheckpointError, Contents  # noqa: F401  (what ``read`` gives and raises)

READERS = {"checkpoint": checkpoint.read, "torch": rosinality.read, "jt.save": stylegan_jittor.read,
           "nvidia": nvidia.read}


def sniff(path):
    """What a file holds, from its bytes: "checkpoint" (this project's), "torch" (torch.save), "jt.save"
    (StyleGanJittor's), "nvidia" (a pickle of NVIDIA's networks), "pickle" (another pickle, e.g. an old
    checkpoint of this project) or None."""
    if checkpoint.is_checkpoint(path):
        return "checkpoint"
    if stylegan_jittor.is_jt_save(path):
        return "jt.save"
    if rosinality.is_torch(path):
        return "torch"
    if not checkpoint.is_pickle(path):
        return None
    return "nvidia" if nvidia.is_nvidia(path) else "pickle"


def read(path, ema_only=False):
    """The ``Contents`` of a checkpoint in any of these formats (its EMA generator alone with ``ema_only``, where
    the format lets the rest go unread); problems are one-line CheckpointErrors."""
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path}")
    kind = sniff(path)
    if kind == "pickle" or (kind is None and path.endswith(checkpoint.SUFFIX)):
        kind = "checkpoint"  # refused by checkpoint.load, which says why (and how to convert an old pickle)
    if kind is None:
        raise CheckpointError(f"{path} is neither a jittor-stylegan checkpoint nor a rosinality / StyleGanJittor "
                              "/ NVIDIA one")
    return READERS[kind](path, ema_only)
