"""What a run folder holds besides samples and checkpoints: which run owns it (``run.json``,
the run's metadata), and where a new or resumed run may write."""
import datetime
import hashlib
import json
import os
import platform
import sys

from ..data import CHANNELS_KEY, LABELS_KEY, source_name
from ..formats import checkpoint

RUN_JSON = "run.json"


class RunFolderError(Exception):
    """A run would write into a folder that belongs to another run."""


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def holds_run(folder):
    """True when ``folder`` holds (part of) a training run."""
    return any(os.path.exists(os.path.join(folder, name)) for name in (RUN_JSON, "log.csv", "checkpoint", "sample"))


def owner(folder):
    """The run id recorded in ``folder``, or None."""
    try:
        with open(os.path.join(folder, RUN_JSON)) as f:
            return json.load(f).get("run_id")
    except (OSError, ValueError):
        return None


def new_run_dir(requested, dataset_path):
    """(folder, note) for a new run: ``requested`` must not hold a run; without one,
    runs/<dataset name>, or the first runs/<dataset name>-N that holds none."""
    if requested:
        if holds_run(requested):
            raise RunFolderError(f"{requested} holds another run; resume it with --ckpt "
                                 f"{os.path.join(requested, 'checkpoint', '<iteration>' + checkpoint.SUFFIX)}, "
                                 f"or choose another --run_dir")
        return requested, None
    base = os.path.join("runs", source_name(dataset_path))
    folder, n = base, 1
    while holds_run(folder):
        n += 1
        folder = f"{base}-{n}"
    return folder, (f"{base} holds another run; this run writes to {folder}" if folder != base else None)


def resume_run_dir(ckpt_path, run_id, requested=None):
    """The folder a resumed run continues in: ``requested``, else the run folder the checkpoint
    sits in (``<run>/checkpoint/<file>``). It must belong to the same run or to none."""
    folder = requested or os.path.dirname(os.path.dirname(os.path.abspath(ckpt_path)))
    found = owner(folder)
    if found not in (None, run_id):
        raise RunFolderError(f"{folder} belongs to another run ({found}); give --run_dir a new folder "
                             f"to continue this checkpoint there")
    return folder


def own_checkpoints(folder, run_id):
    """Paths of the checkpoints in ``folder`` that run ``run_id`` wrote, oldest first."""
    paths = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.endswith(checkpoint.SUFFIX) and checkpoint.is_checkpoint(path):
            try:
                if checkpoint.read_meta(path).get("run_id") == run_id:
                    paths.append(path)
            except checkpoint.CheckpointError:
                continue
    return paths


def dataset_signature(dataset):
    """sha1 of the LMDB's length, its first and last images at every stored size, and its labels."""
    digest = hashlib.sha1(str(len(dataset)).encode())
    with dataset.env.begin() as txn:
        for key, value in txn.cursor():
            if key in (b"length", CHANNELS_KEY):
                continue
            if key == LABELS_KEY:
                digest.update(key + value)
                continue
            size, index = key.split(b"-")
            if int(index) in (0, len(dataset) - 1):
                digest.update(key + txn.get(key))
    return digest.hexdigest()


def versions():
    import jittor as jt
    import numpy as np

    from .. import __version__
    found = {"jittor_stylegan": __version__, "jittor": jt.__version__, "numpy": np.__version__,
             "python": sys.version.split()[0]}
    if jt.flags.use_cuda:
        from jittor import compiler
        found["cuda"] = str(getattr(compiler, "nvcc_version", "unknown"))
        found["cudnn"] = str(getattr(getattr(jt.compile_extern, "cudnn", None), "version", "unknown"))
    return found


class RunInfo:
    """``run.json``: config, versions, device, dataset, times and iterations of one run, with one
    entry per process that trained it (a resumed run adds one)."""

    def __init__(self, cfg, run_id, dataset, resumed_from=0):
        self.path = os.path.join(cfg["run_dir"], RUN_JSON)
        previous = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                previous = json.load(f)
        import jittor as jt
        self.doc = {"run_id": run_id, "arch": cfg.get("arch", "stylegan1"), "config": cfg,
                    "versions": versions(), "device": "cuda" if jt.flags.use_cuda else "cpu",
                    "host": platform.node(),
                    "dataset": {"path": os.path.abspath(cfg["path"]), "images": len(dataset),
                                "signature": dataset_signature(dataset)},
                    "started": previous.get("started", _now()),
                    "sessions": previous.get("sessions", [])}
        self.session = {"started": _now(), "from_iteration": resumed_from, "processes": jt.world_size}
        self.doc["sessions"].append(self.session)

    def write(self, iteration, last_checkpoint=None, finished=False):
        self.session.update(updated=_now(), to_iteration=iteration)
        self.doc.update(iterations_done=iteration, updated=self.session["updated"])
        if last_checkpoint:
            self.doc["last_checkpoint"] = os.path.basename(last_checkpoint)
        if finished:
            self.doc["ended"] = self.session["updated"]
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.doc, f, indent=2)
        os.replace(tmp, self.path)


def plot_quietly(run_dir):
    """Refresh the run's loss plot; a plotting problem is reported, never fatal to training."""
    from .. import plot
    try:
        plot.plot_run(run_dir)
    except Exception as e:  # noqa: BLE001 (matplotlib failures must not stop a training run)
        print(f"plot: {run_dir}: {e}", file=sys.stderr)
