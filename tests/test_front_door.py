"""The user's day exactly as typed, in an empty folder, with the reference (GPU-sized) networks:
``python train.py --mixing ./mdb/dataset`` until Ctrl-C, then ``python generate.py --size 8`` and
``python video_write.py`` with no other flags, on a machine where ``setup.sh`` has run (Jittor's cache built)."""
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import REPO, set_up_environment, without_ansi

import train

SCRIPTS = ("train.py", "generate.py", "video_write.py")


def run(folder, *argv, timeout=900):
    done = subprocess.run([sys.executable, *argv], cwd=folder, capture_output=True, text=True, timeout=timeout,
                          env=set_up_environment())
    return done.returncode, without_ansi(done.stdout + done.stderr)


@pytest.fixture
def user_folder(tmp_path):
    """An empty folder with the three scripts (as in a checkout) and a small 8 px LMDB at ./mdb/dataset."""
    from jittor_stylegan.data import prepare
    for name in SCRIPTS:
        os.symlink(os.path.join(REPO, name), tmp_path / name)
    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    images.mkdir()
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(images / f"{i}.png")
    prepare(str(tmp_path / "mdb" / "dataset"), str(images), max_size=8, progress=False)
    return tmp_path


def test_the_three_commands_as_typed(user_folder):
    folder = str(user_folder)
    log = open(user_folder / "train.out", "w")
    train_proc = subprocess.Popen([sys.executable, "train.py", "--mixing", "./mdb/dataset"], cwd=folder,
                                  stdout=log, stderr=subprocess.STDOUT, text=True, env=set_up_environment())
    # Until the CPU hint (after the compiling first iteration and three timed ones), then Ctrl-C.
    deadline = time.time() + 900
    while time.time() < deadline and "--preset cpu-demo" not in (user_folder / "train.out").read_text():
        assert train_proc.poll() is None, (user_folder / "train.out").read_text()[-3000:]
        time.sleep(0.5)
    train_proc.send_signal(signal.SIGINT)
    assert train_proc.wait(timeout=300) == 128 + signal.SIGINT
    log.close()
    console = without_ansi((user_folder / "train.out").read_text())
    assert "[i " not in console, console[:2000]  # Jittor's start-up lines are hidden (e.g. its core's Load cc_path)
    # The plan paragraph: the data's largest size, the reference widths, the run folder, how to stop and resume.
    assert "StyleGAN 1 at 8 px" in console and "widths 512 at 4 px to 512 at 8 px" in console
    assert "Outputs in runs/dataset/" in console and "Ctrl-C stops after the current iteration" in console
    assert "on this CPU one iteration takes" in console
    ckpts = sorted(os.listdir(user_folder / "runs" / "dataset" / "checkpoint"))
    assert len(ckpts) == 1
    n = int(ckpts[0][:-4])
    assert n >= 4 and f"resume with: python train.py --ckpt runs/dataset/checkpoint/{ckpts[0]}" in console
    samples = sorted(os.listdir(user_folder / "runs" / "dataset" / "sample"))
    assert samples[0] == "000001.png"  # the first iteration's grid, so a run stopped early has a first frame
    # 5 x 8 tiles of 8 px enlarged 16x (nearest neighbour) to 128 px, 2 px apart.
    grid = np.asarray(Image.open(user_folder / "runs" / "dataset" / "sample" / "000001.png"))
    assert grid.shape == (5 * 130 + 2, 8 * 130 + 2, 3)
    tile = grid[2:130, 2:130]
    assert (tile == tile[::16, ::16].repeat(16, 0).repeat(16, 1)).all()

    code, out = run(folder, "generate.py", "--size", "8")
    assert code == 0, out
    assert f"generate: using runs/dataset/checkpoint/{ckpts[0]}" in out and "[i " not in out
    gen = user_folder / "generated"
    assert Image.open(gen / "sample.png").size == (5 * 130 + 2, 3 * 130 + 2)
    assert sorted(os.listdir(gen / "sample_mixing")) == sorted(f"sample_mixing_{j}.png" for j in range(40))
    weights = sorted(os.listdir(gen / "sample_weight_mixing"))
    assert weights == sorted(f"sample_weight_mixing_{j}.png" for j in range(1, 40))
    sweep = [np.asarray(Image.open(gen / "sample_weight_mixing" / f"sample_weight_mixing_{j}.png"), dtype=float)
             for j in (1, 20, 39)]
    assert np.abs(sweep[0] - sweep[2]).mean() > 1  # style weight 1/40 vs 39/40: different images
    assert cv2.VideoCapture(str(gen / "sample_weight_mixing.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 39
    code, out = run(folder, "generate.py", "--size", "16")
    assert code == 1 and "does not match" in out.splitlines()[-1]

    code, out = run(folder, "video_write.py")
    assert code == 0, out
    video = user_folder / "runs" / "dataset" / "progress.mp4"
    assert f"wrote {os.path.join('runs', 'dataset', 'progress.mp4')}" in out
    assert cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT) == len(samples)
    code, out = run(folder, "video_write.py", "--out", "progress.avi")
    assert code == 0 and cv2.VideoCapture(str(user_folder / "progress.avi")).get(cv2.CAP_PROP_FRAME_COUNT) == len(samples)


def test_defaults_and_errors_without_a_run(tmp_path):
    for name in SCRIPTS[1:]:
        os.symlink(os.path.join(REPO, name), tmp_path / name)
    for script in ("generate.py", "video_write.py"):
        code, out = run(str(tmp_path), script)
        assert code == 1 and "no runs/<run>/" in out and "train first" in out, out


def test_sched_and_phase_tables(user_folder):
    """--sched takes rosinality's table alone or a RES:BATCH table; --phase a RES:FADE/STABILISE table."""
    from jittor_stylegan.training import stylegan1
    lmdb_path = str(user_folder / "mdb" / "dataset")
    cfg = dict(sched="8:32,16:16", batch_default=4, lr=0.001, phase="8:100,16:30/60")
    assert [stylegan1.schedule(cfg, r) for r in (8, 16, 32)] == [(32, 0.001), (16, 0.001), (4, 0.001)]
    assert [stylegan1.phase_lengths(cfg, r) for r in (8, 16, 32)] == [(100, 100), (30, 60), (100, 100)]
    assert stylegan1.schedule(dict(cfg, sched=True), 128) == (32, 0.0015)
    _, args = train.parse([lmdb_path, "--sched", "--init_size", "8", "--batch_size", "4", "--latent_dim", "16",
                           "--save_every", "7"])
    assert args.sched is True and (args.batch_default, args.code_size, args.ckpt_every) == (4, 16, 7)
    _, args = train.parse(["--sched", lmdb_path])  # the flag, then the data
    assert args.sched is True and args.path == lmdb_path
    for bad in (["--sched", "8:x"], ["--phase", "3:10"]):
        with pytest.raises(SystemExit):
            train.main([lmdb_path] + bad)
