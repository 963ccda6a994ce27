// CUDA kernel for upfirdn2d: one thread per output sample, grid-stride.
#pragma once
#include <cuda_fp16.h>
#include "upfirdn2d.h"

namespace jsg {

template <typename T>
__global__ void upfirdn2d_kernel(const T* x, const typename Acc<T>::type* kernel, T* out, UpFirDn2dParams p) {
    const int64_t total = p.planes * p.out_h * p.out_w;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)blockDim.x * gridDim.x) {
        const int ox = (int)(i % p.out_w);
        const int oy = (int)((i / p.out_w) % p.out_h);
        const int64_t plane = i / ((int64_t)p.out_w * p.out_h);
        out[i] = T(upfirdn2d_at(x + plane * p.in_h * p.in_w, kernel, p, oy, ox));
    }
}

template <typename T>
void upfirdn2d_cuda(const T* x, const typename Acc<T>::type* kernel, T* out, const UpFirDn2dParams& p) {
    const int64_t total = p.planes * p.out_h * p.out_w;
    int64_t blocks = (total + 255) / 256;
    if (blocks > 65535 * 8) blocks = 65535 * 8;
    upfirdn2d_kernel<T><<<(int)(blocks > 0 ? blocks : 1), 256>>>(x, kernel, out, p);
}

}  // namespace jsg
