"""bench/bench_training.py end to end at a toy size: every worker runs (Jittor and PyTorch, both
families, weights and inputs handed over through an .npz), and the StyleGAN 2 workers' first
iteration agrees (the bench's own check that both sides train the same thing). ~20 s warm."""
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO

pytest.importorskip("torch")

# Measured at 8 px (small widths): 3.9e-4 (float32 sums in a different order); 16 / 32 px: 6.4e-4 / 2.4e-3.
LOSS_AGREEMENT = 1e-2


def test_every_worker_runs_and_the_stylegan2_sides_agree():
    cmd = [sys.executable, "bench/bench_training.py", "--sizes", "8", "--widths", "small", "--iterations", "1",
           "--warmup", "1", "--rounds", "1", "--sample_batch", "2", "--batch", "4", "--device", "cpu"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, log_silent="1"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| small | 8 |")]
    for implementation in ("Jittor (this project)", "PyTorch, rosinality (grouped-conv blur)",
                           "PyTorch, fastest (per-plane blur)", "PyTorch, rosinality |"):
        assert any(implementation in row for row in rows), implementation
    difference = float(re.search(r"first iteration's losses .*largest relative difference ([0-9.e-]+)",
                                 done.stdout).group(1))
    assert difference < LOSS_AGREEMENT
