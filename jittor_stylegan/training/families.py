"""The model families by ``arch`` name: training adapters, and EMA generators read back from
checkpoints (this project's, or rosinality's PyTorch files) for sampling."""
import math
import os

from . import checkpoint

ARCHS = ("stylegan1", "stylegan2")


def _module(arch):
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose from {ARCHS}")
    from importlib import import_module
    return import_module(f"{__package__}.{arch}")


def family_class(arch):
    """The ``family.Family`` class of an arch."""
    return _module(arch).FAMILY


def family(cfg):
    """The training adapter of ``cfg["arch"]`` (default StyleGAN 1), with fresh networks."""
    return family_class(cfg.get("arch", "stylegan1"))(cfg)


def generator_from_checkpoint(path):
    """The EMA generator of a checkpoint of this project, or of a rosinality PyTorch file.

    Returns (generator, arch, max trained step or None when unknown). Problems are one-line
    CheckpointErrors.
    """
    from .. import convert
    if not os.path.isfile(path):
        raise checkpoint.CheckpointError(f"no checkpoint at {path}")
    if not (path.endswith(checkpoint.SUFFIX) or checkpoint.is_checkpoint(path)):
        try:
            states = convert.network_states(convert.read_torch(path))
            generator, arch, state = _torch_generator(states)
            convert.load_state(generator, state)
        except Exception as e:  # noqa: BLE001 (torch raises many kinds on foreign files)
            if checkpoint.is_pickle(path):  # not a PyTorch file: maybe an old checkpoint of this project
                checkpoint.load(path)  # raises the message on how to convert it
            raise checkpoint.CheckpointError(f"{path} is neither a jittor-stylegan checkpoint nor a rosinality "
                                             f"PyTorch one ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
        return generator, arch, None
    meta, tensors = checkpoint.load(path)
    try:
        cls = family_class(meta["arch"])
    except ValueError as e:
        raise checkpoint.CheckpointError(f"{path}: {e}") from None
    key = cls.KEYS["ema"]
    generator = cls.Generator(**cls.network_args(meta["config"])[key])
    try:
        convert.load_state(generator, tensors[key])
    except (KeyError, ValueError) as e:
        raise checkpoint.CheckpointError(f"{path}: the EMA generator does not fit its config ({e})") from None
    return generator, meta["arch"], meta["progress"].get("step")


def _torch_generator(states):
    """(empty generator, arch, its state) for the EMA generator of a rosinality checkpoint: StyleGAN 2
    when it holds ``g_ema`` / ``g`` (or is a bare StyleGAN 2 state; every width, the latent size and
    the mapping depth are read off the state), else StyleGAN 1 in the reference configuration."""
    from ..models.stylegan1 import StyledGenerator
    from ..models.stylegan2 import Generator
    key = next((k for k in ("g_ema", "g", "g_running", "generator", None) if k in states), None)
    state = states[key]
    if "conv1.conv.weight" not in state:
        return StyledGenerator(), "stylegan1", state
    n_blocks = sum(1 for k in state if k.startswith("to_rgbs.") and k.endswith(".conv.weight"))
    widths = {4: state["input.input"].shape[1]}
    widths.update({2 ** (j + 3): state[f"to_rgbs.{j}.conv.weight"].shape[2] for j in range(n_blocks)})
    n_mlp = sum(1 for k in state if k.startswith("style.") and k.endswith(".weight"))
    generator = Generator(2 ** (n_blocks + 2), style_dim=state["style.1.weight"].shape[1], n_mlp=n_mlp,
                          image_channels=state["to_rgb1.conv.weight"].shape[1], channels=widths)
    return generator, "stylegan2", state


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
