// CPU (OpenMP) loop for upfirdn2d: one output row per task.
#pragma once
#include "upfirdn2d.h"

namespace jsg {

template <typename T>
void upfirdn2d_cpu(const T* x, const typename Acc<T>::type* kernel, T* out, const UpFirDn2dParams& p) {
    const int64_t rows = p.planes * p.out_h;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t plane = r / p.out_h;
        const int oy = (int)(r % p.out_h);
        const T* xp = x + plane * p.in_h * p.in_w;
        T* orow = out + r * p.out_w;
        for (int ox = 0; ox < p.out_w; ox++) orow[ox] = T(upfirdn2d_at(xp, kernel, p, oy, ox));
    }
}

}  // namespace jsg
