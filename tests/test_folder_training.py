"""Training straight from images: the LMDB cache that ``data.dataset_for`` builds from a folder / .zip
(once, reused, rebuilt when the files change), atomic under SIGKILL and safe under two concurrent builds."""
import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import REPO

import train
from jittor_stylegan.data import (AUTO_MAX_SIZE, SOURCE_JSON, DataError, MultiResolutionDataset, dataset_for,
                                  default_max_size, smallest_image, source_name)

N = 16


def write_folder(folder, n=N, size=(16, 16), seed=0):
    """``n`` random PNGs (every other one in a subfolder) and one unreadable file; their pixels by name."""
    rng = np.random.default_rng(seed)
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    pixels = {}
    for i in range(n):
        name = f"{'sub/' if i % 2 else ''}{i:02d}.png"
        pixels[name] = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels[name]).save(folder / name)
    (folder / "broken.png").write_text("not an image")
    return pixels


def build(source, cache, **kwargs):
    """dataset_for with its log lines collected."""
    lines = []
    path = dataset_for(str(source), cache_dir=str(cache), workers=1, progress=False, log=lines.append, **kwargs)
    return path, lines


def stored(path, size=16):
    data = MultiResolutionDataset(path)
    return [np.asarray(data.image(size, i)) for i in range(len(data))]


def test_cache_is_built_once_reused_and_rebuilt_when_the_folder_changes(tmp_path):
    pixels = write_folder(tmp_path / "faces")
    cache = tmp_path / "cache"
    path, lines = build(tmp_path / "faces", cache)
    assert os.path.basename(path).startswith("faces-16px-3ch-") and os.path.dirname(path) == str(cache)
    assert len(lines) == 2 and lines[0].startswith(f"building an LMDB from {tmp_path / 'faces'} in {cache} at ")
    assert "at 4..16 px (16: the largest power of two within the smallest image, 00.png 16x16" in lines[0]
    colour = "colour: 3 channels (all 16 images are in colour; --channels 1 to override)"
    assert lines[1].startswith(f"built {path}: {N} images in ") and f" s, {colour}; " in lines[1]
    assert "skipped 1: broken.png (UnidentifiedImageError" in lines[1]
    assert [np.array_equal(a, pixels[name]) for a, name in zip(stored(path), sorted(pixels))] == [True] * N
    data = MultiResolutionDataset(path)
    assert [data.image(s, 3).size for s in (4, 8)] == [(4, 4), (8, 8)] and not data.has_size(32)
    with open(os.path.join(path, SOURCE_JSON)) as f:
        record = json.load(f)
    assert record["images"] == N and record["sizes"] == [4, 8, 16] and record["skipped"][0][0] == "broken.png"
    assert record["channels"] == 3 and record["channel_choice"] == colour
    assert sorted(os.listdir(cache)) == sorted([os.path.basename(path), os.path.basename(path).replace("-3ch", "")
                                                + ".lock", f"faces-{record['signature'][:12]}.json"])

    stamp = os.stat(os.path.join(path, "data.mdb")).st_mtime_ns
    again, lines = build(tmp_path / "faces", cache)
    assert again == path and os.stat(os.path.join(path, "data.mdb")).st_mtime_ns == stamp
    assert lines == [f"reusing {path} ({N} images from {tmp_path / 'faces'} at 4..16 px, {colour}; skipped 1: "
                     f"broken.png ({record['skipped'][0][1]}))"]

    # One image rewritten with new pixels in a file of the same name and byte size (random pixels do not
    # compress): told apart by its modification time alone. A new cache with the new pixels.
    rewritten = tmp_path / "faces" / "sub" / "05.png"
    size = rewritten.stat().st_size
    new = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(new).save(rewritten)
    os.utime(rewritten, ns=(1, 1))  # a distinct mtime even on a coarse clock
    assert rewritten.stat().st_size == size
    changed, lines = build(tmp_path / "faces", cache)
    assert changed != path and lines[-1].startswith(f"built {changed}: {N} images")
    assert np.array_equal(stored(changed)[sorted(pixels).index("sub/05.png")], new)
    assert np.array_equal(stored(path)[sorted(pixels).index("sub/05.png")], pixels["sub/05.png"])  # old one intact
    # One image added: rebuilt with it.
    Image.fromarray(new).save(tmp_path / "faces" / "zz.png")
    added, lines = build(tmp_path / "faces", cache)
    assert added not in (path, changed) and len(MultiResolutionDataset(added)) == N + 1

    # An explicit --max_size above the images upscales, as prepare_data.py does; the default one is the same
    # cache as an explicit --max_size 16.
    big, _ = build(tmp_path / "faces", cache, max_size=32)
    assert os.path.basename(big).startswith("faces-32px-3ch-") and stored(big, 32)[0].shape == (32, 32, 3)
    assert build(tmp_path / "faces", cache, max_size=16)[0] == added
    gray, lines = build(tmp_path / "faces", cache, channels=1)
    assert MultiResolutionDataset(gray).channels() == 1 and gray != added
    assert os.path.basename(gray).startswith("faces-16px-1ch-") and ", grey: 1 channel (--channels 1); " in lines[1]
    # An explicit --channels 3 is its own entry: the choice from the data never reuses it (nor it the choice).
    rgb, lines = build(tmp_path / "faces", cache, channels=3)
    assert os.path.basename(rgb).startswith("faces-16px-3ch-") and rgb != added
    assert ", colour: 3 channels (--channels 3); " in lines[1]
    # An LMDB passes through untouched.
    assert build(added, cache) == (added, [])


def test_zip_source_and_default_size(tmp_path):
    pixels = write_folder(tmp_path / "faces", n=4, size=(40, 24))
    with zipfile.ZipFile(tmp_path / "faces.zip", "w") as archive:
        for name in sorted(pixels):
            archive.write(tmp_path / "faces" / name, name)
    assert smallest_image(str(tmp_path / "faces.zip")) == (24, "00.png", (40, 24))
    path, lines = build(tmp_path / "faces.zip", tmp_path / "cache")
    assert os.path.basename(path).startswith("faces-16px-3ch-") and "00.png 40x24" in lines[0]
    assert len(MultiResolutionDataset(path)) == 4 and build(tmp_path / "faces.zip", tmp_path / "cache")[0] == path
    # Same images, another archive: another signature (the members' CRCs), same content.
    with zipfile.ZipFile(tmp_path / "faces.zip", "w") as archive:
        for name in sorted(pixels)[:3]:
            archive.write(tmp_path / "faces" / name, name)
    assert len(MultiResolutionDataset(build(tmp_path / "faces.zip", tmp_path / "cache")[0])) == 3

    # CIFAR-10's archive: 32 px by default, its train split.
    from test_cifar10_data import as_images, batch, write_archive
    batches = {"data_batch_1": batch(np.random.default_rng(0), 3, b"training batch 1 of 5"),
               "test_batch": batch(np.random.default_rng(1), 2, b"testing batch 1 of 1")}
    write_archive(tmp_path / "cifar-10-python.tar.gz", batches)
    path, lines = build(tmp_path / "cifar-10-python.tar.gz", tmp_path / "cache")
    assert os.path.basename(path).startswith("cifar-10-python-32px-3ch-") and "at 4..32 px (32: " in lines[0]
    assert np.array_equal(np.stack(stored(path, 32)), as_images(batches["data_batch_1"][b"data"]))

    assert [default_max_size(s) for s in (4, 5, 31, 32, 1000, 5000)] == [4, 4, 16, 32, 512, AUTO_MAX_SIZE]
    assert [source_name(p) for p in ("a/faces.zip", "cifar-10-python.tar.gz", "x/folder/", "mdb/emoji")] == \
        ["faces", "cifar-10-python", "folder", "emoji"]
    Image.fromarray(np.zeros((3, 9, 3), np.uint8)).save(tmp_path / "faces" / "tiny.png")
    with pytest.raises(DataError, match=r"tiny.png, is 9x3: below 4 px"):
        build(tmp_path / "faces", tmp_path / "cache")
    with pytest.raises(DataError, match="power of two"):
        build(tmp_path / "faces", tmp_path / "cache", max_size=24)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match="neither an LMDB"):
        build(tmp_path / "nothing", tmp_path / "cache")


# A build in another process; with HANG, ``prepare`` completes the LMDB in the temporary folder and then
# blocks before the rename: the worst moment to be killed (a whole LMDB that is not yet the cache).
BUILDER = """
import sys, time
from jittor_stylegan import data
if sys.argv[3] == "hang":
    prepare = data.prepare
    def hanging(*args, **kwargs):
        result = prepare(*args, **kwargs)
        print("prepared", flush=True)
        time.sleep(600)
        return result
    data.prepare = hanging
print(data.dataset_for(sys.argv[1], 16, cache_dir=sys.argv[2], workers=1, progress=False,
                       log=lambda line: print(line, flush=True)))
"""


def builder(source, cache, out, hang=False):
    """A process building the cache, started through a shell (its pid in ``<out>.pid``): Jittor, once an
    earlier test imported it, quits this process when a direct child dies of a signal."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    cmd = shlex.join([sys.executable, "-c", BUILDER, str(source), str(cache), "hang" if hang else "-"])
    return subprocess.Popen(["bash", "-c", f"{cmd} >{shlex.quote(str(out))} 2>&1 & echo $! >{shlex.quote(str(out))}.pid; "
                                           "wait $!"], env=env)


def wait_for(path, text, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and text in open(path).read():
            return
        time.sleep(0.05)
    found = open(path).read() if os.path.exists(path) else ""
    raise AssertionError(f"no {text!r} in {path} after {timeout} s: {found}")


def test_a_killed_build_leaves_no_half_cache(tmp_path, monkeypatch):
    write_folder(tmp_path / "faces")
    cache = tmp_path / "cache"
    process = builder(tmp_path / "faces", cache, tmp_path / "killed.txt", hang=True)
    try:
        wait_for(tmp_path / "killed.txt", "prepared")
    finally:
        os.kill(int(open(f"{tmp_path / 'killed.txt'}.pid").read()), signal.SIGKILL)
        process.wait()
    (temporary,) = [n for n in os.listdir(cache) if ".tmp" in n]
    assert os.path.exists(cache / temporary / "data.mdb")  # a whole LMDB, never renamed into the cache
    entries = [n for n in os.listdir(cache) if not n.endswith((".lock", ".json")) and ".tmp" not in n]
    assert entries == []
    # The next run takes the lock the dead process held, builds afresh and removes the leftover.
    path, lines = build(tmp_path / "faces", cache, max_size=16)
    assert lines[-1].startswith(f"built {path}: {N} images") and temporary not in os.listdir(cache)
    assert len(MultiResolutionDataset(path)) == N

    # Interrupted in this process (Ctrl-C during the build): nothing left either.
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "faces" / "new.png")
    from jittor_stylegan import data

    def interrupted(out, *args, **kwargs):
        os.makedirs(out)
        open(os.path.join(out, "data.mdb"), "w").close()
        raise KeyboardInterrupt
    monkeypatch.setattr(data, "prepare", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path / "faces", cache, max_size=16)
    assert sorted(n for n in os.listdir(cache) if not n.endswith((".lock", ".json"))) == [os.path.basename(path)]


def test_two_concurrent_builds_make_one_valid_cache(tmp_path):
    pixels = write_folder(tmp_path / "faces")
    cache = tmp_path / "cache"
    name = os.path.basename(build(tmp_path / "faces", tmp_path / "probe", max_size=16)[0])  # the entry's name
    pending = name.replace("-3ch", "")  # its name before the build chose the channels: the lock's
    cache.mkdir()
    # Hold the entry's lock so that both processes are surely there at once, then let them race.
    with open(cache / f"{pending}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        runs = [(builder(tmp_path / "faces", cache, tmp_path / f"run{i}.txt"), tmp_path / f"run{i}.txt")
                for i in range(2)]
        for _, out in runs:
            wait_for(out, f"waiting for another process building {cache / pending}")
    for process, _ in runs:
        assert process.wait(timeout=120) == 0
    outputs = [open(out).read().splitlines() for _, out in runs]
    assert [lines[-1] for lines in outputs] == [str(cache / name)] * 2
    said = sorted(lines[-2].split(" ")[0] for lines in outputs)
    assert said == ["built", "reusing"], outputs
    assert sorted(os.listdir(cache)) == sorted([name, f"{pending}.lock"])
    assert [np.array_equal(a, pixels[k]) for a, k in zip(stored(str(cache / name)), sorted(pixels))] == [True] * N


def test_train_from_a_folder(tmp_path, monkeypatch, capsys):
    from test_workflow import TINY
    write_folder(tmp_path / "faces", n=8)
    monkeypatch.chdir(tmp_path)
    args = ["faces", "--iterations", "2", "--loss", "r1", "--sample_every", "100", "--ckpt_every", "2"] + TINY
    train.main(args)
    report = capsys.readouterr().out
    (entry,) = [n for n in os.listdir(os.path.join("mdb", "cache")) if n.startswith("faces-8px-3ch-")
                and "." not in n]
    assert f"train: building an LMDB from faces in {os.path.join('mdb', 'cache')} at 4..8 px, once" in report
    assert f"train: built {os.path.join('mdb', 'cache', entry)}: 8 images in " in report
    assert "train: built" in report and "skipped 1: broken.png" in report
    with open(os.path.join("runs", "faces", "run.json")) as f:
        meta = json.load(f)
    assert meta["dataset"]["path"] == str(tmp_path / "mdb" / "cache" / entry) and meta["dataset"]["images"] == 8
    train.main(args + ["--data_cache", os.path.join("mdb", "cache")])
    assert f"train: reusing {os.path.join('mdb', 'cache', entry)} (8 images" in capsys.readouterr().out
    assert os.path.exists(os.path.join("runs", "faces-2", "run.json"))
    os.mkdir("nothing")
    with pytest.raises(SystemExit, match="^train: nothing is neither an LMDB"):
        train.main(["nothing"] + TINY)


def test_metrics_feature_cache_key_follows_the_same_signature(tmp_path):
    from jittor_stylegan.metrics.scoring import DatasetImages
    write_folder(tmp_path / "faces", n=4)
    key = DatasetImages(str(tmp_path / "faces"), 8).key()
    assert key.startswith("faces-8px-5-") and DatasetImages(str(tmp_path / "faces"), 8).key() == key
    # A file rewritten in place (same name and byte size, the folder's own mtime untouched): a new key.
    folder_stamp = os.stat(tmp_path / "faces").st_mtime_ns
    rewritten = tmp_path / "faces" / "00.png"
    Image.fromarray(np.random.default_rng(9).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(rewritten)
    os.utime(rewritten, ns=(1, 1))
    assert os.stat(tmp_path / "faces").st_mtime_ns == folder_stamp
    assert DatasetImages(str(tmp_path / "faces"), 8).key() != key
