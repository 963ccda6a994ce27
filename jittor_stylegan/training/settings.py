"""Each family's settings in one place: defaults, presets, losses and the settings of its networks'
widths, read by ``train.py`` (every setting is also a ``--option``), the families and ``bench/``; and
the per-resolution tables some settings take (``parse_table``).

A new family adds one ``FamilySettings`` entry here and one module under ``training/``. No framework
import: the CLI reads this before Jittor is configured.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FamilySettings:
    """The settings of one family.

    defaults: {setting: default} of a new run (None: decided from the data, see ``FROM_DATA``).
    presets: {preset name: {setting: value}} applied over the defaults.
    losses: the ``--loss`` values the family trains with, the default first.
    widths: the settings that size its networks: left at their defaults, the networks are the
        reference (GPU-sized) ones.
    """

    defaults: dict
    presets: dict = field(default_factory=dict)
    losses: tuple = ()
    widths: tuple = ()


# What D sees (``training/ada``), NVIDIA's stylegan2-ada-pytorch names and defaults; --aug None: from the data.
AUG_MODES = ("ada", "fixed", "diffaugment", "none")
ADA_BELOW = 30_000  # StyleGAN 2 trains with ADA by default on sets smaller than this
AUGMENT = dict(aug=None, p=None, augpipe="bgc", target=0.6, ada_kimg=500, mirror=1)

FAMILIES = {
    "stylegan1": FamilySettings(
        defaults=dict(init_size=8, max_size=None, phase=600_000, batch_default=32, code_size=512, n_mlp=8,
                      channel_base=16384, max_channels=512, lr=0.001, iterations=3_000_000, sample_every=100,
                      ckpt_every=10_000, ema_decay=0.999, loss="wgan-gp", grad_accum=1, **dict(AUGMENT, aug="none")),
        presets={
            # about 10 minutes on 2 CPU cores: 8 -> 32 px (2,500 iterations per resolution, 2,500 at 32 px),
            # narrow networks, R1 (garments recognisable at 32 px after 8 minutes, where WGAN-GP at phase
            # 4,000 left blobs); an EMA over ~100 iterations, since 0.999 would leave a short run's samples
            # dominated by the initial weights
            "cpu-demo": dict(init_size=8, max_size=32, phase=20_000, batch_default=16, code_size=64, n_mlp=4,
                             channel_base=512, max_channels=64, lr=0.002, iterations=7500, sample_every=100,
                             ckpt_every=250, ema_decay=0.99, loss="r1"),
        },
        losses=("wgan-gp", "r1"),
        widths=("code_size", "n_mlp", "channel_base", "max_channels")),
    # rosinality's stylegan2-pytorch train.py
    "stylegan2": FamilySettings(
        defaults=dict(max_size=None, batch_default=16, code_size=512, n_mlp=8, channel_multiplier=2,
                      max_channels=512, lr=0.002, iterations=800_000, sample_every=100, ckpt_every=10_000,
                      ema_decay=0.5 ** (32 / (10 * 1000)), loss="nonsaturating", r1=10.0, d_reg_every=16,
                      path_regularize=2.0, path_batch_shrink=2, g_reg_every=4, grad_accum=1, freezed=0,
                      fp16_res=0, **AUGMENT),
        presets={
            # about 10 minutes on 2 CPU cores at 32 px: narrow networks, a short EMA, R1's gamma as NVIDIA's
            # `auto` config derives it at 32 px for batch 16 (0.0002 * 32^2 / 16: FID 203 vs 255 for gamma 10 side
            # by side, bench/RESULTS.md's sweep)
            "cpu-demo": dict(max_size=32, batch_default=16, code_size=64, n_mlp=4, channel_multiplier=1,
                             max_channels=64, iterations=2000, sample_every=100, ckpt_every=250, ema_decay=0.99,
                             r1=0.0128),
        },
        losses=("nonsaturating", "wgan-gp"),
        widths=("code_size", "n_mlp", "channel_multiplier", "max_channels")),
}
ARCHS = tuple(FAMILIES)
# Settings whose default comes from the data.
FROM_DATA = {"max_size": "the largest size in the LMDB",
             "aug": f"stylegan2: ada for a set of under {ADA_BELOW:,} images, else none; stylegan1: none"}
# Types and choices of the settings whose default does not say, and what the less obvious ones mean.
def aug_mode(text):
    """--aug's value; NVIDIA's ``noaug`` is ``none``."""
    return "none" if text == "noaug" else text


TYPES = {"max_size": int, "aug": aug_mode, "p": float}
CHOICES = {"aug": AUG_MODES, "mirror": (0, 1)}
HELP = {"aug": "augment every image D sees: ada (adaptive p), fixed (--p), diffaugment, none",
        "p": "the augmentation probability of --aug fixed",
        "augpipe": "the stages of --aug ada / fixed, as NVIDIA's: blit, geom, color, filter, noise, cutout, bg, bgc, "
                   "bgcf, bgcfn, bgcfnc",
        "target": "ADA's target for the mean sign of D's scores of reals",
        "ada_kimg": "ADA's speed: thousands of images for p to move by 1 (NVIDIA uses 100 when fine-tuning)",
        "mirror": "1: flip the data horizontally at random; 0: never (e.g. medical images)",
        "fp16_res": "run G's and D's N highest resolutions in float16 (NVIDIA's mixed precision, with conv_clamp 256; "
                    "its train.py uses 4; on CPU for testing only, it is slower there)"}
# The same setting under the names other StyleGANs use (rosinality's StyleGAN 2, NVIDIA's stylegan2-ada-pytorch,
# the StyleGAN 2 reproduction's trainer.py); README "Coming from another StyleGAN" lists them.
ALIASES = {"batch_default": ("batch_size", "batch"), "code_size": ("latent_dim", "z_dim"), "n_mlp": ("mn_depth", "map"),
           "ckpt_every": ("save_every",), "iterations": ("iter", "training_steps"), "max_size": ("size", "image_size"),
           "r1": ("gamma",)}
# What a family's settings mean where a name could mean more: ``channels`` in a run's config is the
# number of image channels (the networks take it as ``image_channels``); ``code_size`` is the latent
# size z of either family; ``batch_default`` the global batch (StyleGAN 1's outside its ``--sched``).


def setting_names():
    """Every family setting's name (each is a --option)."""
    return {name for family in FAMILIES.values() for name in family.defaults}


def aug_default(arch, images):
    """The --aug of a new run of ``arch`` on a set of ``images`` images."""
    return "ada" if arch == "stylegan2" and images < ADA_BELOW else "none"


def default(arch, name):
    """A family's default of one setting (for configs of checkpoints written before the setting existed)."""
    return FAMILIES[arch].defaults[name]


def parse_table(text, what, pairs=False):
    """"8:32,16:32" -> {8: 32, 16: 32}; with ``pairs``, a value may be "FADE/STABILISE" -> (fade, stabilise).
    A malformed table is a one-line ValueError naming ``what``."""
    table = {}
    try:
        for item in text.split(","):
            size, value = item.split(":")
            parts = [int(v) for v in value.split("/")] if pairs else [int(value)]
            if int(size) < 4 or int(size) & (int(size) - 1) or len(parts) > (2 if pairs else 1) or min(parts) < 1:
                raise ValueError
            table[int(size)] = tuple(parts * (3 - len(parts)))[:2] if pairs else parts[0]
    except ValueError:
        form = "RES:IMAGES or RES:FADE/STABILISE" if pairs else "RES:BATCH"
        raise ValueError(f"{what} {text}: not a table {form},... with powers of two >= 4 and positive numbers") \
            from None
    return table
