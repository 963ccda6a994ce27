// CPU (OpenMP) channel_sum: one channel per task; each contiguous run of `inner` elements
// is summed in the accumulator type, and the runs are added in double.
#pragma once
#include "channel_sum.h"

namespace jsg {

template <typename T>
void channel_sum_cpu(const T* x, T* out, const ChannelSumParams& p) {
    typedef typename Acc<T>::type A;
    #pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < p.channels; c++) {
        double total = 0.0;
        for (int64_t n = 0; n < p.outer; n++) {
            const T* run = x + (n * p.channels + c) * p.inner;
            A s = A(0);
            for (int64_t j = 0; j < p.inner; j++) s += A(run[j]);
            total += double(s);
        }
        out[c] = T(total);
    }
}

}  // namespace jsg
