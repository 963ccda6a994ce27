"""NVIDIA's StyleGAN 2 pickles (stylegan2-ada-pytorch ``network-snapshot-*.pkl``, stylegan3's
``networks_stylegan2`` ones) read into this project's StyleGAN 2 networks, without running their code.

NVIDIA's own loader rebuilds each network's classes from the Python source embedded in the pickle
(``torch_utils.persistence``), so a downloaded file can do anything. Here a restricted unpickler accepts
only the records such a pickle is made of: persistence's reconstruction records (their ``state`` is kept,
their ``module_src`` ignored), ``dnnlib.EasyDict``, ``collections.OrderedDict``, PyTorch's tensor,
parameter and storage rebuild records (read as numpy arrays, no torch needed) and numpy scalars; any
other global is refused by name. The networks' states are then renamed to rosinality's layout (this
project's), every knob is honoured or refused by name (``NvidiaPickleError``, one line).

Layout differences: NVIDIA's modulated convolutions keep their weights without the 1/sqrt(fan-in) gain
(demodulation cancels it; rosinality applies it, which moves the 1e-8 epsilon by a relative 1e-9),
affine layers store their bias with its init of 1 (as rosinality), weights (O, I, k, k) vs (1, O, I, k, k),
noise_strength a scalar vs (1,), noise_const per layer vs ``noises.noise_<i>``, D's ``bN`` blocks vs
``convs.k``; lr multipliers and weight gains fold in identically (weight = randn / lr_mul both sides).
Conditional networks (``c_dim`` > 0): G's ``mapping.embed`` is ``embed``, D's label ``mapping`` keeps its names
(``mapping.embed``, ``mapping.fc<i>``) and its epilogue's ``out`` (cmap_dim features) is ``final_linear.1``.
"""
import collections
import io
import pickle
import struct

import numpy as np

from .. import families
from ..layers.stylegan2 import STDDEV_FEATURES, STDDEV_GROUP
from ..models.stylegan2 import D_MAPPING_LAYERS
from .contents import CheckpointError, Contents

STYLEGAN2_FILTER = (1, 3, 3, 1)  # the resample filter of both sides' StyleGAN 2 layers
NETWORK_KEYS = ("G", "D", "G_ema")
KEYS = {nvidia: families.StyleGAN2Networks.KEYS[role]  # NVIDIA's network names -> this project's checkpoint keys
        for nvidia, role in (("G", "generator"), ("D", "discriminator"), ("G_ema", "ema"))}
# NVIDIA's network pickles (PyTorch's and TensorFlow's) name a dnnlib / torch_utils global near their start.
NVIDIA_MARKERS, NVIDIA_HEAD = (b"torch_utils", b"dnnlib"), 1 << 16
LR_MLP = 0.01  # the lr multiplier of NVIDIA's MappingNetwork (its projection discriminator's label mapping)
MAX_TENSOR_ELEMENTS = 1 << 31  # far above any StyleGAN 2 layer (1024 px: 2.4e6); bounds what a crafted record costs
TORCH_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                        "BFloat16Storage": None, "LongStorage": np.int64, "IntStorage": np.int32,
                        "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
                        "BoolStorage": np.bool_}


class NvidiaPickleError(ValueError):
    """A pickle that is not a readable NVIDIA StyleGAN 2 network, or a knob this project cannot honour."""


class Persistent:
    """A ``torch_utils.persistence`` object: its class name and state (attributes, ``_parameters``,
    ``_buffers``, ``_modules``), without its code."""

    def __init__(self, class_name, state):
        self.class_name, self.state = class_name, state

    def __getitem__(self, name):
        return self.state[name]

    def get(self, name, default=None):
        return self.state.get(name, default)

    def tensors(self):
        """{name: array} of its parameters and buffers (a frozen layer keeps its weights as buffers)."""
        out = {}
        for group in ("_parameters", "_buffers"):
            out.update({k: v for k, v in (self.state.get(group) or {}).items() if v is not None})
        return out

    def child(self, name):
        module = (self.state.get("_modules") or {}).get(name)
        if module is not None and not isinstance(module, Persistent):
            raise NvidiaPickleError(f"submodule {name} is a {type(module).__name__}, not one of NVIDIA's layers")
        return module


class EasyDict(dict):
    """``dnnlib.EasyDict`` read back as a plain dict."""


def _reconstruct_persistent_obj(meta):
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise NvidiaPickleError("a torch_utils.persistence record that is not a class instance")
    return Persistent(str(meta.get("class_name")), meta["state"])


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    """A strided view of a storage, copied, bounds checked (a crafted stride cannot read past the storage)."""
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise NvidiaPickleError("a tensor record without a storage")
    size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(offset)
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size + stride):
        raise NvidiaPickleError("a malformed tensor record")
    if 0 in size:
        return np.zeros(size, storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise NvidiaPickleError("a tensor record reaching past its storage")
    if int(np.prod(size, dtype=object)) > MAX_TENSOR_ELEMENTS:  # repeated (stride 0) views stay bounded too
        raise NvidiaPickleError(f"a tensor record of {size} elements")
    return np.lib.stride_tricks.as_strided(storage[offset:], size, [s * storage.itemsize for s in stride]).copy()


def _rebuild_parameter(data, *_ignored):
    return data


def _numpy_scalar(dtype, data):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise NvidiaPickleError("a malformed numpy scalar record")
    return np.frombuffer(data, dtype)[0]


def _numpy_dtype(name, *_flags):
    dtype = np.dtype(name)
    if dtype.hasobject:
        raise NvidiaPickleError("a numpy object dtype")
    return dtype


def _latin1(text, encoding="latin1"):
    """Pickle protocol 2's bytes record (``_codecs.encode(text, 'latin1')``)."""
    if encoding != "latin1" or not isinstance(text, str):
        raise NvidiaPickleError("a bytes record in an unexpected encoding")
    return text.encode("latin1")


class _StorageType:
    def __init__(self, name):
        self.name, self.dtype = name, TORCH_STORAGE_DTYPES[name]
        if self.dtype is None:
            raise NvidiaPickleError(f"tensors of torch.{name} are not supported")


class _Restricted(pickle.Unpickler):
    """Only the globals of ``ALLOWED``; anything else is refused by name."""
    ALLOWED = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
        ("dnnlib.util", "EasyDict"): EasyDict,
        ("dnnlib", "EasyDict"): EasyDict,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("numpy.core.multiarray", "scalar"): _numpy_scalar,
        ("numpy._core.multiarray", "scalar"): _numpy_scalar,
        ("numpy", "dtype"): _numpy_dtype,
        ("builtins", "set"): set,
        ("_codecs", "encode"): _latin1,
    }

    def find_class(self, module, name):
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _load_storage
        if module == "torch" and name in TORCH_STORAGE_DTYPES:
            return _StorageType(name)
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            hint = " (a TensorFlow pickle of NVIDIA's: unsupported)" if module.startswith("dnnlib.tflib") else ""
            raise NvidiaPickleError(f"refusing to load the global {module}.{name}: not part of an NVIDIA "
                                    f"StyleGAN 2 network pickle{hint}; nothing from the file is run") from None


class _StorageUnpickler(_Restricted):
    """The pickles inside a storage record (torch.save's legacy format), with storages as persistent ids."""

    def __init__(self, file):
        super().__init__(file)
        self.storages = {}

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise NvidiaPickleError(f"an unexpected persistent id in a storage record: {str(pid)[:80]}")
        _, kind, key, _location, numel = pid[:5]
        if len(pid) > 5 and pid[5] is not None:
            raise NvidiaPickleError("storage views are not supported")
        self.storages.setdefault(str(key), (kind.dtype, int(numel)))
        return str(key)


def _load_storage(data):
    """A storage record: torch.save's legacy format of one storage, read as a 1-D numpy array."""
    if not isinstance(data, bytes):
        raise NvidiaPickleError("a storage record without bytes")
    f = io.BytesIO(data)
    for _ in range(3):  # magic number, protocol version, system info
        _Restricted(f).load()
    reader = _StorageUnpickler(f)
    key = reader.load()
    keys = _Restricted(f).load()
    arrays = {}
    for k in keys:
        dtype, numel = reader.storages[str(k)]
        (count,) = struct.unpack("<q", f.read(8))
        raw = f.read(count * np.dtype(dtype).itemsize)
        if count != numel or len(raw) != count * np.dtype(dtype).itemsize:
            raise NvidiaPickleError("a truncated storage record")
        arrays[str(k)] = np.frombuffer(raw, dtype).copy()
    return arrays[key]


def is_nvidia(path):
    """True when a pickle (``checkpoint.is_pickle``) names NVIDIA's modules near its start."""
    with open(path, "rb") as f:
        head = f.read(NVIDIA_HEAD)
    return any(marker in head for marker in NVIDIA_MARKERS)


def read_pickle(path):
    """An NVIDIA network pickle's content: dicts, Persistent objects and numpy arrays; nothing is run."""
    with open(path, "rb") as f:
        try:
            return _Restricted(f).load()
        except NvidiaPickleError as e:
            raise NvidiaPickleError(f"{path}: {e}") from None
        except (pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError, KeyError) as e:
            raise NvidiaPickleError(f"{path}: not a readable pickle ({type(e).__name__}: "
                                    f"{str(e).splitlines()[0][:160] if str(e) else ''})") from None


def snapshot(path):
    """{"G", "D", "G_ema": Persistent, ...} of an NVIDIA snapshot (or of a pickle holding G_ema only)."""
    data = read_pickle(path)
    if not (isinstance(data, dict) and isinstance(data.get("G_ema"), Persistent)):
        kind = "a dict of " + ", ".join(map(str, list(data)[:6])) if isinstance(data, dict) else type(data).__name__
        raise NvidiaPickleError(f"{path} is not an NVIDIA StyleGAN 2 network pickle (it holds {kind}, no G_ema)")
    return data


# ---- the mapping: NVIDIA's modules -> this project's constructor arguments and state --------------------------

def _require(condition, message):
    if not condition:
        raise NvidiaPickleError(message)


def _value(x):
    """A plain Python number of a numpy scalar / 0-d array."""
    return x.item() if isinstance(x, (np.generic, np.ndarray)) else x


def _check_filter(module, where):
    f = module.tensors().get("resample_filter")
    if f is not None:
        k = np.outer(STYLEGAN2_FILTER, STYLEGAN2_FILTER).astype(np.float64)
        _require(f.shape == k.shape and np.allclose(f, k / k.sum()),
                 f"{where}: resample_filter {np.round(f, 4).tolist()} is not [1,3,3,1] (unsupported)")


def _conv_clamp(modules):
    clamps = {_value(m.get("conv_clamp")) for m in modules}
    _require(len(clamps) == 1, f"layers with different conv_clamp {sorted(map(str, clamps))} (unsupported)")
    return clamps.pop()


def _block_resolutions(net, prefix="b"):
    names = [n for n in (net.get("_modules") or {}) if n.startswith(prefix) and n[len(prefix):].isdigit()]
    return sorted(int(n[len(prefix):]) for n in names)


def _modulated(layer, where, noise_index, state, noises):
    """A SynthesisLayer / ToRGBLayer's tensors under rosinality's names (noise into ``noises``)."""
    t = layer.tensors()
    affine = layer.child("affine")
    _require(affine is not None and "weight" in t, f"{where}: not a modulated layer")
    a = affine.tensors()
    _require(_value(affine.get("bias_gain", 1)) == 1 and affine.get("activation", "linear") == "linear",
             f"{where}.affine: an lr multiplier or activation (unsupported)")
    _check_filter(layer, where)
    out = {"conv.weight": t["weight"][None], "conv.modulation.weight": a["weight"], "conv.modulation.bias": a["bias"]}
    if noise_index is None:  # ToRGB
        out["bias"] = t["bias"].reshape(1, -1, 1, 1)
        _require(layer.get("_modules", {}).keys() == {"affine"}, f"{where}: unexpected submodules")
    else:
        _require(layer.get("activation", "lrelu") == "lrelu", f"{where}: activation {layer.get('activation')} "
                                                              "(only lrelu is supported)")
        out["activate.bias"] = t["bias"]
        strength = t.get("noise_strength")
        out["noise.weight"] = np.zeros(1, np.float32) if strength is None else strength.reshape(1)
        res = layer.get("resolution")
        noises[noise_index] = t.get("noise_const", np.zeros((res, res), np.float32))[None, None]
    return {f"{state}.{k}": v for k, v in out.items()}


def _mapping(mapping, where, c_dim, first_in, width):
    """A MappingNetwork's fully connected layers [(weight, bias), ...], their lr multiplier, and its label
    embedding {"weight", "bias"} (None when ``c_dim`` is 0)."""
    embed = None
    if c_dim:
        layer = mapping.child("embed")
        _require(layer is not None, f"{where}: c_dim={c_dim} but no mapping.embed")
        embed = layer.tensors()
        _require(embed["weight"].shape == (width, c_dim), f"{where}.mapping.embed: shape {embed['weight'].shape} "
                                                          f"(embed_features != w_dim unsupported)")
        _require(_value(layer.get("bias_gain", 1)) == 1 and layer.get("activation", "linear") == "linear",
                 f"{where}.mapping.embed: an lr multiplier or activation (unsupported)")
    fcs, lr_mul = [], None
    for i in range(_value(mapping["num_layers"])):
        fc = mapping.child(f"fc{i}")
        t = fc.tensors()
        shape = (width, first_in if i == 0 else width)
        _require(t["weight"].shape == shape, f"{where}.mapping.fc{i}: shape {t['weight'].shape}, not {shape} "
                                             f"(layer_features != w_dim unsupported)")
        _require(fc.get("activation") == "lrelu", f"{where}.mapping.fc{i}: activation {fc.get('activation')}")
        gain = _value(fc.get("bias_gain"))
        _require(lr_mul in (None, gain), f"{where}.mapping: layers with different lr multipliers")
        lr_mul = gain
        fcs.append((t["weight"], t["bias"]))
    return fcs, lr_mul, embed


def generator(net, where="G_ema"):
    """(constructor arguments of models.stylegan2.Generator, its state incl. noise buffers, w_avg or None)."""
    _require(net.class_name == "Generator", f"{where} is a {net.class_name}, not a StyleGAN 2 Generator "
                                            "(stylegan3's alias/rotation generators are unsupported)")
    c_dim = _value(net.get("c_dim", 0))
    mapping, synthesis = net.child("mapping"), net.child("synthesis")
    _require(mapping is not None and synthesis is not None, f"{where} has no mapping / synthesis network")
    z_dim, w_dim = _value(net["z_dim"]), _value(net["w_dim"])
    _require(z_dim == w_dim, f"{where}: z_dim {z_dim} != w_dim {w_dim} (unsupported: one latent size here)")
    state, noises = {}, {}
    fcs, lr_mul, embed = _mapping(mapping, where, c_dim, z_dim + (w_dim if c_dim else 0), w_dim)
    n_mlp = len(fcs)
    for i, (weight, bias) in enumerate(fcs):
        state[f"style.{i + 1}.weight"], state[f"style.{i + 1}.bias"] = weight, bias
    if embed is not None:
        state["embed.weight"], state["embed.bias"] = embed["weight"], embed["bias"]
    w_avg = mapping.tensors().get("w_avg")

    resolutions = _block_resolutions(synthesis)
    size = _value(synthesis["img_resolution"])
    _require(resolutions and resolutions[0] == 4 and resolutions[-1] == size, f"{where}: unexpected blocks")
    widths, layers = {}, []
    for res in resolutions:
        block = synthesis.child(f"b{res}")
        _require(block.get("architecture") == "skip", f"{where}: synthesis architecture "
                                                      f"'{block.get('architecture')}' (only skip is supported)")
        _check_filter(block, f"{where}.synthesis.b{res}")
        if res == 4:
            const = block.tensors()["const"]
            widths[4] = const.shape[0]
            state["input.input"] = const[None]
            state.update(_modulated(block.child("conv1"), f"{where}.b4.conv1", 0, "conv1", noises))
            state.update(_modulated(block.child("torgb"), f"{where}.b4.torgb", None, "to_rgb1", noises))
            layers += [block.child("conv1"), block.child("torgb")]
        else:
            j = len(widths) - 1
            conv0, conv1, torgb = block.child("conv0"), block.child("conv1"), block.child("torgb")
            widths[res] = conv0.tensors()["weight"].shape[0]
            state.update(_modulated(conv0, f"{where}.b{res}.conv0", 2 * j + 1, f"convs.{2 * j}", noises))
            state.update(_modulated(conv1, f"{where}.b{res}.conv1", 2 * j + 2, f"convs.{2 * j + 1}", noises))
            state.update(_modulated(torgb, f"{where}.b{res}.torgb", None, f"to_rgbs.{j}", noises))
            layers += [conv0, conv1, torgb]
    state.update({f"noises.noise_{i}": n for i, n in noises.items()})
    args = dict(size=size, style_dim=w_dim, n_mlp=n_mlp, lr_mlp=lr_mul, blur_kernel=STYLEGAN2_FILTER,
                image_channels=_value(synthesis["img_channels"]), channels=widths, conv_clamp=_conv_clamp(layers))
    if c_dim:
        args["c_dim"] = c_dim
    return args, state, w_avg


def _conv(layer, where, state, bias_index=1, clamp=True):
    """A Conv2dLayer's tensors under a rosinality ConvLayer's names."""
    t = layer.tensors()
    _check_filter(layer, where)
    out = {f"{state}.{bias_index - 1}.weight": t["weight"]}
    if "bias" in t:
        _require(layer.get("activation") == "lrelu", f"{where}: activation {layer.get('activation')}")
        out[f"{state}.{bias_index}.bias"] = t["bias"]
    return out


def discriminator(net, where="D"):
    """(constructor arguments of models.stylegan2.Discriminator, its state)."""
    _require(net.class_name == "Discriminator", f"{where} is a {net.class_name}, not a StyleGAN 2 Discriminator")
    c_dim = _value(net.get("c_dim", 0))
    size = _value(net["img_resolution"])
    resolutions = _block_resolutions(net)
    state, widths, convs, archs = {}, {}, [], set()
    for k, res in enumerate(sorted(set(resolutions) - {4}, reverse=True)):
        block = net.child(f"b{res}")
        arch = block.get("architecture")
        _require(arch in ("resnet", "orig"), f"{where}: architecture '{arch}' (only resnet and orig are supported)")
        archs.add(arch)
        _check_filter(block, f"{where}.b{res}")
        conv0, conv1, skip = block.child("conv0"), block.child("conv1"), block.child("skip")
        widths[res] = conv0.tensors()["weight"].shape[0]
        if k == 0:
            state.update(_conv(block.child("fromrgb"), f"{where}.b{res}.fromrgb", "convs.0"))
            convs.append(block.child("fromrgb"))
        state.update(_conv(conv0, f"{where}.b{res}.conv0", f"convs.{k + 1}.conv1"))
        state.update(_conv(conv1, f"{where}.b{res}.conv1", f"convs.{k + 1}.conv2", bias_index=2))
        if arch == "resnet":
            state[f"convs.{k + 1}.skip.1.weight"] = skip.tensors()["weight"]
        convs += [conv0, conv1]
    epilogue = net.child("b4")
    mbstd = epilogue.child("mbstd")
    _require(mbstd is not None and _value(mbstd.get("group_size")) == STDDEV_GROUP
             and _value(mbstd.get("num_channels")) == STDDEV_FEATURES,
             f"{where}: minibatch stddev group {mbstd and mbstd.get('group_size')}, channels "
             f"{mbstd and mbstd.get('num_channels')} (only {STDDEV_GROUP}, {STDDEV_FEATURES} are supported)")
    cmap_dim = _value(epilogue.get("cmap_dim", 0))
    _require(bool(cmap_dim) == bool(c_dim), f"{where}: c_dim={c_dim} with cmap_dim={cmap_dim}")
    if c_dim:
        mapping = net.child("mapping")
        _require(mapping is not None, f"{where}: c_dim={c_dim} but no mapping network")
        fcs, lr_mul, embed = _mapping(mapping, f"{where}.mapping", c_dim, cmap_dim, cmap_dim)
        _require(len(fcs) == D_MAPPING_LAYERS and lr_mul == LR_MLP,
                 f"{where}.mapping: {len(fcs)} layers, lr multiplier {lr_mul} (only NVIDIA's default "
                 f"{D_MAPPING_LAYERS}, {LR_MLP} are supported)")
        state["mapping.embed.weight"], state["mapping.embed.bias"] = embed["weight"], embed["bias"]
        for i, (weight, bias) in enumerate(fcs):
            state[f"mapping.fc{i}.weight"], state[f"mapping.fc{i}.bias"] = weight, bias
    widths[4] = epilogue.child("conv").tensors()["weight"].shape[0]
    state.update(_conv(epilogue.child("conv"), f"{where}.b4.conv", "final_conv"))
    convs.append(epilogue.child("conv"))
    for i, name in enumerate(("fc", "out")):
        fc = epilogue.child(name)
        _require(_value(fc.get("bias_gain")) == 1, f"{where}.b4.{name}: an lr multiplier (unsupported)")
        t = fc.tensors()
        state[f"final_linear.{i}.weight"], state[f"final_linear.{i}.bias"] = t["weight"], t["bias"]
    _require(len(archs) == 1, f"{where}: blocks of different architectures {sorted(archs)}")
    args = dict(size=size, blur_kernel=STYLEGAN2_FILTER, image_channels=_value(net["img_channels"]),
                channels=widths, conv_clamp=_conv_clamp(convs), architecture=archs.pop())
    if c_dim:
        args.update(c_dim=c_dim, cmap_dim=cmap_dim)
    return args, state


def networks(path, keys=NETWORK_KEYS):
    """{"G", "D", "G_ema": (constructor arguments, state[, w_avg])} of those of ``keys`` an NVIDIA snapshot holds."""
    data = snapshot(path)
    out = {}
    try:
        for key in keys:
            if isinstance(data.get(key), Persistent):
                out[key] = discriminator(data[key], key) if key == "D" else generator(data[key], key)
    except (KeyError, AttributeError, TypeError) as e:
        raise NvidiaPickleError(f"{path}: not the layout of NVIDIA's StyleGAN 2 networks ({type(e).__name__}: {e})") \
            from None
    except NvidiaPickleError as e:
        raise NvidiaPickleError(f"{path}: {e}") from None
    return out


def read(path, ema_only=False):
    """The ``Contents`` of a network pickle (``ema_only``: G_ema alone, so that a D this project cannot take
    does not stop sampling); no training state. Problems are one-line CheckpointErrors."""
    try:
        nets = networks(path, ["G_ema"] if ema_only else NETWORK_KEYS)
    except NvidiaPickleError as e:
        raise CheckpointError(str(e)) from None
    return Contents(path, "nvidia", families.StyleGAN2Networks.arch, {KEYS[k]: v[0] for k, v in nets.items()},
                    {KEYS[k]: v[1] for k, v in nets.items()}, KEYS["G_ema"], w_avg=nets["G_ema"][2])


def build_generator(args, state, w_avg, dtype="float32"):
    """This project's StyleGAN 2 generator of ``generator()``'s output, with w_avg as its truncation centre."""
    g = families.build(families.StyleGAN2Networks.arch, KEYS["G_ema"], args, state, dtype)
    g.w_avg = None if w_avg is None else np.asarray(w_avg, np.float32)
    return g


def build_discriminator(args, state, dtype="float32"):
    return families.build(families.StyleGAN2Networks.arch, KEYS["D"], args, state, dtype)
