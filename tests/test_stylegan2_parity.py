"""StyleGAN 2 networks against rosinality's PyTorch model (../shared/reference/sg2*.npz), and
conversion of its training checkpoints.

Reference weights are rebuilt with the fixtures' own ``weights.py`` and loaded through
``jittor_stylegan.convert``, in float32 and in float64; bounds are conftest's parity bounds.
Generator cases: G([z0(, z1)], noise=<one map per layer>, inject_index) and the gradient of
sum(out * grad_out) with respect to each z. Discriminator: score, d sum(score) / dx, the R1
penalty mean_b(sum |grad_x|^2) and its gradients on probe parameters (double backward).
"""
import argparse

import jittor as jt
import numpy as np
import pytest

from conftest import assert_parity, load_reference, parity_errors, reference_state, rel_error
from jittor_stylegan import convert
from jittor_stylegan.formats import rosinality
from jittor_stylegan.models.stylegan2 import Discriminator, Generator

CASES = {"float32": load_reference("sg2", depth=3), "float64": load_reference("sg2_f64", depth=3)}
DTYPES = ["float32", "float64"]
SIZE = 32


@pytest.fixture(scope="module")
def networks(reference_index):
    """(network, dtype) -> the reference network, built once per dtype."""
    built = {}

    def get(net, dtype):
        if (net, dtype) not in built:
            module = Generator(SIZE) if net == "generator" else Discriminator(SIZE)
            state = reference_state(reference_index["sg2"][f"sg2/{net}/params"])
            built[net, dtype] = convert.load_state(module, state, dtype)
        return built[net, dtype]
    return get


def check(case, dtype, results, forward_field):
    assert_parity(parity_errors(results, CASES["float32"][case], CASES["float64"][case], dtype, {forward_field}))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["sg2/generator/single", "sg2/generator/mixed"])
def test_generator_matches_pytorch(case, dtype, networks, reference_index):
    generator, ref, cfg = networks("generator", dtype), CASES[dtype][case], reference_index["sg2"][case]
    zs = [jt.array(ref[f"z{i}"], dtype=dtype) for i in range(cfg["n_styles"])]
    noise = [jt.array(ref[f"noise{i}"], dtype=dtype) for i in range(generator.num_layers)]
    out, latent = generator(zs, noise=noise, inject_index=cfg["inject_index"])
    assert out.dtype == dtype and latent is None
    grads = jt.grad((out * jt.array(ref["grad_out"], dtype=dtype)).sum(), zs)
    check(case, dtype, {"out": out.numpy(), **{f"grad_z{i}": g.numpy() for i, g in enumerate(grads)}}, "out")


@pytest.mark.parametrize("dtype", DTYPES)
def test_discriminator_and_r1_match_pytorch(dtype, networks, reference_index):
    case = "sg2/discriminator/r1"
    discriminator, ref, cfg = networks("discriminator", dtype), CASES[dtype][case], reference_index["sg2"][case]
    x = jt.array(ref["x"], dtype=dtype)
    score = discriminator(x)
    grad_x = jt.grad(score.sum(), x, retain_graph=True)
    r1 = (grad_x * grad_x).reshape(grad_x.shape[0], -1).sum(1).mean()
    params = dict(discriminator.named_parameters())
    grads = jt.grad(r1, [params[name] for name in cfg["r1_grad_probes"]])
    results = {"score": score.numpy(), "grad_x": grad_x.numpy(), "r1_penalty": np.asarray(r1.item())}
    for name, grad in zip(cfg["r1_grad_probes"], grads):
        results[f"r1_grad/{name}"] = grad.numpy()[:2]
        results[f"r1_grad_norm/{name}"] = np.linalg.norm(grad.numpy())
    check(case, dtype, results, "score")


def test_parameter_names_and_shapes_are_the_references(networks, reference_index):
    for net in ("generator", "discriminator"):
        table = reference_index["sg2"][f"sg2/{net}/params"]
        ours = {name: tuple(p.shape) for name, p in networks(net, "float32").named_parameters()}
        assert ours == {name: tuple(spec[0]) for name, spec in table.items()}
        assert not any(name.endswith("kernel") or "noise_" in name for name in networks(net, "float32").state_dict())


def rosinality_buffers(size):
    """The buffers rosinality's model.py registers at ``size`` (written out here, independently of
    the networks): the [1, 3, 3, 1] FIR kernel of every Blur / Upsample (times 4 where it follows
    zero insertion) and one fixed noise map per generator layer."""
    k = np.outer([1, 3, 3, 1], [1, 3, 3, 1]).astype(np.float32)
    k /= k.sum()
    n_blocks = int(np.log2(size)) - 2
    rng = np.random.default_rng(5)
    resolutions = [4] + [2 ** (i // 2 + 3) for i in range(2 * n_blocks)]  # 4, 8, 8, 16, 16, ...
    g = {f"noises.noise_{i}": rng.standard_normal((1, 1, r, r)).astype(np.float32) for i, r in enumerate(resolutions)}
    for i in range(n_blocks):
        g[f"convs.{2 * i}.conv.blur.kernel"] = k * 4
        g[f"to_rgbs.{i}.upsample.kernel"] = k * 4
    d = {f"convs.{i}.{layer}.0.kernel": k for i in range(1, n_blocks + 1) for layer in ("conv2", "skip")}
    return g, d


def test_rosinality_checkpoint_loads_runs_and_exports_bit_exact(tmp_path, reference_index):
    torch = pytest.importorskip("torch")
    g_buffers, d_buffers = rosinality_buffers(SIZE)
    states = {"g": {**reference_state(reference_index["sg2"]["sg2/generator/params"]), **g_buffers},
              "d": {**reference_state(reference_index["sg2"]["sg2/discriminator/params"]), **d_buffers}}
    states["g_ema"] = {name: value if name in g_buffers else value * np.float32(0.5)
                       for name, value in states["g"].items()}
    checkpoint = {key: {name: torch.from_numpy(value) for name, value in state.items()}
                  for key, state in states.items()}
    checkpoint.update(g_optim={"state": {}, "param_groups": [{"lr": 0.002}]}, d_optim={"state": {}, "param_groups": []},
                      args=argparse.Namespace(size=SIZE, channel_multiplier=2), ada_aug_p=0.0)
    path = tmp_path / "000100.pt"
    torch.save(checkpoint, path)

    g, d, g_ema = Generator(SIZE), Discriminator(SIZE), Generator(SIZE)
    assert rosinality.load_torch_checkpoint(path, g=g, d=d, g_ema=g_ema) == ["g", "d", "g_ema"]
    for key, net in (("g", g), ("d", d), ("g_ema", g_ema)):
        loaded = convert.numpy_state(net)
        assert loaded.keys() == states[key].keys()
        assert all(np.array_equal(loaded[name], states[key][name]) for name in loaded)

    ref = CASES["float32"]["sg2/generator/single"]
    out, _ = g([jt.array(ref["z0"])], noise=[jt.array(ref[f"noise{i}"]) for i in range(g.num_layers)])
    assert rel_error(out.numpy(), ref["out"]) < 1e-4

    exported = tmp_path / "exported.pt"
    rosinality.save_torch_checkpoint(exported, g=g, d=d, g_ema=g_ema)
    raw = torch.load(exported, weights_only=True)
    assert set(raw) == {"g", "d", "g_ema"}
    for key in raw:
        assert raw[key].keys() == checkpoint[key].keys()
        assert all(raw[key][name].dtype == torch.float32 and torch.equal(raw[key][name], checkpoint[key][name])
                   for name in raw[key])


def test_strict_loading_of_stylegan2_states(reference_index):
    g_buffers, _ = rosinality_buffers(8)
    g = Generator(8, style_dim=8, n_mlp=1, channels={4: 4, 8: 4})
    good = convert.numpy_state(g)
    assert set(good) - set(dict(g.named_parameters())) == set(g_buffers)
    with pytest.raises(ValueError, match="kernel"):
        convert.load_state(g, dict(good, **{"to_rgbs.0.upsample.kernel": good["to_rgbs.0.upsample.kernel"] / 4}))
    with pytest.raises(ValueError, match="shape"):
        convert.load_state(g, dict(good, **{"noises.noise_0": np.zeros((1, 1, 8, 8))}))
    with pytest.raises(KeyError, match="missing"):
        convert.load_state(g, {k: v for k, v in good.items() if k != "conv1.noise.weight"})
    convert.load_state(g, dict(good, **{"noises.noise_2": g_buffers["noises.noise_2"]}))
    assert np.array_equal(convert.numpy_state(g)["noises.noise_2"], g_buffers["noises.noise_2"])
