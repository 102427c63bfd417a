// Correlations of a row with shifted copies of another row. They are the
// arithmetic of a direct convolution with few filters, such as model A's
// single 4x8 filter: each kernel element ("tap") reads the input at a fixed
// offset from the output position.
//
// Each function runs the variant chosen by active_isa() (see dispatch.h);
// its scalar specification is the function of the same name in
// reference.cpp. Offsets may be negative, as long as every element read lies
// inside the caller's buffer.
#pragma once

#include <cstdint>

namespace ember::kernels {

// y[i] += sum over k < taps of weights[k] x[offsets[k] + i], for i < n. Each
// term is one fused multiply-add onto y[i], in tap order, so every variant
// gives the same bits.
void correlate_taps(int64_t n, int64_t taps, const float* weights, const int64_t* offsets,
                    const float* x, float* y);

// out[k] += sum over i < n of g[i] x[offsets[k] + i], for k < taps: the
// weight gradient of correlate_taps. The SIMD variants split each sum over
// their lanes, so they agree with the reference to rounding, not bit for bit.
void correlate_taps_dots(int64_t n, int64_t taps, const int64_t* offsets, const float* g,
                         const float* x, float* out);

}  // namespace ember::kernels
