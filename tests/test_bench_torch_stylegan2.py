"""The StyleGAN 2 PyTorch baseline of the benchmarks (bench/torch_stylegan2.py) computes
rosinality's StyleGAN 2: the reference fixtures' outputs and gradients, in float32 (sg2.npz)
and float64 (sg2_f64.npz); and its training iteration follows the reference's schedule."""
import os
import sys

import numpy as np
import pytest

from conftest import REPO, load_reference, reference_state, rel_error

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.join(REPO, "bench"))
import torch_stylegan2 as tsg2  # noqa: E402

# Outputs match their own dtype's fixtures: float32 to 1e-5, float64 to 1e-7 (the reference
# README's bounds). Gradients are checked against the float64 truth: in float64 to 1e-7; in float32
# to 5e-3, twice PyTorch float32's own distance to it (the float32 fixtures' mixed-case grad_z0
# is 2.5e-3 away: leaky-ReLU inputs within rounding of zero). Measured here: float64 within 4e-14
# everywhere; float32 outputs within 1.5e-6, gradients within 2.5e-3 (G) and 8e-5 (D).
FORWARD_TOL = {"float32": 1e-5, "float64": 1e-7}
GRAD_TOL = {"float32": 5e-3, "float64": 1e-7}
FIXTURES = {"float32": "sg2", "float64": "sg2_f64"}
CASES = {dtype: load_reference(name, depth=3) for dtype, name in FIXTURES.items()}
TRUTH = CASES["float64"]


def load(net, table, dtype):
    """Strict load of the reference parameters; only buffers (noise maps, blur kernels) are not in the table."""
    state = {k: torch.from_numpy(v) for k, v in reference_state(table).items()}
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) == {name for name, _ in net.named_buffers()}
    return net.to(getattr(torch, dtype))


@pytest.fixture(scope="module")
def nets(reference_index):
    table = reference_index["sg2"]
    return {dtype: (load(tsg2.Generator(32, 512, 8, channel_multiplier=2), table["sg2/generator/params"], dtype),
                    load(tsg2.Discriminator(32), table["sg2/discriminator/params"], dtype)) for dtype in FIXTURES}


def tensor(array, dtype, requires_grad=False):
    return torch.tensor(array, dtype=getattr(torch, dtype), requires_grad=requires_grad)


@pytest.mark.parametrize("dtype", sorted(FIXTURES))
@pytest.mark.parametrize("case", ["single", "mixed"])
def test_generator(case, dtype, nets, reference_index):
    g = nets[dtype][0]
    name = f"sg2/generator/{case}"
    ref, truth, cfg = CASES[dtype][name], TRUTH[name], reference_index["sg2"][name]
    zs = [tensor(ref[f"z{i}"], dtype, requires_grad=True) for i in range(cfg["n_styles"])]
    noise = [tensor(ref[f"noise{i}"], dtype) for i in range(g.num_layers)]
    out, _ = g(zs, noise=noise, inject_index=cfg["inject_index"])
    assert rel_error(out.detach().numpy(), ref["out"]) < FORWARD_TOL[dtype]
    grads = torch.autograd.grad((out * tensor(ref["grad_out"], dtype)).sum(), zs)
    errors = [rel_error(gr.numpy(), truth[f"grad_z{i}"]) for i, gr in enumerate(grads)]
    assert max(errors) < GRAD_TOL[dtype], errors


@pytest.mark.parametrize("dtype", sorted(FIXTURES))
def test_discriminator_and_r1(dtype, nets, reference_index):
    d = nets[dtype][1]
    name = "sg2/discriminator/r1"
    ref, truth, cfg = CASES[dtype][name], TRUTH[name], reference_index["sg2"][name]
    x = tensor(ref["x"], dtype, requires_grad=True)
    score = d(x)
    assert rel_error(score.detach().numpy(), ref["score"]) < FORWARD_TOL[dtype]
    grad_x, = torch.autograd.grad(score.sum(), x, create_graph=True)
    r1 = grad_x.pow(2).reshape(grad_x.shape[0], -1).sum(1).mean()
    params = dict(d.named_parameters())
    grads = torch.autograd.grad(r1, [params[name] for name in cfg["r1_grad_probes"]])
    errors = [rel_error(r1.item(), truth["r1_penalty"]), rel_error(grad_x.detach().numpy(), truth["grad_x"])]
    for probe, gr in zip(cfg["r1_grad_probes"], grads):
        errors += [rel_error(gr[:2].numpy(), truth[f"r1_grad/{probe}"]),
                   rel_error(gr.norm().item(), truth[f"r1_grad_norm/{probe}"])]
    assert max(errors) < GRAD_TOL[dtype], errors


def test_train_iteration_schedule():
    """Iteration 0 runs both lazy regularizers, iteration 1 neither; the EMA and the mean path
    length move as the reference's train.py moves them."""
    torch.manual_seed(0)
    size, style_dim, batch = 16, 16, 4
    G, D, g_ema, g_optim, d_optim = tsg2.make_training(size, style_dim, n_mlp=2, channels={4: 8, 8: 8, 16: 4})
    assert [g["lr"] for g in g_optim.param_groups + d_optim.param_groups] == [0.002 * 4 / 5, 0.002 * 16 / 17]
    rng = np.random.default_rng(0)
    real = torch.from_numpy(rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32))
    inputs = [tsg2.iteration_inputs(rng, i, batch, style_dim, size) for i in range(2)]
    assert inputs[0]["path"]["image_noise"].shape == (2, 3, size, size) and "path" not in inputs[1]
    ema_before = [p.detach().clone() for p in g_ema.parameters()]
    losses, mean_path_length = tsg2.train_iteration(G, D, g_ema, g_optim, d_optim, 0, real, inputs[0], 0.0)
    assert all(np.isfinite(v) for v in losses.values())
    assert mean_path_length.item() == pytest.approx(0.01 * losses["path_length"], rel=1e-6)
    for before, after, p in zip(ema_before, g_ema.parameters(), G.parameters()):
        assert torch.allclose(after, tsg2.EMA_DECAY * before + (1 - tsg2.EMA_DECAY) * p, atol=1e-7)
    losses, mean = tsg2.train_iteration(G, D, g_ema, g_optim, d_optim, 1, real, inputs[1], mean_path_length)
    assert losses["r1"] is None and losses["path"] is None and mean is mean_path_length
