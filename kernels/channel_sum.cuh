// CUDA channel_sum: one block per channel, a grid-stride sum per thread, then a
// shared-memory tree reduction.
#pragma once
#include <cuda_fp16.h>
#include "channel_sum.h"

namespace jsg {

constexpr int CHANNEL_SUM_THREADS = 256;

template <typename T>
__global__ void channel_sum_kernel(const T* x, T* out, ChannelSumParams p) {
    typedef typename Acc<T>::type A;
    __shared__ A partial[CHANNEL_SUM_THREADS];
    const int64_t c = blockIdx.x, per_channel = p.outer * p.inner;
    A s = A(0);
    for (int64_t k = threadIdx.x; k < per_channel; k += blockDim.x) {
        const int64_t n = k / p.inner;
        s += A(x[(n * p.channels + c) * p.inner + (k - n * p.inner)]);
    }
    partial[threadIdx.x] = s;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[c] = T(partial[0]);
}

template <typename T>
void channel_sum_cuda(const T* x, T* out, const ChannelSumParams& p) {
    channel_sum_kernel<T><<<(unsigned)p.channels, CHANNEL_SUM_THREADS>>>(x, out, p);
}

}  // namespace jsg
