"""Progressive StyleGAN training (rosinality's ``train.py`` semantics), resumable at any iteration.

Per resolution: ``phase`` images of fade-in (alpha 0 -> 1), then ``phase`` images of
stabilisation; WGAN-GP or R1 loss; style-mixing regularisation; Adam (0, 0.99) with the
mapping network at lr x 0.01; an EMA generator. Checkpoints hold everything needed to
continue exactly (networks, optimizers, progress, data order, config) and are written
atomically; every random draw is seeded from (seed, iteration), so a resumed run repeats
what the uninterrupted run would have done.
"""
import csv
import math
import os
import pickle
import random
import time

import jittor as jt
import numpy as np

from . import convert
from .data import BatchSampler, MultiResolutionDataset
from .images import save_grid
from .metrics import scoring, swd
from .models.stylegan1 import Discriminator, StyledGenerator

LR_SCHEDULE = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}
BATCH_SCHEDULE = {4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 32, 256: 32}
MAPPING_LR_MULT = 0.01
EMA_DECAY = 0.999
MIXING_PROB = 0.9
ADAM_BETAS = (0.0, 0.99)


class TrainingStopped(Exception):
    """Training stopped on a non-finite loss; the last good checkpoint is kept."""


def build_networks(cfg):
    g_args = dict(code_dim=cfg["code_size"], n_mlp=cfg["n_mlp"], max_size=cfg["max_size"],
                  channel_base=cfg["channel_base"], max_channels=cfg["max_channels"],
                  image_channels=cfg["channels"])
    generator, g_running = StyledGenerator(**g_args), StyledGenerator(**g_args)
    discriminator = Discriminator(from_rgb_activate=not cfg["no_from_rgb_activate"], max_size=cfg["max_size"],
                                  channel_base=cfg["channel_base"], max_channels=cfg["max_channels"],
                                  image_channels=cfg["channels"])
    copy_params(g_running, generator)
    return generator, discriminator, g_running


def copy_params(target, source):
    for t, s in zip(target.parameters(), source.parameters()):
        t.assign(s.detach().clone())


def accumulate(ema, model, decay=EMA_DECAY):
    """ema = decay * ema + (1 - decay) * model, for every parameter."""
    for e, p in zip(ema.parameters(), model.parameters()):
        e.assign((e * decay + p.detach() * (1 - decay)).detach())


def make_optimizers(generator, discriminator, lr):
    """G: synthesis at lr, mapping at lr * 0.01 (two disjoint groups); D at lr."""
    g_opt = jt.optim.Adam([{"params": generator.generator.parameters()},
                           {"params": generator.style.parameters(), "mult": MAPPING_LR_MULT}],
                          lr=lr, betas=ADAM_BETAS)
    d_opt = jt.optim.Adam(discriminator.parameters(), lr=lr, betas=ADAM_BETAS)
    set_lr(g_opt, lr)
    set_lr(d_opt, lr)
    return g_opt, d_opt


def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("mult", 1)
    optimizer.lr = lr


def optimizer_state(optimizer):
    return {"n_step": optimizer.n_step, "groups": [
        {"lr": g["lr"], "m": [v.numpy() for v in g["m"]], "values": [v.numpy() for v in g["values"]]}
        for g in optimizer.param_groups]}


def load_optimizer_state(optimizer, state):
    optimizer.n_step = state["n_step"]
    for group, saved in zip(optimizer.param_groups, state["groups"]):
        group["lr"] = saved["lr"]
        for key in ("m", "values"):
            for var, value in zip(group[key], saved[key]):
                var.assign(jt.array(value))


def schedule(cfg, resolution):
    """(batch size, learning rate) at a resolution."""
    batch = BATCH_SCHEDULE.get(resolution, cfg["batch_default"]) if cfg["sched"] else cfg["batch_default"]
    lr = LR_SCHEDULE.get(resolution, cfg["lr"]) if cfg["sched"] else cfg["lr"]
    return batch, lr


def atomic_pickle(obj, path):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path):
    with open(path, "rb") as f:
        ckpt = pickle.load(f)
    if not isinstance(ckpt, dict) or "g_running" not in ckpt:
        raise ValueError(f"{path} is not a jittor-stylegan checkpoint")
    return ckpt


def generator_from_checkpoint(path):
    """The EMA generator of a checkpoint of this project, or of a rosinality PyTorch one.

    Returns (generator, max trained step or None when unknown).
    """
    try:
        ckpt = load_checkpoint(path)
    except (pickle.UnpicklingError, ValueError, EOFError):
        generator = StyledGenerator()
        convert.load_torch_checkpoint(path, g_running=generator)
        return generator, None
    cfg = ckpt["config"]
    generator = StyledGenerator(code_dim=cfg["code_size"], n_mlp=cfg["n_mlp"], max_size=cfg["max_size"],
                                channel_base=cfg["channel_base"], max_channels=cfg["max_channels"],
                                image_channels=cfg["channels"])
    convert.load_state(generator, ckpt["g_running"])
    return generator, ckpt["progress"]["step"]


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
    real images and ``iteration_inputs``; returns (d_loss, g_loss, penalty) as Vars."""
    real = jt.array(real)
    b = real.shape[0]
    (gen_in1, gen_in2), (noise1, noise2) = ([[jt.array(a) for a in arrays] for arrays in inputs[key]]
                                            for key in ("latents", "noise"))
    fake = G(gen_in1, noise=noise1, step=step, alpha=alpha).detach()
    if loss == "wgan-gp":
        real_scores = D(real, step=step, alpha=alpha)
        real_loss = -(real_scores.mean() - 0.001 * (real_scores * real_scores).mean())
        fake_loss = D(fake, step=step, alpha=alpha).mean()
        eps = jt.array(inputs["eps"])
        x_hat = eps * real + (1 - eps) * fake
        grad = jt.grad(D(x_hat, step=step, alpha=alpha).sum(), x_hat, retain_graph=True)
        norm = jt.sqrt((grad * grad).reshape(b, -1).sum(1))
        penalty = 10 * ((norm - 1) ** 2).mean()
    else:  # r1
        real_scores = D(real, step=step, alpha=alpha)
        real_loss = jt.nn.softplus(-real_scores).mean()
        grad = jt.grad(real_scores.sum(), real, retain_graph=True)
        penalty = 10 / 2 * (grad * grad).reshape(b, -1).sum(1).mean()
        fake_loss = jt.nn.softplus(D(fake, step=step, alpha=alpha)).mean()
    d_loss = real_loss + fake_loss + penalty
    d_opt.step(d_loss)

    scores = D(G(gen_in2, noise=noise2, step=step, alpha=alpha), step=step, alpha=alpha)
    g_loss = -scores.mean() if loss == "wgan-gp" else jt.nn.softplus(-scores).mean()
    g_opt.step(g_loss)
    accumulate(g_running, G, ema_decay)
    return d_loss, g_loss, penalty


def generator_for_size(path, size):
    """(EMA generator, step) of a checkpoint for sampling at ``size`` px; a size the
    checkpoint cannot produce (not a power of two, beyond its networks or beyond what
    it was trained to) is a ValueError."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    generator, trained_step = generator_from_checkpoint(path)
    max_size = generator.config["max_size"]
    step = int(math.log2(size)) - 2 if size >= 4 else -1
    if size < 4 or 4 * 2 ** step != size or size > max_size:
        raise ValueError(f"--size {size} does not match the checkpoint (powers of two up to {max_size})")
    if trained_step is not None and step > trained_step:
        raise ValueError(f"the checkpoint was trained up to {4 * 2 ** trained_step} px; --size {size} "
                         "has untrained layers")
    return generator, step


class Trainer:
    """One training run in ``cfg["run_dir"]``: samples/, checkpoint/, log.csv."""

    def __init__(self, cfg, resume=None):
        self.cfg = cfg
        self.dataset = MultiResolutionDataset(cfg["path"])
        self.generator, self.discriminator, self.g_running = build_networks(cfg)
        self.init_step = int(math.log2(cfg["init_size"])) - 2
        self.max_step = int(math.log2(cfg["max_size"])) - 2
        self.progress = {"iteration": 0, "step": self.init_step, "used_sample": 0, "images_seen": 0,
                         "final_progress": False, "sampler": {"epoch": 0, "position": 0}}
        self.g_opt, self.d_opt = make_optimizers(self.generator, self.discriminator, cfg["lr"])
        if resume is not None:
            self._restore(resume)
        for size in (self.resolution, 4 * 2 ** self.max_step):
            if not self.dataset.has_size(size):
                raise ValueError(f"{cfg['path']} has no {size}px images; prepare it with --max_size >= {size}")
        for sub in ("sample", "checkpoint"):
            os.makedirs(os.path.join(cfg["run_dir"], sub), exist_ok=True)
        self.sample_z = jt.array(np.random.default_rng([cfg["seed"], 1]).standard_normal(
            (cfg["sample_rows"] * cfg["sample_cols"], cfg["code_size"])).astype(np.float32))
        self._new_sampler(**self.progress["sampler"])
        self.metrics = scoring.parse_metrics(cfg["metrics"]) if cfg.get("metrics") else []
        self._inception = None
        set_lr(self.g_opt, schedule(cfg, self.resolution)[1])
        set_lr(self.d_opt, schedule(cfg, self.resolution)[1])

    @property
    def resolution(self):
        return 4 * 2 ** self.progress["step"]

    def _new_sampler(self, epoch=0, position=0):
        batch = schedule(self.cfg, self.resolution)[0]
        self.sampler = BatchSampler(len(self.dataset), batch, self.cfg["seed"], self.resolution, epoch, position)

    def _restore(self, ckpt):
        for key, net in (("generator", self.generator), ("discriminator", self.discriminator),
                         ("g_running", self.g_running)):
            convert.load_state(net, ckpt[key])
        load_optimizer_state(self.g_opt, ckpt["g_optimizer"])
        load_optimizer_state(self.d_opt, ckpt["d_optimizer"])
        self.progress = dict(ckpt["progress"])

    def alpha(self):
        p = self.progress
        if self.resolution == self.cfg["init_size"] or p["final_progress"]:  # nothing to fade from
            return 1.0
        return min(1.0, (p["used_sample"] + 1) / self.cfg["phase"])

    def checkpoint(self):
        """Write ``checkpoint/<iteration>.model`` atomically and keep the newest ``keep``."""
        p = dict(self.progress, sampler=self.sampler.state())
        ckpt = {"generator": convert.numpy_state(self.generator, with_buffers=False),
                "discriminator": convert.numpy_state(self.discriminator, with_buffers=False),
                "g_running": convert.numpy_state(self.g_running, with_buffers=False),
                "g_optimizer": optimizer_state(self.g_opt), "d_optimizer": optimizer_state(self.d_opt),
                "progress": p, "config": self.cfg}
        folder = os.path.join(self.cfg["run_dir"], "checkpoint")
        path = os.path.join(folder, f"{p['iteration']:06d}.model")
        atomic_pickle(ckpt, path)
        models = sorted(f for f in os.listdir(folder) if f.endswith(".model"))
        for old in models[:-self.cfg["keep"]]:
            os.remove(os.path.join(folder, old))
        return path

    def sample(self):
        step, alpha = self.progress["step"], self.alpha()
        with jt.no_grad():
            images = self.g_running(self.sample_z, step=step, alpha=alpha).numpy()
        path = os.path.join(self.cfg["run_dir"], "sample", f"{self.progress['iteration']:06d}.png")
        save_grid(images, path, n_col=self.cfg["sample_cols"])
        return path

    def measure(self):
        """The configured metrics of the EMA generator against the dataset at the current size
        (SWD is left blank below its minimum image size)."""
        if self._inception is None and {"fid", "kid"} & set(self.metrics):
            from .metrics.inception import InceptionV3
            self._inception = InceptionV3()
        real = scoring.DatasetImages(self.cfg["path"], self.resolution,
                                     min(self.cfg["metrics_images"], len(self.dataset)), channels=self.cfg["channels"])
        fake = scoring.GeneratedImages(self.g_running, self.progress["step"], real.count, self.cfg["code_size"],
                                       seed=self.cfg["seed"], alpha=self.alpha())
        names = [m for m in self.metrics if m != "swd" or self.resolution >= swd.MIN_IMAGE_SIZE]
        results = scoring.evaluate(names, real, fake, show_progress=False, model=self._inception)
        return {name: f"{results[name]:.6g}" if name in results else "" for name in self.metrics}

    def _grow(self):
        """Move to the next resolution once 2 * phase images were seen at this one."""
        p = self.progress
        p["used_sample"] = 0
        if p["step"] + 1 > self.max_step:
            p["final_progress"] = True
        else:
            p["step"] += 1
        self._new_sampler()
        lr = schedule(self.cfg, self.resolution)[1]
        set_lr(self.g_opt, lr)
        set_lr(self.d_opt, lr)

    def train_step(self):
        """One D step (with its penalty) and one G step; returns the logged values."""
        cfg, p = self.cfg, self.progress
        # All randomness comes from numpy, seeded by (seed, iteration), and enters Jittor as
        # arrays: Jittor's lazy random ops draw in execution order, which a resumed process may change.
        seed = [cfg["seed"], p["iteration"]]
        random.seed(hash(tuple(seed)))  # the generator's random crossover points
        step, alpha = p["step"], self.alpha()
        indices, flips = self.sampler.next()
        real = self.dataset.batch(self.resolution, indices, flips).astype(np.float32)
        b = real.shape[0]
        inputs = iteration_inputs(np.random.default_rng(seed), b, cfg["code_size"], step, cfg["mixing"])
        d_loss, g_loss, penalty = train_iteration(self.generator, self.discriminator, self.g_running, self.g_opt,
                                                  self.d_opt, real, inputs, step, alpha, cfg["loss"],
                                                  cfg.get("ema_decay", EMA_DECAY))
        values = {"d_loss": d_loss.item(), "g_loss": g_loss.item(), "penalty": penalty.item()}
        if not all(math.isfinite(v) for v in values.values()):
            raise TrainingStopped(f"non-finite loss at iteration {p['iteration']} ({values}); "
                                  "stopped, the last checkpoint is kept")
        p["used_sample"] += b
        p["images_seen"] += b
        p["iteration"] += 1
        return dict(values, step=step, alpha=alpha, batch=b)

    def run(self, progress_bar=True):
        from tqdm import tqdm

        cfg, p = self.cfg, self.progress
        log_path = os.path.join(cfg["run_dir"], "log.csv")
        new_log = not os.path.exists(log_path)
        fields = ["iteration", "resolution", "alpha", "d_loss", "g_loss", "penalty", "images_seen",
                  "seconds", "images_per_sec"] + self.metrics
        with open(log_path, "a", newline="") as log_file, \
                tqdm(initial=p["iteration"], total=cfg["iterations"], disable=not progress_bar,
                     dynamic_ncols=True) as bar:
            log = csv.DictWriter(log_file, fieldnames=fields)
            if new_log:
                log.writeheader()
            last_ckpt = p["iteration"]
            try:
                while p["iteration"] < cfg["iterations"]:
                    if p["used_sample"] > cfg["phase"] * 2 and not p["final_progress"]:
                        self._grow()
                        self.checkpoint()
                    start = time.time()
                    values = self.train_step()
                    seconds = time.time() - start
                    row = {"iteration": p["iteration"], "resolution": self.resolution,
                           "alpha": round(values["alpha"], 5), "d_loss": f"{values['d_loss']:.5f}",
                           "g_loss": f"{values['g_loss']:.5f}", "penalty": f"{values['penalty']:.5f}",
                           "images_seen": p["images_seen"], "seconds": f"{seconds:.3f}",
                           "images_per_sec": f"{values['batch'] / seconds:.2f}"}
                    if self.metrics and p["iteration"] % cfg["metrics_every"] == 0:
                        row.update(self.measure())
                        bar.write(f"iteration {p['iteration']} ({self.resolution}px): "
                                  + ", ".join(f"{k} {row[k]}" for k in self.metrics))
                    log.writerow(row)
                    log_file.flush()
                    bar.set_description(f"{self.resolution}px a={values['alpha']:.2f} D={values['d_loss']:.3f} "
                                        f"G={values['g_loss']:.3f} {row['images_per_sec']} img/s")
                    bar.update(1)
                    if p["iteration"] % cfg["sample_every"] == 0:
                        self.sample()
                    if p["iteration"] % cfg["ckpt_every"] == 0:
                        self.checkpoint()
                        last_ckpt = p["iteration"]
            except KeyboardInterrupt:
                if p["iteration"] > last_ckpt:
                    bar.write(f"interrupted: saved {self.checkpoint()}")
                raise
        if p["iteration"] > last_ckpt:
            self.checkpoint()
        self.sample()
        return self.progress


def latest_checkpoint(folder):
    models = sorted(f for f in os.listdir(folder) if f.endswith(".model"))
    if not models:
        raise FileNotFoundError(f"no checkpoints in {folder}")
    return os.path.join(folder, models[-1])
