"""Shared benchmark helpers: the machine header, timing, peak memory and tables.

Every figure a benchmark prints comes from the same process run, alternating the
implementations, so ratios are robust to a noisy machine while absolute times are not.
"""
import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("log_silent", "1")


def machine():
    """One line: date, CPU model and count, GPU if any, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = ""
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20).stdout.strip().replace("\n", ", ")
    except (OSError, subprocess.SubprocessError):
        pass
    return (f"{datetime.date.today().isoformat()}, {cpu} x{os.cpu_count()} cores"
            f"{', GPU ' + gpu if gpu else ', no GPU'}, Python {platform.python_version()}")


def median_time(run, sync, repeats, warmup=2):
    """Median wall time of ``run()`` (followed by ``sync()``) over ``repeats`` calls after ``warmup``."""
    return median_times({"run": (run, sync)}, repeats, warmup)["run"]


def median_times(runs, repeats, warmup=2):
    """{name: median wall time} of each ``(run, sync)`` in ``runs``, timed in turn (one call of
    each per round), so that a burst of load on a noisy machine hits every implementation alike."""
    for run, sync in runs.values():
        for _ in range(warmup):
            sync(run())
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (run, sync) in runs.items():
            start = time.perf_counter()
            sync(run())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def peak_rss_mb():
    """This process's peak resident memory (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(header, rows):
    """A Markdown table (also readable in a terminal)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
