"""The PyTorch projector baseline (bench/torch_projector.py) computes the projector's offline distance as
jittor_stylegan/metrics/perceptual.py does."""
import os
import sys

import jittor as jt
import numpy as np
import pytest

from conftest import REPO
from jittor_stylegan.metrics import perceptual

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.join(REPO, "bench"))
import torch_projector  # noqa: E402

TOL = 1e-5  # max |PyTorch's - ours| / max |ours|, float32 (measured 5e-7)


def test_offline_distance_features_equal_ours():
    distance = perceptual.OfflineDistance()
    images = np.random.default_rng(3).uniform(-1, 1, (1, 1, 32, 32)).astype(np.float32)
    ours = distance.features(jt.array(images)).numpy()
    theirs = torch_projector.OfflineDistance(distance).features(torch.from_numpy(images)).numpy()
    assert ours.shape == theirs.shape and len(distance._stem) == 3
    error = np.abs(theirs - ours).max() / np.abs(ours).max()
    assert error < TOL, error
