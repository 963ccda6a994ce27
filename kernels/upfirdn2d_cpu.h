// CPU (OpenMP) loop for upfirdn2d: one output row per task, no index division in the
// inner loops. Columns whose kernel window lies inside the input row form "interior
// segments" with a fixed tap pattern, computed one tap at a time across the segment (a
// strided multiply-add the compiler vectorizes); the remaining edge columns use a
// per-column table of their tap range. On CPU, T is float or double: its own accumulator.
#pragma once
#include <vector>
#include "upfirdn2d.h"

namespace jsg {

// Outputs o0 + j * o_step (j < n) read x[x0 + j * x_step + t] * kernel[k0 - t * up_x], t < taps.
struct Segment { int o0, o_step, n, x0, x_step, k0, taps; };

// Interior segments: without upsampling, one (any down_x); with upsampling and down_x == 1,
// one per phase ox % up_x. Other combinations have none (edge path only).
inline std::vector<Segment> interior_segments(const UpFirDn2dParams& p) {
    std::vector<Segment> segs;
    if (p.up_x == 1) {
        const int lo = imin(p.out_w, imax(0, ceil_div(p.pad_x0, p.down_x)));
        const int hi = imin(p.out_w, imax(lo, floor_div(p.in_w - p.kernel_w + p.pad_x0, p.down_x) + 1));
        if (hi > lo) segs.push_back({lo, 1, hi - lo, lo * p.down_x - p.pad_x0, p.down_x, p.kernel_w - 1, p.kernel_w});
    } else if (p.down_x == 1) {
        for (int c = 0; c < p.up_x && c < p.out_w; c++) {
            const int mx0 = c - p.pad_x0;  // window start of output c, in upsampled coordinates
            const int lo = ceil_div(mx0, p.up_x);
            const int taps = floor_div(mx0 + p.kernel_w - 1, p.up_x) - lo + 1;
            if (taps <= 0) continue;
            // output c + up_x * m is interior when 0 <= lo + m and lo + m + taps - 1 <= in_w - 1
            const int m_lo = imax(0, -lo);
            const int m_hi = imin((p.out_w - 1 - c) / p.up_x + 1, p.in_w - taps - lo + 1);
            if (m_hi > m_lo)
                segs.push_back({c + p.up_x * m_lo, p.up_x, m_hi - m_lo, lo + m_lo, 1,
                                p.kernel_w - 1 + mx0 - lo * p.up_x, taps});
        }
    }
    return segs;
}

template <typename T>
void upfirdn2d_cpu(const T* x, const T* kernel, T* out, const UpFirDn2dParams& p) {
    const std::vector<Segment> segs = interior_segments(p);
    std::vector<char> interior(p.out_w, 0);
    for (const Segment& s : segs)
        for (int j = 0; j < s.n; j++) interior[s.o0 + j * s.o_step] = 1;
    // Edge columns: input columns first[ox] .. first[ox] + count[ox] - 1 with kernel
    // columns kx[ox], kx[ox] - up_x, ... (see upfirdn2d_at for the derivation).
    std::vector<int> edge, first, count, kx;
    for (int ox = 0; ox < p.out_w; ox++) {
        if (interior[ox]) continue;
        const int mx0 = ox * p.down_x - p.pad_x0;
        const int lo = imax(0, ceil_div(mx0, p.up_x));
        const int hi = imin(p.in_w - 1, floor_div(mx0 + p.kernel_w - 1, p.up_x));
        edge.push_back(ox);
        first.push_back(lo);
        count.push_back(imax(0, hi - lo + 1));
        kx.push_back(p.kernel_w - 1 + mx0 - lo * p.up_x);
    }
    const int n_edge = (int)edge.size();
    const int64_t rows = p.planes * p.out_h;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t plane = r / p.out_h;
        const int oy = (int)(r % p.out_h);
        const T* xp = x + plane * p.in_h * p.in_w;
        T* orow = out + r * p.out_w;
        for (int ox = 0; ox < p.out_w; ox++) orow[ox] = T(0);
        const int my0 = oy * p.down_y - p.pad_y0;
        const int iy_lo = imax(0, ceil_div(my0, p.up_y));
        const int iy_hi = imin(p.in_h - 1, floor_div(my0 + p.kernel_h - 1, p.up_y));
        for (int iy = iy_lo; iy <= iy_hi; iy++) {
            const T* krow = kernel + (p.kernel_h - 1 - (iy * p.up_y - my0)) * p.kernel_w;
            const T* xrow = xp + (int64_t)iy * p.in_w;
            for (int e = 0; e < n_edge; e++) {
                const T* xs = xrow + first[e];
                const T* ks = krow + kx[e];
                T acc = T(0);
                for (int t = 0; t < count[e]; t++) acc += xs[t] * ks[-t * p.up_x];
                orow[edge[e]] += acc;
            }
            for (const Segment& s : segs) {
                T* o = orow + s.o0;
                for (int t = 0; t < s.taps; t++) {
                    const T kv = krow[s.k0 - t * p.up_x];
                    const T* xs = xrow + s.x0 + t;
                    if (s.o_step == 1 && s.x_step == 1) {
                        for (int j = 0; j < s.n; j++) o[j] += xs[j] * kv;
                    } else {
                        for (int j = 0; j < s.n; j++) o[j * s.o_step] += xs[(int64_t)j * s.x_step] * kv;
                    }
                }
            }
        }
    }
}

}  // namespace jsg
