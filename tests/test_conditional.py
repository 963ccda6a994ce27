"""Class-conditional StyleGAN 2 (issue 30): NVIDIA's conditional mapping and projection discriminator, read from
NVIDIA's own pickle (tests/fixtures/make_nvidia_conditional.py) and run here to the same outputs."""
import csv
import os

import jittor as jt
import numpy as np
import pytest
from PIL import Image

from conftest import FLOAT32_FORWARD_TOL, REPO, rel_error
from jittor_stylegan.formats import nvidia
from jittor_stylegan.models.stylegan2 import Discriminator, Generator

FIXTURES = os.path.join(REPO, "tests", "fixtures")
PICKLE = os.path.join(FIXTURES, "nvidia_conditional.pkl")
FLOAT64_NVIDIA_TOL = 1e-6  # as test_nvidia_pickles: NVIDIA demodulates the raw weight


@pytest.fixture(scope="module")
def expected():
    with np.load(os.path.join(FIXTURES, "nvidia_conditional_expected.npz")) as data:
        return dict(data)


def test_conditional_pickle_args():
    nets = nvidia.networks(PICKLE)
    g_args, g_state, _ = nets["G_ema"]
    assert g_args["c_dim"] == 3 and g_state["embed.weight"].shape == (16, 3)
    assert g_state["style.1.weight"].shape == (16, 32)  # [z, embedded label] -> w
    d_args, d_state = nets["D"]
    assert d_args["c_dim"] == 3 and d_args["cmap_dim"] == 16
    assert d_state["final_linear.1.weight"].shape == (16, 16) and d_state["mapping.fc7.weight"].shape == (16, 16)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_parity_with_nvidia(dtype, expected):
    nets = nvidia.networks(PICKLE)
    g = nvidia.build_generator(*nets["G_ema"], dtype=dtype)
    d = nvidia.build_discriminator(*nets["D"], dtype=dtype)
    bound = FLOAT64_NVIDIA_TOL if dtype == "float64" else FLOAT32_FORWARD_TOL
    labels = jt.array(np.eye(3)[expected["classes"]]).cast(dtype)
    w = g.mapping(jt.array(expected["z"]).cast(dtype), labels)
    centre = jt.array(g.w_avg).cast(dtype)
    noise = [jt.array(n).cast(dtype) for n in g.fixed_noise()]
    for psi in (1.0, 0.7):
        image = g([centre + psi * (w - centre)], input_is_latent=True, noise=noise)[0].numpy()
        assert rel_error(image, expected[f"{dtype}/images_psi{psi}"]) <= bound, psi
    scores = d(jt.array(expected["d_images"]).cast(dtype), labels).numpy()
    assert scores.shape == (4, 1)
    assert rel_error(scores, expected[f"{dtype}/scores"]) <= bound
    # the label matters: another class, other images and scores
    other = jt.array(np.eye(3)[(expected["classes"] + 1) % 3]).cast(dtype)
    assert rel_error(d(jt.array(expected["d_images"]).cast(dtype), other).numpy(), expected[f"{dtype}/scores"]) > 1e-3


def test_labels_are_required_and_checked():
    g, d = Generator(8, style_dim=8, n_mlp=1, channels={4: 8, 8: 8}, c_dim=2), Discriminator(8, channels={4: 8, 8: 8})
    z = jt.array(np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match=r"conditional network \(c_dim=2\) needs labels"):
        g.mapping(z)
    with pytest.raises(ValueError, match=r"labels of shape \(2, 3\), expected \(2, 2\)"):
        g.mapping(z, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="labels given to an unconditional network"):
        d(jt.zeros((4, 3, 8, 8)), np.zeros((4, 2), np.float32))
    names = {n for n, _ in Discriminator(8, channels={4: 8, 8: 8}, c_dim=2).named_parameters()}
    assert {"mapping.embed.weight", "mapping.fc0.weight", "mapping.fc7.bias"} <= names


def class_folders(root, n=4):
    """8 px colour images in cat/ and dog/."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = np.clip(rng.normal(60 + 120 * k, 30, (8, 8, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_train_conditional_then_generate_a_class(tmp_path, monkeypatch):
    import generate
    import train
    from test_stylegan2_training import TINY
    from jittor_stylegan.formats import checkpoint
    from jittor_stylegan.training.stylegan2 import StyleGAN2
    source = class_folders(tmp_path / "pets")
    run, cache = str(tmp_path / "run"), str(tmp_path / "cache")
    seen, train_step = [], StyleGAN2.train_step

    def recording(self, real, iteration, labels=None):  # each real image with the label D is given
        seen.extend(zip(real.mean((1, 2, 3)).tolist(), labels.tolist()))
        return train_step(self, real, iteration, labels)

    monkeypatch.setattr(StyleGAN2, "train_step", recording)
    trainer = train.main([str(source), "--cond", "1", "--run_dir", run, "--iterations", "2", "--data_cache", cache]
                         + TINY)
    assert trainer.family.G.c_dim == trainer.family.D.c_dim == 2 and "conditional on 2 classes" in trainer.plan()
    assert len(seen) == 8 and all((mean > 0) == bool(label) for mean, label in seen)  # cats dark, dogs bright
    monkeypatch.undo()
    ckpt = os.path.join(run, "checkpoint", "000002.npz")
    meta, _ = checkpoint.load(ckpt)
    assert meta["networks"]["g_ema"]["c_dim"] == meta["networks"]["d"]["c_dim"] == 2
    assert meta["config"]["class_names"] == ["cat", "dog"] and meta["config"]["class_counts"] == [4, 4]
    out = {}
    for label in ("1", "dog", "0"):
        generate.main(["--path", ckpt, "--class", label, "--seeds", "0-1", "--outdir", str(tmp_path / label)])
        out[label] = [np.asarray(Image.open(tmp_path / label / f"seed{s:04d}.png")) for s in range(2)]
    assert all(np.array_equal(a, b) for a, b in zip(out["1"], out["dog"]))
    assert not any(np.array_equal(a, b) for a, b in zip(out["1"], out["0"]))
    with pytest.raises(SystemExit, match=r"^generate: Must specify class label with --class when using a "
                                         r"conditional network \(its classes: 0 cat, 1 dog\)$"):
        generate.main(["--path", ckpt, "--seeds", "0", "--outdir", str(tmp_path / "none")])
    with pytest.raises(SystemExit, match=r"^generate: --class bird: no such class"):
        generate.main(["--path", ckpt, "--class", "bird", "--seeds", "0", "--outdir", str(tmp_path / "none")])
    with pytest.raises(SystemExit, match=r"^generate: --class 1: the network is unconditional"):
        generate.main(["--path", os.path.join(FIXTURES, "nvidia_skip_resnet.pkl"), "--class", "1", "--seeds", "0",
                       "--outdir", str(tmp_path / "none")])
    # resumed, the run goes on as an uninterrupted one (labels of reals and fakes included)
    train.main(["--ckpt", ckpt, "--iterations", "3", "--no_progress"])
    straight = str(tmp_path / "straight")
    train.main([str(source), "--cond", "1", "--run_dir", straight, "--iterations", "3", "--data_cache", cache] + TINY)
    logs = []
    for folder in (run, straight):
        with open(os.path.join(folder, "log.csv")) as f:
            logs.append([{k: v for k, v in r.items() if k not in ("seconds", "images_per_sec")}
                         for r in csv.DictReader(f)])
    assert len(logs[0]) == 3 and logs[0] == logs[1]
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in (source / "cat").iterdir():
        (flat / f.name).write_bytes(f.read_bytes())
    with pytest.raises(SystemExit, match=r"^train: --cond 1 needs labels, and .* has none"):
        train.main([str(flat), "--cond", "1", "--run_dir", str(tmp_path / "x"), "--data_cache", cache] + TINY)
    with pytest.raises(SystemExit, match=r"^train: --cond 1 is a StyleGAN 2 setting"):
        train.main([str(source), "--cond", "1", "--arch", "stylegan1", "--data_cache", cache])


def test_conditional_pickle_exports_and_samples(tmp_path, expected):
    from jittor_stylegan import export, loading
    export.main([PICKLE, str(tmp_path / "x.npz")])
    sampler = loading.sampler_for_size(str(tmp_path / "x.npz"))
    assert sampler.c_dim == 3 and sampler.labels.tolist() == [0, 1, 2]  # by default every class in turn
    images = sampler.images(expected["z"], sampler.fixed_noise(4), labels=expected["classes"])
    assert rel_error(images, expected["float32/images_psi1.0"]) <= FLOAT32_FORWARD_TOL
    sampler.select_class("2")
    assert rel_error(sampler.images(expected["z"][1:2], sampler.fixed_noise(1)),
                     expected["float32/images_psi1.0"][1:2]) <= FLOAT32_FORWARD_TOL  # z[1] is of class 2
    with pytest.raises(SystemExit, match="rosinality's networks take no labels"):
        export.main([PICKLE, str(tmp_path / "x.pt")])


def test_fine_tune_a_conditional_pickle(tmp_path, expected):
    import train
    rng = np.random.default_rng(1)
    for name in ("a", "b", "c"):
        (tmp_path / "abc" / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "abc" / name / f"{i}.png")
    common = [str(tmp_path / "abc"), "--arch", "stylegan2", "--cond", "1", "--resume", PICKLE, "--batch_default", "4",
              "--data_cache", str(tmp_path / "cache"), "--sample_rows", "1", "--sample_cols", "3", "--no_progress"]
    family = train.main(common + ["--iterations", "0", "--run_dir", str(tmp_path / "run")]).family
    labels = jt.array(np.eye(3, dtype=np.float32)[expected["classes"]])
    scores = family.D(jt.array(expected["d_images"]), labels).numpy()
    assert rel_error(scores, expected["float32/scores"]) <= FLOAT32_FORWARD_TOL
    tuned = train.main(common + ["--iterations", "1", "--run_dir", str(tmp_path / "tuned")]).family
    assert rel_error(tuned.D(jt.array(expected["d_images"]), labels).numpy(), expected["float32/scores"]) > 1e-6
    with pytest.raises(SystemExit, match=r"has c_dim=3, the run 2 classes"):
        train.main([str(class_folders(tmp_path / "pets"))] + common[1:] + ["--run_dir", str(tmp_path / "x")])
