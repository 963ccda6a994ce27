"""fused_leaky_relu and upfirdn2d against rosinality's PyTorch ops (../shared/reference/ops.npz)."""
import jittor as jt
import pytest

from conftest import load_reference, rel_error
from jittor_stylegan.ops import fused_leaky_relu, upfirdn2d

TOLERANCE = 1e-5
CASES = load_reference("ops", depth=2)


def params(op):
    return sorted(case for case in CASES if case.startswith(op + "/"))


@pytest.mark.parametrize("case", params("fused_leaky_relu"))
def test_fused_leaky_relu_matches_pytorch(case, reference_index):
    ref, cfg = CASES[case], reference_index["ops"][case]
    x, bias = jt.array(ref["x"]), jt.array(ref["bias"])
    out = fused_leaky_relu(x, bias, cfg["negative_slope"], cfg["scale"])
    grad_x, grad_bias = jt.grad((out * jt.array(ref["grad_out"])).sum(), [x, bias])
    assert rel_error(out.numpy(), ref["out"]) < TOLERANCE
    assert rel_error(grad_x.numpy(), ref["grad_x"]) < TOLERANCE
    assert rel_error(grad_bias.numpy(), ref["grad_bias"]) < TOLERANCE


@pytest.mark.parametrize("case", params("upfirdn2d"))
def test_upfirdn2d_matches_pytorch(case, reference_index):
    ref, cfg = CASES[case], reference_index["ops"][case]
    x = jt.array(ref["x"])
    out = upfirdn2d(x, jt.array(ref["kernel"]), cfg["up"], cfg["down"], cfg["pad"])
    grad_x = jt.grad((out * jt.array(ref["grad_out"])).sum(), x)
    assert rel_error(out.numpy(), ref["out"]) < TOLERANCE
    assert rel_error(grad_x.numpy(), ref["grad_x"]) < TOLERANCE


def test_every_fixture_case_is_tested():
    assert len(params("fused_leaky_relu")) == 3 and len(params("upfirdn2d")) == 7
