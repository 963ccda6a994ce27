// CPU (OpenMP) upfirdn2d, one input plane per task, as a few long unit-stride multiply-adds.
// Along each axis, outputs fall into P = up / gcd(up, down) phases and inputs into
// S = down / gcd(up, down) phases: output phase c, sample j reads input phase r at
// position q + j for a fixed set of taps (r, q, kernel index). So each plane is copied,
// de-interleaved into its S_y * S_x input phases, into one zero-margined buffer whose
// sub-planes share one row width; every output phase then sums its taps (up to 4 per
// pass) over whole sub-planes, treating their padded rows as one flat array (the columns
// past the phase's width are computed and dropped), and the output phases are finally
// interleaved into the output plane. Blur (up = down = 1) is the single-phase case: one
// flat plane, 16 taps for a 4x4 kernel; 2x up is 4 output phases of 2x2 taps over one
// plane; 2x down is one output phase of 16 taps over 4 input phases.
// T is the stored type (half, float or double); the buffers, taps and sums are its accumulator's type A
// (float for half and float, double for double): half is computed in float and stored as half, as on CUDA.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>
#include "upfirdn2d.h"

namespace jsg {

inline int int_gcd(int a, int b) { return b == 0 ? a : int_gcd(b, a % b); }

// One axis's taps: output phase c's sample j reads input phase r at buffer position pos + j
// (margin included) with kernel index k (already flipped).
struct AxisTap { int r, pos, k; };

struct AxisPlan {
    int S, P, margin;  // input phases, output phases, leading zero positions of each input phase
    int extent;        // buffer positions per input phase, also the accumulators' row length
    std::vector<int> count;                  // samples of each output phase
    std::vector<std::vector<AxisTap>> taps;  // taps of each output phase
};

inline AxisPlan plan_axis(int in, int out, int up, int down, int pad0, int kernel) {
    AxisPlan a;
    const int g = int_gcd(up, down);
    a.P = up / g;
    a.S = down / g;
    int q_min = 0, q_max = -1;
    for (int c = 0; c < a.P; c++) {
        const int n = c < out ? (out - 1 - c) / a.P + 1 : 0;
        a.count.push_back(n);
        a.taps.emplace_back();
        if (n == 0) continue;
        const int m0 = c * down - pad0;  // window start of output c, upsampled coordinates
        for (int i = ceil_div(m0, up); i <= floor_div(m0 + kernel - 1, up); i++) {
            const int q = floor_div(i, a.S);
            a.taps.back().push_back({i - q * a.S, q, kernel - 1 + m0 - i * up});
            q_min = imin(q_min, q);
            q_max = imax(q_max, q + n - 1);
        }
    }
    a.margin = -q_min;
    a.extent = imax(a.margin + imax(ceil_div(in, a.S), q_max + 1), a.count[0]);
    for (auto& taps : a.taps)
        for (auto& t : taps) t.pos += a.margin;
    return a;
}

// x * y + z, fused where the CPU can (as the compiler contracts `a += x * y`). An explicit fma
// is never reassociated, even under -Ofast: every output sums its taps one at a time in tap
// order, so grouping taps into passes leaves the results bit-identical to one tap per pass.
#ifdef __FMA__
template <typename T> inline T madd(T x, T y, T z) { return std::fma(x, y, z); }
#else
template <typename T> inline T madd(T x, T y, T z) { return x * y + z; }
#endif

// One 2-D tap of an output phase: buffer offset of its sample 0 and kernel value.
template <typename T>
struct Tap { int64_t offset; T value; };

// a[i] (= or +=) sum over the K taps of src[t][i] * value[t], for i < n.
template <int K, bool First, typename T>
inline void add_taps(T* __restrict__ a, const T* buf, const Tap<T>* taps, int64_t n) {
    const T* __restrict__ s0 = buf + taps[0].offset;
    const T* __restrict__ s1 = buf + taps[K > 1 ? 1 : 0].offset;
    const T* __restrict__ s2 = buf + taps[K > 2 ? 2 : 0].offset;
    const T* __restrict__ s3 = buf + taps[K > 3 ? 3 : 0].offset;
    const T k0 = taps[0].value, k1 = K > 1 ? taps[1].value : T(0);
    const T k2 = K > 2 ? taps[2].value : T(0), k3 = K > 3 ? taps[3].value : T(0);
    for (int64_t i = 0; i < n; i++) {
        T v = First ? s0[i] * k0 : madd(s0[i], k0, a[i]);
        if (K > 1) v = madd(s1[i], k1, v);
        if (K > 2) v = madd(s2[i], k2, v);
        if (K > 3) v = madd(s3[i], k3, v);
        a[i] = v;
    }
}

template <bool First, typename T>
inline void add_some_taps(T* a, const T* buf, const Tap<T>* taps, int k, int64_t n) {
    switch (k) {
        case 1: add_taps<1, First>(a, buf, taps, n); break;
        case 2: add_taps<2, First>(a, buf, taps, n); break;
        case 3: add_taps<3, First>(a, buf, taps, n); break;
        default: add_taps<4, First>(a, buf, taps, n); break;
    }
}

// Input plane xp, de-interleaved (and converted to A) into buf's sub-planes: row iy starts at
// buf + in_rows[iy] (its x phase 0); column ix of a row goes to offset in_cols[ix]. The margins stay as they are.
template <typename T, typename A>
inline void copy_phases(const T* xp, A* buf, const UpFirDn2dParams& p, int x_phases, int64_t sub,
                        const int64_t* in_rows, const int64_t* in_cols) {
    for (int iy = 0; iy < p.in_h; iy++) {
        const T* src = xp + (int64_t)iy * p.in_w;
        A* dst = buf + in_rows[iy];
        if (x_phases == 1) {
            std::copy(src, src + p.in_w, dst);
        } else if (x_phases == 2) {
            A* __restrict__ even = dst;
            A* __restrict__ odd = dst + sub;
            for (int j = 0; j < p.in_w / 2; j++) {
                even[j] = src[2 * j];
                odd[j] = src[2 * j + 1];
            }
            if (p.in_w % 2) even[p.in_w / 2] = src[p.in_w - 1];
        } else {
            for (int ix = 0; ix < p.in_w; ix++) dst[in_cols[ix]] = src[ix];
        }
    }
}

// Output row (converted to T) from the accumulator rows of its P x phases, acc + offsets[c] for phase c.
template <typename T, typename A>
inline void interleave_row(T* __restrict__ orow, const A* acc, const int64_t* offsets, int P, int out_w) {
    if (P == 1) {
        std::copy(acc + offsets[0], acc + offsets[0] + out_w, orow);
    } else if (P == 2) {
        const A* __restrict__ r0 = acc + offsets[0];
        const A* __restrict__ r1 = acc + offsets[1];
        for (int j = 0; j < out_w / 2; j++) {
            orow[2 * j] = T(r0[j]);
            orow[2 * j + 1] = T(r1[j]);
        }
        if (out_w % 2) orow[out_w - 1] = T(r0[out_w / 2]);
    } else {
        for (int c = 0; c < P; c++)
            for (int ox = c, j = 0; ox < out_w; ox += P, j++) orow[ox] = T(acc[offsets[c] + j]);
    }
}

template <typename T>
void upfirdn2d_cpu(const T* x, const typename Acc<T>::type* kernel, T* out, const UpFirDn2dParams& p) {
    typedef typename Acc<T>::type A;
    const AxisPlan ay = plan_axis(p.in_h, p.out_h, p.up_y, p.down_y, p.pad_y0, p.kernel_h);
    const AxisPlan ax = plan_axis(p.in_w, p.out_w, p.up_x, p.down_x, p.pad_x0, p.kernel_w);
    const int64_t row = ax.extent, sub = (int64_t)ay.extent * row;
    // Per output phase (cy, cx): its taps and the offset of its accumulator.
    const int n_phases = ay.P * ax.P;
    std::vector<std::vector<Tap<A>>> taps(n_phases);
    std::vector<int64_t> acc_offset(n_phases + 1, 0);
    for (int cy = 0; cy < ay.P; cy++)
        for (int cx = 0; cx < ax.P; cx++) {
            const int ph = cy * ax.P + cx;
            for (const AxisTap& ty : ay.taps[cy])
                for (const AxisTap& tx : ax.taps[cx])
                    taps[ph].push_back({(ty.r * ax.S + tx.r) * sub + ty.pos * row + tx.pos,
                                        kernel[ty.k * p.kernel_w + tx.k]});
            acc_offset[ph + 1] = acc_offset[ph] + ay.count[cy] * row;
        }
    // Row and column tables (no division per plane): where input rows / columns go in the
    // buffer, and where each output row's x phases are in the accumulators.
    std::vector<int64_t> in_rows(p.in_h), in_cols(p.in_w), out_rows((int64_t)p.out_h * ax.P);
    for (int iy = 0; iy < p.in_h; iy++)
        in_rows[iy] = (iy % ay.S) * ax.S * sub + (int64_t)(iy / ay.S + ay.margin) * row + ax.margin;
    for (int ix = 0; ix < p.in_w; ix++) in_cols[ix] = (ix % ax.S) * sub + ix / ax.S;
    for (int oy = 0; oy < p.out_h; oy++)
        for (int cx = 0; cx < ax.P; cx++)
            out_rows[(int64_t)oy * ax.P + cx] = acc_offset[oy % ay.P * ax.P + cx] + (int64_t)(oy / ay.P) * row;
    // Flat reads run up to a row past the last sub-plane.
    const int64_t n_buf = ay.S * ax.S * sub + row;
    #pragma omp parallel
    {
        std::vector<A> buf(n_buf, A(0)), acc(acc_offset[n_phases]);
        #pragma omp for schedule(static)
        for (int64_t plane = 0; plane < p.planes; plane++) {
            copy_phases(x + plane * p.in_h * p.in_w, buf.data(), p, ax.S, sub, in_rows.data(), in_cols.data());
            for (int ph = 0; ph < n_phases; ph++) {
                A* a = acc.data() + acc_offset[ph];
                const int64_t n = acc_offset[ph + 1] - acc_offset[ph];
                const int k = (int)taps[ph].size();
                if (k == 0) std::fill(a, a + n, A(0));
                for (int t = 0; t < k; t += 4) {
                    if (t == 0) add_some_taps<true>(a, buf.data(), taps[ph].data(), imin(4, k), n);
                    else add_some_taps<false>(a, buf.data(), taps[ph].data() + t, imin(4, k - t), n);
                }
            }
            T* op = out + plane * p.out_h * p.out_w;
            for (int oy = 0; oy < p.out_h; oy++)
                interleave_row(op + (int64_t)oy * p.out_w, acc.data(), out_rows.data() + (int64_t)oy * ax.P, ax.P,
                               p.out_w);
        }
    }
}

}  // namespace jsg
