"""``conv2d`` and ``conv_transpose2d`` with PyTorch's semantics whose gradients of every order are
convolutions again: oneDNN (float32 CPU; float16 CPU computed in float32) / cuDNN ops at every derivative
order, numpy BLAS for float64 on CPU (``conv_numpy``), Jittor's composed convolution otherwise (its reference)."""
import functools

import jittor as jt
from jittor import compile_extern

from .common import check_dtype
from .conv_numpy import numpy_conv, numpy_float64, numpy_input_grad, numpy_op, numpy_weight_grad


def _conv_library(dtype):
    """Jittor's cuDNN (CUDA) or oneDNN (CPU, float32 only) convolution ops for ``dtype`` on the
    current device, or None where Jittor has neither (float64 on CPU then runs through numpy's
    BLAS, anything else through Jittor's composed convolution).

    Both expose ``<prefix>conv``, ``<prefix>conv_backward_x`` and ``<prefix>conv_backward_w``
    with the same arguments (NCHW / OIHW). Calling them directly avoids differentiating a
    composed convolution (graph building per call, plus one extra element-wise pass).
    """
    if jt.flags.use_cuda:
        cudnn_ops = getattr(compile_extern, "cudnn_ops", None)
        return (cudnn_ops, "cudnn_") if cudnn_ops is not None else None
    if compile_extern.mkl_ops is not None and dtype == jt.float32:
        return compile_extern.mkl_ops, "mkl_"
    return None


# Composed fallbacks: Jittor's index ops, as in its own conv2d and in that conv's autograd,
# written out (no probe graph differentiated per call).

def _im2col(stride, padding):
    """Indices of x for the (n, o, c, oh, ow, kh, kw) product of a convolution."""
    return ["i0", "i2", f"i3*{stride}-{padding}+i5", f"i4*{stride}-{padding}+i6"]


def _composed_forward(x, w, stride, padding):
    return jt.nn.conv2d(x, w, None, stride, padding)


def _composed_input_grad(g, w, x_shape, stride, padding):
    shape = [x_shape[0], w.shape[0], x_shape[1], g.shape[2], g.shape[3], w.shape[2], w.shape[3]]
    prod = g.broadcast(shape, [2, 5, 6]) * w.broadcast(shape, [0, 3, 4])
    return prod.reindex_reduce("add", list(x_shape), _im2col(stride, padding))


def _composed_weight_grad(x, g, w_shape, stride, padding):
    shape = [x.shape[0], w_shape[0], x.shape[1], g.shape[2], g.shape[3], w_shape[2], w_shape[3]]
    return (x.reindex(shape, _im2col(stride, padding)) * g.broadcast(shape, [2, 5, 6])).sum([0, 3, 4])


def _per_group(fn, a, b, split_dims, out_dim, groups, *args):
    """``fn`` on each group's slices of a and b (split along ``split_dims``), concatenated."""
    if groups == 1:
        return fn(a, b, *args)
    return jt.concat([fn(ag, bg, *args) for ag, bg in zip(jt.chunk(a, groups, split_dims[0]),
                                                          jt.chunk(b, groups, split_dims[1]))], out_dim)


def _flip_transpose(w, groups):
    """The kernel of the adjoint convolution: in/out channels swapped per group, taps flipped."""
    o, c, kh, kw = w.shape
    w = w.reshape(groups, o // groups, c, kh, kw).transpose(0, 2, 1, 3, 4)
    return w.reshape(groups * c, o // groups, kh, kw)[:, :, ::-1, ::-1]


def _float16_via_float32(fn):
    """``fn(a, b, ...)`` for float16 on CPU computed in float32 (oneDNN) and stored as float16, as the kernels
    do: oneDNN has no float16 convolution here, and Jittor's composed one would sum in float16."""
    @functools.wraps(fn)
    def run(a, b, *args):
        if a.dtype == jt.float16 and not jt.flags.use_cuda:
            return fn(a.float32(), b.float32(), *args).float16()
        return fn(a, b, *args)
    return run


@_float16_via_float32
def _conv_forward(x, w, stride, padding, groups):
    lib = _conv_library(x.dtype)
    kh, kw = w.shape[2:]
    if lib is None and numpy_float64(x.dtype):
        out_size = [(x.shape[2] + 2 * padding - kh) // stride + 1, (x.shape[3] + 2 * padding - kw) // stride + 1]
        return numpy_op(numpy_conv, x, w, stride, padding, groups, [x.shape[0], w.shape[0]] + out_size)
    if lib is None:
        return _per_group(_composed_forward, x, w, (1, 0), 1, groups, stride, padding)
    ops, prefix = lib
    if prefix == "mkl_" and stride == 1 and padding < min(kh, kw):
        # oneDNN's forward primitive (as Jittor sets it up) rounds up to 7x more than its
        # backward-data primitive and PyTorch (2.0e-6 vs 2.9e-7 of the max, 512 -> 512 3x3 at
        # 16 px); a stride-1 convolution is the transposed convolution with the adjoint kernel.
        out_h, out_w = x.shape[2] + 2 * padding - kh + 1, x.shape[3] + 2 * padding - kw + 1
        return ops.mkl_conv_backward_x(_flip_transpose(w, groups), x, out_h, out_w, 1, 1, kh - 1 - padding,
                                       kw - 1 - padding, 1, 1, groups)
    return getattr(ops, prefix + "conv")(x, w, stride, stride, padding, padding, 1, 1, groups)


@_float16_via_float32
def _conv_input_grad(g, w, x_shape, stride, padding, groups):
    """d <conv2d(x, w), g> / dx."""
    lib = _conv_library(g.dtype)
    if lib is None and numpy_float64(g.dtype):
        return numpy_op(numpy_input_grad, g, w, stride, padding, groups, list(x_shape))
    if lib is None:
        group_shape = [x_shape[0], x_shape[1] // groups, x_shape[2], x_shape[3]]
        return _per_group(_composed_input_grad, g, w, (1, 0), 1, groups, group_shape, stride, padding)
    ops, prefix = lib
    return getattr(ops, prefix + "conv_backward_x")(w, g, x_shape[2], x_shape[3], stride, stride, padding, padding,
                                                    1, 1, groups)


@_float16_via_float32
def _conv_weight_grad(x, g, w_shape, stride, padding, groups):
    """d <conv2d(x, w), g> / dw."""
    lib = _conv_library(g.dtype)
    if lib is None and numpy_float64(g.dtype):
        return numpy_op(numpy_weight_grad, x, g, stride, padding, groups, list(w_shape))
    if lib is None:
        group_shape = [w_shape[0] // groups] + list(w_shape[1:])
        return _per_group(_composed_weight_grad, x, g, (1, 1), 0, groups, group_shape, stride, padding)
    ops, prefix = lib
    return getattr(ops, prefix + "conv_backward_w")(x, g, w_shape[2], w_shape[3], stride, stride, padding, padding,
                                                    1, 1, groups)


# Each Function receives its inputs twice: as Vars (which jt.Function replaces by taped
# copies) and untouched in a tuple; the backward passes use the untouched ones, so
# second-order gradients flow back to the real inputs instead of stopping at the tape.
# ``cfg`` is (stride, padding, groups).

class _Conv2d(jt.Function):
    def execute(self, x, w, cfg, inputs):
        self.saved = inputs + (cfg,)
        return _conv_forward(x, w, *cfg)

    def grad(self, g):
        x, w, cfg = self.saved
        return _input_grad(g, w, x.shape, cfg), _weight_grad(x, g, w.shape, cfg), None, None


class _Conv2dInputGrad(jt.Function):
    """h = A_w^T g (a transposed convolution); bilinear in (g, w), so its derivatives are
    convolutions again."""

    def execute(self, g, w, x_shape, cfg, inputs):
        self.saved = inputs + (cfg,)
        return _conv_input_grad(g, w, x_shape, *cfg)

    def grad(self, gh):
        g, w, cfg = self.saved
        return _conv(gh, w, cfg), _weight_grad(gh, g, w.shape, cfg), None, None, None


class _Conv2dWeightGrad(jt.Function):
    """k = d<conv2d(x, w), g>/dw; bilinear in (x, g)."""

    def execute(self, x, g, w_shape, cfg, inputs):
        self.saved = inputs + (cfg,)
        return _conv_weight_grad(x, g, w_shape, *cfg)

    def grad(self, gk):
        x, g, cfg = self.saved
        return _input_grad(g, gk, x.shape, cfg), _conv(x, gk, cfg), None, None, None


def _conv(x, w, cfg):
    return _Conv2d.apply(x, w, cfg, (x, w))


def _input_grad(g, w, x_shape, cfg):
    return _Conv2dInputGrad.apply(g, w, tuple(x_shape), cfg, (g, w))


def _weight_grad(x, g, w_shape, cfg):
    return _Conv2dWeightGrad.apply(x, g, tuple(w_shape), cfg, (x, g))


def _conv_config(op, x, weight, stride, padding, groups):
    """Validated (stride, padding, groups) for NCHW ``x`` and a 4-D ``weight``."""
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"{op}: input and weight must be 4-D, got {tuple(x.shape)} and {tuple(weight.shape)}")
    check_dtype(x, op)
    if x.dtype != weight.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} differs from weight dtype {weight.dtype}")
    for name, value, low in (("stride", stride, 1), ("padding", padding, 0), ("groups", groups, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{op}: {name} must be an int >= {low}, got {value!r}")
    return stride, padding, groups


def _check_channels(op, x, weight, groups, expected):
    """x must have ``expected`` channels, and weight.shape[0] must split into ``groups``."""
    if x.shape[1] != expected or weight.shape[0] % groups:
        raise ValueError(f"{op}: input channels {x.shape[1]} do not match weight {tuple(weight.shape)} "
                         f"with groups={groups}")


def conv2d(x, weight, bias=None, stride=1, padding=0, groups=1):
    """``torch.nn.functional.conv2d`` (NCHW input, OIHW weight, int stride / padding) whose
    gradients of every order are convolutions again.

    Jittor maps first-order convolution gradients onto oneDNN/cuDNN, but some
    second-order terms (R1, WGAN-GP) fall back to naive 7-D index expansions that
    need tens of GB at StyleGAN sizes; here each derivative is an explicit convolution.
    """
    cfg = _conv_config("conv2d", x, weight, stride, padding, groups)
    _check_channels("conv2d", x, weight, groups, weight.shape[1] * groups)
    if min(x.shape[axis] + 2 * padding - weight.shape[axis] for axis in (2, 3)) < 0:
        raise ValueError(f"conv2d: empty output for input {tuple(x.shape)}, weight {tuple(weight.shape)}, "
                         f"padding {padding}")
    out = _conv(x, weight, cfg)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, groups=1):
    """``torch.nn.functional.conv_transpose2d`` (weight (in, out / groups, kh, kw)): the input
    gradient of the convolution with that weight, so it runs on the same library ops."""
    cfg = _conv_config("conv_transpose2d", x, weight, stride, padding, groups)
    _check_channels("conv_transpose2d", x, weight, groups, weight.shape[0])
    out_shape = [x.shape[0], weight.shape[1] * groups] + [
        (x.shape[axis] - 1) * stride - 2 * padding + weight.shape[axis] for axis in (2, 3)]
    if min(out_shape[2:]) < 1:
        raise ValueError(f"conv_transpose2d: empty output {out_shape} for input {tuple(x.shape)}, "
                         f"weight {tuple(weight.shape)}, stride {stride}, padding {padding}")
    out = _input_grad(x, weight, out_shape, cfg)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)
