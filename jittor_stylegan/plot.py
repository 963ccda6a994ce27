"""Loss plot of a training run: ``python -m jittor_stylegan.plot RUN_DIR`` writes
``RUN_DIR/losses.png`` from ``RUN_DIR/log.csv`` (training refreshes it at each checkpoint).

Top: D and G losses; then penalties (R1 / gradient / path length), the augmentation probability p
when augmenting, and metrics when logged. Resolution changes are marked with vertical lines. Uses matplotlib's Agg backend
(no display needed) and never imports Jittor.
"""
import argparse
import csv
import os
import sys

PLOT_NAME = "losses.png"
LOSSES = ("d_loss", "g_loss")
PENALTIES = ("penalty", "r1", "path_penalty", "path_length")
AUGMENT = ("augment_p",)
LAST_TRAINING_COLUMN = "images_per_sec"  # the training loop logs the metrics (fid, pr50k3_full_..., ...) after it


def read_log(path):
    """{column: [float or None]} of a log.csv."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} has no rows yet")
    return {k: [float(r[k]) if r[k] not in ("", None) else None for r in rows] for k in rows[0]}


def plot_run(run_dir):
    """Write ``<run_dir>/losses.png``; returns its path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = read_log(os.path.join(run_dir, "log.csv"))
    it = log["iteration"]
    def logged(keys):
        return [k for k in keys if k in log and any(v is not None for v in log[k])]

    columns = list(log)
    metrics = columns[columns.index(LAST_TRAINING_COLUMN) + 1:] if LAST_TRAINING_COLUMN in columns else []
    panels = [(LOSSES, "loss"), (logged(PENALTIES), "penalty"), (logged(AUGMENT), "augment p"),
              (logged(metrics), "metric")]
    panels = [(keys, label) for keys, label in panels if keys]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3 * len(panels)), sharex=True, squeeze=False)
    changes = [(it[i], log["resolution"][i]) for i in range(1, len(it))
               if "resolution" in log and log["resolution"][i] != log["resolution"][i - 1]]
    for ax, (keys, label) in zip(axes[:, 0], panels):
        for key in keys:
            points = [(x, y) for x, y in zip(it, log[key]) if y is not None]
            ax.plot(*zip(*points), label=key, linewidth=0.8, marker="o" if label == "metric" else None)
        for x, resolution in changes:
            ax.axvline(x, color="gray", linestyle="--", linewidth=0.7)
            ax.text(x, 1, f" {int(resolution)}px", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
        ax.set_ylabel(label)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("iteration")
    fig.suptitle(os.path.basename(os.path.normpath(run_dir)))
    fig.tight_layout()
    path = os.path.join(run_dir, PLOT_NAME)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    args = parser.parse_args(argv)
    try:
        print(f"wrote {plot_run(args.run_dir)}")
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"plot: {e}")


if __name__ == "__main__":
    main()
