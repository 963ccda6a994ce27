"""The trained models shipped under pretrained/: each is small, loads on a fresh clone and draws the same
image for seed 0 (class 0 of a conditional one) as when it was added (tests/fixtures/pretrained/make_fixtures.py wrote the expected PNGs)."""
import os

import numpy as np
import pytest
from PIL import Image

import generate
from jittor_stylegan import runs
from fixtures.pretrained.make_fixtures import seed_image_args

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "pretrained")
MODELS = runs.pretrained_models()


def test_there_are_pretrained_models():
    assert MODELS and all(os.path.getsize(m) < 5 * 2 ** 20 for m in MODELS)


@pytest.mark.parametrize("model", MODELS, ids=os.path.basename)
def test_pretrained_model_draws_its_seed_image(model, tmp_path):
    generate.main(seed_image_args(model, str(tmp_path)))
    name = os.path.basename(model)[:-len(".npz")]
    image = np.asarray(Image.open(tmp_path / "seed0000.png"), np.int16)
    expected = np.asarray(Image.open(os.path.join(FIXTURES, f"{name}-seed0000.png")), np.int16)
    assert image.shape == expected.shape and image.std() > 20  # an image, not a flat field
    # the same pixels up to float32 rounding across CPUs (one level of 255 on at most 1% of them)
    difference = np.abs(image - expected)
    assert difference.max() <= 1 and (difference > 0).mean() <= 0.01, (difference.max(), (difference > 0).mean())
