"""StyleGAN 2 training (rosinality's ``stylegan2-pytorch`` ``train.py``).

Per iteration: D's main update (non-saturating logistic loss, or WGAN-GP), lazy R1 every
``d_reg_every`` iterations (weight ``r1 / 2 * d_reg_every``), G's main update, lazy path-length
regularization every ``g_reg_every`` iterations on ``batch // path_batch_shrink`` images
(weight ``path_regularize * g_reg_every``), and the EMA update. Adam's lr and betas are
scaled by the lazy-regularization ratio ``every / (every + 1)``. Style mixing draws two
latents with probability 0.9 and a crossover index.

``fp16_res`` N > 0 trains as NVIDIA's stylegan2-ada-pytorch: G's and D's N highest resolutions run in
float16 (weights and Adam's state stay float32), every convolution's output is clamped to +-256 and
gradients are made finite before Adam's update. The EMA generator (samples, metrics) stays float32.

``--cond 1`` trains NVIDIA's class-conditional networks: reals come with their one-hot labels, each fake's label is
drawn as often as the data has it, and R1 and path length take the labels as NVIDIA's loss does.
"""
import jittor as jt
import numpy as np

from .. import distributed
from ..families import StyleGAN2Networks
from ..models.stylegan2 import STDDEV_GROUP, fp16_resolution
from . import ada, losses, optim, settings
from .family import ADAM_BETAS, GANFamily, as_float

LOSSES = settings.FAMILIES["stylegan2"].losses
SAMPLER_LABELS = 4096  # a conditional run's sampler: the length of its drawn sequence of classes


class StyleGAN2(StyleGAN2Networks, GANFamily):
    """StyleGAN 2 for the training loop: main and lazy-regularization phases of D and G."""

    share_group = STDDEV_GROUP  # D's minibatch stddev couples these samples
    log_fields = ("d_loss", "g_loss", "r1", "path_penalty", "path_length", "mean_path_length") + ada.LOG_FIELDS

    def __init__(self, cfg):
        if cfg["loss"] not in LOSSES:
            raise ValueError(f"--loss {cfg['loss']} is not a StyleGAN 2 loss; choose from {LOSSES}")
        super().__init__(cfg)
        self._path = None
        for net in (self.G, self.D):
            net.use_fp16(self.setting("fp16_res"))

    def build_optimizers(self):
        """Adam for G and D with lr and betas scaled by each one's lazy-regularization ratio."""
        def adam(net, every):
            ratio = every / (every + 1)
            return optim.adam([(net.parameters(), 1)], self.cfg["lr"] * ratio, tuple(b ** ratio for b in ADAM_BETAS),
                              finite=self.setting("fp16_res") > 0)

        return adam(self.G, self.cfg["g_reg_every"]), adam(self.D, self.cfg["d_reg_every"])

    def initial_progress(self):
        return {"mean_path_length": 0.0}

    def frozen_layers(self):
        """D's first ``freezed`` layers from its input (fromrgb, then each block's conv1, conv2, skip), as
        NVIDIA's ``--freezed`` (``freeze_layers``) counts them; its last layers are never frozen."""
        layers = [self.D.convs[0]] + [getattr(block, name) for block in list(self.D.convs)[1:]
                                      for name in ("conv1", "conv2", "skip") if hasattr(block, name)]
        return layers[:self.setting("freezed")]

    def trainable(self, phase):
        """D's phases leave its frozen layers alone."""
        frozen = {id(p) for layer in self.frozen_layers() for p in layer.parameters()}
        if not phase.startswith("d") or not frozen:
            return None
        return [p for p in self.D.parameters() if id(p) not in frozen]

    @property
    def resolution(self):
        return self.cfg["max_size"]

    @property
    def sizes_needed(self):
        return (self.resolution,)

    @property
    def batch_size(self):
        return self.cfg["batch_default"]

    def check_split(self):
        """Also the path-length batch."""
        super().check_split()
        if self.cfg["path_regularize"] > 0:
            self._path_share()

    def _path_share(self):
        """(global path-length batch, this process's share): G alone, so any split works."""
        pb = max(1, self.batch_size // self.cfg["path_batch_shrink"])
        return pb, distributed.share(pb, what="the path-length batch (--batch_default / --path_batch_shrink)")

    def _styles(self, rng, batch, mine):
        """{z, noise, inject[, c]}: latents (two with p = 0.9 under --mixing), noise maps, crossover index
        [and one-hot labels of a conditional run] for ``batch`` images, of which this process keeps ``mine``."""
        n = self.mixing_count(rng)
        z = [rng.standard_normal((batch, self.G.style_dim), dtype=np.float32)[mine] for _ in range(n)]
        noise = [rng.standard_normal((batch, 1, s, s), dtype=np.float32)[mine] for s in self.G.noise_sizes()]
        inject = int(rng.integers(1, self.G.n_latent)) if n == 2 else None
        styles = {"z": z, "noise": noise, "inject": inject}
        if self.c_dim:
            styles["c"] = self.draw_labels(rng, batch, mine)
        return styles

    def draw_inputs(self, rng, batch, mine, iteration):
        inputs = {"d": self._styles(rng, batch, mine), "eps": rng.random((batch, 1, 1, 1), dtype=np.float32)[mine]}
        inputs["g"] = self._styles(rng, batch, mine)
        if self.due("g_reg", iteration):
            pb, path_mine = self._path_share()
            inputs["path"] = self._styles(rng, pb, path_mine)
            inputs["path_noise"] = rng.standard_normal((pb, self.cfg["channels"], self.resolution, self.resolution),
                                                       dtype=np.float32)[path_mine]
        return inputs

    def due(self, phase, iteration):
        cfg = self.cfg
        if phase == "d_reg":
            return cfg["loss"] == "nonsaturating" and cfg["r1"] > 0 and iteration % cfg["d_reg_every"] == 0
        if phase == "g_reg":
            return cfg["path_regularize"] > 0 and iteration % cfg["g_reg_every"] == 0
        return True

    def score(self, images, labels=None):
        return self.D(images, None if labels is None else jt.array(labels))

    def _synthesize(self, styles, return_latents=False):
        labels = styles.get("c")
        return self.G([jt.array(a) for a in styles["z"]], noise=[jt.array(a) for a in styles["noise"]],
                      inject_index=styles["inject"], randomize_noise=False, return_latents=return_latents,
                      labels=None if labels is None else jt.array(labels))

    def d_main(self, real, inputs):
        real, real_c = jt.array(real), inputs.get("real_c")
        fake = self._synthesize(inputs["d"])[0].detach()
        loss = losses.d_loss(self.cfg["loss"], self.discriminate(real, real=True, labels=real_c),
                             self.discriminate(fake, labels=inputs["d"].get("c")))
        if self.cfg["loss"] == "wgan-gp":
            loss = loss + losses.WGAN_GP_WEIGHT * losses.gradient_penalty(
                lambda x: self.discriminate(x, labels=real_c), real, fake, jt.array(inputs["eps"]))
        return loss

    def _r1_weight(self):
        return self.cfg["r1"] / 2 * self.cfg["d_reg_every"]

    def d_reg(self, real, inputs):
        real = jt.array(real)
        real_pred = self.discriminate(real, real=True, labels=inputs.get("real_c"))
        # + 0 * score, as the reference: the last biases take no part in R1; this hands them
        # an explicit zero gradient instead of leaving Jittor to warn about each
        return losses.r1_penalty(real_pred, real) * self._r1_weight() + 0 * real_pred[0, 0]

    def g_main(self, real, inputs):
        return losses.g_loss(self.cfg["loss"], self.discriminate(self._synthesize(inputs["g"])[0],
                                                                 labels=inputs["g"].get("c")))

    def g_reg(self, real, inputs):
        fake, latents = self._synthesize(inputs["path"], return_latents=True)
        self._path = losses.path_length_penalty(fake, latents, self.progress["mean_path_length"],
                                                jt.array(inputs["path_noise"]))
        # + 0 * pixel, as the reference: ToRGB biases take no part in the penalty (see R1 above)
        return self._path[0] * (self.cfg["path_regularize"] * self.cfg["g_reg_every"]) + 0 * fake[0, 0, 0, 0]

    def logged(self, phase_losses, batch):
        values = dict.fromkeys(self.log_fields)
        values.update(d_loss=phase_losses["d_main"], g_loss=phase_losses["g_main"])
        if "d_reg" in phase_losses:
            values["r1"] = as_float(phase_losses["d_reg"]) / self._r1_weight()
        if "g_reg" in phase_losses:
            penalty, path_mean, lengths = self._path
            values.update(path_penalty=penalty.item(), path_length=lengths.mean().item())
            self.progress["mean_path_length"] = path_mean.item()
        values["mean_path_length"] = self.progress["mean_path_length"]
        return values

    def plan(self):
        """What this run will train, in words (the first sentence of the plan paragraph)."""
        cfg = self.cfg
        widths = {int(s): w for s, w in self.network_args(cfg)["g"]["channels"].items()}
        return (f"StyleGAN 2 at {self.resolution} px, widths {widths[4]} at 4 px to {widths[self.resolution]} at "
                f"{self.resolution} px, latent {cfg['code_size']}, mapping depth {cfg['n_mlp']}, batch "
                f"{cfg['batch_default']}, lr {cfg['lr']:g}, {cfg['loss']} loss, R1 {cfg['r1']:g} every "
                f"{cfg['d_reg_every']}, path length {cfg['path_regularize']:g} every {cfg['g_reg_every']}"
                + (f", started from {cfg['resume']}" if cfg.get("resume") else "")
                + (f", D's first {cfg['freezed']} layers frozen" if cfg.get("freezed") else "")
                + (f", float16 from {fp16_resolution(self.resolution, cfg['fp16_res'])} px" if cfg.get("fp16_res")
                   else "")
                + (f", conditional on {cfg['c_dim']} classes" if self.c_dim else "")
                + f", {self.augmentation.describe()}")

    def describe(self, values):
        return f"{self.resolution}px D={values['d_loss']:.3f} G={values['g_loss']:.3f}"

    def sampler(self):
        """A conditional run's sampler gives its images classes as frequent as in the data (a fixed draw)."""
        from ..sampling import Sampler
        labels = self.draw_classes(np.random.default_rng([self.cfg["seed"], 3]), SAMPLER_LABELS) if self.c_dim else None
        return Sampler(self.G_ema, self.resolution, labels=labels)


FAMILY = StyleGAN2
