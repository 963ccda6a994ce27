"""StyleGAN 2 training (rosinality's ``stylegan2-pytorch`` ``train.py``).

Per iteration: a D step (non-saturating logistic loss, or WGAN-GP), lazy R1 every
``d_reg_every`` iterations (weight ``r1 / 2 * d_reg_every``), a G step, lazy path-length
regularization every ``g_reg_every`` iterations on ``batch // path_batch_shrink`` images
(weight ``path_regularize * g_reg_every``), and the EMA update. Adam's lr and betas are
scaled by the lazy-regularization ratio ``every / (every + 1)``. Style mixing draws two
latents with probability 0.9 and a crossover index. ``grad_accum`` splits each step's batch
into that many micro-batches whose gradients are summed before the update.
"""
import numpy as np

import jittor as jt

from .. import distributed
from ..models.stylegan2 import STDDEV_GROUP, Discriminator, Generator, reference_channels
from . import losses, optim

ADAM_BETAS = (0.0, 0.99)
EMA_DECAY = 0.5 ** (32 / (10 * 1000))
MIXING_PROB = 0.9
LOSSES = losses.LOSSES


def network_args(cfg):
    """(Generator kwargs, Discriminator kwargs) of a config: rosinality's widths for the
    channel multiplier, capped at ``max_channels``."""
    channels = {s: min(w, cfg["max_channels"]) for s, w in reference_channels(cfg["channel_multiplier"]).items()}
    common = dict(size=cfg["max_size"], image_channels=cfg["channels"], channels=channels,
                  channel_multiplier=cfg["channel_multiplier"])
    return dict(common, style_dim=cfg["code_size"], n_mlp=cfg["n_mlp"]), common


EMA_KEY = "g_ema"


def ema_generator(cfg):
    """A generator shaped like the EMA generator of a run with this config."""
    return Generator(**network_args(cfg)[0])


def build_networks(cfg):
    """G, D and the EMA copy of G, initialized from ``cfg["seed"]``."""
    optim.seed_init(cfg["seed"])
    g_args, d_args = network_args(cfg)
    generator, discriminator, g_ema = Generator(**g_args), Discriminator(**d_args), Generator(**g_args)
    optim.materialize(generator, discriminator)
    optim.copy_params(g_ema, generator)
    return generator, discriminator, g_ema


def make_optimizers(generator, discriminator, cfg):
    """Adam for G and D with lr and betas scaled by each one's lazy-regularization ratio."""
    def adam(net, every):
        ratio = every / (every + 1)
        return optim.adam([(net.parameters(), 1)], cfg["lr"] * ratio, tuple(b ** ratio for b in ADAM_BETAS))

    return adam(generator, cfg["g_reg_every"]), adam(discriminator, cfg["d_reg_every"])


class Inputs:
    """The random inputs of one iteration, drawn in a fixed order from a seeded numpy generator."""

    def __init__(self, rng, generator, mixing):
        self.rng, self.g, self.mixing = rng, generator, mixing
        self.noise_sizes = [n.shape[-1] for n in generator.make_noise()]

    def styles(self, batch, mine):
        """(latents, noise maps, inject_index) for ``batch`` images, mixing with p = 0.9, of which
        this process keeps the samples ``mine`` (every process draws the whole batch)."""
        n = 2 if self.mixing and self.rng.random() < MIXING_PROB else 1
        z = [self.rng.standard_normal((batch, self.g.style_dim), dtype=np.float32)[mine] for _ in range(n)]
        noise = [self.rng.standard_normal((batch, 1, s, s), dtype=np.float32)[mine] for s in self.noise_sizes]
        inject = int(self.rng.integers(1, self.g.n_latent)) if n == 2 else None
        return z, noise, inject


def _chunks(arrays, parts):
    """Split each array (or list of arrays) of a batch into ``parts`` micro-batches."""
    def split(a):
        return np.split(a, parts) if isinstance(a, np.ndarray) else [list(x) for x in zip(*(split(b) for b in a))]
    return split(arrays)


def _synthesize(G, z, noise, inject, return_latents=False):
    return G([jt.array(a) for a in z], noise=[jt.array(a) for a in noise], inject_index=inject,
             randomize_noise=False, return_latents=return_latents)


class Family:
    """StyleGAN 2 for the training loop: networks, optimizers, lazy regularization, one iteration."""

    arch = "stylegan2"
    log_fields = ("d_loss", "g_loss", "r1", "path_penalty", "path_length", "mean_path_length")

    def __init__(self, cfg):
        if cfg["loss"] not in LOSSES:
            raise ValueError(f"--loss {cfg['loss']} is not a StyleGAN 2 loss; choose from {LOSSES}")
        if cfg["batch_default"] % cfg["grad_accum"]:
            raise ValueError(f"--batch_default {cfg['batch_default']} does not split into --grad_accum "
                             f"{cfg['grad_accum']} equal micro-batches")
        self.cfg = cfg
        self.g, self.d, self.g_ema = build_networks(cfg)
        self.g_optim, self.d_optim = make_optimizers(self.g, self.d, cfg)
        self.progress = {"mean_path_length": 0.0}
        self.latent_dim = cfg["code_size"]
        self.resolution = cfg["max_size"]
        self.sizes_needed = (self.resolution,)
        self.batch_size = cfg["batch_default"]

    def networks(self):
        return {"g": self.g, "d": self.d, "g_ema": self.g_ema}

    def optimizers(self):
        return {"g_optim": self.g_optim, "d_optim": self.d_optim}

    def restored(self, progress):
        self.progress = {"mean_path_length": float(progress["mean_path_length"])}

    def advance(self):
        return False

    def _accumulated(self, optimizer, parts, loss_of):
        """One optimizer update from the summed gradients of ``loss_of(i) / parts`` over micro-batches;
        returns the mean loss (a float)."""
        total, n_step = 0.0, optimizer.n_step
        for i in range(parts):
            loss = loss_of(i) / parts
            optimizer.backward(loss)
            total += loss.item()
        optimizer.n_step = n_step + 1  # Jittor counts every backward as a step; this is one update
        optimizer.step()
        return total

    def share(self, batch):
        """This process's share of a global batch: in every micro-batch, whole minibatch-stddev groups
        (see ``distributed.share``), so that D sees the same groups as in one process."""
        return distributed.share(batch, STDDEV_GROUP, self.cfg["grad_accum"], what="--batch_default")

    def check_split(self):
        """Fail before training when a batch does not split across the processes."""
        self.share(self.batch_size)
        if self.cfg["path_regularize"] > 0:
            self._path_share()

    def _path_share(self):
        """(global path-length batch, this process's share): G alone, so any split works."""
        pb = max(1, self.batch_size // self.cfg["path_batch_shrink"])
        return pb, distributed.share(pb, what="the path-length batch (--batch_default / --path_batch_shrink)")

    def train_step(self, real, seed):
        """One iteration on this process's share of a global batch of real images, with the
        randomness of the global batch from ``seed``; returns the logged values."""
        cfg, G, D = self.cfg, self.g, self.d
        iteration, parts = seed[1], cfg["grad_accum"]
        kind = cfg["loss"]
        inputs = Inputs(np.random.default_rng(seed), G, cfg["mixing"])
        b = real.shape[0] * distributed.world_size()
        mine = self.share(b)
        reals = _chunks(real, parts)
        values = dict.fromkeys(self.log_fields)

        z, noise, inject = inputs.styles(b, mine)
        zs, noises = _chunks(z, parts), _chunks(noise, parts)
        eps = _chunks(inputs.rng.random((b, 1, 1, 1), dtype=np.float32)[mine], parts)

        def d_loss(i):
            real_i = jt.array(reals[i])
            fake = _synthesize(G, zs[i], noises[i], inject)[0].detach()
            loss = losses.d_loss(kind, D(real_i), D(fake))
            if kind == "wgan-gp":
                loss = loss + losses.WGAN_GP_WEIGHT * losses.gradient_penalty(D, real_i, fake, jt.array(eps[i]))
            return loss

        values["d_loss"] = self._accumulated(self.d_optim, parts, d_loss)

        if kind == "nonsaturating" and cfg["r1"] > 0 and iteration % cfg["d_reg_every"] == 0:
            def r1_loss(i):
                real_i = jt.array(reals[i])
                real_pred = D(real_i)
                # + 0 * score, as the reference: the last biases take no part in R1; this hands them
                # an explicit zero gradient instead of leaving Jittor to warn about each
                return (losses.r1_penalty(real_pred, real_i) * (cfg["r1"] / 2 * cfg["d_reg_every"])
                        + 0 * real_pred[0, 0])

            values["r1"] = self._accumulated(self.d_optim, parts, r1_loss) / (cfg["r1"] / 2 * cfg["d_reg_every"])

        z, noise, inject = inputs.styles(b, mine)
        zs, noises = _chunks(z, parts), _chunks(noise, parts)
        values["g_loss"] = self._accumulated(
            self.g_optim, parts, lambda i: losses.g_loss(kind, D(_synthesize(G, zs[i], noises[i], inject)[0])))

        if cfg["path_regularize"] > 0 and iteration % cfg["g_reg_every"] == 0:
            pb, path_mine = self._path_share()
            z, noise, inject = inputs.styles(pb, path_mine)
            path_noise = inputs.rng.standard_normal((pb, cfg["channels"], self.resolution, self.resolution),
                                                    dtype=np.float32)[path_mine]
            fake, latents = _synthesize(G, z, noise, inject, return_latents=True)
            penalty, path_mean, lengths = losses.path_length_penalty(fake, latents, self.progress["mean_path_length"],
                                                                     jt.array(path_noise))
            # + 0 * pixel, as the reference: ToRGB biases take no part in the penalty (see R1 above)
            self.g_optim.step(penalty * (cfg["path_regularize"] * cfg["g_reg_every"]) + 0 * fake[0, 0, 0, 0])
            values.update(path_penalty=penalty.item(), path_length=lengths.mean().item())
            self.progress["mean_path_length"] = path_mean.item()
        values["mean_path_length"] = self.progress["mean_path_length"]
        optim.accumulate(self.g_ema, G, cfg.get("ema_decay", EMA_DECAY))
        return values

    def plan(self):
        """What this run will train, in words (the first sentence of the plan paragraph)."""
        cfg, widths = self.cfg, network_args(self.cfg)[0]["channels"]
        return (f"StyleGAN 2 at {self.resolution} px, widths {widths[4]} at 4 px to {widths[self.resolution]} at "
                f"{self.resolution} px, latent {cfg['code_size']}, mapping depth {cfg['n_mlp']}, batch "
                f"{cfg['batch_default']}, lr {cfg['lr']:g}, {cfg['loss']} loss, R1 {cfg['r1']:g} every "
                f"{cfg['d_reg_every']}, path length {cfg['path_regularize']:g} every {cfg['g_reg_every']}")

    def describe(self, values):
        return f"{self.resolution}px D={values['d_loss']:.3f} G={values['g_loss']:.3f}"

    def sampler(self):
        from ..sampling import Sampler
        return Sampler(self.g_ema, self.arch)
