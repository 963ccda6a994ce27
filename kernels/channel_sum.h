// channel_sum: x viewed as [outer, channels, inner] summed over outer and inner, the
// gradient of a per-channel bias (dim 1). Accumulates in float for float and half inputs.
#pragma once
#include "common.h"

namespace jsg {

struct ChannelSumParams {
    int64_t outer;     // size of dim 0
    int64_t channels;  // size of dim 1
    int64_t inner;     // product of dims 2..
};

}  // namespace jsg
