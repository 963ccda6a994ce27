"""Gradients of gradients through the custom ops (what R1 / WGAN-GP / path-length need).

A penalty on the input gradient is differentiated with respect to parameters that
reach it only through the ops' backward passes. The result is checked against
central finite differences in float64 and against the same computation composed
from Jittor's built-in ops, and must not be zero (a bare ``jt.code`` backward
would silently give zero).
"""
import jittor as jt
import numpy as np
import pytest

from conftest import random_upfirdn2d_config, rel_error, upfirdn2d_numpy
from jittor_stylegan import ops
from jittor_stylegan.ops import conv as conv_op
from jittor_stylegan.ops import conv2d, fused_leaky_relu, fused_leaky_relu_ref, upfirdn2d, upfirdn2d_ref


def penalty_grads(x, kernel, cfg, scale, bias, weight, dtype, ops):
    """d/d(scale, weight) of |d/dx sum(weight * flrelu(upfirdn2d(x) * scale, bias))|^2."""
    up_fn, lrelu_fn = ops
    x, kernel, scale, bias, weight = (jt.array(a, dtype=dtype) for a in (x, kernel, scale, bias, weight))
    y = up_fn(x, kernel, *cfg) * scale.reshape(1, -1, 1, 1)
    h = lrelu_fn(y, bias, 0.2, 2 ** 0.5)
    grad_x = jt.grad((h * weight).sum(), x, retain_graph=True)
    penalty = (grad_x * grad_x).sum()
    return penalty, jt.grad(penalty, [scale, weight])


@pytest.mark.parametrize("seed", range(6))
def test_second_order_gradient_matches_finite_differences_and_composed_ops(seed):
    rng = np.random.default_rng(seed)
    shape, kernel, up, down, pad = random_upfirdn2d_config(rng)
    x = rng.standard_normal(shape)
    scale, bias = rng.uniform(0.5, 2.0, shape[1]), rng.standard_normal(shape[1])
    weight = rng.standard_normal(upfirdn2d_numpy(x, kernel, up, down, pad).shape)
    cfg = (up, down, pad)
    custom = (upfirdn2d, fused_leaky_relu)
    _, (g_scale, g_weight) = penalty_grads(x, kernel, cfg, scale, bias, weight, "float64", custom)
    g_scale, g_weight = g_scale.numpy(), g_weight.numpy()
    assert g_scale.dtype == np.float64
    assert np.abs(g_weight).max() > 1e-3 and np.abs(g_scale).max() > 1e-3

    # Central differences along random directions (the penalty is quadratic in both).
    eps = 1e-4
    for param, grad in (("scale", g_scale), ("weight", g_weight)):
        direction = rng.standard_normal(grad.shape)
        values = dict(scale=scale, weight=weight)
        side = []
        for sign in (1, -1):
            values[param] = (scale if param == "scale" else weight) + sign * eps * direction
            side.append(penalty_grads(x, kernel, cfg, values["scale"], bias, values["weight"],
                                      "float64", custom)[0].item())
        numeric = (side[0] - side[1]) / (2 * eps)
        assert abs(numeric - float((grad * direction).sum())) <= 1e-6 * max(1.0, abs(numeric))

    # The same computation from Jittor's built-in ops, in float32.
    _, (r_scale, r_weight) = penalty_grads(x, kernel, cfg, scale, bias, weight, "float32",
                                           (upfirdn2d_ref, fused_leaky_relu_ref))
    assert rel_error(g_scale, r_scale.numpy()) < 1e-4
    assert rel_error(g_weight, r_weight.numpy()) < 1e-4


def test_leaky_relu_bias_gradient_of_gradient():
    """d/d(bias) of a penalty on d(out)/d(weight): the bias gradient's own backward."""
    rng = np.random.default_rng(7)
    x, bias, w = (jt.array(rng.standard_normal(shape), dtype="float64")
                  for shape in ((4, 5, 3, 3), (5,), (4, 5, 3, 3)))
    out = fused_leaky_relu(x * w, bias)
    g_bias = jt.grad((out * out).sum(), bias, retain_graph=True)
    second = jt.grad((g_bias * g_bias).sum(), w).numpy()
    out_r = fused_leaky_relu_ref(x * w, bias)
    g_bias_r = jt.grad((out_r * out_r).sum(), bias, retain_graph=True)
    second_r = jt.grad((g_bias_r * g_bias_r).sum(), w).numpy()
    assert np.abs(second).max() > 1e-3
    assert rel_error(second, second_r) < 1e-10


def conv_penalty(x, w, g, stride, padding):
    """conv2d output, its first-order gradients, and d/dw of |d<conv2d(x, w), g>/dx|^2."""
    x, w, g = (jt.array(a) for a in (x, w, g))
    out = conv2d(x, w, stride=stride, padding=padding)
    grad_x, grad_w = jt.grad((out * g).sum(), [x, w], retain_graph=True)
    penalty = (grad_x * grad_x).sum() + (grad_w * grad_w).sum()
    return [v.numpy() for v in (out, grad_x, grad_w, jt.grad(penalty, w))]


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 1), (1, 0), (2, 0)])
def test_conv2d_library_path_matches_composed_path(stride, padding, monkeypatch):
    """ops.conv2d through oneDNN / cuDNN equals Jittor's composed convolution, to second order."""
    if conv_op._conv_library(jt.float32) is None:
        pytest.skip("Jittor has no convolution library here")
    rng = np.random.default_rng(stride * 10 + padding)
    x, w = rng.standard_normal((2, 3, 7, 7), dtype=np.float32), rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    g = rng.standard_normal(np.asarray(jt.nn.conv2d(jt.array(x), jt.array(w), None, stride, padding).shape),
                            dtype=np.float32)
    fast = conv_penalty(x, w, g, stride, padding)
    monkeypatch.setattr(conv_op, "_conv_library", lambda dtype: None)
    composed = conv_penalty(x, w, g, stride, padding)
    for a, b in zip(fast, composed):
        assert np.abs(a).max() > 1e-2
        assert rel_error(a, b) < 1e-5


def conv_with_torch_semantics(transposed, x, w, g, stride, padding, groups, dtype, framework):
    """Output, first-order gradients and d/d(x, w) of a penalty on all three, in Jittor (ops)
    or torch (float64). The penalty is one sum over a concatenation: with Jittor 1.3.11, a
    float64 loss written as a sum of terms, differentiated after the same graph ran in float32,
    got its second-order gradients scaled by a garbage factor (its loss seed, shared by
    several consumers, is read from reused memory; float32 seeds are compiled in as constants)."""
    if framework == "torch":
        import torch
        fn = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d
        x, w, g = (torch.tensor(a, requires_grad=True) for a in (x, w, g))
        out = fn(x, w, stride=stride, padding=padding, groups=groups)
        grad_x, grad_w = torch.autograd.grad((out * g).sum(), [x, w], create_graph=True)
        flat = torch.cat([v.reshape(-1) for v in (out, grad_x, grad_w)])
        second = torch.autograd.grad((flat * flat).sum(), [x, w])
        return [v.detach().numpy() for v in (out, grad_x, grad_w) + second]
    fn = ops.conv_transpose2d if transposed else conv2d
    x, w, g = (jt.array(a, dtype=dtype) for a in (x, w, g))
    out = fn(x, w, stride=stride, padding=padding, groups=groups)
    grad_x, grad_w = jt.grad((out * g).sum(), [x, w], retain_graph=True)
    flat = jt.concat([v.reshape(-1) for v in (out, grad_x, grad_w)])
    return [v.numpy() for v in [out, grad_x, grad_w] + jt.grad((flat * flat).sum(), [x, w])]


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("stride, padding, groups", [(1, 1, 2), (2, 0, 3), (2, 1, 1)])
def test_grouped_and_transposed_conv_match_torch_to_second_order(transposed, stride, padding, groups, monkeypatch):
    """conv2d / conv_transpose2d with groups against torch in float64: through oneDNN / cuDNN
    in float32, and through the composed fallback in float64 and float32."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(stride * 10 + padding + groups)
    x = rng.standard_normal((2, 6, 5, 4))
    w = rng.standard_normal((6, 2, 3, 3) if transposed else (4 * groups, 6 // groups, 3, 2))
    size = [(n - 1) * stride - 2 * padding + k if transposed else (n + 2 * padding - k) // stride + 1
            for n, k in zip(x.shape[2:], w.shape[2:])]
    g = rng.standard_normal([2, w.shape[1] * groups if transposed else w.shape[0]] + size)
    args = (transposed, x, w, g, stride, padding, groups)
    expected = conv_with_torch_semantics(*args, "float64", "torch")
    runs = {"float32": conv_with_torch_semantics(*args, "float32", "jittor"),
            "float64": conv_with_torch_semantics(*args, "float64", "jittor")}
    monkeypatch.setattr(conv_op, "_conv_library", lambda dtype: None)
    runs["float32 composed"] = conv_with_torch_semantics(*args, "float32", "jittor")
    for name, results in runs.items():
        tolerance = 1e-12 if name == "float64" else 1e-5
        for a, b in zip(results, expected):
            assert np.abs(b).max() > 1e-2
            assert rel_error(a, b) < tolerance, name


def test_conv_arguments_are_validated():
    x, w = jt.zeros((1, 4, 5, 5)), jt.zeros((6, 2, 3, 3))
    with pytest.raises(ValueError, match="groups=3"):
        conv2d(x, w, groups=3)
    with pytest.raises(ValueError, match="input channels"):
        conv2d(x, jt.zeros((6, 3, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="stride"):
        conv2d(x, w, stride=0, groups=2)
    with pytest.raises(ValueError, match="empty output"):
        conv2d(x, jt.zeros((6, 2, 7, 7)), groups=2)
    with pytest.raises(TypeError, match="dtype"):
        conv2d(x, w.float64(), groups=2)
    with pytest.raises(ValueError, match="input channels"):
        ops.conv_transpose2d(x, w, groups=2)
    with pytest.raises(ValueError, match="4-D"):
        ops.conv_transpose2d(x[0], jt.zeros((4, 2, 3, 3)))
    assert ops.conv_transpose2d(x, jt.zeros((4, 3, 3, 3)), stride=2, groups=2).shape == [1, 6, 11, 11]
