// Shared by the CPU (C++/OpenMP) and CUDA kernels: host/device qualifiers,
// the accumulator type, and integer division that rounds toward -inf.
// Keep every #include outside #if blocks: Jittor's jt.code inserts its own
// definitions after the last #include of a header.
#pragma once
#include <stdint.h>

#ifdef __CUDACC__
#define JSG_HD __host__ __device__ __forceinline__
#else
#define JSG_HD inline
#endif

namespace jsg {

// float accumulates float and half; double accumulates double.
template <typename T> struct Acc { typedef float type; };
template <> struct Acc<double> { typedef double type; };

JSG_HD int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
JSG_HD int ceil_div(int a, int b) { return -floor_div(-a, b); }
JSG_HD int imin(int a, int b) { return a < b ? a : b; }
JSG_HD int imax(int a, int b) { return a > b ? a : b; }

}  // namespace jsg
