"""The model families by ``arch`` name: training adapters, and EMA generators read back from
checkpoints (this project's, rosinality's PyTorch files or StyleGanJittor's) for sampling."""
import math
import os

from . import checkpoint

ARCHS = ("stylegan1", "stylegan2")


def _module(arch):
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose from {ARCHS}")
    from importlib import import_module
    return import_module(f"{__package__}.{arch}")


def family(cfg):
    """The training adapter of ``cfg["arch"]`` (default StyleGAN 1), with fresh networks."""
    return _module(cfg.get("arch", "stylegan1")).Family(cfg)


def generator_from_checkpoint(path):
    """The EMA generator of a checkpoint of this project, of a rosinality PyTorch file or of a
    StyleGanJittor jt.save file.

    Returns (generator, arch, max trained step or None when unknown). Problems are one-line
    CheckpointErrors.
    """
    from .. import convert
    if not os.path.isfile(path):
        raise checkpoint.CheckpointError(f"no checkpoint at {path}")
    if not (path.endswith(checkpoint.SUFFIX) or checkpoint.is_checkpoint(path)):
        try:
            states = convert.network_states(convert.read_foreign(path))
            generator, arch, state = _torch_generator(states)
            convert.load_state(generator, state)
        except convert.UnsafePickleError as e:
            raise checkpoint.CheckpointError(f"{path}: {e}") from None
        except Exception as e:  # noqa: BLE001 (torch raises many kinds on foreign files)
            if convert.file_format(path) is None and checkpoint.is_pickle(path):  # maybe an old one of ours
                checkpoint.load(path)  # raises the message on how to convert it
            raise checkpoint.CheckpointError(f"{path} is neither a jittor-stylegan checkpoint nor a usable rosinality "
                                             f"/ StyleGanJittor one ({type(e).__name__}: "
                                             f"{str(e).splitlines()[0][:200]})")
        return generator, arch, None
    meta, tensors = checkpoint.load(path)
    try:
        module = _module(meta["arch"])
    except ValueError as e:
        raise checkpoint.CheckpointError(f"{path}: {e}") from None
    generator = module.ema_generator(meta["config"])
    try:
        convert.load_state(generator, tensors[module.EMA_KEY])
    except (KeyError, ValueError) as e:
        raise checkpoint.CheckpointError(f"{path}: the EMA generator does not fit its config ({e})") from None
    return generator, meta["arch"], meta["progress"].get("step")


def _torch_generator(states):
    """(empty generator, arch, its state) for the EMA generator of a rosinality or StyleGanJittor
    checkpoint (``g_ema`` / ``g`` / ``g_running`` / ``generator``, or a bare state), shaped as its state."""
    from ..models.stylegan1 import StyledGenerator
    from ..models.stylegan2 import Generator
    from .. import convert
    key = next((k for k in ("g_ema", "g", "g_running", "generator", None) if k in states), None)
    arch, kwargs = convert.generator_shapes(states[key])
    return (Generator if arch == "stylegan2" else StyledGenerator)(**kwargs), arch, states[key]


def sampler_for_size(path, size=None):
    """A ``sampling.Sampler`` of a checkpoint's EMA generator at ``size`` px (default: the largest it was
    trained to); a size the checkpoint cannot produce (not a power of two, beyond its networks or beyond
    what it was trained to) is a ValueError."""
    from ..sampling import Sampler
    generator, arch, trained_step = generator_from_checkpoint(path)
    if size is None:
        size = generator.size if arch == "stylegan2" else (
            generator.config["max_size"] if trained_step is None else 4 * 2 ** trained_step)
    if arch == "stylegan2":
        if size != generator.size:
            raise ValueError(f"--size {size} does not match the checkpoint's StyleGAN 2 generator ({generator.size} px)")
        return Sampler(generator, arch)
    max_size = generator.config["max_size"]
    step = int(math.log2(size)) - 2 if size >= 4 else -1
    if size < 4 or 4 * 2 ** step != size or size > max_size:
        raise ValueError(f"--size {size} does not match the checkpoint (powers of two up to {max_size})")
    if trained_step is not None and step > trained_step:
        raise ValueError(f"the checkpoint was trained up to {4 * 2 ** trained_step} px; --size {size} "
                         "has untrained layers")
    return Sampler(generator, arch, step)
