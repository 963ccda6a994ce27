"""Augmentation in training (``--aug``, ``training/ada``): ADA's p rises from 0 where D overfits and
moves as NVIDIA's controller moves it, stays put without augmentation, survives a resume exactly;
the settings that do not go together fail in one line; ``--mirror 0`` turns the flips off."""
import csv
import os

import numpy as np
import pytest
from PIL import Image

import prepare_data
import train
from jittor_stylegan.formats import checkpoint
from jittor_stylegan.training import ada

# A tiny StyleGAN 2 on 8 px images: D memorises 8 images within a few dozen iterations.
SG2 = ["--arch", "stylegan2", "--max_size", "8", "--batch_default", "8", "--code_size", "8", "--n_mlp", "2",
       "--max_channels", "8", "--d_reg_every", "4", "--g_reg_every", "4", "--sample_rows", "1", "--sample_cols", "2",
       "--sample_every", "100", "--no_progress"]
SG1 = ["--init_size", "8", "--max_size", "8", "--batch_default", "8", "--code_size", "8", "--n_mlp", "2",
       "--channel_base", "32", "--max_channels", "8", "--loss", "r1", "--sample_rows", "1", "--sample_cols", "2",
       "--sample_every", "100", "--no_progress"]
ADA_KIMG = 1  # p moves by 8 images * 4 iterations / 1,000 = 0.032 per adjustment


@pytest.fixture(scope="module")
def lmdb_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("ada")
    rng = np.random.default_rng(0)
    (root / "images").mkdir()
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(root / "images" / f"{i}.png")
    prepare_data.main([str(root / "images"), "--out", str(root / "mdb"), "--max_size", "8", "--n_worker", "1"])
    return str(root / "mdb")


def log_rows(run):
    with open(os.path.join(run, "log.csv")) as f:
        return list(csv.DictReader(f))


def progress(run, iteration):
    """A checkpoint's progress but training's wall clock (``seconds``), which differs between runs."""
    meta = checkpoint.load(os.path.join(run, "checkpoint", f"{iteration:06d}{checkpoint.SUFFIX}"))[0]
    return {k: v for k, v in meta["progress"].items() if k != "seconds"}


@pytest.mark.parametrize("family", [SG2, SG1], ids=["stylegan2", "stylegan1"])
def test_ada_p_rises_where_d_overfits_and_resumes_exactly(lmdb_path, tmp_path, capsys, family):
    run_a, run_b = str(tmp_path / "a"), str(tmp_path / "b")
    args = [lmdb_path, "--aug", "ada", "--ada_kimg", str(ADA_KIMG), "--ckpt_every", "8"] + family
    train.main(args + ["--run_dir", run_a, "--iterations", "24"])
    assert "ADA (bgc, p from 0" in capsys.readouterr().out
    p = [float(r["augment_p"]) for r in log_rows(run_a)]
    step = 8 * ada.ADA_INTERVAL / (ADA_KIMG * 1000)
    # NVIDIA's controller: p moves after iterations 0, 4, 8, ... (log rows 1, 5, 9, ...) by one step, within [0, 1]
    moves = {i + 1: b - a for i, (a, b) in enumerate(zip([0.0] + p, p)) if b != a}
    assert all(it % ada.ADA_INTERVAL == 1 for it in moves), moves
    assert all(abs(d) == pytest.approx(step) or b == 0 for (it, d), b in zip(moves.items(), [p[i - 1] for i in moves]))
    assert max(p) >= 3 * step, p  # D overfits 8 images: the sign of its real scores passes the target
    # an attempt stopped at 18 and resumed from its checkpoint at 14 (between two adjustments of p) logs
    # and ends as the uninterrupted run
    train.main(args + ["--run_dir", run_b, "--iterations", "18", "--ckpt_every", "14"])
    train.main(["--ckpt", os.path.join(run_b, "checkpoint", f"000014{checkpoint.SUFFIX}"), "--iterations", "24",
                "--no_progress"])
    timing = ("seconds", "images_per_sec")
    assert [{k: v for k, v in r.items() if k not in timing} for r in log_rows(run_b)] == \
        [{k: v for k, v in r.items() if k not in timing} for r in log_rows(run_a)]
    assert progress(run_a, 24) == progress(run_b, 24)
    assert progress(run_a, 24)["augment_p"] == pytest.approx(p[-1], abs=1e-5)


def test_without_augmentation_p_stays_zero_and_fixed_p_stays_put(lmdb_path, tmp_path):
    none, fixed = str(tmp_path / "none"), str(tmp_path / "fixed")
    common = [lmdb_path, "--iterations", "8", "--ckpt_every", "8"] + SG2
    train.main(common + ["--run_dir", none, "--aug", "none"])
    assert {r["augment_p"] for r in log_rows(none)} == {""}
    assert progress(none, 8)["augment_p"] == 0 and progress(none, 8)["ada_signs"] == [0, 0]
    train.main(common + ["--run_dir", fixed, "--aug", "fixed", "--p", "0.3"])
    assert {r["augment_p"] for r in log_rows(fixed)} == {"0.30000"}


def test_the_default_is_ada_for_a_small_stylegan2_set(lmdb_path):
    assert train.new_config(train.parse([lmdb_path] + SG2)[1])["aug"] == "ada"
    assert train.new_config(train.parse([lmdb_path] + SG1)[1])["aug"] == "none"
    assert train.new_config(train.parse([lmdb_path, "--aug", "diffaugment"] + SG2)[1])["aug"] == "diffaugment"
    assert train.new_config(train.parse([lmdb_path, "--aug", "noaug"] + SG2)[1])["aug"] == "none"  # NVIDIA's name


@pytest.mark.parametrize("options, message", [
    (["--aug", "fixed"], "--aug fixed needs --p"),
    (["--aug", "ada", "--p", "0.2"], "--p 0.2 is the probability of --aug fixed, not of --aug ada"),
    (["--aug", "fixed", "--p", "1.5"], r"--p 1.5: a probability in \[0, 1\]"),
    (["--augpipe", "bgcx"], "--augpipe bgcx"),
])
def test_settings_that_do_not_go_together_fail_in_one_line(lmdb_path, tmp_path, options, message):
    with pytest.raises(SystemExit, match=message):
        train.main([lmdb_path, "--run_dir", str(tmp_path / "r"), "--iterations", "1"] + SG2 + options)


def test_mirror_0_turns_the_flips_off(lmdb_path, tmp_path, monkeypatch):
    from jittor_stylegan.data import MultiResolutionDataset
    seen = []
    batch = MultiResolutionDataset.batch
    monkeypatch.setattr(MultiResolutionDataset, "batch",
                        lambda self, size, indices, flips: seen.append(np.asarray(flips)) or batch(self, size, indices,
                                                                                                   flips))
    for mirror in ("1", "0"):
        train.main([lmdb_path, "--run_dir", str(tmp_path / mirror), "--iterations", "4", "--mirror", mirror,
                    "--aug", "none"] + SG2)
    flips_on, flips_off = np.concatenate(seen[:4]), np.concatenate(seen[4:])
    assert flips_on.any() and not flips_off.any()
