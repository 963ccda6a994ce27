"""Checkpoint conversion between rosinality's PyTorch StyleGAN 1 / 2 and these Jittor networks.

Parameter names are identical on both sides, so conversion is a one-to-one mapping.
The PyTorch states also hold buffers, which these networks keep private and report through
their layers' ``torch_buffers()``: fixed FIR kernels (StyleGAN 1 ``Blur``'s ``weight`` and
``weight_flip``, StyleGAN 2's ``kernel``s), checked on load, and StyleGAN 2's fixed noise maps
(``noises.noise_<i>``, layers with ``load_torch_buffers``), loaded (absent: a fixed seeded draw). All are
written on export.
Loading is strict: a missing, unexpected or mis-shaped key raises ``KeyError``/``ValueError``
(Jittor's own ``load_state_dict`` only logs them); buffers may be absent. Checkpoints are
rosinality's training files: StyleGAN 1 ``{generator, discriminator, g_running, ...}``,
StyleGAN 2 ``{g, d, g_ema, g_optim, d_optim, args, ...}``, or a bare generator state_dict.
torch is needed only for torch files. StyleGanJittor's ``jt.save`` files (the same StyleGAN 1
layouts, pickled) are read with an unpickler that rebuilds only arrays and plain data.
"""
import argparse
import hashlib
import io
import pickle
import re
import zipfile

import jittor as jt
import numpy as np

from .layers.stylegan1_arch import channel_width

SG1_NETWORKS = ("generator", "discriminator", "g_running")
SG2_NETWORKS = ("g", "d", "g_ema")
NETWORK_KEYS = SG1_NETWORKS + SG2_NETWORKS
GENERATOR_KEYS = ("generator", "g_running", "g", "g_ema")


def _torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError("reading or writing PyTorch checkpoints needs torch: "
                          "pip install torch==2.13.0 (or ./setup.sh --test)") from e
    return torch


def _buffer_layers(module):
    """(name prefix, layer) of every layer of ``module`` that holds reference buffers."""
    return [(name + "." if name else "", layer) for name, layer in module.named_modules()
            if hasattr(layer, "torch_buffers")]


def torch_buffers(module):
    """{name: array} of the reference's buffers for ``module``."""
    return {prefix + key: value for prefix, layer in _buffer_layers(module)
            for key, value in layer.torch_buffers().items()}


def strip_module_prefix(state):
    """Drop the ``module.`` prefix that DataParallel adds to every key."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def load_state(module, state, dtype="float32"):
    """Load a {name: array} state into ``module``, strictly, as ``dtype``; returns the module.

    Fixed buffers, if present, must equal the network's; loadable buffers (noise maps) are loaded.
    """
    state = strip_module_prefix({k: np.asarray(v) for k, v in state.items()})
    params = dict(module.named_parameters())
    buffers = torch_buffers(module)
    missing = sorted(set(params) - set(state))
    unexpected = sorted(set(state) - set(params) - set(buffers))
    if missing or unexpected:
        raise KeyError(f"{type(module).__name__} state mismatch: missing {missing[:8]}"
                       f"{' ...' if len(missing) > 8 else ''}, unexpected {unexpected[:8]}"
                       f"{' ...' if len(unexpected) > 8 else ''}")
    for name, value in state.items():
        expected = tuple(params[name].shape) if name in params else buffers[name].shape
        if tuple(value.shape) != expected:
            raise ValueError(f"{name}: shape {tuple(value.shape)} does not match the network's {expected}")
    for prefix, layer in _buffer_layers(module):
        given = {key: state[prefix + key] for key in layer.torch_buffers() if prefix + key in state}
        if hasattr(layer, "load_torch_buffers"):
            layer.load_torch_buffers(given)  # what the state lacks: the layer's fixed default
        else:
            for key, value in given.items():
                if not np.allclose(value, layer.torch_buffers()[key]):
                    raise ValueError(f"{prefix + key}: fixed kernel differs from the network's")
    for name, param in params.items():
        param.assign(jt.array(state[name], dtype=dtype))
    return module


def numpy_state(module, with_buffers=True):
    """{name: array} of ``module``'s parameters, plus the reference's buffers."""
    state = {name: p.numpy().copy() for name, p in module.named_parameters()}
    if with_buffers:
        state.update(torch_buffers(module))
    return state


def read_torch(path):
    """A torch checkpoint as nested dicts with numpy arrays in place of tensors."""
    torch = _torch()
    with torch.serialization.safe_globals([argparse.Namespace]):  # StyleGAN 2 files keep their args
        obj = torch.load(path, map_location="cpu", weights_only=True)

    def to_numpy(value):
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().numpy()
        if isinstance(value, dict):
            return {k: to_numpy(v) for k, v in value.items()}
        return value

    return to_numpy(obj)


# jt.save appends the payload's sha1 and this marker to the pickle
JT_SAVE_MARKER = b"HCAJSLHD"
# torch.save's legacy (pre-zip) files begin with this pickled magic number
TORCH_LEGACY_PREFIX = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


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


def file_format(path):
    """"torch" (a torch.save file), "jt.save" (a jt.save file) or None, from the file's bytes."""
    with open(path, "rb") as f:
        head = f.read(len(TORCH_LEGACY_PREFIX))
        f.seek(0, 2)
        f.seek(max(0, f.tell() - len(JT_SAVE_MARKER)))
        tail = f.read()
    if tail == JT_SAVE_MARKER:
        return "jt.save"
    if head == TORCH_LEGACY_PREFIX:
        return "torch"
    try:
        with zipfile.ZipFile(path) as z:
            return "torch" if any(n.endswith("/data.pkl") for n in z.namelist()) else None
    except (OSError, zipfile.BadZipFile):
        return None


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
    if any(key in obj for key in NETWORK_KEYS):
        return {k: _without_equal_lr_copies(v) if k in NETWORK_KEYS else v for k, v in obj.items()}
    return _without_equal_lr_copies(obj)


def read_foreign(path):
    """A rosinality (torch.save) or StyleGanJittor (jt.save) checkpoint as nested dicts of arrays."""
    kind = file_format(path)
    if kind is None:
        raise ValueError(f"{path} is neither a torch.save nor a jt.save file")
    return read_torch(path) if kind == "torch" else read_jittor(path)


def _indices(state, pattern):
    """Sorted integers ``i`` of the keys that match ``pattern`` (a regex with one ``(\\d+)`` group)."""
    return sorted(int(m.group(1)) for m in (re.fullmatch(pattern, k) for k in state) if m)


def generator_shapes(state):
    """(arch, constructor kwargs) of the generator whose state this is, read off its shapes: StyleGAN 2
    (``models.stylegan2.Generator``) when it has ``conv1.conv.weight``, else StyleGAN 1
    (``models.stylegan1.StyledGenerator``); widths that StyleGAN 1's rule cannot give are a ValueError."""
    state = strip_module_prefix(state)
    if "conv1.conv.weight" in state:
        n_blocks = len(_indices(state, r"to_rgbs\.(\d+)\.conv\.weight"))
        widths = {4: state["input.input"].shape[1]}
        widths.update({2 ** (j + 3): state[f"to_rgbs.{j}.conv.weight"].shape[2] for j in range(n_blocks)})
        return "stylegan2", dict(size=2 ** (n_blocks + 2), style_dim=state["style.1.weight"].shape[1],
                                 n_mlp=len(_indices(state, r"style\.(\d+)\.weight")),
                                 image_channels=state["to_rgb1.conv.weight"].shape[1], channels=widths)
    rgb = [state[f"generator.to_rgb.{j}.conv.weight_orig"].shape
           for j in _indices(state, r"generator\.to_rgb\.(\d+)\.conv\.weight_orig")]
    widths = {4 * 2 ** j: shape[1] for j, shape in enumerate(rgb)}
    max_size = 4 * 2 ** (len(rgb) - 1)
    kwargs = dict(code_dim=state["style.1.linear.weight_orig"].shape[1],
                  n_mlp=len(_indices(state, r"style\.(\d+)\.linear\.weight_orig")), max_size=max_size,
                  channel_base=widths[max_size] * max_size, max_channels=widths[4], image_channels=rgb[0][0])
    if any(channel_width(size, kwargs["channel_base"], kwargs["max_channels"]) != w for size, w in widths.items()):
        raise ValueError(f"StyleGAN 1 widths {widths} are not min(max_channels, channel_base / size)")
    return "stylegan1", kwargs


def network_states(checkpoint):
    """{network key: state} from a rosinality checkpoint dict (StyleGAN 1 or 2 keys),
    or {None: state} for a bare generator state_dict."""
    if any(key in checkpoint for key in NETWORK_KEYS):
        return {key: checkpoint[key] for key in NETWORK_KEYS if key in checkpoint}
    return {None: checkpoint}


def load_torch_checkpoint(path, dtype="float32", **networks):
    """Load a rosinality checkpoint into networks named by its keys, as ``dtype``, e.g.
    ``load_torch_checkpoint(p, g_ema=g)`` (StyleGAN 2) or ``(p, g_running=g)`` (StyleGAN 1).

    A bare generator state goes into the one generator given. Returns the keys loaded.
    """
    unknown = set(networks) - set(NETWORK_KEYS)
    if unknown:
        raise ValueError(f"unknown network names {sorted(unknown)}; use {NETWORK_KEYS}")
    states = network_states(read_torch(path))
    if None in states:
        generators = [key for key in networks if key in GENERATOR_KEYS and networks[key] is not None]
        if len(generators) == 1:
            states = {generators[0]: states[None]}
    loaded = []
    for key, module in networks.items():
        if module is None:
            continue
        if key not in states:
            raise KeyError(f"{path} holds no '{key}' network (it has {sorted(k or 'bare generator' for k in states)})")
        load_state(module, states[key], dtype)
        loaded.append(key)
    return loaded


def save_torch_checkpoint(path, **networks):
    """Write networks as a PyTorch file loadable by the reference model (strict), e.g.
    ``save_torch_checkpoint(p, generator=g, discriminator=d, g_running=g_ema)`` (StyleGAN 1) or
    ``save_torch_checkpoint(p, g=g, d=d, g_ema=g_ema)`` (StyleGAN 2)."""
    torch = _torch()
    unknown = set(networks) - set(NETWORK_KEYS)
    if unknown:
        raise ValueError(f"unknown network names {sorted(unknown)}; use {NETWORK_KEYS}")
    torch.save({key: {name: torch.from_numpy(np.ascontiguousarray(value))
                      for name, value in numpy_state(module).items()}
                for key, module in networks.items()}, path)
