"""Image sources, the multi-resolution LMDB (rosinality's layout) and training batches.

LMDB layout: key ``f"{size}-{index:05d}"`` holds an encoded image of that size, key
``length`` the number of images; rosinality's ``prepare_data.py`` writes the same
(JPEG there, PNG here; both decode with PIL). Here key ``channels`` also records the
channel count, 1 (grey, PNGs of mode L) or 3 (RGB); rosinality's readers ignore it. A labelled source's
LMDB also holds key ``labels``: JSON {"labels": [class index of each image], "classes": [class names]}, from
a ``dataset.json`` in NVIDIA's format, one sub-folder per class, CIFAR-10's batches or Fashion-MNIST's files.
"""
import contextlib
import gzip
import hashlib
import io
import json
import os
import pickle
import re
import shutil
import tarfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
# Skin-tone swatches, hair components and regional-indicator letters: parts of sequences, not emoji.
EMOJI_COMPONENTS = ({0x1F3FB + i for i in range(5)} | {0x1F9B0 + i for i in range(4)}
                    | {0x1F1E6 + i for i in range(26)})
BUILTIN = {"emoji": ("fonts-noto-color-emoji", EMOJI_FONT),
           "fashion-mnist": ("dataset-fashion-mnist", FASHION_MNIST_DIR)}
# CIFAR-10's python archive (cifar-10-python.tar.gz): pickled batches in one folder.
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_SPLITS = ("train", "test", "all")  # data_batch_1..5 (50,000 images), test_batch (10,000), both
CIFAR10_SIZE = 32
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot")
DATASET_JSON = "dataset.json"  # NVIDIA's labels file at a folder's / .zip's root: {"labels": [[name, class], ...]}
LABELS_KEY = b"labels"  # the LMDB key of a labelled set's labels and class names
MIN_SIZE = 4  # the smallest size an LMDB holds by default (StyleGAN's 4x4 start)
# Training straight from a folder / .zip / CIFAR-10 archive: where its LMDB is cached (relative
# to the working directory, like runs/), and the largest size chosen when --max_size is not given.
DATA_CACHE = os.path.join("mdb", "cache")
AUTO_MAX_SIZE = 1024
SOURCE_JSON = "source.json"  # in a cached LMDB: what it was built from, and the files skipped
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
GREY_BANDS = ("1", "L", "I", "F")  # the first band of PIL's grey modes (1, L, LA, La, I, I;16, F)
CHANNELS_KEY = b"channels"  # the LMDB key recording the channel count


class DataError(Exception):
    """Bad dataset input: the message says what to do."""


# ---------------------------------------------------------------- sources

def _require_builtin(name):
    package, path = BUILTIN[name]
    if not os.path.exists(path):
        raise DataError(f"--builtin {name} needs the Debian package {package}: "
                        f"sudo apt-get install {package} (or ./setup.sh)")
    return path


def emoji_images():
    """(name, PNG bytes) of every colour emoji bitmap in Noto Color Emoji, components dropped."""
    from fontTools.ttLib import TTFont
    font = TTFont(_require_builtin("emoji"))
    for strike in font["CBDT"].strikeData:
        for name, glyph in strike.items():
            if name.startswith("u") and "_" not in name:
                try:
                    if int(name[1:], 16) in EMOJI_COMPONENTS:
                        continue
                except ValueError:
                    pass
            yield f"emoji/{name}", glyph.imageData


def _fashion_mnist(kind):
    """{split: uint8 array} of Fashion-MNIST's ``kind`` files ("images" (N, 28, 28) or "labels" (N,))."""
    folder = _require_builtin("fashion-mnist")
    out = {}
    for split in ("train", "t10k"):
        idx, offset = ("idx3", 16) if kind == "images" else ("idx1", 8)
        with gzip.open(os.path.join(folder, f"{split}-{kind}-{idx}-ubyte.gz")) as f:
            out[split] = np.frombuffer(f.read(), np.uint8, offset=offset)
    return out


def fashion_mnist_images():
    """(name, 28x28 uint8 array) of the 70,000 Fashion-MNIST images."""
    for split, data in _fashion_mnist("images").items():
        for i, image in enumerate(data.reshape(-1, 28, 28)):
            yield f"fashion-mnist/{split}/{i}", image


def folder_files(path):
    """Sorted paths of every image file under a folder, recursively."""
    files = []
    for root, _, names in os.walk(path):
        files += [os.path.join(root, n) for n in names if n.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(files)


def folder_images(path):
    """(relative path, file bytes) of every image file under a folder, recursively, sorted."""
    for file in folder_files(path):
        with open(file, "rb") as f:
            yield os.path.relpath(file, path), f.read()


def zip_members(archive):
    """Sorted names of the image files in an open .zip archive."""
    return sorted(name for name in archive.namelist()
                  if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith("__MACOSX/"))


def zip_images(path):
    """(member name, bytes) of every image file in a .zip archive, sorted."""
    with zipfile.ZipFile(path) as archive:
        for name in zip_members(archive):
            yield name, archive.read(name)


def _latin1_encode(text, encoding):
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes, latin-1 only."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


# Every global a CIFAR-10 batch refers to (numpy arrays; bytes when written by Python 3).
# numpy's array-unpickling helper lives in numpy.core (1.x) or numpy._core (2.x).
_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]
_CIFAR10_GLOBALS = {("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
                    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
                    ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                    ("_codecs", "encode"): _latin1_encode}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR-10 batch and nothing else: any other global is refused, so loading a
    crafted file cannot call arbitrary functions (which a plain ``pickle.load`` would)."""

    def find_class(self, module, name):
        if (module, name) not in _CIFAR10_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return _CIFAR10_GLOBALS[(module, name)]


def _cifar10_members(tar, split):
    """{batch name: tar member} of a split's batches in their order, data_batch_N by N."""
    found = {}
    for member in tar.getmembers():
        folder, _, name = os.path.normpath(member.name).rpartition("/")
        if folder == CIFAR10_DIR and member.isfile() and re.fullmatch(r"data_batch_\d+|test_batch", name):
            found[name] = member
    train = sorted((n for n in found if n != "test_batch"), key=lambda n: int(n.rsplit("_", 1)[1]))
    names = {"train": train, "test": ["test_batch"], "all": train + ["test_batch"]}[split]
    return {n: found[n] for n in names if n in found}


def cifar10_batches(path, split="train"):
    """(batch name, uint8 (N, 32, 32, 3), int labels (N,)) of each batch of a CIFAR-10 python archive's split
    ("train": data_batch_1..5, "test": test_batch, "all": both), read without running code."""
    if split not in CIFAR10_SPLITS:
        raise DataError(f"unknown CIFAR-10 split {split!r}; choose from {CIFAR10_SPLITS}")
    with tarfile.open(path) as tar:
        members = _cifar10_members(tar, split)
        if not members:
            raise DataError(f"{path} is a tar archive but has no {CIFAR10_DIR}/ batches of the {split!r} split: "
                            "expected CIFAR-10's python version (cifar-10-python.tar.gz)")
        for name, member in members.items():
            try:
                batch = _CifarUnpickler(tar.extractfile(member), encoding="bytes").load()
                data, labels = batch[b"data"], np.asarray(batch[b"labels"], np.int64)
            except Exception as e:  # anything but a well-formed batch is refused, never executed
                raise DataError(f"{path}: {member.name} is not a CIFAR-10 batch ({type(e).__name__}: {e})") from e
            if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
                    and data.shape[1] == 3 * 32 * 32):
                raise DataError(f"{path}: {member.name} holds no uint8 (N, 3072) b'data' array")
            if labels.shape != (len(data),) or labels.min(initial=0) < 0 or labels.max(initial=0) >= 10:
                raise DataError(f"{path}: {member.name} holds no labels 0..9 for its {len(data)} images")
            yield name, data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def cifar10_images(path, split="train"):
    """(name, uint8 32x32x3 array) of every image of a CIFAR-10 python archive's split."""
    for name, images, _ in cifar10_batches(path, split):
        for i, image in enumerate(images):
            yield f"cifar-10/{name}/{i}", np.ascontiguousarray(image)


def _source_kind(path):
    """The kind of input at ``path``: "folder", "zip" or "cifar10" (any tar archive, expected to be
    CIFAR-10's python version)."""
    if path is None or not os.path.exists(path):
        raise DataError(f"input not found: {path}")
    if os.path.isdir(path):
        return "folder"
    if zipfile.is_zipfile(path):
        return "zip"
    if tarfile.is_tarfile(path):
        return "cifar10"
    raise DataError(f"{path} is neither a folder, a .zip of images nor CIFAR-10's cifar-10-python.tar.gz")


def image_count(path, cifar10_split="train"):
    """Number of images ``image_source(path)`` yields, without decoding image files."""
    kind = _source_kind(path)
    if kind == "folder":
        return len(folder_files(path))
    if kind == "cifar10":
        return sum(len(images) for _, images, _ in cifar10_batches(path, cifar10_split))
    with zipfile.ZipFile(path) as archive:
        return len(zip_members(archive))


def image_source(path=None, builtin=None, cifar10_split="train"):
    """The (name, payload) iterator for a folder, a .zip, a CIFAR-10 archive (its
    ``cifar10_split``) or a built-in set."""
    if builtin is not None:
        if builtin not in BUILTIN:
            raise DataError(f"unknown built-in dataset {builtin!r}; choose from {sorted(BUILTIN)}")
        return emoji_images() if builtin == "emoji" else fashion_mnist_images()
    kind = _source_kind(path)
    if kind == "cifar10":
        return cifar10_images(path, cifar10_split)
    return folder_images(path) if kind == "folder" else zip_images(path)


class Labels(NamedTuple):
    """A labelled source's class index of each image name, and the class names in index order."""
    by_name: dict
    classes: tuple


def _dataset_json(path, kind):
    """The text of the ``dataset.json`` at a folder's / .zip's root, or None."""
    if kind == "folder":
        file = os.path.join(path, DATASET_JSON)
        if not os.path.isfile(file):
            return None
        with open(file) as f:
            return f.read()
    with zipfile.ZipFile(path) as archive:
        return archive.read(DATASET_JSON).decode() if DATASET_JSON in archive.namelist() else None


def _named_labels(path, names, text):
    """``Labels`` of the image ``names`` of a folder / .zip: from its ``dataset.json`` text (NVIDIA's format; its
    ``"labels": null`` means unlabelled), else from one sub-folder per class (every image one level down, in two or
    more folders, named after their class; a single folder around them is looked through), else None."""
    if text is not None:
        try:
            entries = json.loads(text)["labels"]
            if entries is None:
                return None
            by_name = {str(name): label for name, label in entries}
        except (ValueError, KeyError, TypeError) as e:
            raise DataError(f"{path}: {DATASET_JSON} is not NVIDIA's {{\"labels\": [[file, class], ...]}} "
                            f"({type(e).__name__}: {e})") from None
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in by_name.values()):
            raise DataError(f"{path}: {DATASET_JSON} labels must be class indices (ints >= 0)")
        missing = [n for n in names if n not in by_name]
        if missing:
            raise DataError(f"{path}: {DATASET_JSON} has no label for {missing[0]} ({len(missing)} images unlabelled)")
        by_name = {n: by_name[n] for n in names}
        return Labels(by_name, tuple(str(k) for k in range(max(by_name.values(), default=-1) + 1)))
    parts = [n.split("/") for n in names]
    while parts and all(len(p) > 2 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]  # a folder around the class folders (e.g. a .zip of pets/cat/, pets/dog/)
    classes = sorted({p[0] for p in parts})
    if len(classes) < 2 or any(len(p) != 2 for p in parts):
        return None
    index = {c: k for k, c in enumerate(classes)}
    return Labels({n: index[p[0]] for n, p in zip(names, parts)}, tuple(classes))


def _source_names(path, kind):
    if kind == "folder":
        return [os.path.relpath(f, path) for f in folder_files(path)]
    with zipfile.ZipFile(path) as archive:
        return zip_members(archive)


def source_labels(path=None, builtin=None, cifar10_split="train"):
    """``Labels`` of the images ``image_source`` yields (by the names it gives them), or None for an unlabelled
    source: Fashion-MNIST's and CIFAR-10's classes; a folder's / .zip's as ``_named_labels`` finds them."""
    if builtin is not None:
        if builtin != "fashion-mnist":
            return None
        labels = _fashion_mnist("labels")
        return Labels({f"fashion-mnist/{split}/{i}": int(v) for split, data in labels.items()
                       for i, v in enumerate(data)}, FASHION_MNIST_CLASSES)
    kind = _source_kind(path)
    if kind == "cifar10":
        return Labels({f"cifar-10/{name}/{i}": int(v) for name, _, labels in cifar10_batches(path, cifar10_split)
                       for i, v in enumerate(labels)}, CIFAR10_CLASSES)
    return _named_labels(path, _source_names(path, kind), _dataset_json(path, kind))


def is_labelled(path):
    """Whether a folder, .zip or CIFAR-10 archive has labels (``source_labels``), without reading any image."""
    kind = _source_kind(path)
    if kind == "cifar10":
        return True
    text = _dataset_json(path, kind)
    if text is not None:
        try:
            return json.loads(text).get("labels") is not None
        except (ValueError, AttributeError):
            return True  # a malformed file: prepare says what is wrong with it
    return _named_labels(path, _source_names(path, kind), None) is not None


# ---------------------------------------------------------------- preprocessing

def is_grey(image):
    """True when a PIL image is grey: a grey mode, or colour whose red, green and blue are equal."""
    if image.getbands()[0] in GREY_BANDS:
        return True
    pixels = np.asarray(image.convert("RGB"))
    return bool((pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all())


def to_pil(payload, channels, background=(255, 255, 255)):
    """Decode bytes or an array into a PIL image with 1 (mode L) or 3 (RGB) channels; ``channels``
    None: 1 when the image is grey (``is_grey``), else 3. Alpha is composited on ``background``.
    Raises on unreadable or truncated data."""
    if isinstance(payload, np.ndarray):
        image = Image.fromarray(payload)
    else:
        image = Image.open(io.BytesIO(payload))
        image.load()  # decode fully: truncated files fail here
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, tuple(background) + (255,))
        image = Image.alpha_composite(base, rgba)
    if channels is None:
        channels = 1 if is_grey(image) else 3
    return image.convert("L" if channels == 1 else "RGB")


def resize_and_crop(image, size):
    """Resize the shortest side to ``size`` (Lanczos), then centre-crop to size x size."""
    w, h = image.size
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    image = image.resize((new_w, new_h), Image.LANCZOS)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return image.crop((left, top, left + size, top + size))


def _png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="png")
    return buffer.getvalue()


def encode_sizes(payload, sizes, channels):
    """(channels, PNG bytes of the image at each size), the channels as ``to_pil`` chose them, or the
    error text if the image cannot be read."""
    try:
        image = to_pil(payload, channels)
        return len(image.getbands()), [_png(resize_and_crop(image, size)) for size in sizes]
    except Exception as e:  # any undecodable input is skipped and reported, never fatal
        return f"{type(e).__name__}: {e}"


def png_as_rgb(data):
    """A grey PNG re-encoded as RGB: the same pixels as resizing the image in RGB (Lanczos acts on each
    channel alone), without decoding the source again."""
    return _png(Image.open(io.BytesIO(data)).convert("RGB"))


def forced_choice(channels):
    """The channel choice, in words, of an explicit --channels."""
    return f"{'grey: 1 channel' if channels == 1 else 'colour: 3 channels'} (--channels {channels})"


class Prepared(NamedTuple):
    """What ``prepare`` wrote: images, (name, reason) of those skipped, the channel count and why, in words, and
    the class names of a labelled source (None: unlabelled)."""
    written: int
    skipped: list
    channels: int
    choice: str
    classes: tuple = None


def power_sizes(min_size, max_size):
    sizes = []
    size = min_size
    while size <= max_size:
        sizes.append(size)
        size *= 2
    if not sizes or sizes[-1] != max_size or min_size & (min_size - 1):
        raise DataError(f"--min_size {min_size} and --max_size {max_size} must be powers of two, min <= max")
    return sizes


def prepare(out, path=None, builtin=None, max_size=64, min_size=MIN_SIZE, channels=None, workers=None,
            force=False, limit=None, progress=True, cifar10_split="train"):
    """Write every image of the source at every power-of-two size to the LMDB ``out``
    (of a CIFAR-10 archive: the batches of ``cifar10_split``), returning a ``Prepared``.

    ``channels`` None chooses from the data, so grey data does not train a tinted RGB model: 1 when every
    image read is grey, else 3. Each image is decoded once, grey ones stored as L; when some image is in
    colour, the grey ones' PNGs are re-encoded as RGB afterwards.
    """
    import lmdb
    from tqdm import tqdm

    if channels not in (None, 1, 3):
        raise DataError(f"--channels must be 1 or 3, got {channels}")
    sizes = power_sizes(min_size, max_size)
    if os.path.exists(out):
        if not force:
            raise DataError(f"{out} exists; pass --force to overwrite it")
        for name in ("data.mdb", "lock.mdb"):
            if os.path.exists(os.path.join(out, name)):
                os.remove(os.path.join(out, name))
    source = image_source(path, builtin, cifar10_split)
    labelling = source_labels(path, builtin, cifar10_split)
    os.makedirs(out, exist_ok=True)
    written, skipped, labels = 0, [], []
    grey, first_colour = [], None  # indices of the images stored as L; the name of the first one in colour
    map_size = 1 << 40
    with lmdb.open(out, map_size=map_size, readahead=False) as env, \
            ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        items = (item for i, item in enumerate(source) if limit is None or i < limit)
        names, payloads = [], []

        def flush(txn, bar):
            nonlocal written, first_colour
            for name, result in zip(names, pool.map(encode_sizes, payloads, [sizes] * len(payloads),
                                                    [channels] * len(payloads), chunksize=16)):
                if isinstance(result, str):
                    skipped.append((name, result))
                else:
                    image_channels, pngs = result
                    for size, data in zip(sizes, pngs):
                        txn.put(f"{size}-{written:05d}".encode(), data)
                    if image_channels == 1:
                        grey.append(written)
                    elif first_colour is None:
                        first_colour = name
                    if labelling:
                        labels.append(labelling.by_name[name])
                    written += 1
                bar.update(1)
            names.clear()
            payloads.clear()

        with env.begin(write=True) as txn, tqdm(desc="images", unit="img", disable=not progress) as bar:
            for name, payload in items:
                if not isinstance(payload, np.ndarray) and len(payload) == 0:
                    skipped.append((name, "empty file"))
                    continue
                names.append(name)
                payloads.append(payload)
                if len(names) >= 512:
                    flush(txn, bar)
            flush(txn, bar)
            if written == 0:
                raise DataError(f"no readable images in {path or builtin} "
                                f"({len(skipped)} skipped)")
            colour = written - len(grey)
            if channels is None and grey and colour:  # mixed: the grey images become RGB too
                for start in range(0, len(grey), 512):
                    keys = [f"{size}-{i:05d}".encode() for i in grey[start:start + 512] for size in sizes]
                    for key, data in zip(keys, pool.map(png_as_rgb, [txn.get(k) for k in keys], chunksize=16)):
                        txn.put(key, data)
            if channels is not None:
                choice = forced_choice(channels)
            elif not colour:
                choice = f"grey: 1 channel (all {written:,} images are grey; --channels 3 to override)"
            elif grey:
                choice = (f"colour: 3 channels (in colour: {colour:,} of {written:,} images, the first "
                          f"{first_colour}; --channels 1 to override)")
            else:
                choice = f"colour: 3 channels (all {written:,} images are in colour; --channels 1 to override)"
            channels = channels or (3 if colour else 1)
            txn.put(b"length", str(written).encode())
            txn.put(CHANNELS_KEY, str(channels).encode())
            if labelling:
                txn.put(LABELS_KEY, json.dumps({"labels": labels, "classes": list(labelling.classes)}).encode())
    return Prepared(written, skipped, channels, choice, labelling and labelling.classes)


# ---------------------------------------------------------------- training straight from a source

def is_lmdb(path):
    """True when ``path`` is an LMDB folder (holds ``data.mdb``)."""
    return os.path.isfile(os.path.join(path, "data.mdb"))


def source_name(path):
    """A dataset's name: its folder or file name without an archive suffix (``faces.zip`` -> ``faces``)."""
    name = os.path.basename(os.path.normpath(path))
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)]
    return name


def source_signature(path, cifar10_split="train"):
    """sha1 identifying the images a source yields, cheap to recompute on every run: a folder's image
    files' relative names, sizes and modification times (no file is read); a .zip's image members'
    names, sizes and CRC-32s (its directory); a CIFAR-10 archive's bytes and the split. A ``dataset.json``
    counts as its images do."""
    kind = _source_kind(path)
    digest = hashlib.sha1(kind.encode())
    if kind == "folder":
        labels_file = os.path.join(path, DATASET_JSON)
        for file in folder_files(path) + ([labels_file] if os.path.isfile(labels_file) else []):
            stat = os.stat(file)
            digest.update(repr((os.path.relpath(file, path), stat.st_size, stat.st_mtime_ns)).encode())
    elif kind == "zip":
        with zipfile.ZipFile(path) as archive:
            for name in zip_members(archive) + ([DATASET_JSON] if DATASET_JSON in archive.namelist() else []):
                info = archive.getinfo(name)
                digest.update(repr((name, info.file_size, info.CRC)).encode())
    else:
        digest.update(cifar10_split.encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _image_headers(path):
    """(name, opener) of a folder's or .zip's image files; ``opener()`` gives a readable file object."""
    if _source_kind(path) == "folder":
        for file in folder_files(path):
            yield os.path.relpath(file, path), lambda file=file: open(file, "rb")
    else:
        with zipfile.ZipFile(path) as archive:
            for name in zip_members(archive):
                yield name, lambda name=name: archive.open(name)


def smallest_image(path, cifar10_split="train"):
    """(shortest side, name, (width, height)) of the smallest readable image of a source, from the
    image headers (unreadable files are left to ``prepare``, which skips and lists them)."""
    if _source_kind(path) == "cifar10":
        return CIFAR10_SIZE, f"cifar-10 {cifar10_split}", (CIFAR10_SIZE, CIFAR10_SIZE)
    smallest = None
    for name, opener in _image_headers(path):
        try:
            with opener() as f, Image.open(f) as image:
                width, height = image.size
        except Exception:  # noqa: BLE001 (any unreadable file: prepare skips and reports it)
            continue
        if smallest is None or min(width, height) < smallest[0]:
            smallest = (min(width, height), name, (width, height))
    if smallest is None:
        raise DataError(f"no readable images in {path}")
    return smallest


def default_max_size(side):
    """The largest power of two within an image side ``side``, at most AUTO_MAX_SIZE."""
    size = 1
    while size * 2 <= min(side, AUTO_MAX_SIZE):
        size *= 2
    return size


def _write_json(path, doc):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


def _smallest_cached(path, cifar10_split, cache_dir, signature):
    """``smallest_image`` of the source, remembered in ``<cache_dir>/<name>-<signature>.json`` so a
    second run does not read every header again."""
    record = os.path.join(cache_dir, f"{source_name(path)}-{signature[:12]}.json")
    try:
        with open(record) as f:
            side, name, size = json.load(f)["smallest"]
        return side, name, tuple(size)
    except (OSError, ValueError, KeyError, TypeError):
        found = smallest_image(path, cifar10_split)
        os.makedirs(cache_dir, exist_ok=True)
        _write_json(record, {"source": os.path.abspath(path), "signature": signature, "smallest": found})
        return found


@contextlib.contextmanager
def _exclusive(lock_path, waiting_note, log):
    """Holds an exclusive ``flock`` on ``lock_path`` (released when the process ends, however it ends);
    logs ``waiting_note`` first when another process holds it."""
    import fcntl
    with open(lock_path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(waiting_note)
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _cache_entry(stem, key, channels):
    """A cached LMDB's folder: ``<stem>-<channels>ch-<key>``."""
    return f"{stem}-{channels}ch-{key}"


def _cached(stem, key):
    """The built cache entry of ``stem`` and ``key`` (1 or 3 channels, as the build chose), or None."""
    return next((_cache_entry(stem, key, n) for n in (1, 3) if is_lmdb(_cache_entry(stem, key, n))), None)


def _build_cache(path, stem, key, max_size, channels, cifar10_split, signature, workers, progress):
    """Build the LMDB into a temporary folder ``<stem>-<key>.tmp<pid>`` and rename it, once complete, to its
    ``_cache_entry`` (named with the channel count the build chose), so an entry is whole or absent; the
    caller holds ``<stem>-<key>``'s lock. Returns the entry."""
    parent, base = os.path.split(f"{stem}-{key}")
    for name in os.listdir(parent):  # leftovers of builds that were killed: no one else builds this entry
        if name.startswith(f"{base}.tmp"):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
    tmp = os.path.join(parent, f"{base}.tmp{os.getpid()}")
    start = time.time()
    try:
        done = prepare(tmp, path, max_size=max_size, channels=channels, workers=workers, progress=progress,
                       cifar10_split=cifar10_split)
        _write_json(os.path.join(tmp, SOURCE_JSON), {
            "source": os.path.abspath(path), "signature": signature, "cifar10_split": cifar10_split,
            "sizes": power_sizes(MIN_SIZE, max_size), "channels": done.channels, "channel_choice": done.choice,
            "images": done.written, "seconds": round(time.time() - start, 1), "skipped": done.skipped,
            "classes": done.classes})
        target = _cache_entry(stem, key, done.channels)
        os.rename(tmp, target)
        return target
    except BaseException:  # a failed or interrupted build leaves nothing behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _skipped_summary(skipped, target, shown=3):
    if not skipped:
        return "skipped 0"
    listed = ", ".join(f"{name} ({reason})" for name, reason in skipped[:shown])
    more = f", ... (all {len(skipped)} in {os.path.join(target, SOURCE_JSON)})" if len(skipped) > shown else ""
    return f"skipped {len(skipped)}: {listed}{more}"


def dataset_for(path, max_size=None, channels=None, cache_dir=DATA_CACHE, cifar10_split="train",
                workers=None, progress=True, log=print):
    """The LMDB to train on: ``path`` itself when it is one; for a folder, .zip or CIFAR-10 archive,
    ``<cache_dir>/<name>-<max_size>px-<channels>ch-<hash>``, built once by ``prepare`` at sizes
    MIN_SIZE..max_size and reused while the source's signature is unchanged.

    ``max_size`` defaults to the largest power of two within the smallest image, at most AUTO_MAX_SIZE
    (a larger explicit one upscales, as prepare_data.py does); ``channels`` None lets ``prepare`` choose
    from the data. The hash covers the request (None, 1 or 3), so a choice from the data never reuses an
    explicit --channels 3 entry; the name carries the resulting count. A build is atomic (a temporary
    folder renamed into place) and locked, so a second process waits and reuses it.
    ``log`` (None: silent) receives one line per event as it happens (waiting for another process's
    build, building with the size chosen, built, reused), so a long wait or build is announced first.
    """
    if is_lmdb(path):
        return path
    log = log or (lambda line: None)
    if channels not in (None, 1, 3):
        raise DataError(f"--channels must be 1 or 3, got {channels}")
    kind = _source_kind(path)
    if kind == "folder" and not folder_files(path):
        raise DataError(f"{path} is neither an LMDB (no data.mdb) nor a folder of images "
                        f"({', '.join(IMAGE_EXTENSIONS)})")
    signature, why = source_signature(path, cifar10_split), ""
    if max_size is None:
        side, name, (width, height) = _smallest_cached(path, cifar10_split, cache_dir, signature)
        max_size = default_max_size(side)
        if max_size < MIN_SIZE:
            raise DataError(f"the smallest image of {path}, {name}, is {width}x{height}: below {MIN_SIZE} px; "
                            f"remove it or pass --max_size")
        why = (f" ({max_size}: the largest power of two within the smallest image, {name} {width}x{height}, "
               f"at most {AUTO_MAX_SIZE}; --max_size chooses)")
    elif max_size < MIN_SIZE or max_size & (max_size - 1):
        raise DataError(f"--max_size must be a power of two >= {MIN_SIZE}, got {max_size}")
    # (an explicit count hashes as before this choice existed, so entries built then are reused; a labelled
    # source's request says so, so an entry built before labels were kept is not reused for it)
    request = (signature, max_size, channels or "auto", MIN_SIZE) + (("labels",) if is_labelled(path) else ())
    key = hashlib.sha1(repr(request).encode()).hexdigest()[:12]
    stem = os.path.join(cache_dir, f"{source_name(path)}-{max_size}px")
    target, built = _cached(stem, key), False
    if target is None:
        os.makedirs(cache_dir, exist_ok=True)
        pending = f"{stem}-{key}"
        with _exclusive(f"{pending}.lock", f"waiting for another process building {pending}", log):
            target = _cached(stem, key)  # still absent once the lock is ours: no other process built it meanwhile
            if target is None:
                log(f"building an LMDB from {path} in {cache_dir} at {MIN_SIZE}..{max_size} px{why}, once: later "
                    f"runs on the same files reuse it")
                target = _build_cache(path, stem, key, max_size, channels, cifar10_split, signature, workers,
                                      progress)
                built = True
    with open(os.path.join(target, SOURCE_JSON)) as f:
        record = json.load(f)
    skipped = _skipped_summary(record["skipped"], target)
    choice = record.get("channel_choice") or forced_choice(record["channels"])  # (entries from before the choice)
    log(f"built {target}: {record['images']} images in {record['seconds']:.0f} s, {choice}; {skipped}" if built
        else f"reusing {target} ({record['images']} images from {path} at {MIN_SIZE}..{max_size} px, {choice}; "
             f"{skipped})")
    return target


# ---------------------------------------------------------------- reading

_OPEN_ENVS = {}  # lmdb allows one handle per file and process


def _open_readonly(path):
    import lmdb
    key = os.path.realpath(path)
    if key not in _OPEN_ENVS:
        _OPEN_ENVS[key] = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False)
    return _OPEN_ENVS[key]


class MultiResolutionDataset:
    """Images of one LMDB at a chosen resolution, as float32 arrays in [-1, 1], CHW."""

    def __init__(self, path):
        if not os.path.exists(os.path.join(path, "data.mdb")):
            raise DataError(f"no LMDB at {path}; create one with prepare_data.py")
        self.env = _open_readonly(path)
        with self.env.begin() as txn:
            length = txn.get(b"length")
        if length is None:
            raise DataError(f"{path} has no 'length' key: not a prepare_data.py LMDB")
        self.length = int(length.decode())
        self.path = path
        with self.env.begin() as txn:
            labels = txn.get(LABELS_KEY)
        labels = json.loads(labels) if labels is not None else None
        self._labels = None if labels is None else np.asarray(labels["labels"], np.int64)
        self.classes = None if labels is None else tuple(labels["classes"])
        if self._labels is not None and self._labels.shape != (self.length,):
            raise DataError(f"{path} holds {len(self._labels)} labels for {self.length} images")

    def __len__(self):
        return self.length

    def has_size(self, size):
        with self.env.begin() as txn:
            return txn.get(f"{size}-{0:05d}".encode()) is not None

    def sizes(self):
        """The power-of-two sizes stored, ascending."""
        return [size for size in (2 ** i for i in range(13)) if self.has_size(size)]

    def image(self, size, index):
        with self.env.begin() as txn:
            data = txn.get(f"{size}-{index:05d}".encode())
        if data is None:
            raise DataError(f"{self.path} has no {size}px image {index}; rerun prepare_data.py "
                            f"with --max_size >= {size}")
        return Image.open(io.BytesIO(data))

    def channels(self):
        """The channel count the LMDB records, else (an LMDB written before it did, or by rosinality's
        prepare_data.py) 1 when its first image is of mode L, else 3."""
        with self.env.begin() as txn:
            recorded = txn.get(CHANNELS_KEY)
        if recorded is not None:
            return int(recorded)
        return 1 if self.image(self.sizes()[0], 0).mode == "L" else 3

    def labels(self, indices=None):
        """The class index (int64) of every image, or of ``indices``; None for an unlabelled set."""
        if self._labels is None:
            return None
        return self._labels if indices is None else self._labels[np.asarray(indices)]

    def batch(self, size, indices, flips):
        """float32 (B, C, size, size) in [-1, 1]; images with ``flips`` True are mirrored."""
        arrays = []
        for index, flip in zip(indices, flips):
            array = np.asarray(self.image(size, int(index)), dtype=np.float32)
            array = array[:, :, None] if array.ndim == 2 else array
            arrays.append(array[:, ::-1] if flip else array)
        return np.stack(arrays).transpose(0, 3, 1, 2) / 127.5 - 1


class BatchSampler:
    """Shuffled epochs, reproducible from (seed, resolution, epoch) and resumable from a position."""

    def __init__(self, length, batch_size, seed, resolution, epoch=0, position=0):
        self.length, self.batch_size, self.seed, self.resolution = length, batch_size, seed, resolution
        self.epoch, self.position = epoch, position
        self._order = self._permutation()

    def _permutation(self):
        return np.random.default_rng([self.seed, self.resolution, self.epoch]).permutation(self.length)

    def next(self):
        """(indices, flips) of the next batch; an epoch's tail joins the next epoch's start."""
        indices = []
        while len(indices) < self.batch_size:
            take = self._order[self.position:self.position + self.batch_size - len(indices)]
            indices.extend(take.tolist())
            self.position += len(take)
            if self.position >= self.length:
                self.epoch, self.position = self.epoch + 1, 0
                self._order = self._permutation()
        flips = np.random.default_rng([self.seed, self.resolution, self.epoch, self.position]).random(
            len(indices)) < 0.5
        return np.array(indices), flips

    def state(self):
        return {"epoch": self.epoch, "position": self.position}
