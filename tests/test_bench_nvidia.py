"""The GPU benchmark's NVIDIA row (bench/nvidia_stylegan2.py): its CPU-side setup and two tiny iterations run
on NVIDIA's own code when bench/prepare_nvidia.sh has put it in bench/.nvidia/src (or $JSG_NVIDIA_SRC names
it; NVIDIA's licence keeps it out of the repository), and bench_training.py's rows: NVIDIA's on CUDA only."""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

pytest.importorskip("torch")
sys.path.insert(0, os.path.join(REPO, "bench"))
import bench_training  # noqa: E402
import nvidia_stylegan2  # noqa: E402


def test_nvidia_smoke_runs_its_code_on_cpu():
    """~10 s: 16 px, fp16 at 8 and 16 px (its rule for num_fp16_res 4 at 16 px), reference ops on CPU."""
    try:
        nvidia_stylegan2.source_dir()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    done = subprocess.run([sys.executable, "bench/nvidia_stylegan2.py", "--smoke"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, FIX_TORCH_ERROR="0"))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["finite"] and result["ops"] == "reference"
    assert result["image"] == [4, 3, 16, 16] and result["g_fp16_resolutions"] == [8, 16]
    assert 0.05 < result["image_std"] < 10


def test_nvidia_source_missing_is_one_line():
    with pytest.raises(FileNotFoundError, match="prepare_nvidia.sh"):
        nvidia_stylegan2.source_dir("/nonexistent")


def test_stylegan2_rows():
    """Jittor float32 first (the speed-ups' base), rosinality second (FLOPs, the losses' check), then the rest."""
    rows = bench_training.sg2_implementations([0, 4], "/some/src")
    assert list(rows) == ["Jittor (this project)", "PyTorch, rosinality", "Jittor, --fp16_res 4",
                          bench_training.NVIDIA_ROW]
    assert rows["Jittor, --fp16_res 4"] == ("jittor2", 4) and rows[bench_training.NVIDIA_ROW][0] == "nvidia2"
    assert bench_training.NVIDIA_ROW not in bench_training.sg2_implementations([0], None)
