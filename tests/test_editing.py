"""Editing: projector.py (image -> latent), SeFa directions (closed_form_factorization.py) and their use in
generate.py (--projected-w, --factor), on the tiny fixtures and the pretrained model."""
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

import closed_form_factorization
import generate
import projector as projector_cli
from conftest import REPO
from jittor_stylegan import projector, sampling, sefa
from jittor_stylegan.loading import generator_from_checkpoint, sampler_for_size

FIXTURES = os.path.join(REPO, "tests", "fixtures")
TINY = {"stylegan2": os.path.join(FIXTURES, "fresh_stylegan2.npz"),
        "stylegan1": os.path.join(FIXTURES, "fresh_stylegan1.npz")}
VGG16 = os.path.join(FIXTURES, "vgg16", "vgg16_tiny.pt")  # NVIDIA's vgg16.pt layout, random weights
PRETRAINED = os.path.join(REPO, "pretrained", "fashion-mnist-stylegan2-32px.npz")


def target_image(path, shape=(30, 20, 3)):
    """A colour image of another size and aspect than the generator's (smooth, so it can be approached)."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    image = np.stack([128 + 100 * np.sin(x / 4 + c) * np.cos(y / 5) for c in range(shape[2])], -1)
    Image.fromarray(image.astype(np.uint8)).save(path)
    return str(path)


@pytest.mark.parametrize("arch,vgg16", [("stylegan2", None), ("stylegan1", VGG16)])
def test_projection_decreases_the_distance_and_round_trips(arch, vgg16, tmp_path, capsys):
    out = tmp_path / "out"
    projector_cli.main(["--target", target_image(tmp_path / "t.png"), "--path", TINY[arch], "--num-steps", "20",
                        "--outdir", str(out), "--w_plus"] + (["--vgg16", vgg16, "--save-video", "1"] if vgg16 else []))
    printed = capsys.readouterr().out
    assert "centre-cropped to 20x20, resized to 8x8" in printed
    assert ("distance: LPIPS on VGG16" if vgg16 else "distance: the FID Inception's stem features") in printed
    found = re.search(r"projector: distance ([\d.]+) -> ([\d.]+) in 20 steps \(W\+\)", printed)
    first, last = map(float, found.groups())
    assert last < 0.7 * first, (first, last)
    sampler = sampler_for_size(TINY[arch])
    if vgg16:  # target | projection per step, enlarged to 128 px tiles
        video = cv2.VideoCapture(str(out / "proj.mp4"))
        assert video.get(cv2.CAP_PROP_FRAME_COUNT) == 20 and video.get(cv2.CAP_PROP_FRAME_WIDTH) == 256
    with np.load(out / "projected_w.npz") as data:
        assert data["w"].shape == (sampler.levels, sampler.latent_dim)  # W+: one w per level
        assert str(data["checkpoint"]) == TINY[arch]
    generate.main(["--path", TINY[arch], "--projected-w", str(out / "projected_w.npz"), "--out", str(tmp_path)])
    assert (np.asarray(Image.open(tmp_path / "proj00.png")) == np.asarray(Image.open(out / "proj.png"))).all()
    with pytest.raises(ValueError, match=r"w of shape \(2, \d+\) does not fit"):
        projector.load_w(out / "projected_w.npz", 5, 3, sampler.generator.noise_sizes(sampler.size))


def test_nvidia_projected_w_is_read(tmp_path):
    """NVIDIA's projector saves its W projection repeated for every layer: (1, num_ws, w_dim)."""
    w = np.random.default_rng(0).standard_normal((1, 8)).astype(np.float32)
    np.savez(tmp_path / "projected_w.npz", w=np.repeat(w[None], 6, 1))
    loaded, noise = projector.load_w(tmp_path / "projected_w.npz", 8, 2, [4, 8, 8])
    assert noise is None and (loaded == w).all()
    np.savez(tmp_path / "projected_w.npz", w=np.random.default_rng(1).standard_normal((1, 6, 8)))
    with pytest.raises(ValueError, match="does not fit this generator"):
        projector.load_w(tmp_path / "projected_w.npz", 8, 2, [4, 8, 8])


def test_w_has_one_row_and_project_follows_the_schedule():
    generator = generator_from_checkpoint(TINY["stylegan2"])[0]
    target = np.zeros((3, 8, 8), np.float32)

    class Pixels:
        def features(self, images):
            return images.reshape(images.shape[0], -1)

    settings = projector.Settings(num_steps=3)
    result = projector.project(generator, 8, target, Pixels(), settings)
    assert result.w.shape == (1, generator.latent_dim) and len(result.distances) == 3
    assert [round(n.std(), 4) for n in result.noise] == [1.0] * len(result.noise)  # normalised each step
    # NVIDIA's schedule: ramp-up over 5 %, full rate, cosine ramp-down over the last 25 %
    settings = projector.Settings(num_steps=100)
    lrs = [projector.learning_rate(s, settings) for s in (0, 1, 50, 90)]
    assert lrs[0] == 0 and lrs[1] == pytest.approx(0.1 * 0.2) and lrs[2] == pytest.approx(0.1)
    assert lrs[3] == pytest.approx(0.1 * (0.5 - 0.5 * np.cos(0.4 * np.pi)))
    assert projector.w_noise_scale(75, 2.0, settings) == 0 and projector.w_noise_scale(0, 2.0, settings) == 0.1


def test_non_image_target_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    done = subprocess.run([sys.executable, os.path.join(REPO, "projector.py"), "--target", str(bad), "--path",
                           TINY["stylegan2"], "--outdir", str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    lines = [line for line in done.stderr.splitlines() if not line.startswith("[i")]
    assert done.returncode != 0 and lines == [f"projector: {bad} is not an image (UnidentifiedImageError)"]


@pytest.mark.parametrize("arch", ["stylegan2", "stylegan1"])
def test_sefa_directions_are_the_eigenvectors_of_the_style_weights(arch, tmp_path):
    out = tmp_path / "factors.npz"
    closed_form_factorization.main(["--path", TINY[arch], "--out", str(out)])
    eigvec = sefa.load_factors(out, sampler_for_size(TINY[arch]).latent_dim)
    state = generator_from_checkpoint(TINY[arch])[0].state_dict()
    suffix = "style.linear.weight_orig" if arch == "stylegan1" else "conv.modulation.weight"
    names = [k for k in state if k.endswith(suffix) and "to_rgbs" not in k]
    assert len(names) == (4 if arch == "stylegan1" else 4)  # 2 blocks x 2 AdaIN / conv1, to_rgb1, 2 convs
    weights = np.concatenate([state[k].numpy() for k in names]).astype(np.float64)
    values, vectors = np.linalg.eigh(weights.T @ weights)
    vectors = vectors[:, ::-1]
    assert np.abs((vectors * eigvec).sum(0)) == pytest.approx(np.ones(eigvec.shape[1]), abs=1e-4)
    with np.load(out) as data:
        assert data["singular_values"] ** 2 == pytest.approx(values[::-1], rel=1e-5)


def test_sefa_direction_changes_the_image_more_than_a_random_one(tmp_path):
    """On the pretrained model, seeds 0-7, a step of 5: direction 0 moves the pixels 0.33 on average, 5 random unit
    directions 0.13-0.25 (measured)."""
    sampler = sampler_for_size(PRETRAINED)
    eigvec, _ = sefa.factorize(sampler.generator)
    w = sampling.seed_ws(sampler, range(8))[:, None]
    noise = sampler.fixed_noise(1)
    base = sampling.render_w(sampler, w, noise)

    def change(direction):
        return np.abs(sampling.render_w(sampler, w + 5 * direction[None, None], noise) - base).mean()

    rng = np.random.default_rng(0)
    randoms = [change(v / np.linalg.norm(v)) for v in rng.standard_normal((5, eigvec.shape[0])).astype(np.float32)]
    assert change(eigvec[:, 0]) > 1.2 * max(randoms), (change(eigvec[:, 0]), randoms)
    factors = sefa.save_factors(tmp_path / "f.npz", eigvec, np.ones(len(eigvec)), PRETRAINED)
    generate.main(["--path", PRETRAINED, "--factor", str(factors), "--index", "0", "--degree", "5", "--seeds",
                   "0-2", "--n_col", "5", "--raw", "--out", str(tmp_path)])
    grid = np.asarray(Image.open(tmp_path / "factor_0.png"))
    assert grid.shape == (2 + 3 * 34, 2 + 5 * 34)  # rows: seeds; columns: -5 ... 5; grey
    centre = grid[2:34, 2 + 2 * 34:34 + 2 * 34]
    seed0 = sampling.render_w(sampler, w[:1], noise)
    assert np.abs(centre.astype(int) - (np.clip((seed0[0, 0] + 1) * 127.5 + 0.5, 0, 255)).astype(int)).max() <= 1
