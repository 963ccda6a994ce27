"""This project's checkpoint format: arrays plus JSON, never a pickle.

A checkpoint is a ``.npz`` file (numpy's zip of ``.npy`` arrays, read with
``allow_pickle=False``): every network parameter and optimizer buffer is an array named
``<group>/<key>/...``, and ``__meta__`` holds a JSON document (format version, architecture,
config, progress, optimizer scalars, run id). Loading it cannot run code. Writes go to a
temporary file that replaces the target only once complete, so a crash or a full disk leaves
the previous checkpoint intact. A generator-only file (``python -m jittor_stylegan.export CKPT OUT
--g_ema_only``) holds the EMA generator alone, for sampling, its arrays possibly stored as float16
(read back as float32); it cannot resume training (``load_training``).

Checkpoints of this project from before this format were pickles: they are refused with a
message; ``python -m jittor_stylegan.formats.checkpoint --convert OLD NEW`` converts one with
an unpickler that can only rebuild plain containers and numpy arrays.

``read`` gives a checkpoint as every format's reader does (``contents.Contents``): its networks rebuilt as
``Generator(**args)`` from the constructor arguments it stores (``networks`` in its metadata), which must be
those its family derives from the run's config (what a checkpoint written before they were stored is
rebuilt from).
"""
import argparse
import json
import os
import pickle
import sys
import zipfile

import numpy as np

from .. import families
from .contents import CheckpointError, Contents
from .stylegan_jittor import ArraysOnlyUnpickler, UnsafePickleError

FORMAT = "jittor-stylegan-checkpoint"
VERSION = 1
META_KEY = "__meta__"
SUFFIX = ".npz"
GENERATOR_ONLY = "generator_only"  # meta flag: the EMA generator alone (export --g_ema_only)
FLOAT16 = "float16"  # meta flag: float32 arrays stored as float16, cast back at load


def _flatten(tree, prefix, arrays):
    """Nested dicts/lists of arrays -> {"a/b/0": array}; returns the skeleton with array names (plain
    Python scalars and None stay in it, as JSON)."""
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, dict):
        return {k: _flatten(v, f"{prefix}/{k}", arrays) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_flatten(v, f"{prefix}/{i}", arrays) for i, v in enumerate(tree)]
    arrays[prefix] = np.asarray(tree)
    return {"__array__": prefix}


def _unflatten(skeleton, arrays):
    if isinstance(skeleton, dict):
        if set(skeleton) == {"__array__"}:
            return arrays[skeleton["__array__"]]
        return {k: _unflatten(v, arrays) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [_unflatten(v, arrays) for v in skeleton]
    return skeleton


def save(path, meta, tensors, float16=False):
    """Write ``meta`` (JSON-able dict) and ``tensors`` (nested dicts/lists of arrays) to ``path``
    atomically; a failure leaves any previous file at ``path`` untouched. ``float16``: float32 arrays
    stored as float16 (half the bytes, for a generator that only samples; ``load`` casts them back)."""
    arrays = {}
    skeleton = _flatten(tensors, "t", arrays)
    meta = {k: v for k, v in meta.items() if k != FLOAT16}  # said by this write alone (a re-export may drop it)
    if float16:
        meta[FLOAT16] = True
        arrays = {k: a.astype(np.float16) if a.dtype == np.float32 else a for k, a in arrays.items()}
    document = json.dumps(dict(meta, format=FORMAT, version=VERSION, tensors=skeleton))
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **{META_KEY: np.array(document)}, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def remove_partial_writes(folder):
    """Delete what writes cut short by a killed process left in ``folder`` (``*.npz.tmp<pid>``)."""
    for name in os.listdir(folder):
        if f"{SUFFIX}.tmp" in name:
            os.remove(os.path.join(folder, name))


def is_pickle(path):
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


def is_checkpoint(path):
    """True when ``path`` is a file in this project's format (not a PyTorch or other file)."""
    try:
        with zipfile.ZipFile(path) as z:
            return META_KEY + ".npy" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def read_meta(path):
    """The JSON document of a checkpoint, without its arrays."""
    return load(path, arrays=False)[0]


def load(path, arrays=True):
    """(meta, tensors) of a checkpoint; any problem is a one-line CheckpointError."""
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path}")
    if is_pickle(path):
        raise CheckpointError(
            f"{path} is a pickle (an old checkpoint of this project, or not ours): pickles can run code "
            f"when loaded, so it is not read. If you trust it, convert it once with: "
            f"python -m jittor_stylegan.formats.checkpoint --convert {path} NEW{SUFFIX}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if META_KEY not in data.files:
                raise CheckpointError(f"{path} is not a jittor-stylegan checkpoint (no {META_KEY})")
            meta = json.loads(str(data[META_KEY]))
            if meta.get("format") != FORMAT:
                raise CheckpointError(f"{path} is not a jittor-stylegan checkpoint")
            if meta.get("version", 0) > VERSION:
                raise CheckpointError(f"{path} has format version {meta['version']}; this jittor-stylegan reads "
                                      f"up to {VERSION}: update it")
            tensors = _unflatten(meta.pop("tensors"), {k: _read(data[k], meta.get(FLOAT16))
                                                       for k in data.files if k != META_KEY}) if arrays else None
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path} is truncated or corrupted ({type(e).__name__}: {e})") from None
    return meta, tensors


def _read(array, float16):
    """A stored array as networks take it: float16 ones (``save(float16=True)``) back to float32."""
    return array.astype(np.float32) if float16 and array.dtype == np.float16 else array


def load_training(path):
    """``load`` for resuming training: a file without a training state (a generator-only export, or networks
    exported for sampling) is a one-line CheckpointError."""
    meta, tensors = load(path)
    if meta.get(GENERATOR_ONLY):
        raise CheckpointError(f"{path} holds only the generator (G_ema, for sampling: export --g_ema_only), no "
                              "training state: resume from the training checkpoint it was exported from")
    if not meta.get("optimizers"):
        raise CheckpointError(f"{path} holds networks exported for sampling, no training state: start a run from "
                              "their source (train.py DATA --resume X.pkl for an NVIDIA pickle)")
    return meta, tensors


def read(path, ema_only=False):
    """The ``Contents`` of a checkpoint (of its EMA generator alone with ``ema_only``); its training state
    is the whole (meta, tensors). Problems are one-line CheckpointErrors."""
    meta, tensors = load(path)
    try:
        family = families.networks(meta["arch"])
    except ValueError as e:
        raise CheckpointError(f"{path}: {e}") from None
    ema = family.KEYS["ema"]
    networks = [family.KEYS[role] for role in ("generator", "discriminator")]
    keys = [ema] + ([] if ema_only else [key for key in networks if key in tensors])
    try:
        derived = json.loads(json.dumps(family.network_args(meta["config"])))  # as stored: JSON
        args = {key: meta.get("networks", {}).get(key, derived[key]) for key in keys}
        if args[ema] != derived[ema]:
            raise ValueError(f"its constructor arguments {args[ema]} differ from its config's {derived[ema]}")
        states = {key: tensors[key] for key in keys}
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: the EMA generator does not fit its config ({e})") from None
    return Contents(path, "checkpoint", meta["arch"], args, states, ema, w_avg=meta.get("w_avg"),
                    class_names=meta["config"].get("class_names"), alpha=meta.get("alpha", 1.0),
                    step=meta["progress"].get("step"), training=(meta, tensors))


def convert_legacy(old, new):
    """Rewrite an old pickled StyleGAN 1 checkpoint of this project in the current format."""
    try:
        with open(old, "rb") as f:
            ckpt = ArraysOnlyUnpickler(f).load()
    except UnsafePickleError as e:
        raise CheckpointError(f"{old}: {e}") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as e:
        raise CheckpointError(f"{old} is not a readable old checkpoint ({e})") from None
    if not isinstance(ckpt, dict) or "g_running" not in ckpt:
        raise CheckpointError(f"{old} is not an old jittor-stylegan checkpoint")
    optimizers = {}
    tensors = {key: ckpt[key] for key in ("generator", "discriminator", "g_running")}
    for key in ("g_optimizer", "d_optimizer"):
        state = ckpt[key]
        optimizers[key] = {"n_step": state["n_step"], "lr": [g["lr"] for g in state["groups"]]}
        tensors[key] = [{"m": g["m"], "values": g["values"]} for g in state["groups"]]
    config = dict(ckpt["config"], arch="stylegan1")
    meta = {"arch": "stylegan1", "config": config, "progress": ckpt["progress"], "optimizers": optimizers,
            "run_id": "converted"}
    return save(new, meta, tensors)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Convert an old pickled checkpoint of this project "
                                                 "(only arrays and plain data are unpickled).")
    parser.add_argument("--convert", nargs=2, metavar=("OLD", "NEW"), required=True)
    args = parser.parse_args(argv)
    try:
        print(f"wrote {convert_legacy(*args.convert)}")
    except CheckpointError as e:
        sys.exit(f"checkpoint: {e}")


if __name__ == "__main__":
    main()
