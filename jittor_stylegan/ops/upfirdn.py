"""``upfirdn2d(x, kernel, up, down, pad)`` (rosinality's stylegan2-pytorch ``op/upfirdn2d.py``):
zero-insert upsample, pad (negative pads crop), true 2-D convolution with ``kernel`` (flipped
correlation), keep every ``down``-th sample, as a kernel whose gradient is upfirdn2d again;
``upfirdn2d_ref`` composes the same from Jittor's ops."""
import jittor as jt

from .common import check_dtype
from .loader import run_kernel


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
        return run_kernel(list(x.shape[:2]) + list(out_size), x.dtype, [x, kernel], "upfirdn2d", src, data)

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
    check_dtype(x, "upfirdn2d")
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

