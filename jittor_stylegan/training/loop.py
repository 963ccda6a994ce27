"""The training loop shared by every family (written against ``family.Family``): run folder, data
order, logging, samples, checkpoints, metrics, plots and metadata, resumable at any iteration.

Every random draw is seeded from (seed, iteration), so a resumed run repeats what the
uninterrupted run would have done. A run folder belongs to one run (``run.json`` holds its
id): a new run never writes into another run's folder, and checkpoint rotation deletes only
the run's own checkpoints. Under MPI (``mpirun -np N``) every process draws the same global
batch and trains on its share (see ``distributed``); only rank 0 writes files.
"""
import contextlib
import math
import os
import signal
import threading
import time
import uuid

import jittor as jt
import numpy as np

from .. import distributed, runtime
from ..data import BatchSampler, MultiResolutionDataset
from ..formats import checkpoint
from ..images import grid, save_array
from ..metrics import scoring, swd
from . import families, logs, optim, run_files, settings


class TrainingStopped(Exception):
    """Training stopped on a non-finite loss; the last good checkpoint is kept."""


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM stopped training at an iteration boundary, after a checkpoint (resuming from it
    is exact); ``signum`` is the signal."""

    def __init__(self, message, signum):
        super().__init__(message)
        self.signum = signum


class StopOnSignal:
    """While active (in the main thread), SIGINT (Ctrl-C) and SIGTERM (``kill``, a cluster's preemption)
    ask the loop to stop at the next iteration boundary, where it writes a checkpoint; a second signal
    stops at once (KeyboardInterrupt), keeping the last checkpoint: a state between the D and G steps
    is never saved."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, say=True):
        self.signum, self.say, self._previous = None, say, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        if self.say:  # os.write: a handler may run while the progress bar is printing
            os.write(2, f"\n{signal.Signals(signum).name}: stopping after this iteration, with a checkpoint "
                        f"(once more: stop now, keeping the last checkpoint)\n".encode())


class Trainer:
    """One training run in ``cfg["run_dir"]``: sample/, checkpoint/, log.csv, stats.jsonl, TensorBoard events,
    run.json, losses.png."""

    def __init__(self, cfg, resume=None):
        """``resume``: (meta, tensors) of a checkpoint to continue from."""
        self.cfg = cfg
        self.dataset = MultiResolutionDataset(cfg["path"])
        self.family = families.family(cfg)
        # seconds: wall-clock time spent training, over every resume (for --minutes / --ckpt_minutes)
        self.progress = {"iteration": 0, "images_seen": 0, "seconds": 0.0, "sampler": {"epoch": 0, "position": 0}}
        self.run_id = uuid.uuid4().hex
        self.main = distributed.is_main()
        if resume is not None:
            self._restore(*resume)
        for size in self.family.sizes_needed:
            if not self.dataset.has_size(size):
                raise ValueError(f"{cfg['path']} has no {size}px images; prepare it with --max_size >= {size}")
        self.family.check_split()  # a batch that does not split across the processes fails here
        if self.main:
            for sub in ("sample", "checkpoint"):
                os.makedirs(os.path.join(cfg["run_dir"], sub), exist_ok=True)
            checkpoint.remove_partial_writes(os.path.join(cfg["run_dir"], "checkpoint"))
        self.sample_z = np.random.default_rng([cfg["seed"], 1]).standard_normal(
            (cfg["sample_rows"] * cfg["sample_cols"], self.family.latent_dim)).astype(np.float32)
        self._new_sampler(**self.progress["sampler"])
        self.metrics = scoring.parse_metrics(cfg["metrics"], cfg.get("vgg16")) if cfg.get("metrics") else []
        self._inception = None
        # NVIDIA's VGG16 (--vgg16) for pr50k3_full and ppl2_wend, read where the metrics are measured
        self._vgg16 = scoring.vgg16_network(cfg["vgg16"]) if cfg.get("vgg16") and self.metrics and self.main else None
        self._logs = None  # the open logs while run() trains
        self.run_info = run_files.RunInfo(cfg, self.run_id, self.dataset, resumed_from=self.progress["iteration"])

    def _restore(self, meta, tensors):
        if meta["arch"] != self.family.arch:
            raise checkpoint.CheckpointError(f"the checkpoint is a {meta['arch']} run, not {self.family.arch}")
        try:
            from .. import convert
            for key, net in self.family.networks().items():
                convert.load_state(net, tensors[key])
            for key, opt in self.family.optimizers().items():
                optim.restore(opt, meta["optimizers"][key], tensors[key])
        except (KeyError, ValueError) as e:
            raise checkpoint.CheckpointError(f"the checkpoint does not fit its own config: {e}") from None
        self.progress = {k: meta["progress"].get(k, 0.0) if k == "seconds" else meta["progress"][k]
                         for k in self.progress}  # (checkpoints from before --minutes lack seconds)
        self.family.restored(meta["progress"])
        self.run_id = meta["run_id"]

    @property
    def resolution(self):
        return self.family.resolution

    def _new_sampler(self, epoch=0, position=0):
        self.sampler = BatchSampler(len(self.dataset), self.family.batch_size, self.cfg["seed"], self.resolution,
                                    epoch, position)

    def _checkpoint_path(self, iteration):
        return os.path.join(self.cfg["run_dir"], "checkpoint", f"{iteration:06d}{checkpoint.SUFFIX}")

    def checkpoint(self):
        """Write ``checkpoint/<iteration>.npz`` atomically, keep this run's newest ``keep``, and
        refresh the plot and the metadata (rank 0 only; the others return None)."""
        if not self.main:
            return None
        progress = dict(self.progress, sampler=self.sampler.state(), **self.family.progress)
        tensors = {key: {name: p.numpy() for name, p in net.named_parameters()}
                   for key, net in self.family.networks().items()}
        scalars = {}
        for key, opt in self.family.optimizers().items():
            scalars[key], tensors[key] = optim.state(opt)
        meta = {"arch": self.family.arch, "config": self.cfg, "networks": self.family.network_args(self.cfg),
                "progress": progress, "optimizers": scalars, "run_id": self.run_id,
                "alpha": self.family.sampler().alpha}  # the fade-in the samples are drawn at
        folder = os.path.join(self.cfg["run_dir"], "checkpoint")
        path = checkpoint.save(self._checkpoint_path(progress["iteration"]), meta, tensors)
        own = [f for f in run_files.own_checkpoints(folder, self.run_id)]
        for old in own[:-self.cfg["keep"]]:
            os.remove(old)
        self.run_info.write(self.progress["iteration"], last_checkpoint=path)
        run_files.plot_quietly(self.cfg["run_dir"])
        return path

    def sample(self):
        if not self.main:
            return None
        path = os.path.join(self.cfg["run_dir"], "sample", f"{self.progress['iteration']:06d}.png")
        # a conditional run: one class per row
        labels = (np.arange(len(self.sample_z)) // self.cfg["sample_cols"]) % self.family.c_dim \
            if self.family.c_dim else None
        images = self.family.sampler().images(self.sample_z, rng=np.random.default_rng([self.cfg["seed"], 2]),
                                              labels=labels)
        array = grid(images, self.cfg["sample_cols"], raw=self.cfg.get("raw", False))
        save_array(array, path)
        if self._logs is not None:
            self._logs.image(array, self.progress["iteration"])
        return path

    def measure(self):
        """The configured metrics of the EMA generator against the dataset at the current size
        (SWD is left blank below its minimum image size)."""
        if self._inception is None and set(self.metrics) - {"swd"} - set(scoring.NEEDS_VGG16):
            from ..metrics.inception import InceptionV3
            self._inception = InceptionV3()
        real = scoring.DatasetImages(self.cfg["path"], self.resolution,
                                     min(self.cfg["metrics_images"], len(self.dataset)), channels=self.cfg["channels"])
        fake = scoring.GeneratedImages(self.family.sampler(), real.count, self.cfg["seed"])
        names = [m for m in self.metrics if m != "swd" or self.resolution >= swd.MIN_IMAGE_SIZE]
        results = scoring.evaluate(names, real, fake, show_progress=False, model=self._inception, vgg16=self._vgg16)
        return {name: f"{results[name]:.6g}" if name in results else ""
                for name in scoring.result_names(self.metrics)}

    def train_step(self):
        """One iteration; returns the logged values as floats."""
        p = self.progress
        indices, flips = self.sampler.next()
        if not self.cfg.get("mirror", settings.AUGMENT["mirror"]):  # (a config from before --mirror: flips)
            flips = np.zeros_like(flips)
        batch = len(indices)
        mine = self.family.share(batch)
        real = self.dataset.batch(self.resolution, indices[mine], flips[mine]).astype(np.float32)
        labels = self.dataset.labels(indices[mine]) if self.family.c_dim else None
        values = distributed.mean_values(self.family.train_step(real, p["iteration"], labels))
        if distributed.world_size() > 1:
            jt.sync_all()  # every rank runs its pending all-reduces now, in the same order
        if not all(math.isfinite(v) for v in values.values() if v is not None):  # None: not computed this time
            raise TrainingStopped(f"non-finite loss at iteration {p['iteration']} ({values}); "
                                  "stopped, the last checkpoint is kept")
        p["images_seen"] += batch
        p["iteration"] += 1
        return values, batch

    def plan(self):
        """The paragraph said before training: what, how long, where, how to stop and resume."""
        cfg, p = self.cfg, self.progress
        start = f"resuming at iteration {p['iteration']:,} of" if p["iteration"] else "training"
        folder = os.path.join(cfg["run_dir"], "")
        budget = f" or {cfg['minutes']:g} minutes of training" if cfg.get("minutes") else ""
        clock = f" and every {cfg['ckpt_minutes']:g} minutes" if cfg.get("ckpt_minutes") else ""
        note = scoring.inception_note(self.metrics)
        kind, channels = ("grey", "1 channel") if cfg["channels"] == 1 else ("colour", f"{cfg['channels']} channels")
        return (f"train: {start} {cfg['iterations']:,} iterations{budget}: {self.family.plan()}; "
                f"{len(self.dataset):,} {kind} images from {cfg['path']}, so G and D have {channels}. Outputs in "
                f"{folder}: sample/ (a grid at the first iteration and every {cfg['sample_every']:,}), checkpoint/ "
                f"(every {cfg['ckpt_every']:,}{clock}), log.csv, stats.jsonl, losses.png"
                f"{', TensorBoard events' if logs.tensorboard_writer_class() else ''}. "
                f"Ctrl-C stops after the current iteration with a checkpoint; resume with: python train.py --ckpt "
                f"{os.path.join(folder, 'checkpoint', '<iteration>' + checkpoint.SUFFIX)}"
                + (f". Metrics: {note}" if note else ""))

    def run(self, progress_bar=True, on_timed=None):
        """Train to ``cfg["iterations"]`` (or ``cfg["minutes"]``); ``on_timed(seconds per iteration, iterations
        left, write)`` is called once, when iterations after the first (which compiles) have been timed."""
        cfg = self.cfg
        fields = (["iteration"] + list(self.family.log_fields) + ["images_seen", "seconds", "images_per_sec"]
                  + scoring.result_names(self.metrics))
        if not self.main:
            return self._train(progress_bar, on_timed)
        try:
            with logs.RunLogs(cfg["run_dir"], fields, self.progress["iteration"], self.run_id,
                              wandb_config=cfg if cfg.get("wandb") else None) as self._logs:
                return self._train(progress_bar, on_timed)
        finally:
            self._logs = None

    def _train(self, progress_bar, on_timed):
        from tqdm import tqdm

        cfg, p = self.cfg, self.progress
        if self.main:
            self.run_info.write(p["iteration"])
        stop = StopOnSignal(say=self.main)
        budget, every = cfg.get("minutes"), cfg.get("ckpt_minutes")

        def next_mark():
            """The first multiple of --ckpt_minutes after the training time so far (in seconds)."""
            return (math.floor(p["seconds"] / (every * 60)) + 1) * every * 60 if every else math.inf
        mark = next_mark()
        clock = time.time() - p["seconds"]
        with stop, tqdm(initial=p["iteration"], total=cfg["iterations"],
                        disable=not (progress_bar and self.main), dynamic_ncols=True) as bar:
            last_ckpt = p["iteration"]
            first = True
            stopping = False
            timed = []
            out_of_time = False
            while p["iteration"] < cfg["iterations"] and not (stopping or out_of_time):
                if self.family.advance():
                    self._new_sampler()
                    self.checkpoint()
                start = time.time()
                with runtime.compiling_notice(write=bar.write) if first and self.main else contextlib.nullcontext():
                    values, batch = self.train_step()
                seconds = time.time() - start
                if not first and on_timed is not None and len(timed) < 3:
                    timed.append(seconds)
                    if len(timed) == 3:
                        on_timed(sum(timed) / 3, cfg["iterations"] - p["iteration"], bar.write)
                first = False
                row = {k: f"{v:.5f}" if isinstance(v, float) else v for k, v in values.items()}
                row.update(iteration=p["iteration"], images_seen=p["images_seen"], seconds=f"{seconds:.3f}",
                           images_per_sec=f"{batch / seconds:.2f}")
                if self.main and self.metrics and p["iteration"] % cfg["metrics_every"] == 0:
                    row.update(self.measure())
                    bar.write(f"iteration {p['iteration']} ({self.resolution}px): "
                              + ", ".join(f"{k} {row[k]}" for k in scoring.result_names(self.metrics)))
                if self.main:
                    self._logs.write(row)
                bar.set_description(self.family.describe(values) + f" {row['images_per_sec']} img/s")
                bar.update(1)
                if p["iteration"] % cfg["sample_every"] == 0 or p["iteration"] == 1:
                    self.sample()
                p["seconds"] = time.time() - clock
                on_the_clock = distributed.any_rank(p["seconds"] >= mark) if every else False
                if p["iteration"] % cfg["ckpt_every"] == 0 or on_the_clock:
                    self.checkpoint()
                    last_ckpt = p["iteration"]
                if on_the_clock:
                    mark = next_mark()
                stopping = distributed.any_rank(stop.signum is not None)  # every rank stops at the same iteration
                out_of_time = distributed.any_rank(p["seconds"] >= budget * 60) if budget else False
        if p["iteration"] > last_ckpt:
            self.checkpoint()
            last_ckpt = p["iteration"]
        if stopping:
            if self.main:
                self.run_info.write(p["iteration"])
                run_files.plot_quietly(cfg["run_dir"])
            path = self._checkpoint_path(last_ckpt)
            signum = stop.signum or signal.SIGTERM  # (a signal that reached another rank: mpirun's SIGTERM)
            name = signal.Signals(signum).name
            raise TrainingInterrupted(
                f"stopped by {name} at iteration {p['iteration']}; resume with: python train.py --ckpt {path}"
                if os.path.isfile(path) else f"stopped by {name} at iteration {p['iteration']}, before any checkpoint",
                signum)
        self.sample()
        if self.main:
            self.run_info.write(p["iteration"], finished=True)
            run_files.plot_quietly(cfg["run_dir"])
        return self.progress
