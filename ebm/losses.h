// The contrastive loss family of energy-based learning, as differentiable
// functions of a classifier's energies.
//
// Every loss takes energies [B, C] (B samples, C labels; lower = better) and
// B correct labels, computes one loss per sample and reduces them (mean by
// default). Because each is composed of autodiff ops, calling backward on the
// result sends dL/dF(x, k) into whatever energy network produced the
// energies, so the same loss trains a linear classifier, an MLP or a
// sliding-window recognizer.
//
// Notation: F(x, y) is the energy of the correct label y and F(x, ybar) that
// of the most offending incorrect answer ybar, the lowest-energy label other
// than y (ties go to the lowest index; see most_offending_incorrect in
// ebm/energy.h). [u]+ = max(u, 0), m is a margin, beta an inverse
// temperature. The losses that use ybar need C >= 2.
//
// Subgradients at kinks: [u]+ is relu, whose gradient at u = 0 is 0. So a
// hinge-type loss sitting exactly at its margin (u = 0) passes no gradient,
// like one outside the margin; the closed-form tests check that choice.
// Gradients with respect to ybar treat the choice of ybar as fixed (it is
// piecewise constant in the energies).
//
// Left out on purpose: losses over structured outputs (ebm/alignment and the
// graph layer build those from the same energies) and the ranking of several
// negatives per sample.
#pragma once

#include <cstdint>
#include <vector>

#include "autodiff/autodiff.h"

namespace ember::ebm {

// How per-sample losses [B] become the returned tensor.
enum class Reduction {
  kMean,  // (1/B) sum_i L_i, shape []
  kSum,   // sum_i L_i, shape []
  kNone,  // the per-sample losses, shape [B]
};

// Applies a reduction to per-sample losses [B].
Tensor reduce_loss(const Tensor& per_sample, Reduction reduction);

// Energy loss: L = F(x, y). Pushes down on the correct answer only, so it
// works only for architectures where that pulls the others up; a flexible
// network trained with it collapses (every energy goes down).
// dL/dF(x, y) = 1.
Tensor energy_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                   Reduction reduction = Reduction::kMean);

// Generalized perceptron loss: L = F(x, y) - min_k F(x, k), which equals
// [F(x, y) - F(x, ybar)]+ and is computed that way, so at a tie between y
// and ybar the gradient is 0. dL/dF(x, y) = 1 and dL/dF(x, ybar) = -1 when
// F(x, y) > F(x, ybar), else 0. No margin: a flat energy surface gives L = 0.
Tensor perceptron_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                       Reduction reduction = Reduction::kMean);

// Simple loss: L = [F(x, y)]+ + [m - F(x, ybar)]+.
// dL/dF(x, y) = 1 if F(x, y) > 0 and dL/dF(x, ybar) = -1 if F(x, ybar) < m.
Tensor simple_loss(const Tensor& energies, const std::vector<int64_t>& labels, float margin,
                   Reduction reduction = Reduction::kMean);

// Hinge loss: L = [F(x, y) - F(x, ybar) + m]+.
// If F(x, y) - F(x, ybar) + m > 0: dL/dF(x, y) = 1, dL/dF(x, ybar) = -1;
// otherwise (including exactly at the margin) both are 0.
Tensor hinge_loss(const Tensor& energies, const std::vector<int64_t>& labels, float margin,
                  Reduction reduction = Reduction::kMean);

// Log loss: L = log(1 + exp(F(x, y) - F(x, ybar))), a smooth hinge with an
// infinite soft margin. With s = sigmoid(F(x, y) - F(x, ybar)):
// dL/dF(x, y) = s and dL/dF(x, ybar) = -s.
Tensor log_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                Reduction reduction = Reduction::kMean);

// Square-square loss: L = [F(x, y)]+^2 + [m - F(x, ybar)]+^2.
// dL/dF(x, y) = 2 [F(x, y)]+ and dL/dF(x, ybar) = -2 [m - F(x, ybar)]+.
Tensor square_square_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                          float margin, Reduction reduction = Reduction::kMean);

// Square-exponential loss: L = F(x, y)^2 + gamma exp(-F(x, ybar)), gamma > 0.
// dL/dF(x, y) = 2 F(x, y) and dL/dF(x, ybar) = -gamma exp(-F(x, ybar)).
Tensor square_exponential_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                               float gamma, Reduction reduction = Reduction::kMean);

// LVQ2 loss, for positive energies such as distances to class prototypes:
//     L = min(1, [(F(x, y) - F(x, ybar)) / (delta F(x, ybar))]+),  delta > 0.
// With r the bracketed ratio, for 0 < r < 1: dL/dF(x, y) = 1 / (delta F(x, ybar))
// and dL/dF(x, ybar) = -F(x, y) / (delta F(x, ybar)^2); otherwise 0 (also at
// r = 0 and r = 1). Throws std::invalid_argument if some F(x, ybar) <= 0.
Tensor lvq2_loss(const Tensor& energies, const std::vector<int64_t>& labels, float delta,
                 Reduction reduction = Reduction::kMean);

// Minimum classification error (MCE) loss: L = sigmoid(F(x, y) - F(x, ybar)),
// a smooth count of errors. With s the loss: dL/dF(x, y) = s (1 - s) and
// dL/dF(x, ybar) = -s (1 - s).
Tensor mce_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                Reduction reduction = Reduction::kMean);

// Negative log-likelihood (maximum mutual information) loss, the negative log
// Gibbs probability of the correct label scaled by 1/beta:
//     L = -(1/beta) log p(y | x) = F(x, y) + (1/beta) log sum_k exp(-beta F(x, k)).
// dL/dF(x, k) = [k = y] - p(k | x). It tends to the perceptron loss as beta
// grows, and for C = 2 and beta = 1 it equals the log loss. 0 < beta < inf.
Tensor nll_loss(const Tensor& energies, const std::vector<int64_t>& labels, float beta,
                Reduction reduction = Reduction::kMean);

}  // namespace ember::ebm
