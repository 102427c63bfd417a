// Elementwise kernels on raw float buffers of length n: arithmetic,
// activations, exp and log, and axpy.
//
// Each function runs the variant chosen by active_isa() (see dispatch.h);
// its scalar specification is the function of the same name in
// reference.cpp. Arithmetic, relu, relu_backward and axpy give the same bits
// in every variant. exp, log, sigmoid and tanh agree with the scalar
// reference within the bounds stated in simd_math.h. `out` may be the same
// buffer as an input (in place) but must not partially overlap one.
#pragma once

#include <cstdint>

namespace ember::kernels {

// out[i] = a[i] + b[i], a[i] - b[i], a[i] * b[i], a[i] / b[i].
void add(int64_t n, const float* a, const float* b, float* out);
void sub(int64_t n, const float* a, const float* b, float* out);
void mul(int64_t n, const float* a, const float* b, float* out);
void div(int64_t n, const float* a, const float* b, float* out);

// out[i] = a[i] + s, a[i] * s, a[i] / s.
void add_scalar(int64_t n, const float* a, float s, float* out);
void mul_scalar(int64_t n, const float* a, float s, float* out);
void div_scalar(int64_t n, const float* a, float s, float* out);

// out[i] = x[i] if x[i] > 0, else +0 (NaN gives 0, like the autodiff relu op).
void relu(int64_t n, const float* x, float* out);
// out[i] = 1 / (1 + exp(-x[i])).
void sigmoid(int64_t n, const float* x, float* out);
void tanh(int64_t n, const float* x, float* out);
void exp(int64_t n, const float* x, float* out);
void log(int64_t n, const float* x, float* out);

// Accumulates relu's input gradient: grad_x[i] += grad_out[i] where x[i] > 0.
void relu_backward(int64_t n, const float* x, const float* grad_out, float* grad_x);
// The same gradient written instead of added: out[i] = grad_out[i] where
// x[i] > 0, else 0. Branch-free, so a random sign pattern costs no
// mispredicted jumps.
void relu_mask(int64_t n, const float* x, const float* grad_out, float* out);

// out[i out_ld + j] = in[i in_ld + j] + shift for i < rows and j < cols,
// then, with relu, +0 for every value not above 0 (NaN too), as the relu
// kernel gives. A shift of -0 leaves every value as it is, -0 included.
// Copies a strided block of rows with a bias and a relu in one pass, such
// as a convolution's output out of the implicit path's grid.
void shift_rows(int64_t rows, int64_t cols, const float* in, int64_t in_ld, float shift,
                bool relu, float* out, int64_t out_ld);

// y[i] += alpha * x[i], rounded after the multiply and after the add.
void axpy(int64_t n, float alpha, const float* x, float* y);

}  // namespace ember::kernels
