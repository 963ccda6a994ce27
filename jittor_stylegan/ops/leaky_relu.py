"""``fused_leaky_relu(x, bias, negative_slope, scale)`` = ``scale * leaky_relu(x + bias)``, the bias
broadcast on dim 1 (rosinality's stylegan2-pytorch ``op/fused_act.py``), as a kernel whose backward is
itself a kernel op, differentiable to any order; ``fused_leaky_relu_ref`` composes the same from
Jittor's ops."""
import jittor as jt

from .channelsum import channel_sum
from .common import check_dtype, scalar
from .loader import inner_size, run_kernel

_LRELU_PARAMS = """
    jsg::LeakyReLUParams p;
    p.numel = in0->num; p.channels = in1_shape0; p.inner = (int64_t)data["inner"];
    p.slope = (double)data["slope"]; p.scale = (double)data["scale"];
"""


def _lrelu_data(x, channels, negative_slope, scale):
    return {"inner": inner_size(x.shape) if channels > 1 else x.numel(),
            "slope": float(negative_slope), "scale": float(scale)}


class _LeakyReLUGrad(jt.Function):
    """grad * scale * (ref > 0 ? 1 : slope): linear in grad, so it is its own derivative."""

    def execute(self, grad, ref, negative_slope, scale):
        self.ref, self.args = ref, (negative_slope, scale)
        return run_kernel(grad.shape, grad.dtype, [grad, ref], "fused_leaky_relu",
                     _LRELU_PARAMS + "jsg::leaky_relu_grad_IMPL<in0_type>(in0_p, in1_p, out0_p, p);",
                     _lrelu_data(grad, 1, negative_slope, scale))

    def grad(self, grad_grad):
        return _LeakyReLUGrad.apply(grad_grad, self.ref, *self.args), None, None, None


class _FusedLeakyReLU(jt.Function):
    def execute(self, x, bias, negative_slope, scale):
        out = run_kernel(x.shape, x.dtype, [x, bias], "fused_leaky_relu",
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
    check_dtype(x, "fused_leaky_relu")
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
