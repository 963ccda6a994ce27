"""Shared test helpers: the PyTorch reference fixtures and error measures."""
import json
import os

import numpy as np
import pytest

import jittor_stylegan  # noqa: F401  (configures Jittor before anything imports it)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE_CANDIDATES = [
    os.environ.get("JSG_REFERENCE_DIR", ""),
    os.path.join(REPO, "..", "shared", "reference"),
    "/work/shared/reference",
]


def reference_dir():
    """The folder of PyTorch reference outputs (../shared/reference beside the checkout)."""
    for path in REFERENCE_CANDIDATES:
        if path and os.path.isfile(os.path.join(path, "index.json")):
            return os.path.abspath(path)
    raise FileNotFoundError("PyTorch reference fixtures not found; set JSG_REFERENCE_DIR "
                            f"(looked in {[p for p in REFERENCE_CANDIDATES if p]})")


@pytest.fixture(scope="session")
def reference_index():
    with open(os.path.join(reference_dir(), "index.json")) as f:
        return json.load(f)


def load_reference(name, depth):
    """Arrays of ``<reference>/<name>.npz`` grouped by case: {case: {field: array}}.

    The first ``depth`` parts of a key name its case ("upfirdn2d/blur_121"), the rest its field.
    """
    cases = {}
    with np.load(os.path.join(reference_dir(), name + ".npz")) as data:
        for key in data.files:
            parts = key.split("/")
            cases.setdefault("/".join(parts[:depth]), {})["/".join(parts[depth:])] = data[key]
    return cases


def rel_error(actual, expected):
    """max |actual - expected| / max |expected|: the reference README's measure."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-30))
