"""A run's logs, written in one place: ``log.csv``, ``stats.jsonl`` (NVIDIA's stylegan2-ada-pytorch layout),
TensorBoard event files (when ``tensorboardX`` is installed) and Weights & Biases (``--wandb``).

Every sink gets the same values per logged iteration: the row of ``log.csv``. In ``stats.jsonl`` and the
dashboards a column goes by NVIDIA's ``training_stats`` name where NVIDIA reports the same quantity
(``STATS_NAMES``), else by the same ``Group/name`` layout; metrics are ``Metrics/<name>`` as in NVIDIA's
event files. A resumed run first drops what a killed attempt logged beyond its checkpoint, in every file.
"""
import csv
import json
import os
import time

LOG_NAME = "log.csv"
STATS_NAME = "stats.jsonl"
WANDB_PROJECT = "jittor-stylegan"
SAMPLES_TAG = "Samples"

# log.csv column -> (stats.jsonl / dashboard name, scale). NVIDIA's names: Loss/G/loss and Loss/D/loss (the main
# losses), Loss/r1_penalty (R1 before its weight), Loss/pl_penalty ((|J^T y| - a)^2), Loss/D/reg (D's weighted
# penalty: StyleGAN 1's R1 or WGAN-GP term), Progress/augment (ADA's p), Progress/kimg (thousands of images seen).
STATS_NAMES = {
    "iteration": ("Progress/iteration", 1),
    "resolution": ("Progress/resolution", 1),
    "alpha": ("Progress/alpha", 1),
    "d_loss": ("Loss/D/loss", 1),
    "g_loss": ("Loss/G/loss", 1),
    "penalty": ("Loss/D/reg", 1),
    "r1": ("Loss/r1_penalty", 1),
    "path_penalty": ("Loss/pl_penalty", 1),
    "path_length": ("Loss/pl_length", 1),
    "mean_path_length": ("Loss/pl_mean", 1),
    "augment_p": ("Progress/augment", 1),
    "images_seen": ("Progress/kimg", 1e-3),
    "seconds": ("Timing/sec_per_iter", 1),
    "images_per_sec": ("Timing/images_per_sec", 1),
}


def stats_name(column):
    """(name, scale) of a log.csv column in stats.jsonl and the dashboards (a metric: ``Metrics/<column>``)."""
    return STATS_NAMES.get(column, (f"Metrics/{column}", 1))


def stats_values(row):
    """{name: value} of a log.csv row (its text values), blanks left out."""
    values = {}
    for column, text in row.items():
        if text not in ("", None):
            name, scale = stats_name(column)
            values[name] = float(text) * scale
    return values


def stats_record(row, timestamp):
    """One stats.jsonl line's object: each value as NVIDIA's collector writes a statistic (one scalar
    reported: num 1, its mean, std 0), and the time."""
    record = {name: {"num": 1, "mean": value, "std": 0.0} for name, value in stats_values(row).items()}
    record["timestamp"] = timestamp
    return record


def tensorboard_writer_class():
    """tensorboardX's SummaryWriter, or None when it is not installed."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter


def check_wandb():
    """--wandb without the package: a one-line ValueError."""
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise ValueError("--wandb needs the wandb package (pip install wandb; WANDB_MODE=offline works without "
                         "a network)") from None


def _keep_lines(path, keep):
    """Rewrite ``path`` (atomically) with the lines for which ``keep(line)`` holds; returns them."""
    with open(path) as f:
        lines = [line for line in f if line.strip() and keep(line)]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.replace(tmp, path)
    return lines


class RunLogs:
    """The open logs of one run in ``run_dir``: ``write(row)`` per logged iteration, ``image(grid, iteration)``
    per sample grid; a context manager that closes them. ``iteration`` is where the run starts (rows after
    it, from a killed attempt, are dropped); ``wandb_config``: the run's config to log to W&B, None for no W&B."""

    def __init__(self, run_dir, fields, iteration, run_id, wandb_config=None):
        self.fields = fields
        self._csv_file, self._csv = self._open_csv(os.path.join(run_dir, LOG_NAME), fields, iteration)
        stats = os.path.join(run_dir, STATS_NAME)
        if os.path.exists(stats):
            _keep_lines(stats, lambda line: json.loads(line)["Progress/iteration"]["mean"] <= iteration)
        self._stats = open(stats, "a")
        writer = tensorboard_writer_class()
        # purge_step: TensorBoard hides the events a killed attempt wrote from this step on
        self._tb = writer(run_dir, purge_step=iteration + 1 if iteration else None) if writer else None
        self._wandb = None
        if wandb_config is not None:
            check_wandb()
            import wandb
            self._wandb = wandb.init(project=WANDB_PROJECT, name=os.path.basename(os.path.normpath(run_dir)),
                                     id=run_id, resume="allow", dir=run_dir, config=wandb_config)

    @staticmethod
    def _open_csv(path, fields, iteration):
        """log.csv positioned after the rows up to ``iteration``."""
        rows = []
        if os.path.exists(path):
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                # a log from an older version may lack columns added since (left blank in its rows)
                if not set(reader.fieldnames) <= set(fields):
                    raise ValueError(f"{path} has columns {reader.fieldnames}, this run logs {fields}")
                rows = [r for r in reader if int(r["iteration"]) <= iteration]
        tmp = path + ".tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
        log_file = open(path, "a", newline="")
        return log_file, csv.DictWriter(log_file, fieldnames=fields)

    def write(self, row):
        """Log one iteration's row ({log.csv column: text}) to every sink."""
        timestamp = time.time()
        self._csv.writerow(row)
        self._csv_file.flush()
        self._stats.write(json.dumps(stats_record(row, timestamp)) + "\n")
        self._stats.flush()
        step = int(row["iteration"])
        values = stats_values(row)
        if self._tb is not None:
            for name, value in values.items():
                self._tb.add_scalar(name, value, global_step=step, walltime=timestamp)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(values, step=step)

    def image(self, grid, iteration):
        """A sample grid (uint8 (H, W, C)) to the dashboards."""
        rgb = grid.repeat(3, axis=2) if grid.shape[2] == 1 else grid[:, :, :3]
        if self._tb is not None:
            self._tb.add_image(SAMPLES_TAG, rgb, global_step=iteration, dataformats="HWC")
            self._tb.flush()
        if self._wandb is not None:
            import wandb
            self._wandb.log({SAMPLES_TAG: wandb.Image(rgb)}, step=iteration)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._csv_file.close()
        self._stats.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
