"""fused_leaky_relu and upfirdn2d against rosinality's PyTorch ops (../shared/reference/ops.npz, and
ops_f64.npz: the same cases computed in float64, matched to rounding)."""
import jittor as jt
import pytest

from conftest import load_reference, rel_error
from jittor_stylegan.ops import fused_leaky_relu, upfirdn2d

TOLERANCE, F64_TOLERANCE = 1e-5, 1e-12
CASES = load_reference("ops", depth=2)
CASES_F64 = load_reference("ops_f64", depth=2)


def params(op):
    return sorted(case for case in CASES if case.startswith(op + "/"))


def precision(dtype):
    """(fixture cases, tolerance) for a dtype: float64 must agree to rounding."""
    return (CASES, TOLERANCE) if dtype == "float32" else (CASES_F64, F64_TOLERANCE)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", params("fused_leaky_relu"))
def test_fused_leaky_relu_matches_pytorch(case, dtype, reference_index):
    cases, tolerance = precision(dtype)
    ref, cfg = cases[case], reference_index["ops"][case]
    x, bias = jt.array(ref["x"], dtype=dtype), jt.array(ref["bias"], dtype=dtype)
    out = fused_leaky_relu(x, bias, cfg["negative_slope"], cfg["scale"])
    grad_x, grad_bias = jt.grad((out * jt.array(ref["grad_out"], dtype=dtype)).sum(), [x, bias])
    assert out.dtype == dtype
    assert rel_error(out.numpy(), ref["out"]) < tolerance
    assert rel_error(grad_x.numpy(), ref["grad_x"]) < tolerance
    assert rel_error(grad_bias.numpy(), ref["grad_bias"]) < tolerance


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", params("upfirdn2d"))
def test_upfirdn2d_matches_pytorch(case, dtype, reference_index):
    cases, tolerance = precision(dtype)
    ref, cfg = cases[case], reference_index["ops"][case]
    x = jt.array(ref["x"], dtype=dtype)
    out = upfirdn2d(x, jt.array(ref["kernel"], dtype=dtype), cfg["up"], cfg["down"], cfg["pad"])
    grad_x = jt.grad((out * jt.array(ref["grad_out"], dtype=dtype)).sum(), x)
    assert out.dtype == dtype
    assert rel_error(out.numpy(), ref["out"]) < tolerance
    assert rel_error(grad_x.numpy(), ref["grad_x"]) < tolerance


def test_every_fixture_case_is_tested():
    assert len(params("fused_leaky_relu")) == 3 and len(params("upfirdn2d")) == 7
