"""The projector's distances: LPIPS-VGG16 read from a vgg16.pt-shaped TorchScript file without running it (equal
to what the file computes when torch runs it), and the offline distance."""
import os

import jittor as jt
import numpy as np
import pytest

from conftest import REPO
from jittor_stylegan.metrics import perceptual, vgg16

VGG16 = os.path.join(REPO, "tests", "fixtures", "vgg16", "vgg16_tiny.pt")
# max |ours - TorchScript's| / max |TorchScript's|, float32 (measured 2.6e-7 at 32 px, 1.8e-6 at 512 px)
PARITY_TOL = 1e-5


@pytest.mark.parametrize("channels,size", [(3, 32), (1, 512)])
def test_vgg16_lpips_features_equal_torchscript(channels, size):
    torch = pytest.importorskip("torch")
    pixels = np.random.default_rng(size).uniform(0, 255, (2, channels, size, size)).astype(np.float32)
    reference_input = torch.from_numpy(pixels)
    if size > vgg16.LPIPS_MAX_SIZE:  # NVIDIA's projector area-resizes first, then calls vgg16 without resizing
        reference_input = torch.nn.functional.interpolate(reference_input, size=(256, 256), mode="area")
    expected = torch.jit.load(VGG16)(reference_input, resize_images=False, return_lpips=True).detach().numpy()
    ours = perceptual.Vgg16Lpips(VGG16).features(jt.array(pixels / 127.5 - 1)).numpy()
    assert ours.shape == expected.shape
    error = np.abs(ours - expected).max() / np.abs(expected).max()
    assert error < PARITY_TOL, error


def test_vgg16_distance_is_lpips_and_a_bad_file_is_refused(tmp_path):
    vgg = perceptual.Vgg16Lpips(VGG16)
    rng = np.random.default_rng(1)
    a, b = (jt.array(rng.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)) for _ in range(2))
    d = ((vgg.features(a) - vgg.features(b)) ** 2).sum().item()
    assert 0 < d and ((vgg.features(a) - vgg.features(a)) ** 2).sum().item() == 0
    with pytest.raises(vgg16.Vgg16Error, match="is not NVIDIA's vgg16.pt"):
        perceptual.Vgg16Lpips(os.path.join(REPO, "tests", "fixtures", "fresh_stylegan2.npz"))


def test_offline_distance_is_stem_features_plus_multiscale_mse():
    distance = perceptual.OfflineDistance()
    rng = np.random.default_rng(2)
    base = rng.uniform(-1, 1, (1, 1, 32, 32)).astype(np.float32)
    noise = rng.standard_normal(base.shape).astype(np.float32)

    def pixel_mse(a, b):  # numpy: the MSE at 1, 1/2, 1/4 scale, summed
        total = 0
        for scale in range(3):
            total += ((a - b) ** 2).mean()
            a, b = (x.reshape(1, 1, x.shape[2] // 2, 2, x.shape[3] // 2, 2).mean((3, 5)) for x in (a, b))
        return total

    distances = []
    for s in (0.05, 0.2, 0.5):
        features = [distance.features(jt.array(x)) for x in (base, base + s * noise)]
        distances.append(((features[0] - features[1]) ** 2).sum().item())
        assert distances[-1] > pixel_mse(base, base + s * noise) * 1.01  # the Inception stem adds its part
    assert distances == sorted(distances)
    distance._stem = []  # no FID weights installed: the pixel terms alone
    features = [distance.features(jt.array(x)) for x in (base, base + 0.2 * noise)]
    assert ((features[0] - features[1]) ** 2).sum().item() == pytest.approx(pixel_mse(base, base + 0.2 * noise),
                                                                           rel=1e-5)
