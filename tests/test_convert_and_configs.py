"""Checkpoint conversion (strict, round trip through a torch file) and non-reference configurations."""
import random
import sys

import jittor as jt
import numpy as np
import pytest

from jittor_stylegan import convert
from jittor_stylegan.formats import rosinality
from jittor_stylegan.layers.stylegan1 import Blur
from jittor_stylegan.models.stylegan1 import Discriminator, StyledGenerator

SMALL = dict(max_size=32, channel_base=256, max_channels=16)


def small_nets(image_channels=3):
    return (StyledGenerator(code_dim=8, n_mlp=2, image_channels=image_channels, **SMALL),
            Discriminator(image_channels=image_channels, **SMALL))


def test_round_trip_through_torch_file_is_exact(tmp_path):
    torch = pytest.importorskip("torch")
    g, d = small_nets()
    path = tmp_path / "ckpt.model"
    rosinality.save_torch_checkpoint(path, generator=g, discriminator=d, g_running=g)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"generator", "discriminator", "g_running"}
    # The torch file holds exactly the reference names: parameters plus each Blur's buffers.
    blur_keys = {k for k in raw["discriminator"] if k.endswith("weight_flip")}
    assert blur_keys and all(raw["discriminator"][k].shape[1:] == (1, 3, 3) for k in blur_keys)
    g2, d2 = small_nets()
    assert rosinality.load_torch_checkpoint(path, generator=g2, discriminator=d2) == ["generator", "discriminator"]
    for a, b in ((g, g2), (d, d2)):
        for (name, p), (name2, p2) in zip(a.named_parameters(), b.named_parameters()):
            assert name == name2 and np.array_equal(p.numpy(), p2.numpy())


def test_rosinality_checkpoint_layouts(tmp_path):
    torch = pytest.importorskip("torch")
    g, d = small_nets()
    state = {k: torch.from_numpy(v) for k, v in convert.numpy_state(g).items()}
    full = tmp_path / "train_step-1.model"
    torch.save({"generator": state, "discriminator": {k: torch.from_numpy(v) for k, v in convert.numpy_state(d).items()},
                "g_running": state, "g_optimizer": {"state": {}, "param_groups": [{"lr": 0.001}]},
                "d_optimizer": {"state": {}, "param_groups": []}}, full)
    assert rosinality.load_torch_checkpoint(full, g_running=small_nets()[0]) == ["g_running"]
    bare = tmp_path / "bare.model"
    torch.save({"module." + k: v for k, v in state.items()}, bare)  # DataParallel keys
    g2 = small_nets()[0]
    assert rosinality.load_torch_checkpoint(bare, g_running=g2) == ["g_running"]
    z = jt.randn(2, 8)
    noise = [jt.randn(2, 1, 4 * 2 ** i, 4 * 2 ** i) for i in range(3)]
    assert np.array_equal(g(z, noise=noise, step=2).numpy(), g2(z, noise=noise, step=2).numpy())
    with pytest.raises(KeyError, match="no 'discriminator'"):
        rosinality.load_torch_checkpoint(bare, discriminator=small_nets()[1])


def test_loading_is_strict():
    g = small_nets()[0]
    good = convert.numpy_state(g)
    name = "generator.progression.1.conv2.conv.weight_orig"
    with pytest.raises(KeyError, match="missing"):
        convert.load_state(g, {k: v for k, v in good.items() if k != name})
    with pytest.raises(KeyError, match="unexpected"):
        convert.load_state(g, dict(good, extra=np.zeros(1)))
    with pytest.raises(ValueError, match="shape"):
        convert.load_state(g, dict(good, **{name: good[name][:, :-1]}))
    blur = next(k for k in good if k.endswith("weight_flip"))
    with pytest.raises(ValueError, match="kernel"):
        convert.load_state(g, dict(good, **{blur: good[blur] * 2}))
    convert.load_state(g, {k: v for k, v in good.items() if k not in convert.torch_buffers(g)})  # buffers optional


def test_missing_torch_gives_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="pip install torch"):
        rosinality.save_torch_checkpoint(tmp_path / "x.model", generator=small_nets()[0])


def test_constant_kernels_are_not_parameters():
    g, d = small_nets()
    for net in (g, d):
        blurs = [m for _, m in net.named_modules() if isinstance(m, Blur)]
        assert blurs
        assert not any("kernel" in name or "multiplier" in name for name, _ in net.named_parameters())
        assert not any(k.endswith("weight_flip") for k in net.state_dict())


@pytest.mark.parametrize("image_channels", [1, 3, 4])
def test_small_configurations_every_step(image_channels):
    g, d = small_nets(image_channels)
    z = jt.randn(3, 8)
    for step in range(3):
        for alpha in (-1, 0.5):
            img = g(z, step=step, alpha=alpha)
            assert img.shape == [3, image_channels, 4 * 2 ** step, 4 * 2 ** step]
            score = d(img, step=step, alpha=alpha)
            assert score.shape == [3, 1] and np.isfinite(score.numpy()).all()
    with pytest.raises(ValueError, match="step"):
        d(jt.randn(1, image_channels, 64, 64), step=4)


def test_random_style_mixing_crossover():
    """Without inject_index the crossover is drawn from ``rng`` or numpy's global generator (seeded, the same
    draw), never from Python's global ``random``, whose state it neither reads nor advances."""
    g = small_nets()[0]
    z1, z2 = jt.randn(2, 8), jt.randn(2, 8)
    noise = [jt.randn(2, 1, 4 * 2 ** i, 4 * 2 ** i) for i in range(3)]
    single = g(z1, noise=noise, step=2).numpy()
    python_state = random.getstate()
    np.random.seed(3)
    mixed = g([z1, z2], noise=noise, step=2).numpy()
    np.random.seed(3)
    again = g([z1, z2], noise=noise, step=2).numpy()
    assert np.array_equal(mixed, again) and not np.allclose(mixed, single)
    for point in (0, 1):  # a numpy Generator's draw: the crossover point that generator gives
        seed = next(s for s in range(100) if np.random.default_rng(s).choice(2, 1, replace=False)[0] == point)
        drawn = g([z1, z2], noise=noise, step=2, rng=np.random.default_rng(seed)).numpy()
        assert np.array_equal(drawn, g([z1, z2], noise=noise, step=2, inject_index=[point]).numpy())
    assert random.getstate() == python_state
    # mixing_range (0, 2) takes every block's style from the second latent
    assert np.allclose(g([z1, z2], noise=noise, step=2, mixing_range=(0, 2)).numpy(),
                       g(z2, noise=noise, step=2).numpy(), atol=1e-6)


def test_bad_sizes():
    with pytest.raises(ValueError, match="power of two"):
        StyledGenerator(max_size=48)
