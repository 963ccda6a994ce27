"""prepare_data.py on CIFAR-10's python archive: an archive written here in its format (a tar.gz
of protocol-2 pickles of {b"data": uint8 (N, 3072) R,G,B planes, b"labels": [...], ...})."""
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

import prepare_data
from jittor_stylegan.data import CIFAR10_CLASSES, DataError, MultiResolutionDataset, image_count, prepare


def batch(rng, n, label):
    return {b"batch_label": label, b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)]}


def write_archive(path, members):
    """cifar-10-python.tar.gz layout: {name: dict or raw bytes} under cifar-10-batches-py/."""
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            data = payload if isinstance(payload, bytes) else pickle.dumps(payload, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def as_images(data):
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


@pytest.fixture
def archive(tmp_path):
    rng = np.random.default_rng(0)
    batches = {"data_batch_2": batch(rng, 2, b"training batch 2 of 5"),  # archive order is not batch order
               "data_batch_1": batch(rng, 3, b"training batch 1 of 5"),
               "test_batch": batch(rng, 2, b"testing batch 1 of 1"),
               "batches.meta": {b"num_cases_per_batch": 10000, b"num_vis": 3072,
                                b"label_names": [b"airplane", b"automobile"]}}
    path = tmp_path / "cifar-10-python.tar.gz"
    write_archive(path, batches)
    return str(path), batches


def test_cifar10_archive_round_trips_pixels(archive, tmp_path):
    path, batches = archive
    train = as_images(np.concatenate([batches["data_batch_1"][b"data"], batches["data_batch_2"][b"data"]]))
    assert image_count(path) == 5
    assert prepare(str(tmp_path / "train"), path, max_size=32, min_size=8, workers=1, progress=False)[:3] == (5, [], 3)
    dataset = MultiResolutionDataset(str(tmp_path / "train"))
    assert len(dataset) == 5 and dataset.channels() == 3
    assert dataset.labels().tolist() == batches["data_batch_1"][b"labels"] + batches["data_batch_2"][b"labels"]
    assert dataset.classes == CIFAR10_CLASSES
    for i, image in enumerate(train):
        assert np.array_equal(np.asarray(dataset.image(32, i)), image)
        assert [dataset.image(s, i).size for s in (8, 16)] == [(8, 8), (16, 16)]
    prepare_data.main([path, "--out", str(tmp_path / "test"), "--max_size", "32", "--cifar10_split", "test",
                       "--n_worker", "1"])
    dataset = MultiResolutionDataset(str(tmp_path / "test"))
    test = as_images(batches["test_batch"][b"data"])
    assert len(dataset) == 2 and all(np.array_equal(np.asarray(dataset.image(32, i)), test[i]) for i in range(2))


class RunsCode:
    """Unpickling this calls os.system: what a crafted batch would do to a plain pickle.load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_cifar10_refuses_crafted_batches(archive, tmp_path):
    path, batches = archive
    marker = tmp_path / "code_ran"
    bad = str(tmp_path / "bad.tar.gz")
    write_archive(bad, dict(batches, data_batch_2=pickle.dumps({b"data": RunsCode(marker)}, protocol=2)))
    with pytest.raises(DataError, match=r"data_batch_2 is not a CIFAR-10 batch .*refused global posix\.system"):
        prepare(str(tmp_path / "out"), bad, max_size=32, workers=1, progress=False)
    with pytest.raises(SystemExit, match="not a CIFAR-10 batch"):
        prepare_data.main([bad, "--out", str(tmp_path / "out2"), "--max_size", "32", "--n_worker", "1"])
    assert not marker.exists()
    write_archive(bad, dict(batches, data_batch_1={b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}))
    with pytest.raises(DataError, match=r"no uint8 \(N, 3072\)"):
        image_count(bad)
    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as tar:
        tar.add(__file__, "notes.py")
    with pytest.raises(DataError, match="no cifar-10-batches-py/ batches"):
        image_count(str(other))
