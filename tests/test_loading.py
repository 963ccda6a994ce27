"""Checkpoint files are told apart by their first bytes (formats.sniff), not by trying readers, and every
format reads into the same formats.Contents."""
import os
import pickle
import zipfile

import numpy as np
import pytest

from conftest import REPO
from test_workflow import lmdb_path  # noqa: F401  (the shared toy LMDB fixture, 4 and 8 px)
from jittor_stylegan import convert, formats, loading

FIXTURES = os.path.join(REPO, "tests", "fixtures")


def test_file_formats(tmp_path):
    assert formats.sniff(os.path.join(REPO, "tests", "fixtures", "old_stylegan1.npz")) == "checkpoint"
    (tmp_path / "old.model").write_bytes(pickle.dumps({"g_running": {}}, protocol=2))
    assert formats.sniff(str(tmp_path / "old.model")) == "pickle"
    assert formats.sniff(os.path.join(REPO, "tests", "fixtures", "nvidia_skip_resnet.pkl")) == "nvidia"
    (tmp_path / "text").write_text("not a checkpoint")
    assert formats.sniff(str(tmp_path / "text")) is None
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("image.png", b"")
    assert formats.sniff(str(tmp_path / "other.zip")) is None
    torch = pytest.importorskip("torch")
    torch.save({"g_ema": {}}, tmp_path / "new.pt")
    torch.save({"g_ema": {}}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    assert [formats.sniff(str(tmp_path / f)) for f in ("new.pt", "legacy.pt")] == ["torch", "torch"]
    with pytest.raises(loading.CheckpointError, match="neither a jittor-stylegan checkpoint nor a rosinality / StyleGanJittor / NVIDIA one"):
        loading.generator_from_checkpoint(str(tmp_path / "text"))
    with pytest.raises(loading.CheckpointError, match="is a pickle"):
        loading.generator_from_checkpoint(str(tmp_path / "old.model"))


def tiny_generator(arch):
    """(an untrained tiny generator of ``arch``, its constructor arguments)."""
    from jittor_stylegan import families
    args = (dict(code_dim=16, n_mlp=2, max_size=8, channel_base=64, max_channels=16, image_channels=3)
            if arch == "stylegan1" else dict(size=8, style_dim=16, n_mlp=2, image_channels=3, channels={4: 16, 8: 8}))
    return families.networks(arch).Generator(**args), args


def assert_read(path, kind, arch, key, args, state):
    """``formats.read`` of ``path``: its family, the sampled generator's key, constructor arguments and state."""
    assert formats.sniff(path) == kind
    contents = formats.read(path, ema_only=True)
    assert (contents.format, contents.arch, contents.generator) == (kind, arch, key)
    assert {k: v for k, v in contents.args[key].items() if k in args} == args
    built = convert.numpy_state(contents.build(key), with_buffers=False)
    assert set(built) <= set(state) and all(np.array_equal(built[n], state[n]) for n in built)
    return contents


def test_every_format_reads_into_the_same_contents(tmp_path):
    import jittor as jt
    from jittor_stylegan.formats import checkpoint, nvidia
    meta, tensors = checkpoint.load(os.path.join(FIXTURES, "old_stylegan1.npz"))
    contents = assert_read(os.path.join(FIXTURES, "old_stylegan1.npz"), "checkpoint", "stylegan1", "g_running",
                           {"max_size": meta["config"]["max_size"]}, tensors["g_running"])
    assert contents.step == meta["progress"]["step"] and contents.training[0]["run_id"] == meta["run_id"]
    pkl = os.path.join(FIXTURES, "nvidia_skip_resnet.pkl")
    args, state, w_avg = nvidia.networks(pkl, ["G_ema"])["G_ema"]
    contents = assert_read(pkl, "nvidia", "stylegan2", "g_ema", args, state)
    assert np.array_equal(contents.w_avg, w_avg) and contents.training is None
    assert set(formats.read(pkl).states) == {"g", "d", "g_ema"}
    g, args = tiny_generator("stylegan1")  # StyleGanJittor's jt.save of a bare generator state
    jt.save(convert.numpy_state(g), str(tmp_path / "040000.model"))
    assert_read(str(tmp_path / "040000.model"), "jt.save", "stylegan1", "g_running",
                args, convert.numpy_state(g))
    pytest.importorskip("torch")
    from jittor_stylegan.formats import rosinality
    g, args = tiny_generator("stylegan2")
    rosinality.save_torch_checkpoint(str(tmp_path / "x.pt"), g_ema=g)
    contents = assert_read(str(tmp_path / "x.pt"), "torch", "stylegan2", "g_ema", args, convert.numpy_state(g))
    assert set(contents.training) == {"g_ema"}


def test_a_checkpoint_written_mid_fade_in_samples_as_training_did(lmdb_path, tmp_path):  # noqa: F811
    """StyleGAN 1 between resolutions: its newest layers are half-trained, so the checkpoint's images are drawn
    at the fade-in its samples were (not at alpha 1, which shows those layers alone)."""
    from jittor_stylegan.training import settings
    from jittor_stylegan.training.loop import Trainer
    from test_family_contract import tiny_config

    cfg = {**settings.AUGMENT, **tiny_config("stylegan1"), "path": lmdb_path, "run_dir": str(tmp_path), "phase": 16,
           "metrics": None}
    trainer = Trainer(cfg)
    while trainer.resolution < 8 or trainer.family.progress["used_sample"] < 8:
        trainer.family.advance()
        trainer.train_step()
    ours = trainer.family.sampler()
    sampler = loading.sampler_for_size(trainer.checkpoint())
    assert 0 < sampler.alpha == ours.alpha < 1 and sampler.size == 8
    z = np.random.default_rng(0).standard_normal((3, sampler.latent_dim)).astype(np.float32)
    noise = ours.noise(3, np.random.default_rng(1))
    assert np.array_equal(sampler.images(z, noise), ours.images(z, noise))
