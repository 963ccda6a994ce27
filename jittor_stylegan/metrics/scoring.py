"""Score image sets: image sources (LMDB, folder/zip, generator checkpoint), Inception
features and SWD descriptors with a per-dataset cache, and the metrics over them."""
import hashlib
import itertools
import os

import numpy as np

from .. import data
from . import fid as fid_metrics
from . import swd as swd_metrics

METRICS = ("fid", "kid", "swd")
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "jittor_stylegan", "metrics")


def parse_metrics(text):
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = sorted(set(names) - set(METRICS))
    if unknown or not names:
        raise ValueError(f"unknown metrics {unknown or text!r}; choose from {','.join(METRICS)}")
    return names


class DatasetImages:
    """uint8 NCHW batches of a prepare_data.py LMDB at one size, or of a folder / .zip
    (resized and cropped as prepare_data.py does, to ``channels``), images ``start`` ..
    ``start + count`` (default: all from ``start``)."""

    def __init__(self, path, size, count=None, start=0, channels=3):
        self.path, self.size, self.start, self.channels = path, size, start, channels
        if os.path.exists(os.path.join(path, "data.mdb")):
            self._lmdb = data.MultiResolutionDataset(path)
            if not self._lmdb.has_size(size):
                raise data.DataError(f"{path} has no {size}px images; prepare it with --max_size >= {size}")
            total = len(self._lmdb)
        else:
            self._lmdb = None
            total = data.image_count(path)
        self.count = total - start if count is None else count
        if start < 0 or self.count < 2 or start + self.count > total:
            raise data.DataError(f"{path} has {total} images; {self.count} from index {start} requested")

    def key(self):
        """Identifies the images: path, size, range and the files' signature (an LMDB's data.mdb
        modification time and size; a folder's or archive's ``data.source_signature``)."""
        if self._lmdb:
            stat = os.stat(os.path.join(self.path, "data.mdb"))
            files = (stat.st_mtime_ns, stat.st_size)
        else:
            files = data.source_signature(self.path)
        text = repr((os.path.realpath(self.path), files, self.size, self.start, self.count, self.channels))
        name = os.path.basename(os.path.normpath(self.path))
        return f"{name}-{self.size}px-{self.count}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"

    def _images(self):
        if self._lmdb is not None:
            for i in range(self.start, self.start + self.count):
                yield np.asarray(self._lmdb.image(self.size, i))
        else:
            for _, payload in itertools.islice(data.image_source(self.path), self.start, self.start + self.count):
                yield np.asarray(data.resize_and_crop(data.to_pil(payload, self.channels), self.size))

    def batches(self, batch_size):
        images = self._images()
        while True:
            batch = list(itertools.islice(images, batch_size))
            if not batch:
                return
            batch = np.stack(batch)
            yield batch[:, None] if batch.ndim == 3 else batch.transpose(0, 3, 1, 2)


class GeneratedImages:
    """uint8 NCHW batches from a ``sampling.Sampler`` with seeded latents and noise."""

    def __init__(self, sampler, count, seed=0):
        self.sampler, self.count, self.seed = sampler, count, seed

    def batches(self, batch_size):
        from ..images import to_uint8

        rng = np.random.default_rng([self.seed, 7])
        for first in range(0, self.count, batch_size):
            n = min(batch_size, self.count - first)
            z = rng.standard_normal((n, self.sampler.latent_dim), dtype=np.float32)
            yield to_uint8(self.sampler.images(z, self.sampler.noise(n, rng))).transpose(0, 3, 1, 2)


def _progress(iterable, total, desc, show):
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, unit="batch", disable=not show, dynamic_ncols=True)


def inception_features(batches, total, model, show_progress=True):
    """(N, 2048) float32 Inception features of uint8 NCHW batches."""
    from .inception import preprocess

    out = [model(preprocess(batch)).numpy() for batch in _progress(batches, total, "inception features",
                                                                      show_progress)]
    return np.concatenate(out)


def _cached(cache_dir, name, compute):
    """Load ``<cache_dir>/<name>.npz`` or compute its arrays and store them atomically."""
    if cache_dir is None:
        return compute()
    path = os.path.join(cache_dir, name + ".npz")
    if os.path.exists(path):
        with np.load(path) as f:
            return [f[f"a{i}"] for i in range(len(f.files))]
    arrays = compute()
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}.npz"
    np.savez(tmp, **{f"a{i}": a for i, a in enumerate(arrays)})
    os.replace(tmp, path)
    return arrays


def evaluate(metrics, real, fake, batch_size=32, cache_dir=CACHE_DIR, show_progress=True, model=None):
    """{metric: value} of ``fake`` against ``real`` (DatasetImages / GeneratedImages).

    Results: "fid", "kid", and "swd" (mean over pyramid levels, x 1e3) with "swd_<res>px"
    per level. Statistics of a ``DatasetImages`` are cached in ``cache_dir`` by its key.
    """
    results = {}
    n_batches = [-(-s.count // batch_size) for s in (real, fake)]

    def cache_name(source, kind):
        return f"{kind}-{source.key()}" if isinstance(source, DatasetImages) else None

    def get(source, kind, compute):
        name = cache_name(source, kind)
        return _cached(cache_dir, name, compute) if name else compute()

    if "fid" in metrics or "kid" in metrics:
        if model is None:
            from .inception import InceptionV3
            model = InceptionV3()
        feats = [get(s, "inception", lambda s=s, n=n: [inception_features(s.batches(batch_size), n, model,
                                                                             show_progress)])[0]
                 for s, n in zip((real, fake), n_batches)]
        if "fid" in metrics:
            results["fid"] = fid_metrics.fid(*feats)
        if "kid" in metrics:
            results["kid"] = fid_metrics.kid(*feats)
    if "swd" in metrics:
        if real.count != fake.count:
            raise ValueError(f"SWD compares equal image counts; got {real.count} real and {fake.count} fake")
        desc = [get(s, "swd", lambda s=s: swd_metrics.descriptors(s.batches(batch_size))) for s in (real, fake)]
        dists = swd_metrics.swd(*desc)
        size = real.size
        for d in dists:
            results[f"swd_{size}px"] = d
            size //= 2
        results["swd"] = float(np.mean(dists))
    return results
