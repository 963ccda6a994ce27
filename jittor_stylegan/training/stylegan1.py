"""Progressive StyleGAN 1 training (rosinality's ``style-based-gan-pytorch`` ``train.py``).

Per resolution: ``phase`` images of fade-in (alpha 0 -> 1), then ``phase`` images of
stabilisation (``phase`` may be a per-resolution table, as config-driven progressive GANs set it); WGAN-GP or R1 (non-saturating) loss; style-mixing regularisation; Adam
(0, 0.99) with the mapping network at lr x 0.01; an EMA generator.
"""
import math
import random

import jittor as jt
import numpy as np

from .. import distributed
from ..architecture import channel_width
from ..models.stylegan1 import Discriminator, StyledGenerator
from . import losses, optim

LR_SCHEDULE = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}
BATCH_SCHEDULE = {4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 32, 256: 32}
MAPPING_LR_MULT = 0.01
EMA_DECAY = 0.999
MIXING_PROB = 0.9
ADAM_BETAS = (0.0, 0.99)
R1_GAMMA = 10.0


def generator_args(cfg):
    return dict(code_dim=cfg["code_size"], n_mlp=cfg["n_mlp"], max_size=cfg["max_size"],
                channel_base=cfg["channel_base"], max_channels=cfg["max_channels"], image_channels=cfg["channels"])


EMA_KEY = "g_running"


def ema_generator(cfg):
    """A generator shaped like the EMA generator of a run with this config."""
    return StyledGenerator(**generator_args(cfg))


def build_networks(cfg):
    """G, D and the EMA copy of G, initialized from ``cfg["seed"]``."""
    optim.seed_init(cfg["seed"])
    generator, g_running = StyledGenerator(**generator_args(cfg)), StyledGenerator(**generator_args(cfg))
    discriminator = Discriminator(from_rgb_activate=not cfg["no_from_rgb_activate"], max_size=cfg["max_size"],
                                  channel_base=cfg["channel_base"], max_channels=cfg["max_channels"],
                                  image_channels=cfg["channels"])
    optim.materialize(generator, discriminator)
    optim.copy_params(g_running, generator)
    return generator, discriminator, g_running


def make_optimizers(generator, discriminator, lr):
    """G: synthesis at lr, mapping at lr * 0.01 (two disjoint groups); D at lr."""
    g_opt = optim.adam([(generator.generator.parameters(), 1), (generator.style.parameters(), MAPPING_LR_MULT)],
                       lr, ADAM_BETAS)
    return g_opt, optim.adam([(discriminator.parameters(), 1)], lr, ADAM_BETAS)


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


def schedule(cfg, resolution):
    """(batch size, learning rate) at a resolution: ``--sched`` alone is rosinality's table of both, a
    ``--sched`` table gives batches at a constant lr."""
    sched = cfg["sched"]
    if isinstance(sched, str):
        return parse_table(sched, "--sched").get(resolution, cfg["batch_default"]), cfg["lr"]
    if sched:
        return BATCH_SCHEDULE.get(resolution, cfg["batch_default"]), LR_SCHEDULE.get(resolution, cfg["lr"])
    return cfg["batch_default"], cfg["lr"]


def phase_lengths(cfg, resolution):
    """(fade-in images, stabilisation images) at a resolution."""
    phase = cfg["phase"]
    if isinstance(phase, str):
        table = parse_table(phase, "--phase", pairs=True)
        return table.get(resolution, next(iter(table.values())))
    return phase, phase


def step_of(size):
    """The progressive-growing step of a resolution (4 px: 0, 8 px: 1, ...)."""
    return int(math.log2(size)) - 2


def check_schedule_split(cfg, step):
    """Fail now, not when a later resolution starts, when a batch still to come (from ``step`` on) does
    not split evenly across the processes."""
    for s in range(step, step_of(cfg["max_size"]) + 1):
        resolution = 4 * 2 ** s
        what = f"--sched's batch at {resolution}px" if cfg["sched"] else "--batch_default"
        distributed.share(schedule(cfg, resolution)[0], what=what)


def iteration_inputs(rng, batch, code_size, step, mixing):
    """The random inputs of one iteration, as float32 numpy arrays: latents for the D and the
    G step (two each with probability MIXING_PROB when mixing), their noise maps, and the
    WGAN-GP interpolation weights."""
    n_latents = 2 if mixing and rng.random() < MIXING_PROB else 1

    def normal(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    return {"latents": [[normal(batch, code_size) for _ in range(n_latents)] for _ in range(2)],
            "noise": [[normal(batch, 1, 4 * 2 ** i, 4 * 2 ** i) for i in range(step + 1)] for _ in range(2)],
            "eps": rng.random((batch, 1, 1, 1), dtype=np.float32)}


def train_iteration(G, D, g_running, g_opt, d_opt, real, inputs, step, alpha, loss, ema_decay=EMA_DECAY):
    """One D step (loss + WGAN-GP or R1 penalty), one G step and the EMA update, on a batch of
    real images and ``iteration_inputs``; returns (d_loss, g_loss, penalty) as Vars. Only the
    layers in use at (step, alpha) are optimized."""
    real = jt.array(real)
    (gen_in1, gen_in2), (noise1, noise2) = ([[jt.array(a) for a in arrays] for arrays in inputs[key]]
                                            for key in ("latents", "noise"))
    kind = "wgan-gp" if loss == "wgan-gp" else "nonsaturating"

    def disc(x):
        return D(x, step=step, alpha=alpha)

    fake = G(gen_in1, noise=noise1, step=step, alpha=alpha).detach()
    real_scores = disc(real)
    if kind == "wgan-gp":
        penalty = losses.WGAN_GP_WEIGHT * losses.gradient_penalty(disc, real, fake, jt.array(inputs["eps"]))
    else:
        penalty = R1_GAMMA / 2 * losses.r1_penalty(real_scores, real)
    d_loss = losses.d_loss(kind, real_scores, disc(fake)) + penalty
    with optim.only(d_opt, D.parameters_used(step, alpha)):
        d_opt.step(d_loss)

    g_loss = losses.g_loss(kind, disc(G(gen_in2, noise=noise2, step=step, alpha=alpha)))
    with optim.only(g_opt, G.parameters_used(step, alpha)):
        g_opt.step(g_loss)
    optim.accumulate(g_running, G, ema_decay)
    return d_loss, g_loss, penalty


class Family:
    """StyleGAN 1 for the training loop: networks, optimizers, progressive schedule, one iteration."""

    arch = "stylegan1"
    networks_keys = ("generator", "discriminator", "g_running")
    log_fields = ("resolution", "alpha", "d_loss", "g_loss", "penalty")

    def __init__(self, cfg):
        self.cfg = cfg
        self.generator, self.discriminator, self.g_running = build_networks(cfg)
        self.g_optimizer, self.d_optimizer = make_optimizers(self.generator, self.discriminator, cfg["lr"])
        self.init_step = step_of(cfg["init_size"])
        self.max_step = step_of(cfg["max_size"])
        self.progress = {"step": self.init_step, "used_sample": 0, "final_progress": False}
        self.latent_dim = cfg["code_size"]

    def networks(self):
        return {"generator": self.generator, "discriminator": self.discriminator, "g_running": self.g_running}

    def optimizers(self):
        return {"g_optimizer": self.g_optimizer, "d_optimizer": self.d_optimizer}

    def restored(self, progress):
        """Take over the family's progress from a checkpoint."""
        self.progress = {k: progress[k] for k in self.progress}
        self._set_lr()

    @property
    def resolution(self):
        return 4 * 2 ** self.progress["step"]

    @property
    def sizes_needed(self):
        return (self.resolution, 4 * 2 ** self.max_step)

    @property
    def batch_size(self):
        return schedule(self.cfg, self.resolution)[0]

    def _set_lr(self):
        lr = schedule(self.cfg, self.resolution)[1]
        optim.set_lr(self.g_optimizer, lr)
        optim.set_lr(self.d_optimizer, lr)

    def alpha(self):
        p = self.progress
        # nothing to fade from at init_size; a run resumed from rosinality's train_step-N.model fades it in
        # too, as its train.py --ckpt does (its newest layers are untrained when that file is written)
        if (self.resolution == self.cfg["init_size"] and not self.cfg.get("fade_in_init_size")) or p["final_progress"]:
            return 1.0
        return min(1.0, (p["used_sample"] + 1) / phase_lengths(self.cfg, self.resolution)[0])

    def advance(self):
        """Move to the next resolution once fade-in + stabilisation images were seen at this one; True when
        the resolution (and so the data) changed."""
        p = self.progress
        if p["used_sample"] <= sum(phase_lengths(self.cfg, self.resolution)) or p["final_progress"]:
            return False
        p["used_sample"] = 0
        if p["step"] + 1 > self.max_step:
            p["final_progress"] = True
        else:
            p["step"] += 1
        self._set_lr()
        return True

    def share(self, batch):
        """This process's share of a global batch (the minibatch stddev is global: any split works)."""
        return distributed.share(batch, what="--batch_default")

    def check_split(self):
        check_schedule_split(self.cfg, self.progress["step"])

    def train_step(self, real, seed):
        """One iteration on this process's share of a global batch of real images, with the
        randomness of the global batch from ``seed``; returns the logged values (Vars for losses)."""
        random.seed(hash(tuple(seed)))  # the generator's random crossover points
        step, alpha = self.progress["step"], self.alpha()
        batch = real.shape[0] * distributed.world_size()
        inputs = iteration_inputs(np.random.default_rng(seed), batch, self.cfg["code_size"], step,
                                  self.cfg["mixing"])
        mine = self.share(batch)
        inputs = {k: [[a[mine] for a in arrays] for arrays in v] if k != "eps" else v[mine] for k, v in inputs.items()}
        d_loss, g_loss, penalty = train_iteration(self.generator, self.discriminator, self.g_running,
                                                  self.g_optimizer, self.d_optimizer, real, inputs, step, alpha,
                                                  self.cfg["loss"], self.cfg.get("ema_decay", EMA_DECAY))
        self.progress["used_sample"] += batch
        return {"resolution": self.resolution, "alpha": round(alpha, 5), "d_loss": d_loss, "g_loss": g_loss,
                "penalty": penalty}

    def plan(self):
        """What this run will train, in words (the first sentence of the plan paragraph)."""
        cfg = self.cfg
        sizes = [4 * 2 ** s for s in range(self.progress["step"], self.max_step + 1)]
        widths = [channel_width(size, cfg["channel_base"], cfg["max_channels"]) for size in (4, cfg["max_size"])]
        phases = ", ".join(sorted({f"{f:,}/{s:,}" for f, s in (phase_lengths(cfg, r) for r in sizes[1:])})) or "-"
        batches = sorted({schedule(cfg, r)[0] for r in sizes})
        growth = (f"growing {sizes[0]} -> {sizes[-1]} px (fade-in/stabilisation images per resolution: {phases})"
                  if len(sizes) > 1 else f"at {sizes[0]} px")
        return (f"StyleGAN 1 {growth}, widths {widths[0]} at 4 px to {widths[-1]} at {cfg['max_size']} px, latent "
                f"{cfg['code_size']}, mapping depth {cfg['n_mlp']}, batch {'/'.join(map(str, batches))}, lr {cfg['lr']:g}, "
                f"{cfg['loss']} loss{', style mixing' if cfg['mixing'] else ''}")

    def describe(self, values):
        return (f"{values['resolution']}px a={values['alpha']:.2f} D={values['d_loss']:.3f} "
                f"G={values['g_loss']:.3f}")

    def sampler(self):
        """The EMA generator at the current resolution and alpha."""
        from ..sampling import Sampler
        return Sampler(self.g_running, self.arch, self.progress["step"], self.alpha())
