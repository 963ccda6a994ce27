"""Network states in the reference's names (rosinality's, which these networks take: a one-to-one mapping)
loaded into and read off these Jittor networks, whatever file they came from (``formats``).

The reference's states also hold buffers, which these networks keep private and report through
their layers' ``torch_buffers()``: fixed FIR kernels (StyleGAN 1 ``Blur``'s ``weight`` and
``weight_flip``, StyleGAN 2's ``kernel``s), checked on load, and StyleGAN 2's fixed noise maps
(``noises.noise_<i>``, layers with ``load_torch_buffers``), loaded (absent: a fixed seeded draw). All are
written on export.
Loading is strict: a missing, unexpected or mis-shaped key raises ``KeyError``/``ValueError``
(Jittor's own ``load_state_dict`` only logs them); buffers may be absent.
"""
import jittor as jt
import numpy as np


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


