// Row-wise reductions and normalisations over a contiguous row-major
// [rows, n] buffer x.
//
// Each function runs the variant chosen by active_isa() (see dispatch.h);
// its scalar specification is the function of the same name in
// reference.cpp. The SIMD variants sum in a different order, so results agree
// with the reference to rounding, not bit for bit. Rows are independent, so
// results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace ember::kernels {

// sum_i x[i] y[i] over n elements; 0 when n = 0. Like the row sums, the SIMD
// variants add in another order than the reference.
float dot(int64_t n, const float* x, const float* y);

// out[r] = sum_j x[r, j]; out is [rows]. An empty row sums to 0.
void row_sum(int64_t rows, int64_t n, const float* x, float* out);

// out[r] = max_j x[r, j]; out is [rows]. An empty row gives -inf, and a row
// containing NaN gives NaN.
void row_max(int64_t rows, int64_t n, const float* x, float* out);

// out[r] = log sum_j exp(x[r, j]), computed with the row max subtracted so
// nothing overflows; out is [rows]. A row of only -inf, or an empty row,
// gives -inf (the identity of log-add). A row containing +inf gives +inf, and
// one containing NaN gives NaN.
void row_logsumexp(int64_t rows, int64_t n, const float* x, float* out);

// out[r, j] = exp(x[r, j] - max_r) / sum_k exp(x[r, k] - max_r); out is
// [rows, n] and may be x. A row of only -inf gives zeros.
void row_softmax(int64_t rows, int64_t n, const float* x, float* out);

// out[r, j] = (x[r, j] - max_r) - log sum_k exp(x[r, k] - max_r); out is
// [rows, n] and may be x. A row of only -inf gives -inf throughout.
void row_log_softmax(int64_t rows, int64_t n, const float* x, float* out);

// The backward of row_log_softmax, given its output y: grad_x[r, j] +=
// grad_y[r, j] - exp(y[r, j]) sum_k grad_y[r, k]. Elements with y = -inf
// (probability 0) get nothing. The SIMD variants use their own exp and sum
// order, so they agree with the reference to rounding.
void row_log_softmax_backward(int64_t rows, int64_t n, const float* y, const float* grad_y,
                              float* grad_x);

}  // namespace ember::kernels
