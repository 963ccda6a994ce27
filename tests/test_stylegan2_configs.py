"""StyleGAN 2 networks beyond the reference configuration: small widths, image channels, seeded
randomness, the generator's options, and the path-length penalty's derivatives (float64 finite
differences). One small configuration keeps compile time low."""
import jittor as jt
import numpy as np
import pytest

from conftest import rel_error
from jittor_stylegan import convert
from jittor_stylegan.models.stylegan2 import Discriminator, Generator
from jittor_stylegan.training.losses import path_length_penalty

SIZE, STYLE_DIM = 16, 8
CHANNELS = {4: 8, 8: 6, 16: 4}


def small_generator(image_channels=3, dtype="float32", seed=0):
    """A small generator with every parameter random (the reference initialises some to 0)."""
    g = Generator(SIZE, style_dim=STYLE_DIM, n_mlp=2, channels=CHANNELS, image_channels=image_channels)
    rng = np.random.default_rng(seed)
    state = {name: rng.standard_normal(p.shape) * (0.5 if name.endswith("bias") else 1)
             for name, p in g.named_parameters()}
    return convert.load_state(g, state, dtype)


def fixed_noise(g, batch, dtype="float32", seed=1):
    rng = np.random.default_rng(seed)
    return [jt.array(rng.standard_normal((batch,) + m.shape[1:]), dtype=dtype) for m in g.noises.maps(dtype)]


@pytest.fixture(scope="module")
def generator():
    return small_generator()


@pytest.mark.parametrize("image_channels", [1, 3, 4])
def test_image_channels_and_widths(image_channels):
    g = small_generator(image_channels)
    d = Discriminator(SIZE, channels=CHANNELS, image_channels=image_channels)
    img, latent = g([jt.array(np.random.default_rng(0).standard_normal((4, STYLE_DIM)))], return_latents=True)
    assert img.shape == [4, image_channels, SIZE, SIZE] and latent.shape == [4, g.n_latent, STYLE_DIM]
    score = d(img)
    assert score.shape == [4, 1] and np.isfinite(score.numpy()).all()
    assert tuple(d.convs[0][0].weight.shape) == (CHANNELS[SIZE], image_channels, 1, 1)


def test_randomness_comes_from_numpy(generator):
    z = [jt.array(np.random.default_rng(0).standard_normal((2, STYLE_DIM)))]
    z2 = z + [jt.array(np.random.default_rng(1).standard_normal((2, STYLE_DIM)))]

    def run(styles, seed):
        return generator(styles, rng=np.random.default_rng(seed))[0].numpy()
    assert np.array_equal(run(z, 3), run(z, 3)) and not np.allclose(run(z, 3), run(z, 4))
    assert np.array_equal(run(z2, 5), run(z2, 5))  # noise and the crossover point, both seeded
    np.random.seed(7)
    first = generator(z)[0].numpy()
    np.random.seed(7)
    assert np.array_equal(first, generator(z)[0].numpy())  # rng=None: numpy's global generator
    assert [tuple(n.shape) for n in generator.make_noise(np.random.default_rng(0))] == \
        [(1, 1, r, r) for r in (4, 8, 8, 16, 16)]
    assert generator.mean_latent(16, np.random.default_rng(0)).shape == [1, STYLE_DIM]


def test_generator_options(generator):
    rng = np.random.default_rng(0)
    z0, z1 = (jt.array(rng.standard_normal((2, STYLE_DIM))) for _ in range(2))
    noise = fixed_noise(generator, 2)
    single, latent = generator([z0], noise=noise, return_latents=True)
    single = single.numpy()
    # fixed noise buffers, used with randomize_noise=False
    buffers = [m.broadcast((2,) + tuple(m.shape[1:])) for m in generator.noises.maps("float32")]
    assert np.allclose(generator([z0], randomize_noise=False)[0].numpy(), generator([z0], noise=buffers)[0].numpy())
    # w+ input and style mixing: layers before inject_index take the first style
    assert np.allclose(generator([latent], noise=noise, input_is_latent=True)[0].numpy(), single, atol=1e-6)
    mixed, mixed_latent = generator([z0, z1], noise=noise, inject_index=2, return_latents=True)
    w0, w1 = generator.get_latent(z0).numpy(), generator.get_latent(z1).numpy()
    mixed_latent = mixed_latent.numpy()
    assert np.allclose(mixed_latent[:, :2], w0[:, None]) and np.allclose(mixed_latent[:, 2:], w1[:, None])
    assert not np.allclose(mixed.numpy(), single)
    # truncation 0: every z maps onto the truncation latent
    mean = generator.mean_latent(64, np.random.default_rng(0))
    a = generator([z0], noise=noise, truncation=0, truncation_latent=mean)[0].numpy()
    assert np.allclose(a, generator([z1], noise=noise, truncation=0, truncation_latent=mean)[0].numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="inject_index"):
        generator([z0, z1], inject_index=generator.n_latent)
    with pytest.raises(ValueError, match="noise maps"):
        generator([z0], noise=noise[:-1])


def test_invalid_configurations():
    with pytest.raises(ValueError, match="power of two"):
        Generator(48)
    with pytest.raises(ValueError, match="no width"):
        Discriminator(SIZE, channels={4: 8, 8: 8})
    d = Discriminator(8, channels={4: 4, 8: 4})
    with pytest.raises(ValueError, match="stddev group"):
        d(jt.zeros((6, 3, 8, 8)))
    assert d(jt.zeros((2, 3, 8, 8))).shape == [2, 1]
    g4 = Generator(4, style_dim=4, n_mlp=1, channels={4: 4})
    assert g4([jt.zeros((3, 4))])[0].shape == [3, 3, 4, 4] and g4.n_latent == 2


def test_path_length_penalty_derivatives_match_finite_differences():
    """The path-length penalty in float64: its probe gradient (d sum(img * noise) / d latents) and the
    penalty's gradient with respect to generator parameters (a double backward through every
    layer) against central differences; the penalty is smooth away from leaky-ReLU kinks.
    Measured: 1e-9 (probe gradient) and 3e-8 (penalty gradient; Jittor differentiates a
    float64 ``mean`` over n elements with a float32 1 / n) relative."""
    g = small_generator(dtype="float64", seed=2)
    rng = np.random.default_rng(3)
    z = jt.array(rng.standard_normal((2, STYLE_DIM)), dtype="float64")
    noise = fixed_noise(g, 2, "float64")

    def penalty():
        img, latents = g([z], noise=noise, return_latents=True)
        image_noise = jt.array(np.random.default_rng(4).standard_normal(img.shape), dtype="float64")
        return path_length_penalty(img, latents, 0.3, image_noise), img, latents

    (pen, path_mean, lengths), img, latents = penalty()
    probe = jt.array(np.random.default_rng(4).standard_normal(img.shape) / SIZE, dtype="float64")
    grad_latents = jt.grad((img * probe).sum(), latents, retain_graph=True).numpy()
    assert np.allclose(lengths.numpy(), np.sqrt((grad_latents ** 2).sum(2).mean(1)), rtol=1e-12)
    assert np.isclose(path_mean.item(), 0.3 + 0.01 * (lengths.numpy().mean() - 0.3), rtol=1e-12)
    params = dict(g.named_parameters())
    names = ["style.1.weight", "conv1.conv.weight", "convs.2.conv.modulation.weight", "convs.3.activate.bias",
             "to_rgbs.1.conv.weight"]
    grads = [gr.numpy() for gr in jt.grad(pen, [params[n] for n in names])]
    assert all(np.abs(gr).max() > 1e-6 for gr in grads)

    eps = 1e-5
    direction = rng.standard_normal(grad_latents.shape)
    sides = [(g([latents + jt.array(sign * eps * direction, dtype="float64")], noise=noise,
                input_is_latent=True)[0] * probe).sum().item() for sign in (1, -1)]
    assert rel_error((sides[0] - sides[1]) / (2 * eps), (grad_latents * direction).sum()) < 1e-7
    for name, grad in zip(names, grads):
        original = params[name].numpy().copy()
        direction = rng.standard_normal(original.shape)
        sides = []
        for sign in (1, -1):
            params[name].assign(jt.array(original + sign * eps * direction, dtype="float64"))
            sides.append(penalty()[0][0].item())
        params[name].assign(jt.array(original, dtype="float64"))
        assert rel_error((sides[0] - sides[1]) / (2 * eps), (grad * direction).sum()) < 1e-6, name
