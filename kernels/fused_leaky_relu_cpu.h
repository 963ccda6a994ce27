// CPU (OpenMP) loops for fused_leaky_relu and its gradient. The forward walks one
// (sample, channel) row at a time so the bias is a loop constant (no per-element
// index division) and the inner loop vectorizes.
#pragma once
#include "fused_leaky_relu.h"

namespace jsg {

template <typename T>
void fused_leaky_relu_cpu(const T* x, const T* bias, T* out, const LeakyReLUParams& p) {
    typedef typename Acc<T>::type A;
    const A slope = A(p.slope), scale = A(p.scale);
    if (p.channels == 1) {  // one bias value: a flat loop
        const A b = A(bias[0]);
        #pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < p.numel; i++) {
            const A v = A(x[i]) + b;
            out[i] = T((v > A(0) ? v : v * slope) * scale);
        }
        return;
    }
    const int64_t rows = p.numel / p.inner;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const A b = A(bias[r % p.channels]);
        const T* xr = x + r * p.inner;
        T* o = out + r * p.inner;
        for (int64_t j = 0; j < p.inner; j++) {
            const A v = A(xr[j]) + b;
            o[j] = T((v > A(0) ? v : v * slope) * scale);
        }
    }
}

template <typename T>
void leaky_relu_grad_cpu(const T* grad, const T* ref, T* out, const LeakyReLUParams& p) {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < p.numel; i++) out[i] = leaky_relu_grad_at(grad, ref, p, i);
}

}  // namespace jsg
