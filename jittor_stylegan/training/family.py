"""The contract between the training loop and a model family (``Family``), and the base both families
build on (``GANFamily``).

``loop.Trainer`` is written against ``Family`` alone. A family is one module under ``training/`` with one
``GANFamily`` subclass of its networks' entry in ``jittor_stylegan.families`` (checkpoint keys, networks,
constructor arguments), which writes only what is its own in training: its optimizers, its schedule, the
random inputs of an iteration and its phases in NVIDIA's split (``d_main``, ``d_reg``, ``g_main``, ``g_reg``),
each of which calls D through ``discriminate``, the one place where D's inputs are augmented (``ada``).
"""
import abc
import contextlib

import jittor as jt
import numpy as np

from .. import convert, distributed
from . import ada, optim, settings

ADAM_BETAS = (0.0, 0.99)
MIXING_PROB = 0.9  # style mixing: two latents with this probability
PHASES = ("d_main", "d_reg", "g_main", "g_reg")  # in the order of an iteration


class Family(abc.ABC):
    """What the training loop needs of a model family, member by member.

    Class attributes:
        arch: the family's name (``--arch``, and ``arch`` in its checkpoints).
        log_fields: the family's ``log.csv`` columns, in order (the loop adds iteration, images and times).
    """

    arch = None
    log_fields = ()

    @abc.abstractmethod
    def networks(self):
        """{checkpoint key: network}: every network a checkpoint holds (G, D and the EMA generator)."""

    @abc.abstractmethod
    def optimizers(self):
        """{checkpoint key: optimizer} of G and D."""

    @classmethod
    @abc.abstractmethod
    def network_args(cls, cfg):
        """{checkpoint key: constructor arguments} of every network of a run with config ``cfg``."""

    @property
    @abc.abstractmethod
    def progress(self):
        """JSON-able dict of the family's training state beyond its weights (kept in checkpoints)."""

    @abc.abstractmethod
    def restored(self, progress):
        """Take over the family's part of a checkpoint's progress (after its weights were loaded)."""

    @property
    @abc.abstractmethod
    def resolution(self):
        """The image size trained now (the data's size for this iteration)."""

    @property
    @abc.abstractmethod
    def sizes_needed(self):
        """Every image size the run will read from the dataset."""

    @property
    @abc.abstractmethod
    def batch_size(self):
        """The global batch of the next iteration."""

    @property
    @abc.abstractmethod
    def latent_dim(self):
        """Size of a latent z."""

    @property
    @abc.abstractmethod
    def c_dim(self):
        """The number of classes of a conditional run (``--cond 1``; the loop hands ``train_step`` the reals'
        labels), else 0."""

    @abc.abstractmethod
    def advance(self):
        """Move the schedule on before an iteration; True when the resolution (so the data) changed."""

    @abc.abstractmethod
    def share(self, batch):
        """Indices of this process's share of a global batch of ``batch`` samples (``distributed.share``)."""

    @abc.abstractmethod
    def check_split(self):
        """Raise ValueError now when a batch still to come does not split across the processes."""

    @abc.abstractmethod
    def train_step(self, real, iteration, labels=None):
        """One iteration on this process's share ``real`` (numpy) of the global batch, of class indices ``labels``
        (a conditional run's; else None); every random input from (seed, iteration). Returns {log field: float,
        int or None (not computed this time)}."""

    @abc.abstractmethod
    def plan(self):
        """What the run will train, in words (the first sentence of the paragraph said before training)."""

    @abc.abstractmethod
    def describe(self, values):
        """A short progress-bar text of one iteration's values."""

    @abc.abstractmethod
    def sampler(self):
        """A ``sampling.Sampler`` of the EMA generator at the current resolution."""


def micro_batch(tree, parts, i):
    """Micro-batch ``i`` of ``parts`` of every array in ``tree`` (dicts and lists of arrays; anything
    else passes through)."""
    if isinstance(tree, np.ndarray):
        return np.split(tree, parts)[i] if parts > 1 else tree
    if isinstance(tree, dict):
        return {k: micro_batch(v, parts, i) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [micro_batch(a, parts, i) for a in tree]
    return tree


def as_float(value):
    return value.item() if isinstance(value, jt.Var) else value


class GANFamily(Family):
    """What both families share: networks and optimizers from one key table (``KEYS``), seeded
    initialization, the EMA, an iteration's random inputs drawn from numpy seeded by (seed, iteration),
    the phases run in order with gradient accumulation (``grad_accum`` micro-batches per update), D's
    inputs augmented (``--aug``, ``ada``), and the logged values as floats.

    A subclass builds on its networks' entry in ``jittor_stylegan.families`` (``arch``, ``KEYS``, ``Generator``,
    ``Discriminator``, ``network_args``), sets ``log_fields``, ``share_group`` and, when its reference builds
    them in another order, ``BUILD_ORDER``; its settings are its ``settings.FAMILIES`` entry. It writes
    ``build_optimizers``, ``initial_progress``, the schedule properties, ``draw_inputs``, ``score``,
    ``logged``, ``plan``, ``describe``, ``sampler`` and its phases: ``d_main`` and ``g_main``, and ``d_reg`` /
    ``g_reg`` where it has lazy regularizers (run where ``due``), each ``phase(real, inputs)`` returning the
    loss of one micro-batch (``real`` and ``inputs`` cut to it).
    """

    BUILD_ORDER = ("generator", "discriminator", "ema")  # the initial weights depend on it
    share_group = 1  # samples D couples (minibatch stddev groups): each process's share holds whole groups

    def __init__(self, cfg):
        self.cfg = cfg
        self.parts = self.setting("grad_accum")
        if cfg["batch_default"] % self.parts:
            raise ValueError(f"--batch_default {cfg['batch_default']} does not split into --grad_accum "
                             f"{self.parts} equal micro-batches")
        args = self.network_args(cfg)
        optim.seed_init(cfg["seed"])  # weights depend on the seed alone
        nets = {role: (self.Discriminator if role == "discriminator" else self.Generator)(**args[self.KEYS[role]])
                for role in self.BUILD_ORDER}
        self.G, self.D, self.G_ema = nets["generator"], nets["discriminator"], nets["ema"]
        optim.materialize(self.G, self.D)
        optim.copy_params(self.G_ema, self.G)
        self.G_opt, self.D_opt = self.build_optimizers()
        self.augmentation = ada.Augmentation(cfg)
        self._progress = {**self.initial_progress(), **self.augmentation.initial_progress()}

    def start_from(self, states):
        """Take over trained networks' weights ({checkpoint key: state}, e.g. from ``nvidia.networks``)."""
        for key, net in self.networks().items():
            convert.load_state(net, states[key])

    def setting(self, name):
        """A setting of the run: its config's, else (a config of an older version) the family's default."""
        return self.cfg.get(name, settings.default(self.arch, name))

    # -- what a family writes

    @abc.abstractmethod
    def build_optimizers(self):
        """(G's optimizer, D's optimizer)."""

    @abc.abstractmethod
    def initial_progress(self):
        """The family's progress at iteration 0."""

    @abc.abstractmethod
    def draw_inputs(self, rng, batch, mine, iteration):
        """Every random input of one iteration for a global batch of ``batch``, drawn from ``rng`` in a
        fixed order, of which this process keeps the samples ``mine``."""

    @abc.abstractmethod
    def score(self, images, labels=None):
        """D's scores of ``images`` (of one-hot ``labels`` in a conditional run) as D sees them (the phases call
        ``discriminate``, which augments)."""

    def due(self, phase, iteration):
        """Whether ``phase`` runs at ``iteration`` (default: the main phases, every iteration)."""
        return phase in ("d_main", "g_main")

    def phase_parts(self, phase):
        """Micro-batches of a phase's update: ``grad_accum``, except for G's regularizer, whose batch
        is its own."""
        return 1 if phase == "g_reg" else self.parts

    def trainable(self, phase):
        """The parameters a phase's optimizer may update (None: all of them)."""
        return None

    @abc.abstractmethod
    def logged(self, losses, batch):
        """{log field: value} from the phases' losses ({phase: loss of its update}); the place to
        update the family's progress after an iteration of ``batch`` images."""

    # -- the contract, shared

    @property
    def progress(self):
        return self._progress

    def networks(self):
        return {self.KEYS["generator"]: self.G, self.KEYS["discriminator"]: self.D, self.KEYS["ema"]: self.G_ema}

    def optimizers(self):
        return {self.KEYS["g_optimizer"]: self.G_opt, self.KEYS["d_optimizer"]: self.D_opt}

    def restored(self, progress):
        self._progress = {k: progress[k] if k in progress or k not in ada.PROGRESS_KEYS else v
                          for k, v in self._progress.items()}

    def discriminate(self, images, real=False, labels=None):
        """D's scores of ``images`` (of one-hot ``labels``) augmented (``--aug``): the one place where the phases
        call D; the scores of ``real`` images feed ADA's statistic."""
        scores = self.score(self.augmentation(images, self._progress), labels)
        if real:
            self.augmentation.observe(scores)
        return scores

    @property
    def latent_dim(self):
        return self.cfg["code_size"]

    def advance(self):
        return False

    def share(self, batch):
        return distributed.share(batch, self.share_group, self.parts, what="--batch_default")

    def check_split(self):
        self.share(self.batch_size)

    @property
    def c_dim(self):
        return self.cfg.get("c_dim", 0)

    def one_hot(self, labels):
        """float32 (N, c_dim) of class indices."""
        return np.eye(self.c_dim, dtype=np.float32)[np.asarray(labels)]

    def draw_classes(self, rng, n):
        """``n`` class indices as frequent as in the data (NVIDIA draws fakes' labels from the training set)."""
        counts = np.asarray(self.cfg["class_counts"], np.float64)
        return rng.choice(self.c_dim, size=n, p=counts / counts.sum())

    def draw_labels(self, rng, batch, mine):
        """One-hot ``draw_classes`` of ``batch`` fakes, of which this process keeps ``mine``."""
        return self.one_hot(self.draw_classes(rng, batch))[mine]

    def train_step(self, real, iteration, labels=None):
        batch = real.shape[0] * distributed.world_size()
        mine = self.share(batch)
        # All randomness comes from numpy, seeded by (seed, iteration), and enters Jittor as arrays:
        # Jittor's lazy random ops draw in execution order, which a resumed process may change.
        inputs = self.draw_inputs(np.random.default_rng([self.cfg["seed"], iteration]), batch, mine, iteration)
        if labels is not None:
            inputs["real_c"] = self.one_hot(labels)
        self.augmentation.begin(iteration, batch)
        losses = {}
        for phase in PHASES:
            if self.due(phase, iteration):
                parts = self.phase_parts(phase)
                optimizer = self.D_opt if phase.startswith("d") else self.G_opt

                def loss_of(i):
                    self.augmentation.select(micro_batch(mine, parts, i))
                    return getattr(self, phase)(micro_batch(real, parts, i), micro_batch(inputs, parts, i))

                losses[phase] = self._update(optimizer, parts, self.trainable(phase), loss_of)
        values = self.logged(losses, batch)
        values.update(self.augmentation.end(self._progress, iteration, batch))
        optim.accumulate(self.G_ema, self.G, self.setting("ema_decay"))
        return {k: as_float(v) for k, v in values.items()}

    @staticmethod
    def _update(optimizer, parts, trainable, loss_of):
        """One optimizer update from the summed gradients of ``loss_of(i) / parts`` over the micro-batches
        (only ``trainable`` parameters, when given); returns the mean loss (a Var for one micro-batch)."""
        only = optim.only(optimizer, trainable) if trainable is not None else contextlib.nullcontext()
        if parts == 1:
            loss = loss_of(0)
            with only:
                optimizer.step(loss)
            return loss
        total, n_step = 0.0, optimizer.n_step
        with only:
            for i in range(parts):
                loss = loss_of(i) / parts
                optimizer.backward(loss)
                total += loss.item()
            optimizer.n_step = n_step + 1  # Jittor counts every backward as a step; this is one update
            optimizer.step()
        return total

    def mixing_count(self, rng):
        """How many latents an image mixes: 2 with probability MIXING_PROB under ``--mixing``, else 1."""
        return 2 if self.cfg["mixing"] and rng.random() < MIXING_PROB else 1
