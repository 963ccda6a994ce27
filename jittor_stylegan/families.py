"""The model families by ``arch`` name, as sampling and training both need them: each family's networks,
the checkpoint key of each network's role (as the family's reference names them) and the constructor
arguments a run's config gives them. ``formats`` rebuilds a checkpoint's networks from them; each
training family (``training/``) builds on its entry here."""
from . import convert
from .models import stylegan1, stylegan2

# Checkpoint keys by role; each family names them as its reference does.
ROLES = ("generator", "discriminator", "ema", "g_optimizer", "d_optimizer")
FP16_CONV_CLAMP = 256  # NVIDIA's train.py clamps activations to this whenever it trains in float16


class StyleGAN1Networks:
    """rosinality's style-based-gan-pytorch networks."""

    arch = "stylegan1"
    KEYS = dict(generator="generator", discriminator="discriminator", ema="g_running", g_optimizer="g_optimizer",
                d_optimizer="d_optimizer")
    Generator, Discriminator = stylegan1.StyledGenerator, stylegan1.Discriminator

    @classmethod
    def network_args(cls, cfg):
        """{checkpoint key: constructor arguments} of every network of a run with config ``cfg``."""
        sizes = dict(max_size=cfg["max_size"], channel_base=cfg["channel_base"], max_channels=cfg["max_channels"],
                     image_channels=cfg["channels"])
        g = dict(code_dim=cfg["code_size"], n_mlp=cfg["n_mlp"], **sizes)
        return {"generator": g, "g_running": g,
                "discriminator": dict(fused=True, from_rgb_activate=not cfg["no_from_rgb_activate"], **sizes)}


class StyleGAN2Networks:
    """rosinality's stylegan2-pytorch networks (NVIDIA's, converted, with their ``conv_clamp``)."""

    arch = "stylegan2"
    KEYS = dict(generator="g", discriminator="d", ema="g_ema", g_optimizer="g_optim", d_optimizer="d_optim")
    Generator, Discriminator = stylegan2.Generator, stylegan2.Discriminator

    @classmethod
    def network_args(cls, cfg):
        """rosinality's widths for the channel multiplier, capped at ``max_channels``, and NVIDIA's
        ``conv_clamp`` when training in float16 (a config without ``fp16_res`` predates it: float32); or those
        a run started from another's networks (``--resume X.pkl``) took over (``networks`` in its config)."""
        if cfg.get("networks"):
            return cfg["networks"]
        channels = {s: min(w, cfg["max_channels"])
                    for s, w in stylegan2.reference_channels(cfg["channel_multiplier"]).items()}
        d = dict(size=cfg["max_size"], image_channels=cfg["channels"], channels=channels,
                 channel_multiplier=cfg["channel_multiplier"])
        if cfg.get("fp16_res"):
            d["conv_clamp"] = FP16_CONV_CLAMP
        if cfg.get("c_dim"):
            d["c_dim"] = cfg["c_dim"]
        g = dict(d, style_dim=cfg["code_size"], n_mlp=cfg["n_mlp"])
        return {"g": g, "g_ema": g, "d": d}


FAMILIES = {cls.arch: cls for cls in (StyleGAN1Networks, StyleGAN2Networks)}
ARCHS = tuple(FAMILIES)


def networks(arch):
    """The networks of a family (a ValueError for an unknown ``arch``)."""
    if arch not in FAMILIES:
        raise ValueError(f"unknown arch {arch!r}; choose from {ARCHS}")
    return FAMILIES[arch]


def build(arch, key, args, state, dtype="float32"):
    """Network ``key`` (a checkpoint key) of family ``arch`` from its constructor arguments, loaded with
    ``state`` (strictly: ``convert.load_state``)."""
    family = networks(arch)
    cls = family.Discriminator if key == family.KEYS["discriminator"] else family.Generator
    return convert.load_state(cls(**args), state, dtype)
