"""StyleGanJittor's checkpoints: jt.save files (a pickle, its sha1 and a marker) of rosinality's StyleGAN 1
layouts (``rosinality``), read with an unpickler that rebuilds only arrays and plain data (nothing in the
file is run); its network states are given in the reference's names.
"""
import hashlib
import io
import pickle

import numpy as np

from . import rosinality
from .contents import CheckpointError, one_line

# jt.save appends the payload's sha1 and this marker to the pickle
JT_SAVE_MARKER = b"HCAJSLHD"


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle that asks for something other than arrays and plain data (it could run code)."""


class ArraysOnlyUnpickler(pickle.Unpickler):
    """Rebuilds dicts, lists, numbers, strings and numpy arrays; refuses every other global. A Jittor
    ``Var`` (newer Jittor's jt.save pickles one as ``jittor.Var(array)``) is read as its array."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")}
    AS_ARRAY = {("jittor", "jittor_core.Var"), ("jittor", "Var")}

    def find_class(self, module, name):
        if (module, name) in self.AS_ARRAY:
            return np.asarray
        if (module, name) not in self.ALLOWED:
            raise UnsafePickleError(f"refusing to load {module}.{name}: only arrays and plain data are read")
        return super().find_class(module, name)


def is_jt_save(path):
    """True when the file ends as jt.save ends its files."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - len(JT_SAVE_MARKER)))
        return f.read() == JT_SAVE_MARKER


def _without_equal_lr_copies(state):
    """A Jittor state without the ``<x>.weight`` that an equalized-lr hook stores next to
    ``<x>.weight_orig`` (a derived copy: PyTorch's hook keeps it out of the state)."""
    return {k: v for k, v in state.items() if not (k.endswith(".weight") and k + "_orig" in state)}


def read_jittor(path):
    """A jt.save file (StyleGanJittor's checkpoints) as nested dicts of numpy arrays, its network
    states in the reference's names. Refuses anything else than arrays and plain data with an
    ``UnsafePickleError``; a failed checksum is a ValueError."""
    with open(path, "rb") as f:
        data = f.read()
    if data.endswith(JT_SAVE_MARKER):
        data, checksum = data[:-28], data[-28:-8]
        if hashlib.sha1(data).digest() != checksum:
            raise ValueError(f"{path} fails jt.save's checksum: truncated or corrupted")
    obj = ArraysOnlyUnpickler(io.BytesIO(data)).load()
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a checkpoint dict")
    if any(key in obj for key in rosinality.NETWORK_KEYS):
        return {k: _without_equal_lr_copies(v) if k in rosinality.NETWORK_KEYS else v for k, v in obj.items()}
    return _without_equal_lr_copies(obj)


def read(path, ema_only=False):
    """The ``Contents`` of a jt.save checkpoint (``ema_only``: the file is read whole anyway)."""
    try:
        checkpoint = read_jittor(path)
    except UnsafePickleError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except Exception as e:  # noqa: BLE001 (unpickling raises many kinds on damaged files)
        raise CheckpointError(f"{path} is not a readable jt.save checkpoint ({one_line(e)})") from None
    return rosinality.contents_of(path, "jt.save", checkpoint)
