// CPU (OpenMP) loops for fused_leaky_relu and its gradient.
#pragma once
#include "fused_leaky_relu.h"

namespace jsg {

template <typename T>
void fused_leaky_relu_cpu(const T* x, const T* bias, T* out, const LeakyReLUParams& p) {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < p.numel; i++) out[i] = fused_leaky_relu_at(x, bias, p, i);
}

template <typename T>
void leaky_relu_grad_cpu(const T* grad, const T* ref, T* out, const LeakyReLUParams& p) {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < p.numel; i++) out[i] = leaky_relu_grad_at(grad, ref, p, i);
}

}  // namespace jsg
