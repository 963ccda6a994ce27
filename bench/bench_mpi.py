"""Training throughput on 1 vs N MPI processes: ``train.py`` itself (``--preset cpu-demo`` networks,
the same global batch), one process plainly and N under ``mpirun -np N``, alternating.

    .venv/bin/python bench/bench_mpi.py [--arch stylegan1 stylegan2] [--processes 2] [--iterations 30]

Images/s = global images of the timed iterations / their seconds in ``log.csv`` (the first
``--warmup`` iterations, which compile kernels, are left out), pooled over ``--rounds``.
On a CPU every process computes with its share of the cores (mpirun binds each of 2 to its own
core): N processes on one machine share its cores, so this measures the all-reduces, the smaller
per-process batches and one-thread vs multi-thread kernels, not added compute; the 1-thread
single process separates the last effect. On GPUs (``--device cuda``, or auto with a GPU) each process
gets its own GPU: N processes run only when there are N GPUs, and a single-GPU machine gives only the
1-process figure (it says so).
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

import common
from jittor_stylegan import runtime

SIZE = 32


def toy_lmdb(folder):
    from PIL import Image
    from jittor_stylegan.data import prepare

    images = os.path.join(folder, "images")
    os.makedirs(images)
    rng = np.random.default_rng(0)
    for i in range(64):
        Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(os.path.join(images, f"{i}.png"))
    out = os.path.join(folder, "mdb")
    prepare(out, images, max_size=SIZE, progress=False)
    return out


def run(arch, processes, threads, lmdb, folder, args):
    """(images, seconds) of the timed iterations of one training run (``threads``: OMP_NUM_THREADS, or None)."""
    run_dir = os.path.join(folder, f"{arch}-{processes}-{len(os.listdir(folder))}")
    # StyleGAN 1 from 32 px: a fixed size for the whole run, as StyleGAN 2
    cmd = [sys.executable, "train.py", lmdb, "--arch", arch, "--preset", "cpu-demo", "--mixing", "--run_dir", run_dir,
           "--iterations", str(args.warmup + args.iterations), "--sample_every", "100000", "--ckpt_every", "100000",
           "--no_progress", "--batch_default", str(args.batch)]
    if arch == "stylegan1":
        cmd += ["--init_size", str(SIZE)]
    if processes > 1:
        cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(processes)] + cmd
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    subprocess.run(cmd, cwd=common.REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(run_dir, "log.csv")) as f:
        rows = list(csv.DictReader(f))[args.warmup:]
    return len(rows) * args.batch, sum(float(r["seconds"]) for r in rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", nargs="+", default=["stylegan1", "stylegan2"])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16, help="global batch (a multiple of 4 x processes)")
    parser.add_argument("--iterations", type=int, default=30, help="timed iterations per run")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    runtime.add_device_arguments(parser)
    args = parser.parse_args()
    if shutil.which("mpirun") is None:
        sys.exit("bench_mpi: mpirun not found (./setup.sh installs OpenMPI)")
    device = runtime.configure_from_args(args)  # the train.py processes inherit the choice through the environment
    print(common.machine() + f"; device {device}")
    if device == "cpu":
        # (processes, OMP_NUM_THREADS): one process with every core; with one thread (what each of the
        # N processes gets on an N-core machine); N processes (their threads set by runtime.configure)
        variants = {"1 process": (1, None), "1 process, 1 thread": (1, 1),
                    f"{args.processes} processes": (args.processes, None)}
    else:
        gpus = len(common.gpu_names())
        variants = {"1 process, 1 GPU": (1, None)}
        if gpus >= args.processes:
            variants[f"{args.processes} processes, {args.processes} GPUs"] = (args.processes, None)
        else:
            print(f"bench_mpi: {gpus} GPU(s) for {args.processes} processes: only the 1-process figure (processes "
                  f"sharing a GPU would measure nothing useful)")
    with tempfile.TemporaryDirectory() as folder:
        lmdb = toy_lmdb(folder)
        totals = {(arch, v): [0, 0.0] for arch in args.arch for v in variants}
        for _ in range(args.rounds):
            for arch in args.arch:
                for v, (n, threads) in variants.items():
                    images, seconds = run(arch, n, threads, lmdb, folder, args)
                    totals[arch, v][0] += images
                    totals[arch, v][1] += seconds
    rows = []
    for arch in args.arch:
        speeds = [totals[arch, v][0] / totals[arch, v][1] for v in variants]
        rows.append([arch, f"{SIZE}px", str(args.batch)] + [f"{x:.1f}" for x in speeds]
                    + [f"{speeds[-1] / speeds[0]:.2f}x" if len(speeds) > 1 else "not measured"])
    print(common.table(["arch", "size", "global batch"] + [f"{v} img/s" for v in variants]
                       + [f"{args.processes} processes / 1 process"], rows))


if __name__ == "__main__":
    main()
