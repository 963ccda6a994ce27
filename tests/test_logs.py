"""A run's logs: stats.jsonl holds log.csv's values under NVIDIA's names, the TensorBoard event file (read
back with TensorBoard's reader, or with tensorboardX's own protobuf classes) holds the losses and the sample
grids, --wandb logs the same values, and a resumed run drops what a killed attempt logged in every file."""
import csv
import glob
import io
import json
import os
import struct
import sys
import types

import numpy as np
import pytest
from PIL import Image

import train
from test_stylegan2_training import TINY
from test_workflow import lmdb_path  # noqa: F401  (the shared toy LMDB fixture, 4 and 8 px)

from jittor_stylegan.training import logs


def read_events(run_dir):
    """({tag: [(step, value)]}, {tag: [(step, PNG bytes)]}) of the run's event files, as TensorBoard shows them:
    with TensorBoard's EventAccumulator when tensorboard is installed, else by reading the TFRecord files with
    tensorboardX's protobuf classes (CRCs checked) and applying TensorBoard's purge rule (a SessionLog START at
    step s hides the events of steps >= s written before it)."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        EventAccumulator = None
    if EventAccumulator is not None:
        acc = EventAccumulator(run_dir, size_guidance={"scalars": 0, "images": 0})
        acc.Reload()
        scalars = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
        images = {tag: [(e.step, e.encoded_image_string) for e in acc.Images(tag)] for tag in acc.Tags()["images"]}
        return scalars, images
    from tensorboardX.proto.event_pb2 import Event, SessionLog
    from tensorboardX.record_writer import masked_crc32c

    scalars, images = {}, {}
    for path in sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))):
        blob = open(path, "rb").read()
        at = 0
        while at < len(blob):
            header = blob[at:at + 8]
            (length,), (header_crc,) = struct.unpack("<Q", header), struct.unpack("<I", blob[at + 8:at + 12])
            payload = blob[at + 12:at + 12 + length]
            (payload_crc,) = struct.unpack("<I", blob[at + 12 + length:at + 16 + length])
            assert header_crc == masked_crc32c(header) and payload_crc == masked_crc32c(payload)
            at += 16 + length
            event = Event.FromString(payload)
            if event.HasField("session_log") and event.session_log.status == SessionLog.START:
                for found in (scalars, images):
                    for tag in found:
                        found[tag] = [(s, v) for s, v in found[tag] if s < event.step]
            for value in event.summary.value:
                if value.HasField("image"):
                    images.setdefault(value.tag, []).append((event.step, value.image.encoded_image_string))
                else:
                    scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars, images


class FakeWandb(types.ModuleType):
    """What train.py gives the wandb package: init's arguments and every log call."""

    class Image:
        def __init__(self, array):
            self.array = array

    def __init__(self):
        super().__init__("wandb")
        self.logged, self.finished = [], False

    def init(self, **kwargs):
        self.init_args = kwargs
        return self

    def log(self, values, step):
        self.logged.append((step, values))

    def finish(self):
        self.finished = True


def test_stats_jsonl_tensorboard_and_wandb_hold_the_log_csv_values(lmdb_path, tmp_path, monkeypatch):  # noqa: F811
    pytest.importorskip("tensorboardX")
    run = str(tmp_path / "run")
    # a killed attempt: 3 iterations logged, the last checkpoint at 2; resumed from 2 with --wandb
    train.main([lmdb_path, "--run_dir", run, "--iterations", "3"] + TINY)
    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    train.main(["--ckpt", os.path.join(run, "checkpoint", "000002.npz"), "--iterations", "4", "--no_progress",
                "--wandb"])

    with open(os.path.join(run, "log.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(run, "stats.jsonl")) as f:
        stats = [json.loads(line) for line in f]
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3, 4] and len(stats) == 4
    for row, record in zip(rows, stats):
        record = dict(record)
        assert isinstance(record.pop("timestamp"), float)
        assert all(set(v) == {"num", "mean", "std"} and v["num"] == 1 and v["std"] == 0 for v in record.values())
        # NVIDIA's names for the same quantities, the others under the same Group/name layout
        assert record["Loss/G/loss"]["mean"] == float(row["g_loss"])
        assert record["Loss/D/loss"]["mean"] == float(row["d_loss"])
        assert record["Progress/kimg"]["mean"] == pytest.approx(int(row["images_seen"]) / 1000, rel=1e-12)
        assert ("Loss/r1_penalty" in record) == bool(row["r1"])  # blank in log.csv: left out
        expected = {logs.stats_name(k)[0]: float(v) * logs.stats_name(k)[1] for k, v in row.items() if v}
        assert {k: v["mean"] for k, v in record.items()} == expected
    assert stats[0]["timestamp"] > 1.7e9 and [s["timestamp"] for s in stats] == sorted(s["timestamp"] for s in stats)

    scalars, images = read_events(run)
    for column, tag in (("d_loss", "Loss/D/loss"), ("g_loss", "Loss/G/loss"), ("r1", "Loss/r1_penalty")):
        expected = [(int(r["iteration"]), float(r[column])) for r in rows if r[column]]
        assert [s for s, _ in scalars[tag]] == [s for s, _ in expected], tag  # the killed attempt's 3rd row purged
        np.testing.assert_allclose([v for _, v in scalars[tag]], [v for _, v in expected], rtol=1e-6)
    grids = images[logs.SAMPLES_TAG]
    assert [s for s, _ in grids] == [1, 2, 4, 4]  # first iteration, every 2, the final one
    last = np.asarray(Image.open(io.BytesIO(grids[-1][1])).convert("RGB"))
    assert (last == np.asarray(Image.open(os.path.join(run, "sample", "000004.png")).convert("RGB"))).all()

    # W&B: the resumed session's rows under the same names, at the same steps, and its sample grids
    assert fake.init_args["id"] and fake.init_args["config"]["wandb"] and fake.finished
    values = [(step, v) for step, v in fake.logged if logs.SAMPLES_TAG not in v]
    assert values == [(int(r["iteration"]), {k: v["mean"] for k, v in s.items() if k != "timestamp"})
                      for r, s in zip(rows[2:], stats[2:])]
    assert [step for step, v in fake.logged if logs.SAMPLES_TAG in v] == [4, 4]


def test_wandb_without_the_package_is_a_one_line_error(lmdb_path, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
    with pytest.raises(SystemExit, match="--wandb needs the wandb package") as e:
        train.main([lmdb_path, "--run_dir", str(tmp_path / "run"), "--wandb"] + TINY)
    assert "\n" not in str(e.value) and not os.path.exists(tmp_path / "run")


def read_wandb_records(path):
    """The protobuf Records of a .wandb file: W&B's LevelDB-style log (a 7-byte ":W&B" header, then 32 KiB blocks
    of chunks, each a 7-byte header (CRC-32C, length, type: 1 full, 2 first, 3 middle, 4 last) and its bytes)."""
    from wandb.proto import wandb_internal_pb2

    with open(path, "rb") as f:
        content = f.read()
    assert content[:4] == b":W&B"
    records, pending, offset = [], b"", 7
    while offset + 7 <= len(content):
        if 32768 - offset % 32768 < 7:  # a block's tail too short for a header is padding
            offset += 32768 - offset % 32768
            continue
        length, kind = struct.unpack("<HB", content[offset + 4:offset + 7])
        if kind == 0:  # zero padding at the end
            break
        pending += content[offset + 7:offset + 7 + length]
        offset += 7 + length
        if kind in (1, 4):
            records.append(wandb_internal_pb2.Record.FromString(pending))
            pending = b""
    return records


def test_wandb_offline_run_file_holds_the_losses(lmdb_path, tmp_path, monkeypatch):  # noqa: F811
    """The real wandb package in offline mode: its run file's history records hold log.csv's losses."""
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = str(tmp_path / "run")
    train.main([lmdb_path, "--run_dir", run, "--iterations", "2", "--wandb"] + TINY)
    with open(os.path.join(run, "log.csv")) as f:
        rows = list(csv.DictReader(f))
    (path,) = glob.glob(os.path.join(run, "wandb", "offline-run-*", "run-*.wandb"))
    history = {}
    for record in read_wandb_records(path):
        if record.WhichOneof("record_type") == "history":
            history[record.history.step.num] = {item.key or "/".join(item.nested_key): json.loads(item.value_json)
                                                for item in record.history.item}
    assert sorted(history) == [1, 2]
    for row in rows:
        logged = history[int(row["iteration"])]
        assert logged["Loss/G/loss"] == pytest.approx(float(row["g_loss"]), rel=1e-12)
        assert logged["Loss/D/loss"] == pytest.approx(float(row["d_loss"]), rel=1e-12)
