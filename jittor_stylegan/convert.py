"""Checkpoint conversion between rosinality's PyTorch StyleGAN and these Jittor networks.

Parameter names are identical on both sides, so conversion is a one-to-one mapping.
The PyTorch state also holds the blur kernels as buffers (``...weight`` and
``...weight_flip`` of each ``Blur``); they are checked on load and written on export.
Loading is strict: a missing, unexpected or mis-shaped key raises ``KeyError``/``ValueError``
(Jittor's own ``load_state_dict`` only logs them). torch is needed only for torch files.
"""
import numpy as np

from .layers import Blur

NETWORK_KEYS = ("generator", "discriminator", "g_running")


def _torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError("reading or writing PyTorch checkpoints needs torch: "
                          "pip install torch==2.13.0 (or ./setup.sh --test)") from e
    return torch


def blur_buffers(module):
    """{name: array} of the reference's Blur buffers for ``module``'s Blur layers."""
    buffers = {}
    for name, layer in module.named_modules():
        if isinstance(layer, Blur):
            for key, value in layer.torch_buffers().items():
                buffers[f"{name}.{key}"] = value
    return buffers


def _strip_module_prefix(state):
    """Drop the ``module.`` prefix that DataParallel adds to every key."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def load_state(module, state):
    """Load a {name: array} state into ``module``, strictly; returns the module.

    Blur buffers, if present, must equal the fixed kernels.
    """
    state = _strip_module_prefix({k: np.asarray(v) for k, v in state.items()})
    params = dict(module.named_parameters())
    buffers = blur_buffers(module)
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
        if name in buffers and not np.allclose(value, buffers[name]):
            raise ValueError(f"{name}: blur kernel differs from the fixed [1, 2, 1] kernel")
    for name, param in params.items():
        param.assign(state[name].astype(np.float32))
    return module


def numpy_state(module, with_buffers=True):
    """{name: float32 array} of ``module``'s parameters, plus the reference's blur buffers."""
    state = {name: p.numpy().copy() for name, p in module.named_parameters()}
    if with_buffers:
        state.update(blur_buffers(module))
    return state


def read_torch(path):
    """A torch checkpoint as nested dicts with numpy arrays in place of tensors."""
    torch = _torch()
    obj = torch.load(path, map_location="cpu", weights_only=True)

    def to_numpy(value):
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().numpy()
        if isinstance(value, dict):
            return {k: to_numpy(v) for k, v in value.items()}
        return value

    return to_numpy(obj)


def network_states(checkpoint):
    """{"generator"|"discriminator"|"g_running": state} from a rosinality checkpoint dict,
    or {"generator": state} for a bare generator state_dict."""
    if any(key in checkpoint for key in NETWORK_KEYS):
        return {key: checkpoint[key] for key in NETWORK_KEYS if key in checkpoint}
    return {"generator": checkpoint}


def load_torch_checkpoint(path, generator=None, discriminator=None, g_running=None):
    """Load a rosinality ``.model`` file (or a bare generator state) into the given networks.

    For a bare generator state, it goes into ``generator`` (or ``g_running`` if only that is given).
    Returns the names of the networks that were loaded.
    """
    states = network_states(read_torch(path))
    targets = {"generator": generator, "discriminator": discriminator, "g_running": g_running}
    if set(states) == {"generator"} and generator is None:
        states = {"g_running": states["generator"]}
    loaded = []
    for key, module in targets.items():
        if module is None:
            continue
        if key not in states:
            raise KeyError(f"{path} holds no '{key}' network (it has {sorted(states)})")
        load_state(module, states[key])
        loaded.append(key)
    return loaded


def save_torch_checkpoint(path, **networks):
    """Write networks as a PyTorch file loadable by the reference model (strict), e.g.
    ``save_torch_checkpoint(p, generator=g, discriminator=d, g_running=g_ema)``."""
    torch = _torch()
    unknown = set(networks) - set(NETWORK_KEYS)
    if unknown:
        raise ValueError(f"unknown network names {sorted(unknown)}; use {NETWORK_KEYS}")
    torch.save({key: {name: torch.from_numpy(np.ascontiguousarray(value))
                      for name, value in numpy_state(module).items()}
                for key, module in networks.items()}, path)
