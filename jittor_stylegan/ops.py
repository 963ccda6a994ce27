"""The two hot ops of StyleGAN as custom Jittor kernels, with composed references.

Semantics follow rosinality's stylegan2-pytorch ``op/``:

* ``fused_leaky_relu(x, bias, negative_slope, scale)`` = ``scale * leaky_relu(x + bias)``,
  the bias broadcast on dim 1.
* ``upfirdn2d(x, kernel, up, down, pad)``: zero-insert upsample, pad (negative pads crop),
  true 2-D convolution with ``kernel`` (flipped correlation), keep every ``down``-th sample.

Kernel sources live in the repository's ``kernels/`` folder (C++/OpenMP for CPU, CUDA
for GPU). Every backward pass is itself a differentiable op, so R1, WGAN-GP and
path-length penalties get correct gradients of gradients. The ``*_ref`` functions
compute the same math from Jittor's built-in ops (for tests and benchmarks).
"""
import functools
import math
import os
import re

import jittor as jt
import numpy as np
from jittor import compile_extern

from . import runtime

runtime.activate(jt)

KERNEL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kernels")
_INCLUDE = re.compile(r'^#include "([^"]+)"\s*$', re.M)


@functools.lru_cache(maxsize=None)
def kernel_source(name):
    """Text of ``kernels/<name>`` with its local includes inlined (each once).

    Inlining (rather than ``#include`` by path) makes Jittor's kernel cache key
    change whenever any of the sources changes.
    """
    seen = set()

    def expand(file_name):
        if file_name in seen:
            return ""
        seen.add(file_name)
        with open(os.path.join(KERNEL_DIR, file_name)) as f:
            text = f.read().replace("#pragma once", "")
        return _INCLUDE.sub(lambda m: expand(m.group(1)), text)

    return expand(name)


def scalar(value, like):
    """``value`` as a constant of ``like``'s dtype: Jittor makes Python floats float32 constants
    even against float64 tensors (0.6 becomes 0.6 + 2.4e-8), so float64 code spells its constants."""
    return jt.array(value, dtype=like.dtype)


def _check_dtype(x, op):
    if x.dtype == jt.float16 and not jt.flags.use_cuda:
        raise TypeError(f"{op}: float16 needs CUDA; on CPU use float32 or float64")
    if x.dtype not in (jt.float16, jt.float32, jt.float64):
        raise TypeError(f"{op}: expected a floating point input, got {x.dtype}")


def _code(shape, dtype, inputs, header, src, data):
    """One jt.code call running the CPU or the CUDA variant of a kernel."""
    if jt.flags.use_cuda:
        return jt.code(shape, dtype, inputs, cuda_header=kernel_source(header + ".cuh"),
                       cuda_src=src.replace("IMPL", "cuda"), data=data)
    return jt.code(shape, dtype, inputs, cpu_header=kernel_source(header + "_cpu.h"),
                   cpu_src=src.replace("IMPL", "cpu"), data=data)


def _inner_size(shape):
    """Elements per (sample, channel): the product of dims 2.."""
    return math.prod(shape[2:])


# ---------------------------------------------------------------- channel_sum

class _ChannelSum(jt.Function):
    """x summed over every dim but 1; its gradient broadcasts back, so it is differentiable
    to any order."""

    def execute(self, x):
        self.shape = x.shape
        src = """
            jsg::ChannelSumParams p;
            p.outer = in0_shape0; p.channels = in0_shape1; p.inner = (int64_t)data["inner"];
            jsg::channel_sum_IMPL<in0_type>(in0_p, out0_p, p);
        """
        return _code([x.shape[1]], x.dtype, [x], "channel_sum", src, {"inner": _inner_size(x.shape)})

    def grad(self, grad_out):
        return grad_out.reshape([1, -1] + [1] * (len(self.shape) - 2)).broadcast(self.shape)


def channel_sum(x):
    """``x.sum`` over every dim except 1 (the gradient of a per-channel bias), for rank >= 2."""
    if x.ndim < 2:
        raise ValueError(f"channel_sum: input must have rank >= 2, got shape {tuple(x.shape)}")
    _check_dtype(x, "channel_sum")
    return _ChannelSum.apply(x)


# ---------------------------------------------------------------- fused_leaky_relu

_LRELU_PARAMS = """
    jsg::LeakyReLUParams p;
    p.numel = in0->num; p.channels = in1_shape0; p.inner = (int64_t)data["inner"];
    p.slope = (double)data["slope"]; p.scale = (double)data["scale"];
"""


def _lrelu_data(x, channels, negative_slope, scale):
    return {"inner": _inner_size(x.shape) if channels > 1 else x.numel(),
            "slope": float(negative_slope), "scale": float(scale)}


class _LeakyReLUGrad(jt.Function):
    """grad * scale * (ref > 0 ? 1 : slope): linear in grad, so it is its own derivative."""

    def execute(self, grad, ref, negative_slope, scale):
        self.ref, self.args = ref, (negative_slope, scale)
        return _code(grad.shape, grad.dtype, [grad, ref], "fused_leaky_relu",
                     _LRELU_PARAMS + "jsg::leaky_relu_grad_IMPL<in0_type>(in0_p, in1_p, out0_p, p);",
                     _lrelu_data(grad, 1, negative_slope, scale))

    def grad(self, grad_grad):
        return _LeakyReLUGrad.apply(grad_grad, self.ref, *self.args), None, None, None


class _FusedLeakyReLU(jt.Function):
    def execute(self, x, bias, negative_slope, scale):
        out = _code(x.shape, x.dtype, [x, bias], "fused_leaky_relu",
                    _LRELU_PARAMS + "jsg::fused_leaky_relu_IMPL<in0_type>(in0_p, in1_p, out0_p, p);",
                    _lrelu_data(x, bias.numel(), negative_slope, scale))
        self.out, self.args = out, (negative_slope, scale)
        return out

    def grad(self, grad_out):
        grad_x = _LeakyReLUGrad.apply(grad_out, self.out, *self.args)
        return grad_x, channel_sum(grad_x), None, None


def fused_leaky_relu(x, bias=None, negative_slope=0.2, scale=2 ** 0.5):
    """``scale * leaky_relu(x + bias[None, :, None, ...], negative_slope)`` for inputs of rank >= 2."""
    if x.ndim < 2:
        raise ValueError(f"fused_leaky_relu: input must have rank >= 2, got shape {tuple(x.shape)}")
    _check_dtype(x, "fused_leaky_relu")
    if bias is None:  # a zero bias on one channel; it is a constant, so no gradient flows to it
        bias = jt.zeros((1,), dtype=x.dtype).stop_grad()
    elif tuple(bias.shape) != (x.shape[1],):
        raise ValueError(f"fused_leaky_relu: bias shape {tuple(bias.shape)} does not match channels {x.shape[1]}")
    elif bias.dtype != x.dtype:
        bias = bias.cast(x.dtype)
    return _FusedLeakyReLU.apply(x, bias, negative_slope, scale)


def fused_leaky_relu_ref(x, bias=None, negative_slope=0.2, scale=2 ** 0.5):
    """fused_leaky_relu composed from Jittor's built-in ops."""
    if bias is not None:
        x = x + bias.reshape([1, -1] + [1] * (x.ndim - 2))
    return jt.nn.leaky_relu(x, scalar(negative_slope, x)) * scalar(scale, x)


# ---------------------------------------------------------------- upfirdn2d

def _pair(value, name):
    """An int or an (x, y) pair -> (x, y), validated as positive ints."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= 1 for v in pair):
        raise ValueError(f"upfirdn2d: {name} must be a positive int or (x, y) pair, got {value!r}")
    return pair


def _pads(pad):
    """(p0, p1) on both axes, or (x0, x1, y0, y1) -> (x0, x1, y0, y1)."""
    pad = tuple(pad)
    if len(pad) == 2:
        pad = pad * 2
    if len(pad) != 4 or not all(isinstance(p, int) for p in pad):
        raise ValueError(f"upfirdn2d: pad must be 2 or 4 ints, got {pad!r}")
    return pad


def upfirdn2d_out_size(in_size, up, down, pad0, pad1, kernel_size):
    """Output length of one axis: (in * up + pad0 + pad1 - kernel) // down + 1."""
    return (in_size * up + pad0 + pad1 - kernel_size) // down + 1


def _parse(x, kernel, up, down, pad):
    if x.ndim != 4:
        raise ValueError(f"upfirdn2d: input must be NCHW, got shape {tuple(x.shape)}")
    if kernel.ndim != 2:
        raise ValueError(f"upfirdn2d: kernel must be 2-D, got shape {tuple(kernel.shape)}")
    (up_x, up_y), (down_x, down_y), pads = _pair(up, "up"), _pair(down, "down"), _pads(pad)
    kh, kw = kernel.shape
    out_h = upfirdn2d_out_size(x.shape[2], up_y, down_y, pads[2], pads[3], kh)
    out_w = upfirdn2d_out_size(x.shape[3], up_x, down_x, pads[0], pads[1], kw)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"upfirdn2d: empty output ({out_h}x{out_w}) for input {tuple(x.shape)}, "
                         f"kernel {kh}x{kw}, up {up}, down {down}, pad {pad}")
    return (up_x, up_y), (down_x, down_y), pads, (out_h, out_w)


class _UpFirDn2d(jt.Function):
    """upfirdn2d; its gradient is upfirdn2d with the flipped kernel and up/down swapped."""

    def execute(self, x, kernel, up, down, pads, out_size):
        self.kernel, self.cfg, self.in_size = kernel, (up, down, pads), x.shape[2:]
        data = {"up_x": up[0], "up_y": up[1], "down_x": down[0], "down_y": down[1],
                "pad_x0": pads[0], "pad_y0": pads[2]}
        src = """
            jsg::UpFirDn2dParams p;
            p.planes = in0_shape0 * in0_shape1; p.in_h = in0_shape2; p.in_w = in0_shape3;
            p.out_h = out0_shape2; p.out_w = out0_shape3; p.kernel_h = in1_shape0; p.kernel_w = in1_shape1;
            p.up_x = (int)data["up_x"]; p.up_y = (int)data["up_y"];
            p.down_x = (int)data["down_x"]; p.down_y = (int)data["down_y"];
            p.pad_x0 = (int)data["pad_x0"]; p.pad_y0 = (int)data["pad_y0"];
            jsg::upfirdn2d_IMPL<in0_type>(in0_p, in1_p, out0_p, p);
        """
        return _code(list(x.shape[:2]) + list(out_size), x.dtype, [x, kernel], "upfirdn2d", src, data)

    def grad(self, grad_out):
        (up_x, up_y), (down_x, down_y), (px0, px1, py0, py1) = self.cfg
        kh, kw = self.kernel.shape
        in_h, in_w = self.in_size
        out_h, out_w = grad_out.shape[2:]
        pads = (kw - px0 - 1, in_w * up_x - out_w * down_x + px0 - up_x + 1,
                kh - py0 - 1, in_h * up_y - out_h * down_y + py0 - up_y + 1)
        grad_x = _UpFirDn2d.apply(grad_out, self.kernel[::-1, ::-1], (down_x, down_y), (up_x, up_y),
                                  pads, (in_h, in_w))
        return grad_x, None, None, None, None, None


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Upsample (zero insertion), pad, convolve with ``kernel``, downsample; NCHW input.

    ``up``/``down`` are ints or (x, y) pairs; ``pad`` is (p0, p1) for both axes or
    (x0, x1, y0, y1). The kernel is a constant: it receives no gradient.
    """
    _check_dtype(x, "upfirdn2d")
    up, down, pads, out_size = _parse(x, kernel, up, down, pad)
    kernel = kernel.cast(jt.float64 if x.dtype == jt.float64 else jt.float32).stop_grad()
    return _UpFirDn2d.apply(x, kernel, up, down, pads, out_size)


def upfirdn2d_ref(x, kernel, up=1, down=1, pad=(0, 0)):
    """upfirdn2d composed from Jittor's built-in ops (rosinality's ``upfirdn2d_native``)."""
    (up_x, up_y), (down_x, down_y), (px0, px1, py0, py1), _ = _parse(x, kernel, up, down, pad)
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    out = x.reshape(n * c, h, 1, w, 1)
    out = jt.nn.pad(out, [0, up_x - 1, 0, 0, 0, up_y - 1])
    out = out.reshape(n * c, 1, h * up_y, w * up_x)
    out = jt.nn.pad(out, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    out = out[:, :, max(-py0, 0):out.shape[2] - max(-py1, 0), max(-px0, 0):out.shape[3] - max(-px1, 0)]
    weight = kernel[::-1, ::-1].reshape(1, 1, kh, kw).cast(x.dtype).stop_grad()
    out = jt.nn.conv2d(out, weight)
    out = out[:, :, ::down_y, ::down_x]
    return out.reshape(n, c, out.shape[2], out.shape[3])


# ---------------------------------------------------------------- conv2d

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


# float64 on CPU: oneDNN has no float64 convolution, and Jittor's composed one runs at about
# 1 GMAC/s; these loops over kernel taps run one BLAS matrix product per tap (about 10 GMAC/s).
# Channel-major (C, N, H, W) layouts make every product a plain 2-D one.

def _taps(w_shape):
    return [(i, j) for i in range(w_shape[2]) for j in range(w_shape[3])]


def _tap_slice(size_h, size_w, i, j, stride):
    return np.s_[:, :, i:i + stride * size_h:stride, j:j + stride * size_w:stride]


def _numpy_conv(x, w, stride, padding, groups, out_shape):
    out_size = out_shape[2:]
    o, cg = w.shape[:2]
    og = o // groups
    xp = np.pad(x.transpose(1, 0, 2, 3), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    wt = np.ascontiguousarray(w.transpose(2, 3, 0, 1))
    out = np.zeros((o, x.shape[0] * out_size[0] * out_size[1]), x.dtype)
    for g in range(groups):
        for i, j in _taps(w.shape):
            taps = xp[g * cg:(g + 1) * cg][_tap_slice(*out_size, i, j, stride)].reshape(cg, -1)
            out[g * og:(g + 1) * og] += wt[i, j, g * og:(g + 1) * og] @ taps
    return out.reshape(o, x.shape[0], *out_size).transpose(1, 0, 2, 3)


def _numpy_input_grad(g_out, w, stride, padding, groups, x_shape):
    n, c, h, wd = x_shape
    o, cg = w.shape[:2]
    og = o // groups
    gt = g_out.transpose(1, 0, 2, 3).reshape(o, -1)
    wt = np.ascontiguousarray(w.transpose(2, 3, 0, 1))
    dx = np.zeros((c, n, h + 2 * padding + stride, wd + 2 * padding + stride), g_out.dtype)
    for g in range(groups):
        for i, j in _taps(w.shape):
            dx[g * cg:(g + 1) * cg][_tap_slice(*g_out.shape[2:], i, j, stride)] += (
                wt[i, j, g * og:(g + 1) * og].T @ gt[g * og:(g + 1) * og]).reshape(cg, n, *g_out.shape[2:])
    return dx[:, :, padding:padding + h, padding:padding + wd].transpose(1, 0, 2, 3)


def _numpy_weight_grad(x, g_out, stride, padding, groups, w_shape):
    o, cg = w_shape[:2]
    og = o // groups
    xp = np.pad(x.transpose(1, 0, 2, 3), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    gt = g_out.transpose(1, 0, 2, 3).reshape(o, -1)
    dw = np.zeros(w_shape, x.dtype)
    for g in range(groups):
        for i, j in _taps(w_shape):
            taps = xp[g * cg:(g + 1) * cg][_tap_slice(*g_out.shape[2:], i, j, stride)].reshape(cg, -1)
            dw[g * og:(g + 1) * og, :, i, j] = gt[g * og:(g + 1) * og] @ taps.T
    return dw


def _numpy_op(fn, a, b, stride, padding, groups, shape):
    """``fn`` as a Jittor op on float64 CPU tensors; the Functions below differentiate it."""
    def forward(_, data):
        np.copyto(data["outputs"][0], fn(*data["inputs"], stride, padding, groups, shape))
    return jt.numpy_code(shape, a.dtype, [a, b], forward)


def _numpy_float64(dtype):
    return dtype == jt.float64 and not jt.flags.use_cuda


def _flip_transpose(w, groups):
    """The kernel of the adjoint convolution: in/out channels swapped per group, taps flipped."""
    o, c, kh, kw = w.shape
    w = w.reshape(groups, o // groups, c, kh, kw).transpose(0, 2, 1, 3, 4)
    return w.reshape(groups * c, o // groups, kh, kw)[:, :, ::-1, ::-1]


def _conv_forward(x, w, stride, padding, groups):
    lib = _conv_library(x.dtype)
    kh, kw = w.shape[2:]
    if lib is None and _numpy_float64(x.dtype):
        out_size = [(x.shape[2] + 2 * padding - kh) // stride + 1, (x.shape[3] + 2 * padding - kw) // stride + 1]
        return _numpy_op(_numpy_conv, x, w, stride, padding, groups, [x.shape[0], w.shape[0]] + out_size)
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


def _conv_input_grad(g, w, x_shape, stride, padding, groups):
    """d <conv2d(x, w), g> / dx."""
    lib = _conv_library(g.dtype)
    if lib is None and _numpy_float64(g.dtype):
        return _numpy_op(_numpy_input_grad, g, w, stride, padding, groups, list(x_shape))
    if lib is None:
        group_shape = [x_shape[0], x_shape[1] // groups, x_shape[2], x_shape[3]]
        return _per_group(_composed_input_grad, g, w, (1, 0), 1, groups, group_shape, stride, padding)
    ops, prefix = lib
    return getattr(ops, prefix + "conv_backward_x")(w, g, x_shape[2], x_shape[3], stride, stride, padding, padding,
                                                    1, 1, groups)


def _conv_weight_grad(x, g, w_shape, stride, padding, groups):
    """d <conv2d(x, w), g> / dw."""
    lib = _conv_library(g.dtype)
    if lib is None and _numpy_float64(g.dtype):
        return _numpy_op(_numpy_weight_grad, x, g, stride, padding, groups, list(w_shape))
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
    _check_dtype(x, op)
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
