"""Checkpoint files are told apart by their first bytes (loading.file_format), not by trying readers."""
import os
import pickle
import zipfile

import pytest

from conftest import REPO
from jittor_stylegan import loading


def test_file_formats(tmp_path):
    assert loading.file_format(os.path.join(REPO, "tests", "fixtures", "old_stylegan1.npz")) == "checkpoint"
    (tmp_path / "old.model").write_bytes(pickle.dumps({"g_running": {}}, protocol=2))
    assert loading.file_format(str(tmp_path / "old.model")) == "pickle"
    assert loading.file_format(os.path.join(REPO, "tests", "fixtures", "nvidia_skip_resnet.pkl")) == "nvidia"
    (tmp_path / "text").write_text("not a checkpoint")
    assert loading.file_format(str(tmp_path / "text")) is None
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("image.png", b"")
    assert loading.file_format(str(tmp_path / "other.zip")) is None
    torch = pytest.importorskip("torch")
    torch.save({"g_ema": {}}, tmp_path / "new.pt")
    torch.save({"g_ema": {}}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    assert [loading.file_format(str(tmp_path / f)) for f in ("new.pt", "legacy.pt")] == ["torch", "torch"]
    with pytest.raises(loading.CheckpointError, match="neither a jittor-stylegan checkpoint nor a rosinality / StyleGanJittor / NVIDIA one"):
        loading.generator_from_checkpoint(str(tmp_path / "text"))
    with pytest.raises(loading.CheckpointError, match="is a pickle"):
        loading.generator_from_checkpoint(str(tmp_path / "old.model"))
