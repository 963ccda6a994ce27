"""Checkpoint conversion between rosinality's PyTorch StyleGAN 1 / 2 and these Jittor networks.

Parameter names are identical on both sides, so conversion is a one-to-one mapping.
The PyTorch states also hold buffers, which these networks keep private and report through
their layers' ``torch_buffers()``: fixed FIR kernels (StyleGAN 1 ``Blur``'s ``weight`` and
``weight_flip``, StyleGAN 2's ``kernel``s), checked on load, and StyleGAN 2's fixed noise maps
(``noises.noise_<i>``, layers with ``load_torch_buffers``), loaded. All are written on export.
Loading is strict: a missing, unexpected or mis-shaped key raises ``KeyError``/``ValueError``
(Jittor's own ``load_state_dict`` only logs them); buffers may be absent. Checkpoints are
rosinality's training files: StyleGAN 1 ``{generator, discriminator, g_running, ...}``,
StyleGAN 2 ``{g, d, g_ema, g_optim, d_optim, args, ...}``, or a bare generator state_dict.
torch is needed only for torch files.
"""
import argparse

import jittor as jt
import numpy as np

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


def _strip_module_prefix(state):
    """Drop the ``module.`` prefix that DataParallel adds to every key."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def load_state(module, state, dtype="float32"):
    """Load a {name: array} state into ``module``, strictly, as ``dtype``; returns the module.

    Fixed buffers, if present, must equal the network's; loadable buffers (noise maps) are loaded.
    """
    state = _strip_module_prefix({k: np.asarray(v) for k, v in state.items()})
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
            if given:
                layer.load_torch_buffers({**layer.torch_buffers(), **given})
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


def network_states(checkpoint):
    """{network key: state} from a rosinality checkpoint dict (StyleGAN 1 or 2 keys),
    or {None: state} for a bare generator state_dict."""
    if any(key in checkpoint for key in NETWORK_KEYS):
        return {key: checkpoint[key] for key in NETWORK_KEYS if key in checkpoint}
    return {None: checkpoint}


def torch_generator(states):
    """(arch, generator constructor arguments, its state) of the EMA generator of a rosinality checkpoint's
    ``network_states``: StyleGAN 2 when it holds ``g_ema`` / ``g`` (or is a bare StyleGAN 2 state; every
    width, the latent size and the mapping depth are read off the state), else StyleGAN 1 in the
    reference configuration."""
    key = next((k for k in ("g_ema", "g", "g_running", "generator", None) if k in states), None)
    state = states[key]
    if "conv1.conv.weight" not in state:
        return "stylegan1", {}, state
    n_blocks = sum(1 for k in state if k.startswith("to_rgbs.") and k.endswith(".conv.weight"))
    widths = {4: state["input.input"].shape[1]}
    widths.update({2 ** (j + 3): state[f"to_rgbs.{j}.conv.weight"].shape[2] for j in range(n_blocks)})
    n_mlp = sum(1 for k in state if k.startswith("style.") and k.endswith(".weight"))
    args = dict(size=2 ** (n_blocks + 2), style_dim=state["style.1.weight"].shape[1], n_mlp=n_mlp,
                image_channels=state["to_rgb1.conv.weight"].shape[1], channels=widths)
    return "stylegan2", args, state


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
