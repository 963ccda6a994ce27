"""Progressive StyleGAN 1 training (rosinality's ``style-based-gan-pytorch`` ``train.py``).

Per resolution: ``phase`` images of fade-in (alpha 0 -> 1), then ``phase`` images of stabilisation
(``phase`` may be a per-resolution table, as config-driven progressive GANs set it); WGAN-GP or R1
(non-saturating) loss, in D's one update per iteration; style-mixing regularisation; Adam (0, 0.99)
with the mapping network at lr x 0.01; an EMA generator.
"""
import math
import random

import jittor as jt
import numpy as np

from .. import distributed
from ..layers.stylegan1_arch import channel_width
from ..families import StyleGAN1Networks
from . import ada, losses, optim, settings
from .settings import parse_table
from .family import ADAM_BETAS, GANFamily

LR_SCHEDULE = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}
BATCH_SCHEDULE = {4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 32, 256: 32}
MAPPING_LR_MULT = 0.01
R1_GAMMA = 10.0


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
    not split into ``grad_accum`` micro-batches or evenly across the processes."""
    parts = cfg.get("grad_accum", settings.default("stylegan1", "grad_accum"))
    for s in range(step, step_of(cfg["max_size"]) + 1):
        resolution = 4 * 2 ** s
        what = f"--sched's batch at {resolution}px" if cfg["sched"] else "--batch_default"
        batch = schedule(cfg, resolution)[0]
        if batch % parts:
            raise ValueError(f"{what} {batch} does not split into --grad_accum {parts} equal micro-batches")
        distributed.share(batch, 1, parts, what=what)


def iteration_inputs(rng, batch, code_size, step, mixing_count):
    """The random inputs of one iteration, as float32 numpy arrays: ``mixing_count`` latents for the D
    and for the G step, their noise maps, and the WGAN-GP interpolation weights."""
    def normal(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    return {"latents": [[normal(batch, code_size) for _ in range(mixing_count)] for _ in range(2)],
            "noise": [[normal(batch, 1, 4 * 2 ** i, 4 * 2 ** i) for i in range(step + 1)] for _ in range(2)],
            "eps": rng.random((batch, 1, 1, 1), dtype=np.float32)}


def crossovers(seed, iteration, step, n_latents):
    """The style-mixing crossover points of the D and the G step's generator calls (None: no mixing),
    drawn as rosinality's generator draws them (``random.sample``), from a Python ``Random`` seeded by
    (seed, iteration)."""
    if n_latents < 2:
        return [None, None]
    draw = random.Random(hash((seed, iteration)))
    return [sorted(draw.sample(list(range(max(step, n_latents - 1))), n_latents - 1)) for _ in range(2)]


class StyleGAN1(StyleGAN1Networks, GANFamily):
    """StyleGAN 1 for the training loop: progressive schedule, D and G phases."""

    BUILD_ORDER = ("generator", "ema", "discriminator")  # as rosinality's train.py
    log_fields = ("resolution", "alpha", "d_loss", "g_loss", "penalty") + ada.LOG_FIELDS

    def __init__(self, cfg):
        self.init_step, self.max_step = step_of(cfg["init_size"]), step_of(cfg["max_size"])
        super().__init__(cfg)
        self._penalties = []

    def build_optimizers(self):
        """G: synthesis at lr, mapping at lr * 0.01 (two disjoint groups); D at lr."""
        lr = self.cfg["lr"]
        g_opt = optim.adam([(self.G.generator.parameters(), 1), (self.G.style.parameters(), MAPPING_LR_MULT)],
                           lr, ADAM_BETAS)
        return g_opt, optim.adam([(self.D.parameters(), 1)], lr, ADAM_BETAS)

    def initial_progress(self):
        return {"step": self.init_step, "used_sample": 0, "final_progress": False}

    def restored(self, progress):
        super().restored(progress)
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
        optim.set_lr(self.G_opt, lr)
        optim.set_lr(self.D_opt, lr)

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

    def check_split(self):
        check_schedule_split(self.cfg, self.progress["step"])

    def draw_inputs(self, rng, batch, mine, iteration):
        step = self.progress["step"]
        n = self.mixing_count(rng)
        inputs = iteration_inputs(rng, batch, self.cfg["code_size"], step, n)
        inputs = {k: [[a[mine] for a in arrays] for arrays in v] if k != "eps" else v[mine] for k, v in inputs.items()}
        inputs["inject"] = crossovers(self.cfg["seed"], iteration, step, n)
        return inputs

    def score(self, images, labels=None):
        return self.D(images, step=self.progress["step"], alpha=self.alpha())

    def trainable(self, phase):
        """Only the layers in use at (step, alpha)."""
        net = self.D if phase.startswith("d") else self.G
        return net.parameters_used(self.progress["step"], self.alpha())

    def _synthesize(self, inputs, k):
        """Images from the D (k = 0) or the G step's (k = 1) latents and noise."""
        return self.G([jt.array(a) for a in inputs["latents"][k]], noise=[jt.array(a) for a in inputs["noise"][k]],
                      step=self.progress["step"], alpha=self.alpha(), inject_index=inputs["inject"][k])

    def d_main(self, real, inputs):
        """D's loss on real and fake images plus its WGAN-GP or R1 penalty."""
        real = jt.array(real)
        fake = self._synthesize(inputs, 0).detach()
        real_scores = self.discriminate(real, real=True)
        if self.cfg["loss"] == "wgan-gp":
            kind = "wgan-gp"
            penalty = losses.WGAN_GP_WEIGHT * losses.gradient_penalty(self.discriminate, real, fake,
                                                                      jt.array(inputs["eps"]))
        else:
            kind = "nonsaturating"
            penalty = R1_GAMMA / 2 * losses.r1_penalty(real_scores, real)
        self._penalties.append(penalty)
        return losses.d_loss(kind, real_scores, self.discriminate(fake)) + penalty

    def g_main(self, real, inputs):
        kind = "wgan-gp" if self.cfg["loss"] == "wgan-gp" else "nonsaturating"
        return losses.g_loss(kind, self.discriminate(self._synthesize(inputs, 1)))

    def logged(self, phase_losses, batch):
        penalties, self._penalties = self._penalties, []
        values = {"resolution": self.resolution, "alpha": round(self.alpha(), 5), "d_loss": phase_losses["d_main"],
                  "g_loss": phase_losses["g_main"],
                  "penalty": penalties[0] if len(penalties) == 1 else sum(p.item() for p in penalties) / len(penalties)}
        self.progress["used_sample"] += batch
        return values

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
                f"{cfg['loss']} loss{', style mixing' if cfg['mixing'] else ''}, {self.augmentation.describe()}")

    def describe(self, values):
        return (f"{values['resolution']}px a={values['alpha']:.2f} D={values['d_loss']:.3f} "
                f"G={values['g_loss']:.3f}")

    def sampler(self):
        """The EMA generator at the current resolution and alpha."""
        from ..sampling import Sampler
        return Sampler(self.G_ema, self.resolution, self.alpha())


FAMILY = StyleGAN1
