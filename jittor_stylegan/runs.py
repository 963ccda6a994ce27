"""Finding what training wrote under ``runs/``: the newest run, its newest checkpoint, the
resolution of each sample (for video labels). No Jittor import: the CLIs call it before choosing
a device."""
import csv
import json
import os
import re
import sys

ROOT = "runs"
CHECKPOINT_SUFFIX = ".npz"
# The trained models shipped with the repository (G_ema only), what a user without a run can sample.
PRETRAINED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained")
# What the sampling CLIs read as a checkpoint (loading.generator_from_checkpoint), for their --help
CHECKPOINT_FILES = ("this project's .npz (a training checkpoint, or an export: python -m jittor_stylegan.export), "
                    "rosinality's PyTorch .model / .pt, StyleGanJittor's .model, an NVIDIA network .pkl")


class NoRunError(Exception):
    """Nothing under ``runs/`` to take as a default; the message says what to do."""


def _numbered(folder, suffix):
    """Files of ``folder`` ending in ``suffix`` whose names are numbers, sorted by that number."""
    if not os.path.isdir(folder):
        return []
    names = [n for n in os.listdir(folder) if n.endswith(suffix) and n[:-len(suffix)].isdigit()]
    return [os.path.join(folder, n) for n in sorted(names, key=lambda n: int(n[:-len(suffix)]))]


def _last_written(run):
    """When a run folder last got a checkpoint or a sample."""
    files = _numbered(os.path.join(run, "checkpoint"), CHECKPOINT_SUFFIX) + _numbered(os.path.join(run, "sample"), ".png")
    return max((os.path.getmtime(f) for f in files), default=None)


def newest_run(root=ROOT, need="checkpoint"):
    """The run folder under ``root`` written most recently that holds a ``need`` ("checkpoint" or "sample")."""
    suffix = CHECKPOINT_SUFFIX if need == "checkpoint" else ".png"
    runs = [os.path.join(root, n) for n in os.listdir(root)] if os.path.isdir(root) else []
    runs = [r for r in runs if _numbered(os.path.join(r, need), suffix)]
    if not runs:
        models = pretrained_models() if need == "checkpoint" else []
        hint = f"; or sample a trained model of this repository: --path {models[0]} (all in {PRETRAINED})" \
            if models else ""
        raise NoRunError(f"no {root}/<run>/{need}/ found here ({os.path.abspath(root)}); train first "
                         f"(python train.py --mixing PATH) or give a path{hint}")
    return max(runs, key=_last_written)


def pretrained_models():
    """The repository's trained models (``pretrained/*.npz``), sorted by name."""
    if not os.path.isdir(PRETRAINED):
        return []
    return [os.path.join(PRETRAINED, n) for n in sorted(os.listdir(PRETRAINED)) if n.endswith(CHECKPOINT_SUFFIX)]


def newest_checkpoint(root=ROOT):
    """The newest checkpoint of the most recently written run under ``root``."""
    return _numbered(os.path.join(newest_run(root, "checkpoint"), "checkpoint"), CHECKPOINT_SUFFIX)[-1]


def checkpoints(root=ROOT):
    """Every checkpoint of every run under ``root``: by run folder name, then iteration."""
    names = sorted(os.listdir(root)) if os.path.isdir(root) else []
    return [path for n in names for path in _numbered(os.path.join(root, n, "checkpoint"), CHECKPOINT_SUFFIX)]


def sample_resolutions(run):
    """{iteration: resolution} from a run's ``log.csv`` (StyleGAN 1 logs it per iteration) or its
    ``run.json`` (one resolution); empty when neither says."""
    log = os.path.join(run, "log.csv")
    found = {}
    if os.path.isfile(log):
        with open(log, newline="") as f:
            for row in csv.DictReader(f):
                if row.get("resolution"):
                    found[int(row["iteration"])] = int(row["resolution"])
    if found:
        return found
    try:
        with open(os.path.join(run, "run.json")) as f:
            size = json.load(f)["config"]["max_size"]
    except (OSError, ValueError, KeyError):
        return {}
    return {None: int(size)}


def frame_labels(files, run):
    """"iter N, R px" for each sample file (the resolution when the run's files say it)."""
    resolutions = sample_resolutions(run)
    labels = []
    for f in files:
        iteration = int(re.findall(r"\d+", os.path.basename(f))[-1])
        size = resolutions.get(iteration, resolutions.get(None))
        labels.append(f"iter {iteration}" + (f", {size} px" if size else ""))
    return labels


def path_or_newest(path, prog):
    """``path``, or else the newest checkpoint of the most recently written run in runs/ (said on the console): a
    CLI's ``--path`` default; with no run, the CLI exits with one line."""
    if path is not None:
        return path
    try:
        path = newest_checkpoint()
    except NoRunError as e:
        sys.exit(f"{prog}: {e}")
    print(f"{prog}: using {path} (the newest checkpoint of the most recently written run)")
    return path
