"""Nothing lost, nothing executed: checkpoints that cannot run code, clear one-line errors on bad
checkpoints, atomic writes under a full disk, run folders that never mix two runs."""
import errno
import os
import pickle

import numpy as np
import pytest

import generate
import train
from test_workflow import TINY, lmdb_path  # noqa: F401  (the shared toy LMDB fixture)

from jittor_stylegan.formats import checkpoint
from jittor_stylegan.training import run_files

ARGS = ["--mixing", "--loss", "r1", "--sample_every", "100", "--ckpt_every", "2"] + TINY


class _Payload:
    """Unpickling this creates the marker file: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def crafted_pickle(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.model"
    with open(path, "wb") as f:
        pickle.dump({"g_running": _Payload(str(marker)), "config": {}}, f)
    return path, marker


def test_crafted_pickle_runs_no_code_in_either_cli(tmp_path, capsys):
    path, marker = crafted_pickle(tmp_path)
    with pytest.raises(SystemExit, match="pickle.*not read"):
        train.main(["--ckpt", str(path)])
    with pytest.raises(SystemExit, match="pickle.*not read") as e:
        generate.main(["--path", str(path), "--size", "8", "--out", str(tmp_path / "g")])
    assert "\n" not in str(e.value)
    with pytest.raises(SystemExit, match="refusing to load"):  # the conversion path refuses it too
        checkpoint.main(["--convert", str(path), str(tmp_path / "new.npz")])
    assert not marker.exists()


def test_format_round_trip_and_corruption(tmp_path):
    tensors = {"g": {"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, "opt": [{"m": [np.ones(2)]}],
               "inputs": {"3": {"inject_index": None, "n": 2}}}  # plain scalars stay JSON (never object arrays)
    path = str(tmp_path / "c.npz")
    checkpoint.save(path, {"arch": "x", "progress": {"iteration": 3}}, tensors)
    meta, loaded = checkpoint.load(path)
    assert meta["progress"] == {"iteration": 3} and meta["format"] == checkpoint.FORMAT
    assert np.array_equal(loaded["g"]["a"], tensors["g"]["a"]) and np.array_equal(loaded["opt"][0]["m"][0], np.ones(2))
    assert loaded["inputs"] == {"3": {"inject_index": None, "n": 2}}
    raw = open(path, "rb").read()
    for name, content in (("truncated.npz", raw[:len(raw) // 2]), ("empty.npz", b""), ("text.npz", b"hello")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(checkpoint.CheckpointError, match="truncated or corrupted|not a jittor-stylegan"):
            checkpoint.load(str(tmp_path / name))
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(checkpoint.CheckpointError, match="not a jittor-stylegan checkpoint"):
        checkpoint.load(str(tmp_path / "other.npz"))


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = str(tmp_path / "c.npz")
    checkpoint.save(path, {"n": 1}, {"w": np.zeros(1000)})
    before = open(path, "rb").read()

    def disk_full(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space"):
        checkpoint.save(path, {"n": 2}, {"w": np.ones(1000)})
    assert open(path, "rb").read() == before and os.listdir(tmp_path) == ["c.npz"]


def test_runs_never_share_a_folder_and_bad_checkpoints_are_one_line(lmdb_path, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    name = os.path.basename(lmdb_path)
    train.main([lmdb_path, "--iterations", "4"] + ARGS)
    first = os.path.join("runs", name)
    first_ckpts = sorted(os.listdir(os.path.join(first, "checkpoint")))
    first_log = open(os.path.join(first, "log.csv")).read()
    # Same dataset, no --run_dir: a new folder, said so; the first run is untouched.
    train.main([lmdb_path, "--iterations", "2", "--keep", "1"] + ARGS)
    assert sorted(os.listdir(os.path.join(first, "checkpoint"))) == first_ckpts == ["000002.npz", "000004.npz"]
    assert open(os.path.join(first, "log.csv")).read() == first_log
    assert os.listdir(os.path.join(first + "-2", "checkpoint")) == ["000002.npz"]
    with pytest.raises(SystemExit, match="holds another run; resume it with --ckpt"):
        train.main([lmdb_path, "--run_dir", first, "--iterations", "2"] + ARGS)

    # Rotation deletes only this run's checkpoints: a foreign one in the folder survives.
    foreign = os.path.join(first, "checkpoint", "000001.npz")
    os.rename(os.path.join(first + "-2", "checkpoint", "000002.npz"), foreign)
    train.main(["--ckpt", os.path.join(first, "checkpoint", "000004.npz"), "--iterations", "8", "--keep", "1",
                "--no_progress"])
    assert sorted(os.listdir(os.path.join(first, "checkpoint"))) == ["000001.npz", "000008.npz"]

    good = os.path.join(first, "checkpoint", "000008.npz")
    meta, tensors = checkpoint.load(good)
    bad = {"truncated.npz": open(good, "rb").read()[:5000]}
    for path, content in bad.items():
        (tmp_path / path).write_bytes(content)
    wrong_size = str(tmp_path / "wrong_size.npz")
    checkpoint.save(wrong_size, dict(meta, config=dict(meta["config"], max_channels=8)), tensors)
    wrong_arch = str(tmp_path / "wrong_arch.npz")
    checkpoint.save(wrong_arch, dict(meta, arch="stylegan9"), tensors)
    for path, message in ((str(tmp_path / "truncated.npz"), "truncated or corrupted"),
                          (wrong_size, "does not fit"), (wrong_arch, "unknown arch|not stylegan")):
        with pytest.raises(SystemExit, match=message) as e:
            train.main(["--ckpt", path, "--run_dir", str(tmp_path / "resumed"), "--no_progress"])
        assert "\n" not in str(e.value)
        if "arch" not in path:
            with pytest.raises(SystemExit, match=message):
                generate.main(["--path", path, "--size", "8", "--out", str(tmp_path / "g")])


def test_old_pickle_checkpoints_convert(lmdb_path, tmp_path):  # noqa: F811
    run = str(tmp_path / "run")
    train.main([lmdb_path, "--run_dir", run, "--iterations", "2"] + ARGS)
    meta, tensors = checkpoint.load(os.path.join(run, "checkpoint", "000002.npz"))
    old = {key: tensors[key] for key in ("generator", "discriminator", "g_running")}
    for key in ("g_optimizer", "d_optimizer"):
        old[key] = {"n_step": meta["optimizers"][key]["n_step"],
                    "groups": [dict(g, lr=lr) for g, lr in zip(tensors[key], meta["optimizers"][key]["lr"])]}
    old.update(progress=meta["progress"], config=meta["config"])
    old_path = tmp_path / "000002.model"
    with open(old_path, "wb") as f:
        pickle.dump(old, f)
    with pytest.raises(SystemExit, match="convert it once"):
        train.main(["--ckpt", str(old_path)])
    new_path = str(tmp_path / "converted.npz")
    checkpoint.main(["--convert", str(old_path), new_path])
    new_meta, new = checkpoint.load(new_path)
    assert new_meta["progress"] == meta["progress"]
    for key in old:
        if key in tensors and isinstance(tensors[key], dict):
            assert all(np.array_equal(new[key][n], tensors[key][n]) for n in tensors[key])
    assert run_files.owner(run) == meta["run_id"]
