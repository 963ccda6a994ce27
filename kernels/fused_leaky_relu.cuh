// CUDA kernels for fused_leaky_relu and its gradient (grid-stride, one element per step).
#pragma once
#include <cuda_fp16.h>
#include "fused_leaky_relu.h"

namespace jsg {

template <typename T>
__global__ void fused_leaky_relu_kernel(const T* x, const T* bias, T* out, LeakyReLUParams p) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < p.numel; i += (int64_t)blockDim.x * gridDim.x)
        out[i] = fused_leaky_relu_at(x, bias, p, i);
}

template <typename T>
__global__ void leaky_relu_grad_kernel(const T* grad, const T* ref, T* out, LeakyReLUParams p) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < p.numel; i += (int64_t)blockDim.x * gridDim.x)
        out[i] = leaky_relu_grad_at(grad, ref, p, i);
}

inline int elementwise_blocks(int64_t numel, int threads) {
    int64_t blocks = (numel + threads - 1) / threads;
    return (int)(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

template <typename T>
void fused_leaky_relu_cuda(const T* x, const T* bias, T* out, const LeakyReLUParams& p) {
    fused_leaky_relu_kernel<T><<<elementwise_blocks(p.numel, 256), 256>>>(x, bias, out, p);
}

template <typename T>
void leaky_relu_grad_cuda(const T* grad, const T* ref, T* out, const LeakyReLUParams& p) {
    leaky_relu_grad_kernel<T><<<elementwise_blocks(p.numel, 256), 256>>>(grad, ref, out, p);
}

}  // namespace jsg
