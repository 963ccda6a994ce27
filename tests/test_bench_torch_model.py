"""The PyTorch baseline of the benchmarks (bench/torch_stylegan1.py) computes rosinality's
StyleGAN 1: same outputs and gradients as the reference fixtures (sg1.npz), with rosinality's
grouped-conv blur and with the faster per-plane blur, so the speed comparison is between
implementations of one function. About 70 s (both blurs) on 2 CPU cores."""
import os
import sys

import pytest

from conftest import REPO, assert_parity, load_reference, parity_errors, reference_state

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.join(REPO, "bench"))
import torch_stylegan1  # noqa: E402

# Bounds: conftest's float32 parity bounds, as for the Jittor networks.
CASES, CASES_F64 = load_reference("sg1", depth=3), load_reference("sg1_f64", depth=3)


def load(net, table):
    """Strict load of the reference parameters; only the fixed blur buffers are not in the table."""
    state = {k: torch.from_numpy(v) for k, v in reference_state(table).items()}
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) == {name for name, _ in net.named_buffers()}
    return net


@pytest.fixture(scope="module", params=torch_stylegan1.BLURS)
def nets(reference_index, request):
    table = reference_index["sg1"]
    g = load(torch_stylegan1.StyledGenerator(512), table["sg1/generator/params"])
    d = load(torch_stylegan1.Discriminator(from_rgb_activate=True), table["sg1/discriminator/params"])
    return torch_stylegan1.set_blur(g, request.param), torch_stylegan1.set_blur(d, request.param)


def test_blurs_differ_in_formulation_only():
    blur = torch_stylegan1.Blur(3)
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    blur.weight = blur.weight.double()
    grouped = blur(x)
    blur.grouped = False
    assert torch.allclose(blur(x), grouped, rtol=0, atol=1e-15) and (grouped - x).abs().max() > 0.1


def cases(net):
    return sorted(name for name in CASES if name.startswith(f"sg1/{net}/"))


@pytest.mark.parametrize("case", cases("generator"))
def test_generator(case, nets, reference_index):
    g = nets[0]
    ref, cfg = CASES[case], reference_index["sg1"][case]
    zs = [torch.tensor(ref[f"z{i}"], requires_grad=True) for i in range(cfg["n_styles"])]
    noise = [torch.tensor(ref[f"noise{i}"]) for i in range(cfg["step"] + 1)]
    kwargs = dict(step=cfg["step"], alpha=cfg["alpha"])
    if cfg["mixing_range"] is not None:
        kwargs["mixing_range"] = tuple(cfg["mixing_range"])
    if cfg["style_weight"] is not None:
        with torch.no_grad():
            kwargs.update(mean_style=g.mean_style(torch.tensor(ref["mean_z"])), style_weight=cfg["style_weight"])
    out = g(zs if len(zs) > 1 else zs[0], noise=noise, **kwargs)
    params = dict(g.named_parameters())
    grads = torch.autograd.grad((out * torch.tensor(ref["grad_out"])).sum(),
                                zs + [params[name] for name in cfg["grad_probes"]])
    results = {"out": out.detach().numpy(), **{f"grad_z{i}": gr.numpy() for i, gr in enumerate(grads[:len(zs)])},
               **{f"grad/{name}": gr[:2].numpy() for name, gr in zip(cfg["grad_probes"], grads[len(zs):])}}
    assert_parity(parity_errors(results, ref, CASES_F64[case], "float32", {"out"}))


@pytest.mark.parametrize("case", cases("discriminator"))
def test_discriminator_and_r1(case, nets, reference_index):
    d = nets[1]
    ref, cfg = CASES[case], reference_index["sg1"][case]
    x = torch.tensor(ref["x"], requires_grad=True)
    score = d(x, step=cfg["step"], alpha=cfg["alpha"])
    grad_x, = torch.autograd.grad(score.sum(), x, create_graph=True)
    r1 = grad_x.pow(2).reshape(grad_x.shape[0], -1).sum(1).mean()
    params = dict(d.named_parameters())
    grads = torch.autograd.grad(r1, [params[name] for name in cfg["r1_grad_probes"]])
    results = {"score": score.detach().numpy(), "grad_x": grad_x.detach().numpy(), "r1_penalty": r1.detach().numpy(),
               **{f"r1_grad/{name}": gr[:2].numpy() for name, gr in zip(cfg["r1_grad_probes"], grads)}}
    assert_parity(parity_errors(results, ref, CASES_F64[case], "float32", {"score"}))
