"""rosinality's checkpoints (stylegan2-pytorch ``.pt``, style-based-gan-pytorch ``train_step-N.model``):
torch.save files of StyleGAN 1 ``{generator, discriminator, g_running, g_optimizer, d_optimizer, ...}``,
StyleGAN 2 ``{g, d, g_ema, g_optim, d_optim, args, ...}`` or a bare generator state_dict. Their parameter
names are this project's, so a state loads one-to-one (``convert``); a generator's constructor arguments
are read off its shapes. StyleGanJittor's jt.save files (``stylegan_jittor``) hold the same layouts.
torch is needed only here (``torch.load(weights_only=True)``: tensors and plain data, nothing run).
"""
import argparse
import re
import zipfile

import numpy as np

from .. import convert, families
from ..layers.stylegan1_arch import channel_width
from .contents import CheckpointError, Contents, one_line

SG1_NETWORKS = ("generator", "discriminator", "g_running")
SG2_NETWORKS = ("g", "d", "g_ema")
NETWORK_KEYS = SG1_NETWORKS + SG2_NETWORKS
GENERATOR_KEYS = ("generator", "g_running", "g", "g_ema")
SAMPLED = ("g_ema", "g", "g_running", "generator", None)  # the generator sampled: the EMA one, first found
# torch.save's legacy (pre-zip) files begin with this pickled magic number
TORCH_LEGACY_PREFIX = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def _torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError("reading or writing PyTorch checkpoints needs torch: "
                          "pip install torch==2.13.0 (or ./setup.sh --test)") from e
    return torch


def is_torch(path):
    """True when the file's bytes are a torch.save file's (legacy or zip)."""
    with open(path, "rb") as f:
        if f.read(len(TORCH_LEGACY_PREFIX)) == TORCH_LEGACY_PREFIX:
            return True
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/data.pkl") for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


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


def read(path, ema_only=False):
    """The ``Contents`` of a torch.save checkpoint (``ema_only``: the file is read whole anyway)."""
    try:
        checkpoint = read_torch(path)
    except Exception as e:  # noqa: BLE001 (torch and pickle raise many kinds on damaged files)
        raise CheckpointError(f"{path} is not a readable torch checkpoint ({one_line(e)})") from None
    return contents_of(path, "torch", checkpoint)


def contents_of(path, kind, checkpoint):
    """The ``Contents`` of a checkpoint dict in rosinality's layouts read from ``path`` (a ``kind`` file): its
    networks' states, the sampled generator's constructor arguments read off its shapes, and the whole dict
    as its training state."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path} holds a {type(checkpoint).__name__}, not a checkpoint dict")
    states = network_states(checkpoint)
    key = next((k for k in SAMPLED if k in states), None)
    try:
        states = {k: convert.strip_module_prefix(state) for k, state in states.items()}
        arch, args = generator_shapes(states[key])
    except (KeyError, ValueError, IndexError, AttributeError) as e:
        raise CheckpointError(f"{path} is neither a jittor-stylegan checkpoint nor a usable rosinality / "
                              f"StyleGanJittor one ({one_line(e)})") from None
    if key is None:  # a bare generator state: this project keeps it as the EMA generator
        key = families.networks(arch).KEYS["ema"]
        states = {key: states[None]}
    return Contents(path, kind, arch, {key: args}, states, key, training=checkpoint)


def _indices(state, pattern):
    """Sorted integers ``i`` of the keys that match ``pattern`` (a regex with one ``(\\d+)`` group)."""
    return sorted(int(m.group(1)) for m in (re.fullmatch(pattern, k) for k in state) if m)


def generator_shapes(state):
    """(arch, constructor kwargs) of the generator whose state this is, read off its shapes: StyleGAN 2
    (``models.stylegan2.Generator``) when it has ``conv1.conv.weight``, else StyleGAN 1
    (``models.stylegan1.StyledGenerator``); widths that StyleGAN 1's rule cannot give are a ValueError."""
    state = convert.strip_module_prefix(state)
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
        convert.load_state(module, states[key], dtype)
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
                      for name, value in convert.numpy_state(module).items()}
                for key, module in networks.items()}, path)
