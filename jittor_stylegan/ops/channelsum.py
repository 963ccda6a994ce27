"""``channel_sum``: a sum over every dim but 1 (a per-channel bias gradient), as a kernel whose gradient
broadcasts back, so it is differentiable to any order. Its reference is ``x.sum`` over those dims."""
import jittor as jt

from .common import check_dtype
from .loader import inner_size, run_kernel


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
        return run_kernel([x.shape[1]], x.dtype, [x], "channel_sum", src, {"inner": inner_size(x.shape)})

    def grad(self, grad_out):
        return grad_out.reshape([1, -1] + [1] * (len(self.shape) - 2)).broadcast(self.shape)


def channel_sum(x):
    """``x.sum`` over every dim except 1 (the gradient of a per-channel bias), for rank >= 2."""
    if x.ndim < 2:
        raise ValueError(f"channel_sum: input must have rank >= 2, got shape {tuple(x.shape)}")
    check_dtype(x, "channel_sum")
    return _ChannelSum.apply(x)
