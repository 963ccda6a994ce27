"""Grey data stays grey: prepare_data.py and training from a folder choose 1 channel when every image is
grey (3 otherwise, or as --channels says), the LMDB records it, grey StyleGAN 1 and 2 runs sample grey
PNGs, and LMDBs written before the channel count was recorded still load."""
import io
import json
import os

import lmdb
import numpy as np
import pytest
from PIL import Image

import prepare_data
import train
from test_stylegan2_training import TINY as SG2_TINY
from test_workflow import TINY as SG1_TINY

from jittor_stylegan.data import MultiResolutionDataset, dataset_for, prepare

N = 8


def grey_folder(folder, n=N):
    """``n`` grey images of 16x12 in four forms (mode L, grey + alpha, RGB of equal channels, 16-bit);
    their pixels (before alpha) by name."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    pixels = {}
    for i in range(n):
        a = rng.integers(0, 256, (12, 16), dtype=np.uint8)
        image = [Image.fromarray(a), Image.fromarray(np.stack([a, a], -1), "LA"),
                 Image.fromarray(np.stack([a] * 3, -1)), Image.fromarray(a.astype(np.uint16))][i % 4]
        pixels[f"{i:02d}.png"] = a
        image.save(folder / f"{i:02d}.png")
    return pixels


def images(path, size=8):
    data = MultiResolutionDataset(str(path))
    return [data.image(size, i) for i in range(len(data))]


def test_a_grey_folder_makes_a_one_channel_lmdb(tmp_path, capsys):
    grey_folder(tmp_path / "grey")
    prepare_data.main([str(tmp_path / "grey"), "--out", str(tmp_path / "auto"), "--max_size", "8", "--n_worker", "1"])
    assert (f"wrote {N} images to {tmp_path / 'auto'} at sizes 4..8, grey: 1 channel (all {N} images are grey; "
            "--channels 3 to override); skipped 0") in capsys.readouterr().out
    assert MultiResolutionDataset(str(tmp_path / "auto")).channels() == 1
    assert {image.mode for image in images(tmp_path / "auto")} == {"L"}
    # The same pixels as --channels 1; --channels 3 forces RGB, each image its grey one in three equal channels.
    ones = prepare(str(tmp_path / "ones"), str(tmp_path / "grey"), max_size=8, channels=1, workers=1, progress=False)
    assert ones[2:] == (1, "grey: 1 channel (--channels 1)", None)  # (None: unlabelled)
    assert [np.array_equal(a, b) for a, b in zip(images(tmp_path / "auto"), images(tmp_path / "ones"))] == [True] * N
    rgb = prepare(str(tmp_path / "rgb"), str(tmp_path / "grey"), max_size=8, channels=3, workers=1, progress=False)
    assert rgb[2:] == (3, "colour: 3 channels (--channels 3)", None)
    assert MultiResolutionDataset(str(tmp_path / "rgb")).channels() == 3
    assert [np.array_equal(np.asarray(a.convert("RGB")), b) for a, b in
            zip(images(tmp_path / "auto"), images(tmp_path / "rgb"))] == [True] * N


def test_a_mixed_folder_is_colour_and_says_why(tmp_path, capsys):
    grey_folder(tmp_path / "mixed")
    colour = np.random.default_rng(1).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "mixed" / "05-colour.png")
    prepare_data.main([str(tmp_path / "mixed"), "--out", str(tmp_path / "auto"), "--max_size", "8", "--n_worker", "1"])
    assert (f"at sizes 4..8, colour: 3 channels (in colour: 1 of {N + 1} images, the first 05-colour.png; "
            "--channels 1 to override); skipped 0") in capsys.readouterr().out
    # Every image RGB, the grey ones stored first as L and re-encoded: the pixels of a --channels 3 build.
    assert MultiResolutionDataset(str(tmp_path / "auto")).channels() == 3
    prepare(str(tmp_path / "rgb"), str(tmp_path / "mixed"), max_size=8, channels=3, workers=1, progress=False)
    for size in (4, 8):
        auto, rgb = images(tmp_path / "auto", size), images(tmp_path / "rgb", size)
        assert {image.mode for image in auto} == {"RGB"}
        assert [np.array_equal(a, b) for a, b in zip(auto, rgb)] == [True] * (N + 1)
    # --channels 1 makes every image grey.
    prepare_data.main([str(tmp_path / "mixed"), "--out", str(tmp_path / "ones"), "--max_size", "8", "--channels",
                       "1", "--n_worker", "1"])
    assert "grey: 1 channel (--channels 1)" in capsys.readouterr().out
    assert {image.mode for image in images(tmp_path / "ones")} == {"L"}


def test_fashion_mnist_is_one_channel(tmp_path, capsys):
    prepare_data.main(["--builtin", "fashion-mnist", "--out", str(tmp_path / "fm"), "--max_size", "8", "--limit", "12",
                       "--n_worker", "1"])
    assert "grey: 1 channel (all 12 images are grey; --channels 3 to override)" in capsys.readouterr().out
    assert MultiResolutionDataset(str(tmp_path / "fm")).channels() == 1


def test_folder_cache_keys_the_channel_choice(tmp_path):
    grey_folder(tmp_path / "grey")
    cache = str(tmp_path / "cache")

    def build(channels):
        lines = []
        path = dataset_for(str(tmp_path / "grey"), 8, channels, cache, workers=1, progress=False, log=lines.append)
        return os.path.basename(path), lines[-1]

    auto, line = build(None)
    assert auto.startswith("grey-8px-1ch-") and line.startswith("built ")
    assert f", grey: 1 channel (all {N} images are grey; --channels 3 to override); skipped 0" in line
    # An explicit --channels 3 is its own entry (so is an explicit 1): the choice from the data never takes it.
    forced, line = build(3)
    assert forced.startswith("grey-8px-3ch-") and ", colour: 3 channels (--channels 3); " in line
    ones, _ = build(1)
    assert ones.startswith("grey-8px-1ch-") and ones != auto
    again, line = build(None)
    assert again == auto and line.startswith(f"reusing {os.path.join(cache, auto)} ({N} images from ")
    assert f", grey: 1 channel (all {N} images are grey; --channels 3 to override); skipped 0)" in line
    with open(os.path.join(cache, auto, "source.json")) as f:
        assert json.load(f)["channels"] == 1


@pytest.mark.parametrize("arch", ["stylegan1", "stylegan2"])
def test_a_grey_run_samples_grey(arch, tmp_path, monkeypatch, capsys):
    grey_folder(tmp_path / "grey")
    monkeypatch.chdir(tmp_path)
    tiny = SG1_TINY + ["--loss", "r1"] if arch == "stylegan1" else SG2_TINY
    trainer = train.main(["grey", "--iterations", "2", "--run_dir", "run"] + tiny)
    report = capsys.readouterr().out
    assert f"grey: 1 channel (all {N} images are grey; --channels 3 to override)" in report
    assert f"; {N} grey images from {os.path.join('mdb', 'cache', 'grey-8px-1ch-')}" in report
    assert "so G and D have 1 channel." in report
    assert trainer.cfg["channels"] == 1
    sample = Image.open(os.path.join("run", "sample", "000002.png"))
    assert sample.mode == "L"
    if arch == "stylegan2":  # the viewer renders the checkpoint grey too
        from jittor_stylegan.viewer import server
        model = server.Model(os.path.join("run", "checkpoint", "000002.npz"))
        png, _ = model.render(server.Settings.parse({"size": ["8"]}, model))
        assert Image.open(io.BytesIO(png)).mode == "L"


def test_fid_feeds_grey_as_three_equal_channels():
    from jittor_stylegan.metrics.inception import preprocess
    grey = np.random.default_rng(0).integers(0, 256, (2, 1, 8, 8), dtype=np.uint8)
    assert np.array_equal(preprocess(grey).numpy(), preprocess(grey.repeat(3, axis=1)).numpy())


def write_old_lmdb(path, mode, fmt):
    """An LMDB as prepare_data.py wrote it before the channel count was recorded (``fmt`` PNG), or as
    rosinality's does (JPEG): image keys and ``length`` only."""
    rng = np.random.default_rng(0)
    with lmdb.open(str(path), map_size=1 << 24) as env, env.begin(write=True) as txn:
        for i in range(3):
            for size in (4, 8):
                shape = (size, size, 3) if mode == "RGB" else (size, size)
                buffer = io.BytesIO()
                Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buffer, format=fmt)
                txn.put(f"{size}-{i:05d}".encode(), buffer.getvalue())
        txn.put(b"length", b"3")


def test_old_lmdbs_load(tmp_path):
    from jittor_stylegan.training.run_files import dataset_signature
    for mode, fmt, channels in (("RGB", "jpeg", 3), ("RGB", "png", 3), ("L", "png", 1)):
        path = tmp_path / f"{mode}-{fmt}"
        write_old_lmdb(path, mode, fmt)
        data = MultiResolutionDataset(str(path))
        assert data.channels() == channels and data.sizes() == [4, 8]
        assert data.batch(8, [0, 2], [False, True]).shape == (2, channels, 8, 8)
        assert len(dataset_signature(data)) == 40
    # A new LMDB holds one key more than the old ones, skipped by everything that walks its keys.
    grey_folder(tmp_path / "grey", n=3)
    prepare(str(tmp_path / "new"), str(tmp_path / "grey"), max_size=8, workers=1, progress=False)
    with lmdb.open(str(tmp_path / "new"), readonly=True, lock=False) as env, env.begin() as txn:
        keys = sorted(k for k, _ in txn.cursor())
    assert keys == sorted([f"{s}-{i:05d}".encode() for s in (4, 8) for i in range(3)] + [b"length", b"channels"])
    assert len(dataset_signature(MultiResolutionDataset(str(tmp_path / "new")))) == 40
    # A --channels that an LMDB does not hold is one clear line.
    with pytest.raises(SystemExit, match=r"^train: --channels 1: .*RGB-png holds 3-channel images; train from the "
                                         r"images, or prepare_data.py --channels 1$"):
        train.main([str(tmp_path / "RGB-png"), "--channels", "1", "--run_dir", str(tmp_path / "run")] + SG1_TINY)
