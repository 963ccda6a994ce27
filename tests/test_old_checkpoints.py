"""Checkpoints written before issue 20's refactor (``tests/fixtures/old_*``, made at cfc931a by
``tests/fixtures/make_old_checkpoints.py``) still load, sample the same images and resume training with
the same losses; a fresh run of their config trains to the same numbers as the code just before the
refactor (main at 2c5af06, ``fresh_*``, made by ``tests/fixtures/make_fresh_runs.py``)."""
import importlib.util
import json
import os

import numpy as np
import pytest

from conftest import FLOAT32_FORWARD_TOL, REPO, rel_error

FIXTURES = os.path.join(REPO, "tests", "fixtures")
_spec = importlib.util.spec_from_file_location("make_old_checkpoints", os.path.join(FIXTURES, "make_old_checkpoints.py"))
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)
ARCHS = sorted(make.RUNS)


@pytest.fixture(scope="module")
def lmdb(tmp_path_factory):
    return make.make_lmdb(str(tmp_path_factory.mktemp("old") / "mdb"))


def old_checkpoint(arch):
    from jittor_stylegan.formats import checkpoint
    return checkpoint.load(os.path.join(FIXTURES, f"old_{arch}.npz"))


def assert_same_rows(rows, expected):
    """``rows`` log what the old version logged, and blank columns added since (augmentation: an old config
    trains without it)."""
    from jittor_stylegan.training import ada
    assert [sorted(r) for r in rows] == [sorted(list(r) + list(ada.LOG_FIELDS)) for r in expected]
    assert {r[k] for r in rows for k in ada.LOG_FIELDS} == {""}
    for row, old in zip(rows, expected):
        for key, value in old.items():
            if value == "":  # not computed at this iteration
                assert row[key] == "", (row["iteration"], key)
            else:
                assert float(row[key]) == pytest.approx(float(value), abs=2e-5), (row["iteration"], key)


@pytest.fixture(scope="module")
def old_logs():
    with open(os.path.join(FIXTURES, "old_logs.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("arch", ARCHS)
def test_old_checkpoint_samples_the_same_images(arch):
    from jittor_stylegan.loading import sampler_for_size

    with np.load(os.path.join(FIXTURES, "old_samples.npz")) as expected:
        got = make.sample(sampler_for_size(os.path.join(FIXTURES, f"old_{arch}.npz"), make.SIZE))
        assert sorted(f"{arch}/{name}" for name in got) == sorted(k for k in expected.files if k.startswith(arch))
        for name, images in got.items():  # float32 on another CPU: oneDNN's kernels sum in another order
            # (measured 3e-6 relative, Intel Xeon vs the Zen 4 that made the fixtures)
            assert rel_error(images, expected[f"{arch}/{name}"]) < FLOAT32_FORWARD_TOL, name


@pytest.mark.parametrize("arch", ARCHS)
def test_old_checkpoint_resumes_with_the_same_losses(arch, lmdb, old_logs, tmp_path):
    from jittor_stylegan.training.loop import Trainer

    meta, tensors = old_checkpoint(arch)
    Trainer(dict(meta["config"], path=lmdb, run_dir=str(tmp_path)), (meta, tensors)).run(progress_bar=False)
    assert_same_rows(make.log_rows(str(tmp_path)), old_logs[arch][4:])


@pytest.mark.parametrize("arch", ARCHS)
def test_the_old_config_trains_to_the_same_numbers(arch, lmdb, tmp_path):
    """Initialization, data order, random inputs, every logged loss and every weight and Adam buffer of a
    new run, as the code before the refactor gave them (``fresh_*``, made by ``make_fresh_runs.py``)."""
    from jittor_stylegan.formats import checkpoint
    from jittor_stylegan.training.loop import Trainer

    meta, _ = old_checkpoint(arch)
    Trainer(dict(meta["config"], path=lmdb, run_dir=str(tmp_path))).run(progress_bar=False)
    with open(os.path.join(FIXTURES, "fresh_logs.json")) as f:
        assert_same_rows(make.log_rows(str(tmp_path)), json.load(f)[arch])
    _, expected = checkpoint.load(os.path.join(FIXTURES, f"fresh_{arch}.npz"))
    _, new = checkpoint.load(str(tmp_path / "checkpoint" / "000004.npz"))
    assert sorted(new) == sorted(expected)

    def arrays(tree, prefix=""):
        if isinstance(tree, dict):
            return {k: v for key, value in tree.items() for k, v in arrays(value, f"{prefix}/{key}").items()}
        if isinstance(tree, list):
            return {k: v for i, value in enumerate(tree) for k, v in arrays(value, f"{prefix}/{i}").items()}
        return {prefix: np.asarray(tree)}

    expected, new = arrays(expected), arrays(new)
    assert sorted(new) == sorted(expected)
    for name, value in expected.items():  # networks and Adam buffers
        assert np.abs(new[name] - value).max() <= 1e-6 * max(1.0, np.abs(value).max()), name
