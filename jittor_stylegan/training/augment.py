"""Augmentations of the images D sees, for training on small sets: NVIDIA's ADA pipeline (``AugmentPipe``,
the semantics of stylegan2-ada-pytorch's ``training/augment.py``) and DiffAugment (``diff_augment``, Zhao et
al. 2020).

Randomness, transform matrices and sampling grids are numpy float64, drawn from a numpy ``Generator`` in
NVIDIA's order and shapes (each ``torch.rand``/``torch.randn`` is one ``rng.random``/``rng.standard_normal``),
so a replay of NVIDIA's draws reproduces its output. They reach Jittor as Var inputs of fixed shapes (no
kernel compiles after the first call); the images pass only through gathers (``reindex``), products and sums,
so gradients of any order w.r.t. the images are exact (R1 through the pipeline).

Channels: 1 (L) and 3 (RGB) as NVIDIA; 2 (LA) and 4 (RGBA) too: colour stages act on the luma / RGB part
and pass alpha through, the other stages treat alpha as any channel.
"""
import numpy as np

import jittor as jt

from ..ops import scalar

# Orthogonal low-pass filters of two wavelets (Daubechies' symlets), as NVIDIA's ``wavelets`` table.
SYM2 = [-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025]
SYM6 = [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148]

# NVIDIA's ``augpipe_specs`` (train.py): the probability multipliers each named pipeline sets to 1.
_BLIT = dict(xflip=1, rotate90=1, xint=1)
_GEOM = dict(scale=1, rotate=1, aniso=1, xfrac=1)
_COLOR = dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
PIPES = {
    "blit": _BLIT, "geom": _GEOM, "color": _COLOR,
    "filter": dict(imgfilter=1), "noise": dict(noise=1), "cutout": dict(cutout=1),
    "bg": {**_BLIT, **_GEOM},
    "bgc": {**_BLIT, **_GEOM, **_COLOR},
    "bgcf": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1},
    "bgcfn": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1},
    "bgcfnc": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1, "cutout": 1},
}

DIFFAUGMENT_POLICY = "color,translation,cutout"
_DIFFAUGMENT_STAGES = tuple(DIFFAUGMENT_POLICY.split(","))  # the policy holds every stage

_NP_DTYPES = {"float32": np.float32, "float64": np.float64}


def _geom_filter():
    """NVIDIA's geometric low-pass filter as it stores it: sym6 normalised to unit DC gain in float32."""
    f = np.asarray(SYM6, dtype=np.float32)
    return (f / f.sum(dtype=np.float32)).astype(np.float64)


def _filter_bank():
    """NVIDIA's filter bank for image-space filtering ([4, 43] taps, float32 as it stores it): 4 zero-phase
    bands built from sym2 by octaves, band 0 the lowest frequencies, together summing to the identity."""
    lo = np.asarray(SYM2)
    hi = lo * (-1.0) ** np.arange(lo.size)
    lo2, hi2 = np.convolve(lo, lo[::-1]) / 2, np.convolve(hi, hi[::-1]) / 2
    bank = np.eye(4, 1)
    for i in range(1, 4):
        spread = np.zeros((4, bank.shape[1] * 2 - 1))
        spread[:, ::2] = bank
        bank = np.stack([np.convolve(row, lo2) for row in spread])
        start = (bank.shape[1] - hi2.size) // 2
        bank[i, start:start + hi2.size] += hi2
    return bank.astype(np.float32).astype(np.float64)


def _translate(tx, ty):
    m = np.zeros(np.shape(tx) + (3, 3))
    m[..., 0, 0] = m[..., 1, 1] = m[..., 2, 2] = 1
    m[..., 0, 2], m[..., 1, 2] = tx, ty
    return m


def _scale(sx, sy):
    m = np.zeros(np.broadcast(sx, sy).shape + (3, 3))
    m[..., 0, 0], m[..., 1, 1], m[..., 2, 2] = sx, sy, 1
    return m


def _rotate(theta):
    c, s = np.cos(theta), np.sin(theta)
    m = np.zeros(np.shape(theta) + (3, 3))
    m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1], m[..., 2, 2] = c, -s, s, c, 1
    return m


def _translate3d(t):
    """Homogeneous 3-D translation by t[b] = (tx, ty, tz) per image."""
    m = np.tile(np.eye(4), (len(t), 1, 1))
    m[:, :3, 3] = t
    return m


def _rotate3d(v, theta):
    """Rotation by ``theta`` (batch) around the unit axis ``v`` (Rodrigues), homogeneous 4x4."""
    vx, vy, vz = v[:3]
    s, c = np.sin(theta), np.cos(theta)
    cc = 1 - c
    m = np.zeros(theta.shape + (4, 4))
    m[..., 0, :3] = np.stack([vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s], -1)
    m[..., 1, :3] = np.stack([vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s], -1)
    m[..., 2, :3] = np.stack([vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c], -1)
    m[..., 3, 3] = 1
    return m


def _reflect(index, n):
    """Indices of a one-bounce reflect padding (as ``torch.nn.functional.pad(mode='reflect')``)."""
    index = np.abs(index)
    return np.where(index >= n, 2 * (n - 1) - index, index)


def _var(array, dtype):
    """A numpy array as a Jittor input of ``dtype`` (a name: float32, float64 or int32)."""
    return jt.array(np.ascontiguousarray(array, dtype=_NP_DTYPES.get(dtype, np.int32)), dtype=dtype)


def _fir(x, axis, n_out, index_expr, weights, extras=()):
    """out[..., o, ...] = sum_t weights[.., o, t] * x[..., index_expr(o, t), ...] along ``axis`` (2: rows, 3:
    columns; an index out of range reads 0). ``index_expr`` is a format string of ``{o}`` and ``{t}``;
    ``weights`` is numpy (n_out, taps) or a Var of shape (batch, 1, 1, 1, taps)."""
    shape = list(x.shape)
    shape[axis] = n_out
    indexes = ["i0", "i1", "i2", "i3"]
    indexes[axis] = index_expr.format(o=f"i{axis}", t="i4")
    if isinstance(weights, np.ndarray):
        weights = _var(weights if axis == 3 else weights[:, None, :], str(x.dtype))
    taps = weights.shape[-1]
    return (x.reindex(shape + [taps], indexes, extras=list(extras)) * weights).sum(4)


def _separable(x, fir):
    """``fir(x, axis)`` applied along the columns, then along the rows."""
    return fir(fir(x, 3), 2)


def _check_channels(num_channels, what):
    """The number of colour channels (1 luma or 3 RGB) of images with ``num_channels``, or a ValueError."""
    if num_channels not in (1, 2, 3, 4):
        raise ValueError(f"{what}: images need 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA) channels, got {num_channels}")
    return 3 if num_channels >= 3 else 1


class AugmentPipe:
    """NVIDIA's ADA pipeline: stages off by default, each on with its probability multiplier (times ``p``
    per call); the arguments, defaults and ranges are NVIDIA's."""

    def __init__(self,
                 xflip=0, rotate90=0, xint=0, xint_max=0.125,
                 scale=0, rotate=0, aniso=0, xfrac=0, scale_std=0.2, rotate_max=1, aniso_std=0.2, xfrac_std=0.125,
                 brightness=0, contrast=0, lumaflip=0, hue=0, saturation=0, brightness_std=0.2, contrast_std=0.5,
                 hue_max=1, saturation_std=1,
                 imgfilter=0, imgfilter_bands=(1, 1, 1, 1), imgfilter_std=1,
                 noise=0, cutout=0, noise_std=0.1, cutout_size=0.5):
        self.xflip, self.rotate90, self.xint = float(xflip), float(rotate90), float(xint)
        self.xint_max = float(xint_max)
        self.scale, self.rotate, self.aniso, self.xfrac = float(scale), float(rotate), float(aniso), float(xfrac)
        self.scale_std, self.rotate_max = float(scale_std), float(rotate_max)
        self.aniso_std, self.xfrac_std = float(aniso_std), float(xfrac_std)
        self.brightness, self.contrast, self.lumaflip = float(brightness), float(contrast), float(lumaflip)
        self.hue, self.saturation = float(hue), float(saturation)
        self.brightness_std, self.contrast_std = float(brightness_std), float(contrast_std)
        self.hue_max, self.saturation_std = float(hue_max), float(saturation_std)
        self.imgfilter, self.imgfilter_bands = float(imgfilter), [float(b) for b in imgfilter_bands]
        self.imgfilter_std = float(imgfilter_std)
        self.noise, self.cutout, self.noise_std, self.cutout_size = (float(noise), float(cutout),
                                                                     float(noise_std), float(cutout_size))
        self.geom_filter = _geom_filter()
        self.filter_bank = _filter_bank()
        if len(self.imgfilter_bands) != self.filter_bank.shape[0]:
            raise ValueError(f"AugmentPipe: imgfilter_bands needs {self.filter_bank.shape[0]} values, "
                             f"got {len(self.imgfilter_bands)}")

    def __call__(self, images, p, rng):
        """Augment ``images`` (B, C, H, W) with strength ``p`` in [0, 1], drawing from ``rng``."""
        if len(images.shape) != 4 or str(images.dtype) not in _NP_DTYPES:
            raise ValueError(f"AugmentPipe: expected float32/float64 images (B, C, H, W), got {images.dtype} "
                             f"{tuple(images.shape)}")
        p = float(p)
        if not 0 <= p <= 1:
            raise ValueError(f"AugmentPipe: p must lie in [0, 1], got {p}")
        colour = _check_channels(images.shape[1], "AugmentPipe")
        geometry = self._draw_geometry(images.shape, p, rng)
        if geometry is not None:
            images = self._warp(images, geometry)
        colour_matrix = self._draw_colour(images.shape[0], colour, p, rng)
        if colour_matrix is not None:
            images = self._apply_colour(images, colour_matrix, colour)
        if self.imgfilter > 0:
            images = self._filter(images, p, rng)
        if self.noise > 0:
            images = self._noise(images, p, rng)
        if self.cutout > 0:
            images = self._cutout(images, p, rng)
        return images

    def _draw_geometry(self, shape, p, rng):
        """The inverse homogeneous 2-D transform per image (output pixel -> input pixel), or None when no
        geometric stage is configured (NVIDIA runs the warp whenever one is, even at p = 0)."""
        batch, _, height, width = shape
        g_inv, used = np.tile(np.eye(3), (batch, 1, 1)), False

        def chosen(multiplier, shape=(batch,)):
            return rng.random(shape) < multiplier

        if self.xflip > 0:
            i = np.floor(rng.random((batch,)) * 2)
            i = np.where(chosen(self.xflip * p), i, 0)
            g_inv, used = g_inv @ _scale(1 / (1 - 2 * i), 1), True
        if self.rotate90 > 0:
            i = np.floor(rng.random((batch,)) * 4)
            i = np.where(chosen(self.rotate90 * p), i, 0)
            g_inv, used = g_inv @ _rotate(np.pi / 2 * i), True
        if self.xint > 0:
            t = (rng.random((batch, 2)) * 2 - 1) * self.xint_max
            t = np.where(chosen(self.xint * p, (batch, 1)), t, 0)
            g_inv, used = g_inv @ _translate(-np.round(t[:, 0] * width), -np.round(t[:, 1] * height)), True
        if self.scale > 0:
            s = np.exp2(rng.standard_normal((batch,)) * self.scale_std)
            s = np.where(chosen(self.scale * p), s, 1)
            g_inv, used = g_inv @ _scale(1 / s, 1 / s), True
        p_rot = 1 - np.sqrt(np.clip(1 - self.rotate * p, 0, 1))  # P(pre-rotation OR post-rotation) = p
        if self.rotate > 0:
            theta = (rng.random((batch,)) * 2 - 1) * np.pi * self.rotate_max
            theta = np.where(chosen(p_rot), theta, 0)
            g_inv, used = g_inv @ _rotate(theta), True
        if self.aniso > 0:
            s = np.exp2(rng.standard_normal((batch,)) * self.aniso_std)
            s = np.where(chosen(self.aniso * p), s, 1)
            g_inv, used = g_inv @ _scale(1 / s, s), True
        if self.rotate > 0:
            theta = (rng.random((batch,)) * 2 - 1) * np.pi * self.rotate_max
            theta = np.where(chosen(p_rot), theta, 0)
            g_inv = g_inv @ _rotate(theta)
        if self.xfrac > 0:
            t = rng.standard_normal((batch, 2)) * self.xfrac_std
            t = np.where(chosen(self.xfrac * p, (batch, 1)), t, 0)
            g_inv, used = g_inv @ _translate(-t[:, 0] * width, -t[:, 1] * height), True
        return g_inv if used else None

    def _warp(self, images, g_inv):
        """NVIDIA's warp: reflect-pad by the margin the batch needs, upsample 2x with the sym6 low-pass,
        bilinear-sample the transformed grid (zeros outside), low-pass and downsample 2x. The padded image
        sits in a canvas of the largest possible margin (zeros around it), so every call has the same shapes;
        the price: the upsampling covers 3x the image per axis, where NVIDIA's covers what the batch needs."""
        batch, channels, height, width = images.shape
        dtype = str(images.dtype)
        f = self.geom_filter
        hz_pad = f.size // 4
        cx, cy = (width - 1) / 2, (height - 1) / 2
        corners = np.array([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]])
        cp = g_inv @ corners.T  # [batch, xyz, corner]
        margin = cp[:, :2, :].transpose(1, 0, 2).reshape(2, -1)
        margin = np.concatenate([-margin, margin]).max(axis=1) + np.array([hz_pad * 2 - cx, hz_pad * 2 - cy] * 2)
        margin = np.minimum(np.maximum(margin, 0), [width - 1, height - 1] * 2)
        mx0, my0, mx1, my1 = np.ceil(margin).astype(np.int64)
        g_inv = _translate((mx0 - mx1) / 2, (my0 - my1) / 2) @ g_inv

        # Reflect-pad into the canvas: the image's padded rows/columns, -1 (reads 0) elsewhere.
        cw, ch = 3 * width - 2, 3 * height - 2

        def pad_index(n, m0, m1):
            src = np.arange(3 * n - 2) - (n - 1)
            return np.where((src >= -m0) & (src < n + m1), _reflect(src, n), -1)

        canvas = images.reindex([batch, channels, ch, cw], ["i0", "i1", "@e0(i2)", "@e1(i3)"],
                                extras=[_var(pad_index(height, my0, my1), "int32"),
                                        _var(pad_index(width, mx0, mx1), "int32")])

        # Upsample 2x as NVIDIA's upsample2d: zero insertion, padding (6, 5), convolution with 2 * f per
        # axis; output o reads the taps k of o's parity, k = k0 + 2t with k0 = (o + 6) % 2: 6 taps, not 12.
        pad0 = (f.size + 1) // 2

        def upsample(x, axis):
            n_out = 2 * x.shape[axis]
            k = (np.arange(n_out)[:, None] + pad0) % 2 + 2 * np.arange(f.size // 2)[None, :]
            return _fir(x, axis, n_out, f"({{o}}+({{o}}+{pad0})%2+2*{{t}}-{pad0})/2", 2 * f[::-1][k])

        upsampled = _separable(canvas, upsample)

        # Grid of NVIDIA's padded upsampled image (align_corners=False), moved into the canvas.
        g_inv = _scale(2, 2) @ g_inv @ _scale(0.5, 0.5)
        g_inv = _translate(-0.5, -0.5) @ g_inv @ _translate(0.5, 0.5)
        in_w, in_h = 2 * (width + mx0 + mx1), 2 * (height + my0 + my1)
        out_w, out_h = 2 * (width + hz_pad * 2), 2 * (height + hz_pad * 2)
        g_inv = _scale(2 / in_w, 2 / in_h) @ g_inv @ _scale(out_w / 2, out_h / 2)
        gx = ((2 * np.arange(out_w) + 1) / out_w - 1)[None, None, :]
        gy = ((2 * np.arange(out_h) + 1) / out_h - 1)[None, :, None]
        a = g_inv[:, :2, :, None, None]
        ix = ((a[:, 0, 0] * gx + a[:, 0, 1] * gy + a[:, 0, 2] + 1) * in_w - 1) / 2
        iy = ((a[:, 1, 0] * gx + a[:, 1, 1] * gy + a[:, 1, 2] + 1) * in_h - 1) / 2
        x0, y0 = np.floor(ix), np.floor(iy)
        fx, fy = ix - x0, iy - y0
        xs = np.stack([x0, x0 + 1, x0, x0 + 1], -1)
        ys = np.stack([y0, y0, y0 + 1, y0 + 1], -1)
        weights = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], -1)
        inside = (xs >= 0) & (xs < in_w) & (ys >= 0) & (ys < in_h)
        weights = np.where(inside, weights, 0)
        xs = np.where(inside, xs + 2 * (width - 1 - mx0), -1)
        ys = np.where(inside, ys + 2 * (height - 1 - my0), -1)
        sampled = upsampled.reindex([batch, channels, out_h, out_w, 4],
                                    ["i0", "i1", "@e0(i0,i2,i3,i4)", "@e1(i0,i2,i3,i4)"],
                                    extras=[_var(ys, "int32"), _var(xs, "int32")])
        sampled = (sampled * _var(weights[:, None], dtype)).sum(4)

        # Low-pass with f (not flipped) and keep every second sample, cropped to the image (downsample2d).
        def downsample(x, axis):
            n_out = x.shape[axis] // 2 - hz_pad * 2
            return _fir(x, axis, n_out, "2*{o}+{t}+1", np.tile(f, (n_out, 1)))

        return _separable(sampled, downsample)

    def _draw_colour(self, batch, colour, p, rng):
        """The homogeneous 3-D colour transform per image (NVIDIA's C, [batch, 4, 4]) or None."""
        c_mat, used = np.tile(np.eye(4), (batch, 1, 1)), False
        if self.brightness > 0:
            b = rng.standard_normal((batch,)) * self.brightness_std
            b = np.where(rng.random((batch,)) < self.brightness * p, b, 0)
            c_mat, used = _translate3d(np.stack([b, b, b], -1)) @ c_mat, True
        if self.contrast > 0:
            c = np.exp2(rng.standard_normal((batch,)) * self.contrast_std)
            c = np.where(rng.random((batch,)) < self.contrast * p, c, 1)
            scale = np.tile(np.eye(4), (batch, 1, 1))
            scale[:, 0, 0] = scale[:, 1, 1] = scale[:, 2, 2] = c
            c_mat, used = scale @ c_mat, True
        v = np.array([1, 1, 1, 0]) / np.sqrt(3)  # luma axis
        vv = np.outer(v, v)
        if self.lumaflip > 0:
            i = np.floor(rng.random((batch, 1, 1)) * 2)
            i = np.where(rng.random((batch, 1, 1)) < self.lumaflip * p, i, 0)
            c_mat, used = (np.eye(4) - 2 * vv * i) @ c_mat, True  # Householder reflection
        if self.hue > 0 and colour > 1:
            theta = (rng.random((batch,)) * 2 - 1) * np.pi * self.hue_max
            theta = np.where(rng.random((batch,)) < self.hue * p, theta, 0)
            c_mat, used = _rotate3d(v, theta) @ c_mat, True
        if self.saturation > 0 and colour > 1:
            s = np.exp2(rng.standard_normal((batch, 1, 1)) * self.saturation_std)
            s = np.where(rng.random((batch, 1, 1)) < self.saturation * p, s, 1)
            c_mat, used = (vv + (np.eye(4) - vv) * s) @ c_mat, True
        return c_mat if used else None

    @staticmethod
    def _apply_colour(images, c_mat, colour):
        batch, channels, height, width = images.shape
        dtype = str(images.dtype)
        if colour == 1:
            c_mat = c_mat[:, :3, :].mean(axis=1, keepdims=True)  # grey: the mean of the RGB rows
            gain, offset = c_mat[:, :, :3].sum(axis=2, keepdims=True), c_mat[:, :, 3:]
            out = images[:, :1] * _var(gain[:, :, :, None], dtype) + _var(offset[:, :, :, None], dtype)
        else:
            rgb = images[:, :3].reshape(batch, 1, 3, height * width)
            out = (rgb * _var(c_mat[:, :3, :3, None], dtype)).sum(2) + _var(c_mat[:, :3, 3:], dtype)
            out = out.reshape(batch, 3, height, width)
        return out if channels == colour else jt.concat([out, images[:, colour:]], dim=1)

    def _filter(self, images, p, rng):
        """Amplify or attenuate NVIDIA's 4 frequency bands per image (power-normalised gains), as one
        separable zero-phase filter per image with reflect padding."""
        batch, _, height, width = images.shape
        bank = self.filter_bank
        bands, taps = bank.shape
        pad = taps // 2
        if min(height, width) <= pad:
            raise ValueError(f"AugmentPipe: imgfilter needs images larger than {pad} px, got {height}x{width}")
        expected_power = np.array([10, 1, 1, 1]) / 13  # expected power spectrum (1/f)
        g = np.ones((batch, bands))
        for i, band_strength in enumerate(self.imgfilter_bands):
            t_i = np.exp2(rng.standard_normal((batch,)) * self.imgfilter_std)
            t_i = np.where(rng.random((batch,)) < self.imgfilter * p * band_strength, t_i, 1)
            t = np.ones((batch, bands))
            t[:, i] = t_i
            g = g * t / np.sqrt((expected_power * t ** 2).sum(axis=-1, keepdims=True))
        weights = _var((g @ bank)[:, None, None, None, :], str(images.dtype))

        def filt(x, axis):
            n = x.shape[axis]
            index = _var(_reflect(np.arange(n + 2 * pad) - pad, n), "int32")
            return _fir(x, axis, n, "@e0({o}+{t})", weights, extras=[index])

        return _separable(images, filt)

    def _noise(self, images, p, rng):
        batch, channels, height, width = images.shape
        sigma = np.abs(rng.standard_normal((batch, 1, 1, 1))) * self.noise_std
        sigma = np.where(rng.random((batch, 1, 1, 1)) < self.noise * p, sigma, 0)
        noise = rng.standard_normal((batch, channels, height, width)) * sigma
        return images + _var(noise, str(images.dtype))

    def _cutout(self, images, p, rng):
        batch, _, height, width = images.shape
        size = np.full((batch, 2, 1, 1, 1), self.cutout_size)
        size = np.where(rng.random((batch, 1, 1, 1, 1)) < self.cutout * p, size, 0)
        center = rng.random((batch, 2, 1, 1, 1))
        mask_x = np.abs((np.arange(width).reshape(1, 1, 1, -1) + 0.5) / width - center[:, 0]) >= size[:, 0] / 2
        mask_y = np.abs((np.arange(height).reshape(1, 1, -1, 1) + 0.5) / height - center[:, 1]) >= size[:, 1] / 2
        return images * _var(mask_x | mask_y, str(images.dtype))


def augment_pipe(name):
    """The ``AugmentPipe`` of one of NVIDIA's named pipelines (``PIPES``)."""
    if name not in PIPES:
        raise ValueError(f"unknown augmentation pipeline {name!r}; choose one of {', '.join(PIPES)}")
    return AugmentPipe(**PIPES[name])


def diff_augment(images, rng, policy=DIFFAUGMENT_POLICY):
    """DiffAugment (Zhao et al. 2020, the reference ``DiffAugment_pytorch.py``): per image, ``color`` (random
    brightness, saturation, contrast), ``translation`` (integer shifts up to 1/8 of the size, zero fill),
    ``cutout`` (a zeroed square of half the size), in the policy's order; colour acts on the luma / RGB part."""
    stages = [s for s in policy.split(",") if s]
    unknown = [s for s in stages if s not in _DIFFAUGMENT_STAGES]
    if unknown:
        raise ValueError(f"diff_augment: unknown policy {unknown[0]!r}; choose from {', '.join(_DIFFAUGMENT_STAGES)}")
    batch, channels, height, width = images.shape
    colour = _check_channels(channels, "diff_augment")
    dtype = str(images.dtype)
    for stage in stages:
        if stage == "color":
            rgb, alpha = images[:, :colour], images[:, colour:]
            rgb = rgb + _var(rng.random((batch, 1, 1, 1)) - 0.5, dtype)
            mean = rgb.sum(dim=1, keepdims=True) * scalar(1 / colour, rgb)
            rgb = (rgb - mean) * _var(rng.random((batch, 1, 1, 1)) * 2, dtype) + mean
            mean = rgb.sum(dims=(1, 2, 3), keepdims=True) * scalar(1 / (colour * height * width), rgb)
            rgb = (rgb - mean) * _var(rng.random((batch, 1, 1, 1)) + 0.5, dtype) + mean
            images = rgb if channels == colour else jt.concat([rgb, alpha], dim=1)
        elif stage == "translation":
            shift_y, shift_x = int(height * 0.125 + 0.5), int(width * 0.125 + 0.5)
            ty = rng.integers(-shift_y, shift_y + 1, size=(batch, 1, 1))
            tx = rng.integers(-shift_x, shift_x + 1, size=(batch, 1, 1))
            rows = np.arange(height)[None, :] + ty[:, :, 0]  # source row per output row; outside reads 0
            cols = np.arange(width)[None, :] + tx[:, :, 0]
            rows = np.where((rows >= 0) & (rows < height), rows, -1)
            cols = np.where((cols >= 0) & (cols < width), cols, -1)
            images = images.reindex([batch, channels, height, width], ["i0", "i1", "@e0(i0,i2)", "@e1(i0,i3)"],
                                    extras=[_var(rows, "int32"), _var(cols, "int32")])
        else:
            size_y, size_x = int(height * 0.5 + 0.5), int(width * 0.5 + 0.5)
            oy = rng.integers(0, height + (1 - size_y % 2), size=(batch, 1, 1))
            ox = rng.integers(0, width + (1 - size_x % 2), size=(batch, 1, 1))
            y0, x0 = oy - size_y // 2, ox - size_x // 2
            ys, xs = np.arange(height)[None, :, None], np.arange(width)[None, None, :]
            cut = (ys >= y0) & (ys < y0 + size_y) & (xs >= x0) & (xs < x0 + size_x)
            images = images * _var(~cut[:, None], dtype)
    return images
