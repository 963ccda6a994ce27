"""Random shapes and settings against numpy references written from the ops' definitions,
plus argument validation."""
import jittor as jt
import numpy as np
import pytest

from conftest import random_upfirdn2d_config, rel_error, upfirdn2d_numpy
from jittor_stylegan.ops import channel_sum, fused_leaky_relu, upfirdn2d, upfirdn2d_ref


def leaky_relu_numpy(x, bias, slope, scale):
    if bias is not None:
        x = x + bias.reshape((1, -1) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, x * slope) * scale


@pytest.mark.parametrize("seed", range(12))
def test_fused_leaky_relu_random(seed):
    rng = np.random.default_rng(100 + seed)
    shape = tuple(int(s) for s in rng.integers(1, 6, size=int(rng.integers(2, 6))))
    x = rng.standard_normal(shape).astype(np.float32)
    bias = rng.standard_normal(shape[1]).astype(np.float32) if seed % 3 else None
    slope, scale = float(rng.uniform(0, 0.5)), float(rng.uniform(0.5, 2))
    grad_out = rng.standard_normal(shape).astype(np.float32)
    xv = jt.array(x)
    bv = None if bias is None else jt.array(bias)
    out = fused_leaky_relu(xv, bv, slope, scale)
    expected = leaky_relu_numpy(x, bias, slope, scale)
    assert rel_error(out.numpy(), expected) < 1e-6
    grads = jt.grad((out * jt.array(grad_out)).sum(), [xv] + ([] if bv is None else [bv]))
    mask = np.where(leaky_relu_numpy(x, bias, slope, scale) > 0, 1.0, slope) * scale
    assert rel_error(grads[0].numpy(), grad_out * mask) < 1e-6
    if bias is not None:
        dims = tuple(d for d in range(len(shape)) if d != 1)
        assert rel_error(grads[1].numpy(), (grad_out * mask).sum(dims)) < 1e-5


@pytest.mark.parametrize("seed", range(35))
def test_upfirdn2d_random(seed):
    """Seeds 25+ filter without resampling (one phase per axis in the CPU kernel)."""
    rng = np.random.default_rng(seed)
    shape, kernel, up, down, pad = random_upfirdn2d_config(rng, max_size=12, resample=seed < 25)
    x = rng.standard_normal(shape)
    expected = upfirdn2d_numpy(x, kernel, up, down, pad)
    xv = jt.array(x, dtype="float64")
    out = upfirdn2d(xv, jt.array(kernel, dtype="float64"), up, down, pad)
    assert out.shape == list(expected.shape)
    assert rel_error(out.numpy(), expected) < 1e-12
    # The gradient is the adjoint: <op(x), g> = <x, op^T(g)> for every g.
    g = rng.standard_normal(expected.shape)
    grad_x = jt.grad((out * jt.array(g, dtype="float64")).sum(), xv).numpy()
    assert abs((expected * g).sum() - (x * grad_x).sum()) < 1e-10 * max(1.0, np.abs(expected * g).sum())
    # The float32 kernel against the composed reference.
    ref = upfirdn2d_ref(jt.array(x.astype(np.float32)), jt.array(kernel.astype(np.float32)), up, down, pad)
    assert rel_error(ref.numpy(), expected) < 1e-5


@pytest.mark.parametrize("shape, kernel_shape, up, down, pad", [
    ((1, 2, 3, 4), (4, 3), (3, 3), (2, 2), (-1, -1, -1, -1)),  # fewer outputs than output phases
    ((2, 1, 1, 1), (1, 1), (3, 2), (1, 1), (0, 2, 0, 1)),  # phases without taps, a 1-pixel input
    ((1, 3, 9, 7), (5, 2), (1, 1), (4, 3), (3, 2, 1, 0)),  # 4 and 3 input phases
])
def test_upfirdn2d_edge_configs(shape, kernel_shape, up, down, pad):
    """Phase layouts that random settings rarely reach, float64 against numpy."""
    rng = np.random.default_rng(sum(shape))
    x, kernel = rng.standard_normal(shape), rng.standard_normal(kernel_shape)
    expected = upfirdn2d_numpy(x, kernel, up, down, pad)
    out = upfirdn2d(jt.array(x, dtype="float64"), jt.array(kernel, dtype="float64"), up, down, pad)
    assert rel_error(out.numpy(), expected) < 1e-12


def test_upfirdn2d_stylegan_settings_match_numpy():
    """Blur, 2x up and 2x down with the [1, 3, 3, 1] kernel at StyleGAN-like sizes."""
    rng = np.random.default_rng(0)
    k1 = np.array([1.0, 3.0, 3.0, 1.0])
    kernel = np.outer(k1, k1) / 64
    x = rng.standard_normal((2, 16, 32, 32)).astype(np.float32)
    for up, down, pad in ((1, 1, (2, 1)), (2, 1, (2, 1)), (1, 2, (1, 1))):
        kern = kernel * (4 if up == 2 else 1)
        out = upfirdn2d(jt.array(x), jt.array(kern.astype(np.float32)), up, down, pad).numpy()
        assert rel_error(out, upfirdn2d_numpy(x, kern, (up, up), (down, down), pad * 2)) < 1e-6


def test_kernel_receives_no_gradient():
    x, kernel = jt.randn(1, 2, 5, 5), jt.randn(3, 3)
    out = upfirdn2d(x, kernel, pad=(1, 1))
    assert np.abs(jt.grad(out.sum(), kernel).numpy()).max() == 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(up=0), "up"), (dict(down=(1, 2, 3)), "down"), (dict(pad=(1, 2, 3)), "pad"),
    (dict(pad=(-5, -5)), "empty output"),
])
def test_upfirdn2d_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        upfirdn2d(jt.randn(1, 1, 4, 4), jt.ones(3, 3), **kwargs)


@pytest.mark.parametrize("shape", [(5, 3), (4, 7, 9, 11), (2, 5, 3, 4, 6), (1, 1, 1, 1), (3, 64, 128, 128)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_channel_sum(shape, dtype):
    """Sum over every dim but 1 against float64 numpy; its gradient broadcasts the output gradient."""
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape) + 0.5
    xv = jt.array(x, dtype=dtype)
    out = channel_sum(xv)
    assert out.dtype == xv.dtype and out.shape == [shape[1]]
    dims = tuple(d for d in range(len(shape)) if d != 1)
    assert rel_error(out.numpy(), x.astype(dtype).sum(dims, dtype=np.float64)) < (1e-6 if dtype == "float32" else 1e-12)
    w = rng.standard_normal(shape[1])
    grad = jt.grad((out * jt.array(w, dtype=dtype)).sum(), xv).numpy()
    assert rel_error(grad, np.broadcast_to(w.reshape((1, -1) + (1,) * (len(shape) - 2)), shape)) < 1e-6


def test_ops_reject_bad_shapes_and_dtypes():
    with pytest.raises(ValueError, match="NCHW"):
        upfirdn2d(jt.randn(4, 4), jt.ones(3, 3))
    with pytest.raises(ValueError, match="kernel"):
        upfirdn2d(jt.randn(1, 1, 4, 4), jt.ones(3))
    with pytest.raises(ValueError, match="rank"):
        fused_leaky_relu(jt.randn(4))
    with pytest.raises(ValueError, match="bias"):
        fused_leaky_relu(jt.randn(2, 3), jt.randn(4))
    with pytest.raises(TypeError, match="floating"):
        fused_leaky_relu(jt.ones((2, 3), dtype="int32"))
    with pytest.raises(ValueError, match="rank"):
        channel_sum(jt.randn(4))
