"""Labels in the LMDB (issue 30): from NVIDIA's dataset.json, one sub-folder per class, CIFAR-10's batches and
Fashion-MNIST's files; an unlabelled source stays unlabelled and keeps its cache entry."""
import hashlib
import json
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

import prepare_data
from jittor_stylegan import data
from jittor_stylegan.data import DataError, MultiResolutionDataset, dataset_for


def write_png(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


def class_folders(root):
    """Images in sub-folders cat/ and dog/, each image's pixel value telling its class (cat 10, dog 200)."""
    for i in range(3):
        write_png(root / "dog" / f"{i}.png", 200)
    for i in range(2):
        write_png(root / "cat" / f"{i}.png", 10)
    return root


def stored(path):
    dataset = MultiResolutionDataset(path)
    values = [int(np.asarray(dataset.image(8, i)).flat[0]) for i in range(len(dataset))]
    return dataset, values


def test_class_folders_keep_their_labels_and_names(tmp_path, capsys):
    source = class_folders(tmp_path / "pets")
    prepare_data.main([str(source), "--out", str(tmp_path / "mdb"), "--max_size", "8", "--n_worker", "1"])
    assert "labelled, 2 classes: cat, dog" in capsys.readouterr().out
    dataset, values = stored(str(tmp_path / "mdb"))
    assert dataset.classes == ("cat", "dog")
    assert dataset.labels().tolist() == [{10: 0, 200: 1}[v] for v in values]
    assert sorted(values) == [10, 10, 200, 200, 200]
    assert dataset.labels([4, 0]).tolist() == dataset.labels()[[4, 0]].tolist()
    with zipfile.ZipFile(tmp_path / "pets.zip", "w") as archive:  # a .zip of pets/cat/..., pets/dog/...
        for f in sorted(source.rglob("*.png")):
            archive.write(f, f"pets/{f.parent.name}/{f.name}")
    labels = data.source_labels(str(tmp_path / "pets.zip"))
    assert labels.classes == ("cat", "dog") and labels.by_name["pets/dog/2.png"] == 1


def test_dataset_json_labels(tmp_path):
    root = tmp_path / "nv"
    labels = []
    for i, k in enumerate([6, 0, 6, 2]):
        name = f"00000/img{i:08d}.png"
        write_png(root / name, 20 * k)
        labels.append([name, k])
    (root / "dataset.json").write_text(json.dumps({"labels": labels}))
    done = data.prepare(str(tmp_path / "mdb"), str(root), max_size=8, min_size=8, workers=1, progress=False)
    assert done.classes == tuple(str(k) for k in range(7))
    dataset, values = stored(str(tmp_path / "mdb"))
    assert dataset.labels().tolist() == [v // 20 for v in values] == [6, 0, 6, 2]
    (root / "dataset.json").write_text(json.dumps({"labels": None}))  # NVIDIA's unlabelled set
    done = data.prepare(str(tmp_path / "plain"), str(root), max_size=8, min_size=8, workers=1, progress=False)
    assert done.classes is None and MultiResolutionDataset(str(tmp_path / "plain")).labels() is None
    (root / "dataset.json").write_text(json.dumps({"labels": labels[:3]}))
    with pytest.raises(DataError, match="dataset.json has no label for 00000/img00000003.png"):
        data.prepare(str(tmp_path / "x"), str(root), max_size=8, min_size=8, workers=1, progress=False)
    (root / "dataset.json").write_text(json.dumps({"labels": [[n, [0.5]] for n, _ in labels]}))
    with pytest.raises(DataError, match="labels must be class indices"):
        data.prepare(str(tmp_path / "y"), str(root), max_size=8, min_size=8, workers=1, progress=False)


def test_cache_key_labelled_or_not(tmp_path):
    """An unlabelled folder keeps the cache entry of before labels (its key is unchanged); a labelled one gets an
    entry of its own, and a changed dataset.json a new one."""
    plain = tmp_path / "plain"
    for i in range(2):
        write_png(plain / f"{i}.png", 50)
    cache = tmp_path / "cache"
    path = dataset_for(str(plain), 8, cache_dir=str(cache), workers=1, progress=False, log=None)
    old_key = hashlib.sha1(repr((data.source_signature(str(plain)), 8, "auto", data.MIN_SIZE)).encode()).hexdigest()
    assert path.endswith(f"-1ch-{old_key[:12]}") and MultiResolutionDataset(path).labels() is None
    pets = class_folders(tmp_path / "pets")
    labelled = dataset_for(str(pets), 8, cache_dir=str(cache), workers=1, progress=False, log=None)
    assert MultiResolutionDataset(labelled).classes == ("cat", "dog")
    (pets / "dataset.json").write_text(json.dumps({"labels": [[f"{c}/{i}.png", int(c == "cat")] for c, n in
                                                              (("dog", 3), ("cat", 2)) for i in range(n)]}))
    relabelled = dataset_for(str(pets), 8, cache_dir=str(cache), workers=1, progress=False, log=None)
    assert relabelled != labelled
    dataset, values = stored(relabelled)
    assert dataset.labels().tolist() == [int(v == 10) for v in values] and dataset.classes == ("0", "1")


def test_fashion_mnist_labels():
    if not os.path.isdir(data.FASHION_MNIST_DIR):
        pytest.skip("dataset-fashion-mnist is not installed")
    labels = data.source_labels(builtin="fashion-mnist")
    assert labels.classes[0] == "T-shirt/top" and labels.classes[9] == "Ankle boot"
    counts = np.bincount(list(labels.by_name.values()), minlength=10)
    assert counts.tolist() == [7000] * 10  # 6,000 training and 1,000 test images per class
    assert [name for name, _ in zip(data.fashion_mnist_images(), range(2))][1][0] in labels.by_name
    assert data.source_labels(builtin="emoji") is None
