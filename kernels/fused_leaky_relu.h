// fused_leaky_relu: out = scale * leaky_relu(x + bias[c]), c = dim 1 of x.
// Its gradient, grad * scale * (out > 0 ? 1 : slope), is linear in grad with a
// mask taken from `out`, so the same formula is its own derivative.
#pragma once
#include "common.h"

namespace jsg {

struct LeakyReLUParams {
    int64_t numel;     // elements of x
    int64_t channels;  // size of dim 1 (1 when there is no bias)
    int64_t inner;     // product of dims 2.. (elements per channel per sample)
    double slope, scale;  // cast to the accumulator type: float64 computes with exact constants
};

template <typename T>
JSG_HD T fused_leaky_relu_at(const T* x, const T* bias, const LeakyReLUParams& p, int64_t i) {
    typedef typename Acc<T>::type A;
    A v = A(x[i]) + A(bias[(i / p.inner) % p.channels]);
    return T((v > A(0) ? v : v * A(p.slope)) * A(p.scale));
}

template <typename T>
JSG_HD T leaky_relu_grad_at(const T* grad, const T* ref, const LeakyReLUParams& p, int64_t i) {
    typedef typename Acc<T>::type A;
    A g = A(grad[i]);
    return T((A(ref[i]) > A(0) ? g : g * A(p.slope)) * A(p.scale));
}

}  // namespace jsg
