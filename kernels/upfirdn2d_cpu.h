// CPU (OpenMP) loops for upfirdn2d, one input plane per task. Each plane is first copied
// into a zero-margined buffer so that no tap ever needs a bounds check; the taps then run
// as long strided multiply-adds that the compiler vectorizes.
// * up = down = 1 (every StyleGAN 1 call, the StyleGAN 2 blurs): the plane is one flat
//   array of padded rows, so each kernel tap is a single loop over the whole output plane
//   (the columns past out_w of every row are computed and dropped).
// * otherwise: output columns fall into phases with a fixed tap pattern (period
//   up / gcd(up, down)); one output row at a time, each phase one tap at a time.
// On CPU, T is float or double: its own accumulator.
#pragma once
#include <algorithm>
#include <vector>
#include "upfirdn2d.h"

namespace jsg {

inline int int_gcd(int a, int b) { return b == 0 ? a : int_gcd(b, a % b); }

// Outputs o0 + j * o_step (j < n) read buffer columns x0 + j * x_step + t with kernel
// column k0 - t * up_x, t < taps.
struct Phase { int o0, o_step, n, x0, x_step, k0, taps; };

// o[j * O] += xs[j * X] * kv for j < n; O and X known at compile time vectorize.
template <int O, int X, typename T>
inline void strided_madd(T* o, const T* xs, int n, T kv) {
    for (int j = 0; j < n; j++) o[j * O] += xs[j * X] * kv;
}

// Input plane xp into buf at (row0, col0), rows of wb elements; the margins stay as they are.
template <typename T>
inline void copy_plane(const T* xp, T* buf, const UpFirDn2dParams& p, int row0, int col0, int wb) {
    for (int iy = 0; iy < p.in_h; iy++)
        for (int ix = 0; ix < p.in_w; ix++) buf[(int64_t)(row0 + iy) * wb + col0 + ix] = xp[iy * p.in_w + ix];
}

template <typename T>
void upfirdn2d_flat_cpu(const T* x, const T* kernel, T* out, const UpFirDn2dParams& p) {
    const int ml = imax(0, p.pad_x0), mt = imax(0, p.pad_y0);
    const int wb = ml + p.in_w + imax(0, p.out_w + p.kernel_w - 1 - p.pad_x0 - p.in_w);  // padded row
    const int64_t base = (int64_t)(mt - p.pad_y0) * wb + (ml - p.pad_x0);  // window of output (0, 0)
    const int64_t n_out = (int64_t)p.out_h * wb;
    const int64_t n_buf = base + n_out + (int64_t)(p.kernel_h - 1) * wb + p.kernel_w;
    #pragma omp parallel
    {
        std::vector<T> buf(std::max(n_buf, (int64_t)(mt + p.in_h) * wb), T(0)), acc(n_out);
        #pragma omp for schedule(static)
        for (int64_t plane = 0; plane < p.planes; plane++) {
            copy_plane(x + plane * p.in_h * p.in_w, buf.data(), p, mt, ml, wb);
            T* a = acc.data();
            for (int64_t i = 0; i < n_out; i++) a[i] = T(0);
            for (int ky = 0; ky < p.kernel_h; ky++)
                for (int kx = 0; kx < p.kernel_w; kx++) {
                    const T kv = kernel[(p.kernel_h - 1 - ky) * p.kernel_w + p.kernel_w - 1 - kx];
                    const T* src = buf.data() + base + (int64_t)ky * wb + kx;
                    for (int64_t i = 0; i < n_out; i++) a[i] += src[i] * kv;
                }
            T* op = out + plane * p.out_h * p.out_w;
            for (int oy = 0; oy < p.out_h; oy++)
                for (int ox = 0; ox < p.out_w; ox++) op[oy * p.out_w + ox] = a[(int64_t)oy * wb + ox];
        }
    }
}

template <typename T>
void upfirdn2d_phases_cpu(const T* x, const T* kernel, T* out, const UpFirDn2dParams& p) {
    const int g = int_gcd(p.up_x, p.down_x), period = p.up_x / g, x_step = p.down_x / g;
    const int ml = imax(0, -ceil_div(-p.pad_x0, p.up_x));
    const int ix_max = floor_div((p.out_w - 1) * p.down_x - p.pad_x0 + p.kernel_w - 1, p.up_x);
    const int wb = ml + p.in_w + imax(0, ix_max - (p.in_w - 1));
    std::vector<Phase> phases;
    for (int c = 0; c < period && c < p.out_w; c++) {
        const int mx0 = c * p.down_x - p.pad_x0;  // window start of output c, upsampled coordinates
        const int lo = ceil_div(mx0, p.up_x);
        const int taps = floor_div(mx0 + p.kernel_w - 1, p.up_x) - lo + 1;
        if (taps > 0)
            phases.push_back({c, period, (p.out_w - 1 - c) / period + 1, ml + lo, x_step,
                              p.kernel_w - 1 + mx0 - lo * p.up_x, taps});
    }
    #pragma omp parallel
    {
        std::vector<T> buf((int64_t)p.in_h * wb, T(0));
        #pragma omp for schedule(static)
        for (int64_t plane = 0; plane < p.planes; plane++) {
            copy_plane(x + plane * p.in_h * p.in_w, buf.data(), p, 0, ml, wb);
            for (int oy = 0; oy < p.out_h; oy++) {
                T* orow = out + (plane * p.out_h + oy) * p.out_w;
                for (int ox = 0; ox < p.out_w; ox++) orow[ox] = T(0);
                const int my0 = oy * p.down_y - p.pad_y0;
                const int iy_lo = imax(0, ceil_div(my0, p.up_y));
                const int iy_hi = imin(p.in_h - 1, floor_div(my0 + p.kernel_h - 1, p.up_y));
                for (int iy = iy_lo; iy <= iy_hi; iy++) {
                    const T* krow = kernel + (p.kernel_h - 1 - (iy * p.up_y - my0)) * p.kernel_w;
                    const T* brow = buf.data() + (int64_t)iy * wb;
                    for (const Phase& s : phases) {
                        T* o = orow + s.o0;
                        for (int t = 0; t < s.taps; t++) {
                            const T kv = krow[s.k0 - t * p.up_x];
                            const T* xs = brow + s.x0 + t;
                            if (s.o_step == 2 && s.x_step == 1) strided_madd<2, 1>(o, xs, s.n, kv);
                            else if (s.o_step == 1 && s.x_step == 2) strided_madd<1, 2>(o, xs, s.n, kv);
                            else
                                for (int j = 0; j < s.n; j++) o[j * s.o_step] += xs[j * s.x_step] * kv;
                        }
                    }
                }
            }
        }
    }
}

template <typename T>
void upfirdn2d_cpu(const T* x, const T* kernel, T* out, const UpFirDn2dParams& p) {
    if (p.up_x == 1 && p.up_y == 1 && p.down_x == 1 && p.down_y == 1)
        upfirdn2d_flat_cpu(x, kernel, out, p);
    else
        upfirdn2d_phases_cpu(x, kernel, out, p);
}

}  // namespace jsg
