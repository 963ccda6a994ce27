"""NVIDIA's VGG16 read from a vgg16.pt-shaped TorchScript file (tests/fixtures/vgg16/make_vgg16.py: random weights,
small widths) without running it: its LPIPS vector and fc2 features equal what the file computes when torch runs it;
pr50k3_full and ppl2_wend on it equal numpy / torch computations; a conditional generator's fakes take the classes
in turn across batches."""
import os

import jittor as jt
import numpy as np
import pytest

from conftest import REPO
from test_metrics import numpy_precision_recall
from jittor_stylegan import data
from jittor_stylegan.metrics import scoring, vgg16
from jittor_stylegan.models.stylegan2 import Generator
from jittor_stylegan.sampling import Sampler

VGG16 = os.path.join(REPO, "tests", "fixtures", "vgg16", "vgg16_tiny.pt")
# max |ours - TorchScript's| / max |TorchScript's|, float32: measured 8e-8 .. 3e-7 (LPIPS), 4e-6 .. 4e-5 (features:
# the 224 px resize and three more layers)
LPIPS_TOL, FEATURES_TOL = 1e-5, 1e-4
# |ours - torch's| / torch's PPL: |f(w0) - f(w0 + 1e-4 dw)|^2 / 1e-8 of float32 features (measured 1.2e-4)
PPL_TOL = 1e-3


@pytest.fixture(scope="module")
def network():
    return vgg16.Vgg16(VGG16)


@pytest.fixture(scope="module")
def torchscript():
    """The fixture file run by torch: float32 numpy images in, numpy out."""
    torch = pytest.importorskip("torch")
    module = torch.jit.load(VGG16)

    def run(pixels, **kwargs):
        with torch.no_grad():
            return module(torch.from_numpy(np.asarray(pixels, np.float32)), **kwargs).numpy()
    return run


@pytest.mark.parametrize("channels,size", [(3, 32), (1, 256), (3, 300)])
def test_features_and_lpips_equal_torchscript(network, torchscript, channels, size):
    pixels = np.random.default_rng(size).uniform(0, 255, (3, channels, size, size)).astype(np.float32)
    expected = torchscript(pixels, return_features=True)
    ours = network.features(jt.array(pixels)).numpy()
    assert ours.shape == expected.shape == (3, 24) and (expected > 0).any(1).all()
    assert np.abs(ours - expected).max() / np.abs(expected).max() < FEATURES_TOL
    expected = torchscript(pixels, resize_images=False, return_lpips=True)
    ours = network.lpips(jt.array(pixels)).numpy()
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() / np.abs(expected).max() < LPIPS_TOL


def test_tf_resize_matrix_is_tf1_bilinear():
    # 4 -> 6: target i reads source i * 4 / 6, the right neighbour clamped at the edge
    m = vgg16.tf_resize_matrix(4, 6)
    source = np.arange(6) * 4 / 6
    expected = np.zeros((6, 4))
    for i, s in enumerate(source):
        lo = int(s)
        expected[i, lo] += 1 - (s - lo)
        expected[i, min(lo + 1, 3)] += s - lo
    np.testing.assert_allclose(m, expected, atol=1e-7)
    assert (vgg16.tf_resize_matrix(224, 224) == np.eye(224)).all()


def test_pr50k3_full_compares_vgg16_features(tmp_path, torchscript):
    """P/R with --vgg16: NVIDIA's formula (numpy, float16) on the VGG16 features the run cached, which equal
    TorchScript's of the same images; emoji against a folder of other emoji and Fashion-MNIST."""
    from PIL import Image

    for name, count in (("emoji", 30), ("fashion-mnist", 6)):
        data.prepare(str(tmp_path / name), builtin=name, max_size=16, limit=count, progress=False)
    os.makedirs(tmp_path / "fakes")
    images = [np.concatenate(list(scoring.DatasetImages(str(tmp_path / name), 16, 6).batches(8)))
              for name in ("emoji", "fashion-mnist")]
    for i, image in enumerate(np.concatenate([images[0], images[1].repeat(3, 1)])):  # Fashion-MNIST is grey
        Image.fromarray(image.transpose(1, 2, 0)).save(tmp_path / "fakes" / f"{i}.png")
    real = scoring.DatasetImages(str(tmp_path / "emoji"), 16, 12, start=6)  # _full: all 24 from 6 on
    fake = scoring.DatasetImages(str(tmp_path / "fakes"), 16)
    results = scoring.evaluate(["pr50k3_full"], real, fake, batch_size=8, cache_dir=str(tmp_path / "cache"),
                               show_progress=False, vgg16=scoring.vgg16_network(VGG16))
    feats = {}
    for name in os.listdir(tmp_path / "cache"):
        assert name.startswith("vgg16_")
        with np.load(tmp_path / "cache" / name) as f:
            feats[len(f["a0"])] = f["a0"]
    assert sorted(feats) == [12, 24]
    expected = torchscript(np.concatenate(list(real.with_count(24).batches(32))), return_features=True)
    assert np.abs(feats[24] - expected).max() / np.abs(expected).max() < FEATURES_TOL
    precision, recall = numpy_precision_recall(feats[24].astype(np.float64), feats[12].astype(np.float64))
    assert 0 < precision < 1 and 0 < recall < 1, (precision, recall)
    assert (results["pr50k3_full_precision"], results["pr50k3_full_recall"]) == (precision, recall)
    with pytest.raises(ValueError, match="pr50k3_full need NVIDIA's vgg16.pt"):
        scoring.evaluate(["pr50k3_full"], real, fake, cache_dir=None)


def test_ppl2_wend_is_lpips_of_vgg16(network, torchscript, monkeypatch):
    """PPL with --vgg16: pairs w0, w0 + 1e-4 (w1 - w0) rendered with shared noise, TorchScript's LPIPS of the
    [0, 255] images, |f0 - f1|^2 / 1e-8, all kept between the 1st and 99th percentiles of 4."""
    monkeypatch.setitem(scoring.PROTOCOLS, "ppl2_wend", ("ppl", 0, 4))
    np.random.seed(0)
    sampler = Sampler(Generator(16, style_dim=8, n_mlp=2, channels={4: 8, 8: 8, 16: 8}), 16)
    fake = scoring.GeneratedImages(sampler, 4)
    got = scoring.evaluate(["ppl2_wend"], fake, fake, vgg16=network)["ppl2_wend"]
    rng = np.random.default_rng([0, 13])
    z = rng.standard_normal((8, 8), dtype=np.float32)
    w = sampler.generator.mapping(jt.array(z)).numpy()
    ends = np.concatenate([w[:4], w[:4] + np.float32(1e-4) * (w[4:] - w[:4])])
    noise = [jt.array(a.repeat(8, 0)) for a in sampler.noise(1, rng)]
    images = sampler.generator.synthesize([jt.array(ends)] * sampler.levels, noise).numpy()
    f = torchscript((images + 1) * np.float32(127.5), resize_images=False, return_lpips=True)
    distances = ((f[:4].astype(np.float64) - f[4:]) ** 2).sum(1) / 1e-8
    assert distances.min() > 0
    assert got == pytest.approx(distances.mean(), rel=PPL_TOL)


def test_conditional_fakes_take_classes_in_turn_across_batches():
    np.random.seed(0)
    sampler = Sampler(Generator(8, style_dim=8, n_mlp=1, channels={4: 8, 8: 8}, c_dim=3), 8, labels=[0, 1, 2])
    given = []
    images = sampler.images

    def recording(z, noise, labels=None):
        given.append(labels)
        return images(z, noise, labels=labels)

    sampler.images = recording
    batches = list(scoring.GeneratedImages(sampler, 7).batches(4))
    assert [len(b) for b in batches] == [4, 3]
    assert np.concatenate(given).tolist() == [0, 1, 2, 0, 1, 2, 0]  # not [0, 1, 2, 0] then [0, 1, 2]
    assert Sampler(sampler.generator, 8, labels=[2]).labels_of(5, 3).tolist() == [2, 2, 2]
