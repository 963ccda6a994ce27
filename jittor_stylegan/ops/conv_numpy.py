"""float64 convolutions on CPU through numpy's BLAS, as Jittor ops for ``conv``: oneDNN has no float64
convolution, and Jittor's composed one runs at about 1 GMAC/s; these loops over kernel taps run one
BLAS matrix product per tap (about 10 GMAC/s). Channel-major (C, N, H, W) layouts make every product
a plain 2-D one."""
import jittor as jt
import numpy as np


def _taps(w_shape):
    return [(i, j) for i in range(w_shape[2]) for j in range(w_shape[3])]


def _tap_slice(size_h, size_w, i, j, stride):
    return np.s_[:, :, i:i + stride * size_h:stride, j:j + stride * size_w:stride]


def numpy_conv(x, w, stride, padding, groups, out_shape):
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


def numpy_input_grad(g_out, w, stride, padding, groups, x_shape):
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


def numpy_weight_grad(x, g_out, stride, padding, groups, w_shape):
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


def numpy_op(fn, a, b, stride, padding, groups, shape):
    """``fn`` as a Jittor op on float64 CPU tensors; the Functions below differentiate it."""
    def forward(_, data):
        np.copyto(data["outputs"][0], fn(*data["inputs"], stride, padding, groups, shape))
    return jt.numpy_code(shape, a.dtype, [a, b], forward)


def numpy_float64(dtype):
    return dtype == jt.float64 and not jt.flags.use_cuda

