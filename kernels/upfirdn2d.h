// upfirdn2d on one output sample: zero-insert upsample by `up`, pad (negative
// pads crop), true 2-D convolution with `kernel` (flipped correlation), keep
// every `down`-th sample. Only taps that land on real input samples are visited.
#pragma once
#include "common.h"

namespace jsg {

struct UpFirDn2dParams {
    int64_t planes;  // batch * channels
    int in_h, in_w, out_h, out_w, kernel_h, kernel_w;
    int up_x, up_y, down_x, down_y, pad_x0, pad_y0;
};

// kernel has the accumulator's type: float for float/half inputs, double for double.
template <typename T>
JSG_HD typename Acc<T>::type upfirdn2d_at(const T* plane, const typename Acc<T>::type* kernel,
                                          const UpFirDn2dParams& p, int oy, int ox) {
    typedef typename Acc<T>::type A;
    // Upsampled coordinates covered by the kernel window of this output sample.
    const int my0 = oy * p.down_y - p.pad_y0, mx0 = ox * p.down_x - p.pad_x0;
    const int iy_lo = imax(0, ceil_div(my0, p.up_y));
    const int iy_hi = imin(p.in_h - 1, floor_div(my0 + p.kernel_h - 1, p.up_y));
    const int ix_lo = imax(0, ceil_div(mx0, p.up_x));
    const int ix_hi = imin(p.in_w - 1, floor_div(mx0 + p.kernel_w - 1, p.up_x));
    A acc = A(0);
    for (int iy = iy_lo; iy <= iy_hi; iy++) {
        const A* krow = kernel + (p.kernel_h - 1 - (iy * p.up_y - my0)) * p.kernel_w + (p.kernel_w - 1 + mx0);
        const T* xrow = plane + (int64_t)iy * p.in_w;
        for (int ix = ix_lo; ix <= ix_hi; ix++) acc += A(xrow[ix]) * krow[-ix * p.up_x];
    }
    return acc;
}

}  // namespace jsg
