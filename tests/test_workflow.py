"""End to end at toy sizes: prepare_data, train across a resolution change, resume (also
after SIGKILL), generate, and a progress video read back with OpenCV; plus bad inputs."""
import csv
import gzip
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import zipfile

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import REPO

import prepare_data  # noqa: E402  (the CLI scripts live at the repository root)
import train
import generate
import video_write

TINY = ["--init_size", "4", "--max_size", "8", "--phase", "24", "--batch_default", "8", "--code_size", "16",
        "--n_mlp", "2", "--channel_base", "64", "--max_channels", "16", "--sample_rows", "2", "--sample_cols", "2",
        "--no_progress"]


def write_images(folder, n=30):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nested").mkdir(exist_ok=True)
    for i in range(n):
        w, h = int(rng.integers(12, 40)), int(rng.integers(12, 40))
        image = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        ext = ["png", "jpg", "webp", "bmp"][i % 4]
        image.save(folder / ("nested" if i % 3 == 0 else "") / f"img{i}.{ext}")
    Image.fromarray(rng.integers(0, 255, (20, 20, 4), dtype=np.uint8), "RGBA").save(folder / "alpha.png")
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.jpg").write_text("not an image")
    good = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(good, format="jpeg")
    (folder / "truncated.jpg").write_bytes(good.getvalue()[:200])
    return n + 1


@pytest.fixture(scope="module")
def lmdb_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    expected = write_images(root / "images")
    out = root / "mdb"
    prepare_data.main([str(root / "images"), "--out", str(out), "--max_size", "8", "--n_worker", "2"])
    from jittor_stylegan.data import MultiResolutionDataset
    data = MultiResolutionDataset(str(out))
    assert len(data) == expected
    assert [data.image(s, 0).size for s in (4, 8)] == [(4, 4), (8, 8)]
    return str(out)


def test_prepare_data_reports_bad_files_and_refuses_overwrite(tmp_path, capsys):
    write_images(tmp_path / "images", n=5)
    out = tmp_path / "mdb"
    prepare_data.main([str(tmp_path / "images"), "--out", str(out), "--max_size", "8", "--channels", "1"])
    report = capsys.readouterr().out
    for name in ("empty.png", "text.jpg", "truncated.jpg"):
        assert f"skipped {name}" in report
    assert "wrote 6 images" in report and "skipped 3" in report
    with pytest.raises(SystemExit, match="--force"):
        prepare_data.main([str(tmp_path / "images"), "--out", str(out)])
    (tmp_path / "none").mkdir()
    with pytest.raises(SystemExit, match="no readable images"):
        prepare_data.main([str(tmp_path / "none"), "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="not found"):
        prepare_data.main([str(tmp_path / "missing"), "--out", str(tmp_path / "y")])


def test_prepare_zip_and_builtins(tmp_path):
    write_images(tmp_path / "images", n=4)
    with zipfile.ZipFile(tmp_path / "images.zip", "w") as z:
        for f in sorted((tmp_path / "images").rglob("img*")):
            z.write(f, f.name)
    from jittor_stylegan.data import FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, MultiResolutionDataset, prepare
    assert prepare(str(tmp_path / "z"), str(tmp_path / "images.zip"), max_size=8, progress=False)[0] == 4
    done = prepare(str(tmp_path / "f"), builtin="fashion-mnist", max_size=8, limit=20, progress=False)
    assert done == (20, [], 1, "grey: 1 channel (all 20 images are grey; --channels 3 to override)",
                    FASHION_MNIST_CLASSES)
    assert MultiResolutionDataset(str(tmp_path / "f")).channels() == 1
    with gzip.open(os.path.join(FASHION_MNIST_DIR, "train-labels-idx1-ubyte.gz")) as f:  # the labels are kept
        first = np.frombuffer(f.read(), np.uint8, offset=8)[:20]
    assert MultiResolutionDataset(str(tmp_path / "f")).labels().tolist() == first.tolist()
    done = prepare(str(tmp_path / "e"), builtin="emoji", max_size=8, limit=20, progress=False)
    assert done.written + len(done.skipped) <= 20 and done.written > 10 and done.channels == 3


def run_dir_files(run):
    return sorted(os.listdir(os.path.join(run, "checkpoint"))), sorted(os.listdir(os.path.join(run, "sample")))


def log_rows(run):
    with open(os.path.join(run, "log.csv")) as f:
        return list(csv.DictReader(f))


def test_train_resume_generate_video(lmdb_path, tmp_path, capfd):
    run_a = str(tmp_path / "a")
    args = [lmdb_path, "--mixing", "--sample_every", "4", "--ckpt_every", "6", "--loss", "r1"] + TINY
    train.main(args + ["--run_dir", run_a, "--iterations", "12", "--metrics", "swd,fid", "--metrics_every", "4",
                       "--metrics_images", "16"])
    # Blocks of resolutions not in use get no gradient and no warning (Jittor prints one line per parameter).
    assert "have gradient" not in capfd.readouterr().err
    ckpts, samples = run_dir_files(run_a)
    assert "000006.npz" in ckpts and "000012.npz" in ckpts and "000012.png" in samples
    rows = log_rows(run_a)
    assert [int(r["iteration"]) for r in rows] == list(range(1, 13))
    assert {r["resolution"] for r in rows} == {"4", "8"}  # grew across one resolution change
    assert any(0 < float(r["alpha"]) < 1 for r in rows if r["resolution"] == "8")
    measured = {int(r["iteration"]): (r["resolution"], r["swd"], r["fid"]) for r in rows if r["fid"]}
    assert sorted(measured) == [4, 8, 12] and all(float(fid) > 0 for _, _, fid in measured.values())
    assert all((swd == "") == (res == "4") for res, swd, _ in measured.values())  # SWD needs >= 8 px
    assert float(measured[12][1]) > 0 and not any(r["swd"] for r in rows if not r["fid"])

    # An attempt killed after iteration 9 (last checkpoint 6), then resumed from 6: its log and
    # its final state equal the uninterrupted run's.
    run_b = str(tmp_path / "b")
    train.main(args + ["--run_dir", run_b, "--iterations", "9"])
    assert [int(r["iteration"]) for r in log_rows(run_b)] == list(range(1, 10))
    train.main(["--ckpt", os.path.join(run_b, "checkpoint", "000006.npz"), "--iterations", "12", "--no_progress"])
    timing = ("seconds", "images_per_sec")
    assert [{k: v for k, v in r.items() if k not in timing} for r in log_rows(run_b)] == \
        [{k: v for k, v in r.items() if k not in timing + ("swd", "fid")} for r in log_rows(run_a)]
    from jittor_stylegan.formats import checkpoint
    a_meta, a = checkpoint.load(os.path.join(run_a, "checkpoint", "000012.npz"))
    b_meta, b = checkpoint.load(os.path.join(run_b, "checkpoint", "000012.npz"))
    wall = ("seconds",)  # training's wall clock differs between the runs
    assert {k: v for k, v in a_meta["progress"].items() if k not in wall} == \
        {k: v for k, v in b_meta["progress"].items() if k not in wall}
    for net in ("generator", "discriminator", "g_running"):
        for name in a[net]:
            np.testing.assert_allclose(a[net][name], b[net][name], rtol=1e-5, atol=1e-6, err_msg=name)
    with open(os.path.join(run_b, "run.json")) as f:
        meta = json.load(f)
    assert meta["iterations_done"] == 12 and meta["run_id"] == b_meta["run_id"] != a_meta["run_id"]
    assert [(s["from_iteration"], s["to_iteration"]) for s in meta["sessions"]] == [(0, 9), (6, 12)]
    assert meta["dataset"]["images"] == 31 and len(meta["dataset"]["signature"]) == 40
    assert meta["config"]["loss"] == "r1" and meta["versions"]["jittor"].startswith("1.3")
    assert Image.open(os.path.join(run_b, "losses.png")).size[0] > 500

    out = str(tmp_path / "gen")
    generate.main(["--path", os.path.join(run_a, "checkpoint", "000012.npz"), "--size", "8", "--out", out,
                   "--n_row", "2", "--n_col", "3", "--frames", "3", "--n_mixing", "2", "--raw"])
    assert Image.open(os.path.join(out, "sample.png")).size == (3 * 10 + 2, 2 * 10 + 2)  # --raw: native 8 px
    assert os.path.exists(os.path.join(out, "sample_mixing_coarse.png"))
    with pytest.raises(SystemExit, match="does not match"):
        generate.main(["--path", os.path.join(run_a, "checkpoint", "000012.npz"), "--size", "16"])

    video = str(tmp_path / "progress.mp4")
    video_write.main([os.path.join(run_a, "sample"), "--out", video, "--label", "--size", "64"])
    capture = cv2.VideoCapture(video)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 4 and frames[0].shape[1] == 64  # iterations 1 (the first), 4, 8, 12
    interp = str(tmp_path / "interp.mp4")
    video_write.main(["--ckpt", os.path.join(run_a, "checkpoint", "000012.npz"), "--size", "8", "--out", interp,
                      "--seeds", "1", "2", "--frames", "4"])
    assert cv2.VideoCapture(interp).get(cv2.CAP_PROP_FRAME_COUNT) == 5


def test_sigterm_stops_at_an_iteration_boundary_and_resumes_exactly(lmdb_path, tmp_path):
    """SIGTERM (``kill``, a cluster's preemption) or Ctrl-C: the run ends its iteration, checkpoints there
    and says how to resume; resumed, it equals a run that was never stopped."""
    run, other = str(tmp_path / "stopped"), str(tmp_path / "uninterrupted")
    args = [lmdb_path, "--mixing", "--loss", "r1", "--sample_every", "1000", "--ckpt_every", "1000"] + TINY
    cmd = [sys.executable, os.path.join(REPO, "train.py")] + args + ["--run_dir", run, "--iterations", "400"]
    pid_file, err_file, rc_file = tmp_path / "pid", tmp_path / "stderr", tmp_path / "rc"
    # Through a shell, as in the SIGKILL test below; `wait $!` gives train.py's exit status.
    shell = subprocess.Popen(["bash", "-c", f"{shlex.join(cmd)} >/dev/null 2>{err_file} & echo $! > {pid_file}; "
                                            f"wait $!; echo $? > {rc_file}"],
                             cwd=REPO, env=dict(os.environ, log_silent="1"))
    log = os.path.join(run, "log.csv")
    deadline = time.time() + 300
    while time.time() < deadline and not (os.path.isfile(log) and len(log_rows(run)) >= 4):
        time.sleep(0.2)
    os.kill(int(pid_file.read_text()), signal.SIGTERM)
    shell.wait(timeout=120)
    assert rc_file.read_text().strip() == str(128 + signal.SIGTERM), err_file.read_text()[-2000:]
    n = len(log_rows(run))
    assert [int(r["iteration"]) for r in log_rows(run)] == list(range(1, n + 1))
    ckpt = os.path.join(run, "checkpoint", f"{n:06d}.npz")
    assert f"stopped by SIGTERM at iteration {n}; resume with: python train.py --ckpt {ckpt}" in err_file.read_text()
    from jittor_stylegan.formats import checkpoint
    assert checkpoint.read_meta(ckpt)["progress"]["iteration"] == n

    train.main(["--ckpt", ckpt, "--iterations", str(n + 3), "--no_progress"])
    train.main(args + ["--run_dir", other, "--iterations", str(n + 3)])
    timing = ("seconds", "images_per_sec")
    assert [{k: v for k, v in r.items() if k not in timing} for r in log_rows(run)] == \
        [{k: v for k, v in r.items() if k not in timing} for r in log_rows(other)]
    _, a = checkpoint.load(os.path.join(run, "checkpoint", f"{n + 3:06d}.npz"))
    _, b = checkpoint.load(os.path.join(other, "checkpoint", f"{n + 3:06d}.npz"))
    for net in ("generator", "discriminator", "g_running"):
        for name in a[net]:
            np.testing.assert_allclose(a[net][name], b[net][name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_video_rejects_empty_and_mixed_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no numbered PNG"):
        video_write.main([str(tmp_path / "empty")])
    (tmp_path / "mixed").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "mixed" / "000001.png")
    Image.new("RGB", (16, 16)).save(tmp_path / "mixed" / "000002.png")
    with pytest.raises(SystemExit, match="mixes frame sizes"):
        video_write.main([str(tmp_path / "mixed"), "--out", str(tmp_path / "m.mp4")])


def test_sigkill_loses_at_most_the_work_since_the_last_checkpoint(lmdb_path, tmp_path):
    run = str(tmp_path / "killed")
    # Same settings as the run above, so every kernel is already compiled: a process killed while
    # Jittor writes a kernel into its cache can leave a broken cache entry behind.
    cmd = [sys.executable, os.path.join(REPO, "train.py"), lmdb_path, "--mixing", "--loss", "r1", "--run_dir", run,
           "--iterations", "400", "--sample_every", "1000", "--ckpt_every", "3"] + TINY
    # Through a shell: Jittor (imported here) quits its own process when a direct child is killed.
    pid_file = tmp_path / "pid"
    shell = subprocess.Popen(["bash", "-c", f'{shlex.join(cmd)} >/dev/null 2>&1 & echo $! > {pid_file}; wait'],
                             cwd=REPO, env=dict(os.environ, log_silent="1"))
    folder = os.path.join(run, "checkpoint")
    deadline = time.time() + 300
    while time.time() < deadline and not (os.path.isdir(folder) and len(os.listdir(folder)) >= 5):
        time.sleep(0.2)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    shell.wait()
    from jittor_stylegan.formats import checkpoint

    def latest_checkpoint():
        return os.path.join(folder, sorted(f for f in os.listdir(folder) if f.endswith(".npz"))[-1])

    latest = latest_checkpoint()
    done = checkpoint.read_meta(latest)["progress"]["iteration"]
    assert done >= 6
    with open(os.path.join(run, "log.csv")) as f:
        logged = len(list(csv.DictReader(f)))
    assert logged - done < 3 + 1  # at most the iterations since the last checkpoint are lost
    train.main(["--ckpt", latest, "--iterations", str(done + 3), "--no_progress"])
    assert checkpoint.read_meta(latest_checkpoint())["progress"]["iteration"] == done + 3
    assert not any(".tmp" in f for f in os.listdir(folder))  # a write cut by the kill is cleaned up
    with open(os.path.join(run, "log.csv")) as f:  # the killed attempt's rows after `done` were replaced
        assert [int(r["iteration"]) for r in csv.DictReader(f)] == list(range(1, done + 4))
