"""StyleGAN 2 training end to end at toy sizes: lazy R1 and path-length regularization on their
schedule, exact resume, gradient accumulation, and generate / video_write on its checkpoints."""
import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

import generate
import train
import video_write
from test_workflow import lmdb_path  # noqa: F401  (the shared toy LMDB fixture, 4 and 8 px)

from jittor_stylegan.formats import checkpoint

TINY = ["--arch", "stylegan2", "--mixing", "--max_size", "8", "--batch_default", "4", "--code_size", "8",
        "--n_mlp", "2", "--max_channels", "8", "--d_reg_every", "2", "--g_reg_every", "2", "--sample_every", "2",
        "--ckpt_every", "2", "--sample_rows", "2", "--sample_cols", "2", "--no_progress"]


def rows(run):
    with open(os.path.join(run, "log.csv")) as f:
        return list(csv.DictReader(f))


def test_stylegan2_trains_resumes_and_samples(lmdb_path, tmp_path, capfd):  # noqa: F811
    run_a = str(tmp_path / "a")
    train.main([lmdb_path, "--run_dir", run_a, "--iterations", "4"] + TINY)
    assert "have gradient" not in capfd.readouterr().err
    log = rows(run_a)
    assert [int(r["iteration"]) for r in log] == [1, 2, 3, 4]
    # Lazy regularization on iterations 0 and 2 (logged as rows 1 and 3), not in between.
    assert [bool(r["r1"]) for r in log] == [True, False, True, False]
    assert [bool(r["path_penalty"]) for r in log] == [True, False, True, False]
    assert all(float(r["r1"]) > 0 and float(r["path_length"]) > 0 for r in log[::2])
    means = [float(r["mean_path_length"]) for r in log]
    assert means[0] > 0 and means[0] == means[1] != means[2] == means[3]
    meta, _ = checkpoint.load(os.path.join(run_a, "checkpoint", "000004.npz"))
    assert meta["arch"] == "stylegan2" and meta["progress"]["mean_path_length"] == pytest.approx(means[-1], abs=1e-5)
    # Adam steps: 4 plain updates + 2 lazy-regularization updates for each network.
    assert meta["optimizers"]["d_optim"]["n_step"] == meta["optimizers"]["g_optim"]["n_step"] == 6
    ratio = 2 / 3
    assert meta["optimizers"]["g_optim"]["lr"] == [pytest.approx(0.002 * ratio)]

    # A killed attempt (3 iterations, last checkpoint at 2) resumed from 2 equals the uninterrupted run.
    run_b = str(tmp_path / "b")
    train.main([lmdb_path, "--run_dir", run_b, "--iterations", "3"] + TINY)
    train.main(["--ckpt", os.path.join(run_b, "checkpoint", "000002.npz"), "--iterations", "4", "--no_progress"])
    timing = ("seconds", "images_per_sec")
    assert [{k: v for k, v in r.items() if k not in timing} for r in rows(run_b)] == \
        [{k: v for k, v in r.items() if k not in timing} for r in log]
    _, a = checkpoint.load(os.path.join(run_a, "checkpoint", "000004.npz"))
    _, b = checkpoint.load(os.path.join(run_b, "checkpoint", "000004.npz"))
    for net in ("g", "d", "g_ema"):
        assert set(a[net]) == set(b[net])
        for name in a[net]:
            np.testing.assert_allclose(a[net][name], b[net][name], rtol=1e-5, atol=1e-6, err_msg=name)

    ckpt = os.path.join(run_a, "checkpoint", "000004.npz")
    out = str(tmp_path / "gen")
    generate.main(["--path", ckpt, "--size", "8", "--out", out, "--n_row", "2", "--n_col", "3", "--frames", "3",
                   "--truncation", "0.7", "--n_mixing", "2"])
    # 8 px tiles enlarged 16x to 128 px, 2 px apart
    assert Image.open(os.path.join(out, "sample.png")).size == (3 * 130 + 2, 2 * 130 + 2)
    assert Image.open(os.path.join(out, "sample_mixing_coarse.png")).size == (4 * 130 + 2, 3 * 130 + 2)
    assert not os.path.exists(os.path.join(out, "sample_mixing_middle.png"))  # 8 px has levels 0-1 only
    with pytest.raises(SystemExit, match="does not match"):
        generate.main(["--path", ckpt, "--size", "16"])
    # The same networks as a rosinality .pt (with its argparse args) sample the same images.
    torch = pytest.importorskip("torch")
    import argparse
    from jittor_stylegan import convert
    from jittor_stylegan.formats import rosinality
    from jittor_stylegan.training import stylegan2
    g_args = stylegan2.StyleGAN2.network_args(meta["config"])["g_ema"]
    nets = {key: stylegan2.StyleGAN2.Generator(**g_args) for key in ("g", "g_ema")}
    for key, net in nets.items():
        convert.load_state(net, a[key])
    pt = str(tmp_path / "rosinality.pt")
    rosinality.save_torch_checkpoint(pt, **nets)
    raw = torch.load(pt, weights_only=True)
    torch.save(dict(raw, args=argparse.Namespace(size=8, latent=8, n_mlp=2)), pt)
    out_pt = str(tmp_path / "gen_pt")
    generate.main(["--path", pt, "--size", "8", "--out", out_pt, "--n_row", "2", "--n_col", "3", "--frames", "3",
                   "--truncation", "0.7", "--n_mixing", "2"])
    for name in ("sample.png", "sample_mixing_coarse.png", "interpolation.png", "sample_mixing/sample_mixing_1.png",
                 "sample_weight_mixing/sample_weight_mixing_9.png"):
        assert np.array_equal(np.asarray(Image.open(os.path.join(out, name))),
                              np.asarray(Image.open(os.path.join(out_pt, name)))), name
    from calc_metrics import main as metrics_main
    metrics_main(["--path", ckpt, "--data", lmdb_path, "--size", "8", "--metrics", "swd", "--num", "16", "--json",
                  "--no_cache"])
    assert json.loads(capfd.readouterr().out.strip().splitlines()[-1])["swd"] > 0
    video = str(tmp_path / "interp.mp4")
    video_write.main(["--ckpt", ckpt, "--size", "8", "--out", video, "--seeds", "1", "2", "--frames", "4"])
    assert os.path.getsize(video) > 0


def test_gradient_accumulation_counts_one_step_per_update(lmdb_path, tmp_path):  # noqa: F811
    run = str(tmp_path / "accum")
    train.main([lmdb_path, "--run_dir", run, "--iterations", "2", "--grad_accum", "2"] + TINY)
    meta, _ = checkpoint.load(os.path.join(run, "checkpoint", "000002.npz"))
    assert meta["optimizers"]["d_optim"]["n_step"] == meta["optimizers"]["g_optim"]["n_step"] == 3
    assert all(np.isfinite(float(r["d_loss"])) for r in rows(run))
    with pytest.raises(SystemExit, match="does not split"):
        train.main([lmdb_path, "--run_dir", str(tmp_path / "bad"), "--iterations", "2", "--grad_accum", "3"] + TINY)
    with pytest.raises(SystemExit, match="not a stylegan2 loss"):
        train.main([lmdb_path, "--run_dir", str(tmp_path / "bad"), "--loss", "r1"] + TINY)


def test_wall_clock_budget_and_checkpoints_count_over_resumes(lmdb_path, tmp_path, monkeypatch, capsys):  # noqa: F811
    """--minutes stops and --ckpt_minutes checkpoints on training's wall clock (here a fake one that moves
    30 s per iteration), which a resumed run goes on counting from its checkpoint."""
    from jittor_stylegan.training import loop

    clock = {"now": 1e9}
    step = loop.Trainer.train_step

    def slow_step(self):
        clock["now"] += 30
        return step(self)
    monkeypatch.setattr(loop.Trainer, "train_step", slow_step)
    monkeypatch.setattr(loop.time, "time", lambda: clock["now"])
    run = str(tmp_path / "clock")
    clock_args = ["--ckpt_every", "1000", "--sample_every", "1000", "--ckpt_minutes", "1"]
    train.main([lmdb_path, "--run_dir", run, "--iterations", "100", "--minutes", "2.4"] + TINY + clock_args)
    assert "or 2.4 minutes of training" in capsys.readouterr().out
    folder = os.path.join(run, "checkpoint")
    assert sorted(os.listdir(folder)) == ["000002.npz", "000004.npz", "000005.npz"]  # at 60 s, 120 s; stop at 150 s
    assert [checkpoint.read_meta(os.path.join(folder, f))["progress"]["seconds"] for f in sorted(os.listdir(folder))] \
        == [60, 120, 150]
    train.main(["--ckpt", os.path.join(folder, "000004.npz"), "--minutes", "3.1", "--no_progress"])
    assert sorted(os.listdir(folder))[-2:] == ["000006.npz", "000007.npz"]  # at 180 s; stop at 210 s >= 186 s
    assert checkpoint.read_meta(os.path.join(folder, "000007.npz"))["progress"]["seconds"] == 210
