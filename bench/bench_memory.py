"""Memory over a long run (issue 28): ``train.py`` of each family at the cpu-demo widths for ``--iterations``,
watched from outside: its resident memory (and, on a GPU, the device memory nvidia-smi gives the process)
and its seconds per iteration every ``--every`` iterations, with a least-squares slope of RSS against
iterations after the last resolution change. Target: under 1 KB per iteration, s/iteration flat.

    .venv/bin/python bench/bench_memory.py                        # 20,000 iterations of each family at 8 px
    .venv/bin/python bench/bench_memory.py --iterations 2000 --every 200 --archs stylegan2

The run is the real loop (logging, sample grids, checkpoints, ADA on), on Fashion-MNIST at 8 px and batch 4
so that 20,000 iterations fit an hour of 2 cores (memory held per iteration does not depend on the size); work files in bench/memory/ (git-ignored), the table and
plot in bench/memory/table.md and bench/memory.png.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

import numpy as np

import common

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "memory")
DATA = os.path.join(WORK, "data", "fashion-mnist")
KB_PER_ITERATION_TARGET = 1.0
# train.py options: the cpu-demo widths, mixing and ADA (every kind of state a long run keeps), a StyleGAN 1
# growing 4 -> 8 px early (its 8 px layers sit unused in the first phase)
OPTIONS = ["--preset", "cpu-demo", "--mixing", "--aug", "ada", "--batch_default", "4", "--sample_every", "1000"]
ARCH_OPTIONS = {"stylegan1": ["--init_size", "4", "--phase", "4000"], "stylegan2": []}


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", default="stylegan1,stylegan2")
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=1000, help="iterations between readings")
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=2, help="families at a time (threads each: cores / parallel)")
    parser.add_argument("--report_only", action="store_true", help="the table and plot of the last run's readings")
    return parser.parse_args(argv)


def status_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def device_mib(pid):
    """Device memory of the process by nvidia-smi (MiB), or None without a GPU."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    used = [int(v) for p, v in (line.split(",") for line in out.splitlines() if "," in line) if int(p) == pid]
    return used[0] if used else None


def log_rows(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def start(arch, args, threads):
    run_dir = os.path.join(WORK, arch)
    subprocess.run(["rm", "-rf", run_dir], check=True)
    command = [sys.executable, os.path.join(common.REPO, "train.py"), DATA, "--arch", arch, "--max_size",
               str(args.size), "--iterations", str(args.iterations), "--ckpt_every", str(args.iterations // 4),
               "--run_dir", run_dir, "--no_progress"] + OPTIONS + ARCH_OPTIONS[arch]
    log = open(os.path.join(WORK, arch + ".log"), "w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    return {"arch": arch, "process": process, "log": log, "csv": os.path.join(run_dir, "log.csv"), "readings": []}


def watch(runs, every):
    """Poll each run until it ends: at the first iteration past each multiple of ``every``, its RSS, device memory, resolution and the
    mean seconds per iteration of the iterations since the last reading (from its log.csv)."""
    while any(r["process"].poll() is None for r in runs):
        time.sleep(2)
        for r in runs:
            if r["process"].poll() is not None:
                continue
            rows = log_rows(r["csv"])
            done = int(rows[-1]["iteration"]) if rows else 0
            if done >= r.setdefault("next", every):
                r["next"] = (done // every + 1) * every
                window = rows[-every:]
                r["readings"].append({
                    "iteration": done, "rss_mib": status_kb(r["process"].pid) / 1024,
                    "device_mib": device_mib(r["process"].pid),
                    "s_per_iteration": float(np.mean([float(w["seconds"]) for w in window])),
                    "resolution": int(window[-1].get("resolution") or 0), "load": os.getloadavg()[0]})
                print(f"bench_memory: {r['arch']} {r['readings'][-1]}", flush=True)
    for r in runs:
        r["log"].close()
        if r["process"].returncode:
            sys.exit(f"bench_memory: {r['arch']} failed; see {r['log'].name}")


def fit(readings, ckpt_every, every):
    """(KB per iteration of RSS, first/second-half s/iteration ratio, readings used): least squares over the readings
    after the last resolution change and the first checkpoint (one-time costs: the plotting library's import, the
    first write's buffers), leaving out those taken just after a checkpoint (its transient buffers, freed later)."""
    changes = [readings[i]["iteration"] for i in range(1, len(readings))
               if readings[i]["resolution"] != readings[i - 1]["resolution"]]
    start = max(changes + [ckpt_every]) + every
    steady = [r for r in readings if r["iteration"] >= start and r["iteration"] % ckpt_every >= every // 10]
    x = np.array([r["iteration"] for r in steady], float)
    slope = np.polyfit(x, [r["rss_mib"] * 1024 for r in steady], 1)[0]
    half = len(steady) // 2
    speed = np.mean([r["s_per_iteration"] for r in steady[half:]]) / np.mean([r["s_per_iteration"]
                                                                                for r in steady[:half]])
    return slope, speed, steady


def report(results, args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rss, ax_time) = plt.subplots(1, 2, figsize=(10, 3.6))
    rows = []
    for arch, readings in results.items():
        slope, speed, steady = fit(readings, args.iterations // 4, args.every)
        it = [r["iteration"] for r in readings]
        ax_rss.plot(it, [r["rss_mib"] for r in readings], marker=".", label=arch)
        ax_time.plot(it, [r["s_per_iteration"] * 1000 for r in readings], marker=".", label=arch)
        rows.append([arch, f"{readings[-1]['iteration']:,}", f"{steady[0]['iteration']:,}-{steady[-1]['iteration']:,}",
                     f"{min(r['rss_mib'] for r in steady):.0f}-{max(r['rss_mib'] for r in steady):.0f}",
                     f"{slope:+.3f}", "yes" if abs(slope) < KB_PER_ITERATION_TARGET else "NO",
                     f"{speed:.2f}", "-" if steady[-1]["device_mib"] is None else f"{steady[-1]['device_mib']}"])
    ax_rss.set(xlabel="iteration", ylabel="RSS (MiB)", title="resident memory")
    ax_time.set(xlabel="iteration", ylabel="ms / iteration", title="time per iteration (load varies)")
    for ax in (ax_rss, ax_time):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "memory.png"), dpi=90)
    loads = [r["load"] for rs in results.values() for r in rs]
    text = (f"{common.machine()}; load average {min(loads):.1f}-{max(loads):.1f}; command "
            f"`.venv/bin/python bench/bench_memory.py --iterations {args.iterations} --every {args.every} "
            f"--size {args.size}` ({args.parallel} at a time, one thread each when 2).\n\n"
            + common.table(["family", "iterations", "fitted", "RSS MiB", "RSS slope KB/iteration",
                            f"< {KB_PER_ITERATION_TARGET:g} KB", "s/iteration 2nd/1st half", "device MiB"], rows))
    with open(os.path.join(WORK, "table.md"), "w") as f:
        f.write(text + "\n")
    print(text)


def main(argv=None):
    args = parse(argv)
    os.makedirs(WORK, exist_ok=True)
    if not os.path.isfile(os.path.join(DATA, "data.mdb")):
        subprocess.run([sys.executable, os.path.join(common.REPO, "prepare_data.py"), "--builtin", "fashion-mnist",
                        "--out", DATA, "--max_size", str(args.size), "--force"], check=True, stdout=subprocess.DEVNULL)
    if args.report_only:
        with open(os.path.join(WORK, "readings.json")) as f:
            return report(json.load(f), args)
    archs = args.archs.split(",")
    threads = max(1, (os.cpu_count() or 2) // args.parallel)
    results = {}
    for i in range(0, len(archs), args.parallel):
        runs = [start(arch, args, threads) for arch in archs[i:i + args.parallel]]
        watch(runs, args.every)
        results.update({r["arch"]: r["readings"] for r in runs})
    with open(os.path.join(WORK, "readings.json"), "w") as f:
        json.dump(results, f, indent=1)
    report(results, args)


if __name__ == "__main__":
    main()
