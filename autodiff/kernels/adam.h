// The Adam (and AdamW) parameter update on raw buffers of length n.
//
// It runs the variant chosen by active_isa() (see dispatch.h); its scalar
// specification is adam_update in reference.cpp, and every variant gives the
// same bits. The step options are the AdamStep struct in dispatch.h.
#pragma once

#include <cstdint>

#include "autodiff/kernels/dispatch.h"

namespace ember::kernels {

// One step, for each i:
//   m = beta1 m + (1 - beta1) g          v = beta2 v + (1 - beta2) g^2
//   param -= learning_rate * weight_decay * param       (decoupled decay)
//   param -= learning_rate * (m / bias_correction1)
//            / (sqrt(v / bias_correction2) + epsilon)
// m and v are updated in place.
void adam_update(int64_t n, float* param, const float* grad, float* m, float* v,
                 const AdamStep& step);

}  // namespace ember::kernels
