"""StyleGAN 1 networks against rosinality's PyTorch model (../shared/reference/sg1*.npz).

Reference weights are rebuilt with the fixtures' own ``weights.py`` and loaded through
``jittor_stylegan.convert``, in float32 and in float64. Bounds: conftest's parity bounds
(float64 against the float64 truth everywhere; float32 forwards against PyTorch's float32
run; float32 gradients against the truth, relative to PyTorch's own float32 error).
Probes are checked on their first two gradient rows and on their whole gradient norm.
"""
import jittor as jt
import numpy as np
import pytest

from conftest import assert_parity, load_reference, parity_errors, reference_state
from jittor_stylegan import convert
from jittor_stylegan.models.stylegan1 import Discriminator, StyledGenerator

CASES = {"float32": load_reference("sg1", depth=3), "float64": load_reference("sg1_f64", depth=3)}
DTYPES = ["float32", "float64"]


@pytest.fixture(scope="module")
def networks(reference_index):
    """(network, dtype) -> the reference network, built once per dtype."""
    built = {}

    def get(net, dtype):
        if (net, dtype) not in built:
            module = StyledGenerator(512) if net == "generator" else Discriminator(from_rgb_activate=True)
            state = reference_state(reference_index["sg1"][f"sg1/{net}/params"])
            built[net, dtype] = convert.load_state(module, state, dtype)
        return built[net, dtype]
    return get


def cases(net):
    return sorted(name for name in CASES["float32"] if name.startswith(f"sg1/{net}/"))


def check(case, dtype, results, forward_field):
    assert_parity(parity_errors(results, CASES["float32"][case], CASES["float64"][case], dtype, {forward_field}))


def probe_results(prefix, names, grads):
    """First two gradient rows and whole gradient norm of each probe."""
    results = {}
    for name, grad in zip(names, grads):
        grad = grad.numpy()
        results[f"{prefix}/{name}"] = grad[:2]
        results[f"{prefix}_norm/{name}"] = np.linalg.norm(grad)
    return results


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", cases("generator"))
def test_generator_matches_pytorch(case, dtype, networks, reference_index):
    generator, ref, cfg = networks("generator", dtype), CASES[dtype][case], reference_index["sg1"][case]
    zs = [jt.array(ref[f"z{i}"], dtype=dtype) for i in range(cfg["n_styles"])]
    noise = [jt.array(ref[f"noise{i}"], dtype=dtype) for i in range(cfg["step"] + 1)]
    kwargs = dict(step=cfg["step"], alpha=cfg["alpha"])
    if cfg["mixing_range"] is not None:
        kwargs["mixing_range"] = tuple(cfg["mixing_range"])
    if cfg["style_weight"] is not None:
        # as in rosinality's generate.py, the mean style is a constant (computed without gradients)
        mean_style = generator.mean_style(jt.array(ref["mean_z"], dtype=dtype)).stop_grad()
        kwargs.update(mean_style=mean_style, style_weight=cfg["style_weight"])
    out = generator(zs if len(zs) > 1 else zs[0], noise=noise, **kwargs)
    assert out.dtype == dtype

    params = dict(generator.named_parameters())
    grads = jt.grad((out * jt.array(ref["grad_out"], dtype=dtype)).sum(),
                    zs + [params[name] for name in cfg["grad_probes"]])
    results = {"out": out.numpy(), **{f"grad_z{i}": g.numpy() for i, g in enumerate(grads[:len(zs)])},
               **probe_results("grad", cfg["grad_probes"], grads[len(zs):])}
    check(case, dtype, results, "out")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", cases("discriminator"))
def test_discriminator_and_r1_match_pytorch(case, dtype, networks, reference_index):
    discriminator, ref, cfg = networks("discriminator", dtype), CASES[dtype][case], reference_index["sg1"][case]
    x = jt.array(ref["x"], dtype=dtype)
    score = discriminator(x, step=cfg["step"], alpha=cfg["alpha"])
    grad_x = jt.grad(score.sum(), x, retain_graph=True)
    r1 = (grad_x * grad_x).reshape(grad_x.shape[0], -1).sum(1).mean()
    params = dict(discriminator.named_parameters())
    grads = jt.grad(r1, [params[name] for name in cfg["r1_grad_probes"]])
    results = {"score": score.numpy(), "grad_x": grad_x.numpy(), "r1_penalty": np.asarray(r1.item()),
               **probe_results("r1_grad", cfg["r1_grad_probes"], grads)}
    check(case, dtype, results, "score")


def test_parameter_names_and_shapes_are_the_references(networks, reference_index):
    for net in ("generator", "discriminator"):
        table = reference_index["sg1"][f"sg1/{net}/params"]
        ours = {name: tuple(p.shape) for name, p in networks(net, "float32").named_parameters()}
        assert ours == {name: tuple(spec[0]) for name, spec in table.items()}
