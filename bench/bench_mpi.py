"""Training throughput on 1 vs N MPI processes: ``train.py`` itself (``--preset cpu-demo`` networks,
the same global batch), one process plainly and N under ``mpirun -np N``, alternating.

    .venv/bin/python bench/bench_mpi.py [--arch stylegan1 stylegan2] [--processes 2] [--iterations 30]

Images/s = global images of the timed iterations / their seconds in ``log.csv`` (the first
``--warmup`` iterations, which compile kernels, are left out), pooled over ``--rounds``.
On a CPU every process computes with the cores it is given (mpirun binds each to its own by
default): N processes on one machine share its cores, so this measures the overhead of the
all-reduces and of the smaller per-process batches, not a speed-up. On a single-GPU machine
only the 1-process figure is meaningful (N processes would share one GPU).
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


def run(arch, processes, lmdb, folder, args):
    """(images, seconds) of the timed iterations of one training run."""
    run_dir = os.path.join(folder, f"{arch}-{processes}-{len(os.listdir(folder))}")
    # StyleGAN 1 from 32 px: a fixed size for the whole run, as StyleGAN 2
    cmd = [sys.executable, "train.py", lmdb, "--arch", arch, "--preset", "cpu-demo", "--mixing", "--run_dir", run_dir,
           "--iterations", str(args.warmup + args.iterations), "--sample_every", "100000", "--ckpt_every", "100000",
           "--no_progress", "--batch_default", str(args.batch)]
    if arch == "stylegan1":
        cmd += ["--init_size", str(SIZE)]
    if processes > 1:
        cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(processes)] + cmd
    subprocess.run(cmd, cwd=common.REPO, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(run_dir, "log.csv")) as f:
        rows = list(csv.DictReader(f))[args.warmup:]
    return sum(int(args.batch) for _ in rows), sum(float(r["seconds"]) for r in rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", nargs="+", default=["stylegan1", "stylegan2"])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16, help="global batch (a multiple of 4 x processes)")
    parser.add_argument("--iterations", type=int, default=30, help="timed iterations per run")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("mpirun") is None:
        sys.exit("bench_mpi: mpirun not found (./setup.sh installs OpenMPI)")
    print(common.machine())
    with tempfile.TemporaryDirectory() as folder:
        lmdb = toy_lmdb(folder)
        totals = {(arch, n): [0, 0.0] for arch in args.arch for n in (1, args.processes)}
        for _ in range(args.rounds):
            for arch in args.arch:
                for n in (1, args.processes):
                    images, seconds = run(arch, n, lmdb, folder, args)
                    totals[arch, n][0] += images
                    totals[arch, n][1] += seconds
    rows = []
    for arch in args.arch:
        one, many = (totals[arch, n][0] / totals[arch, n][1] for n in (1, args.processes))
        rows.append([arch, f"{SIZE}px", str(args.batch), f"{one:.1f}", f"{many:.1f}", f"{many / one:.2f}x"])
    print(common.table(["arch", "size", "global batch", "1 process img/s", f"{args.processes} processes img/s",
                        "ratio"], rows))


if __name__ == "__main__":
    main()
