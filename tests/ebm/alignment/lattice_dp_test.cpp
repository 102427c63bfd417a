// Tests comparing the AVX2 and AVX-512 builds of the chain dynamic programs
// with the baseline build, at state counts around the vector widths.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "autodiff/autodiff.h"
#include "autodiff/kernels/dispatch.h"
#include "ebm/alignment/lattice_dp.h"

using namespace ember;
using namespace ember::alignment;

TEST_CASE("chain programs agree across instruction sets", "[alignment][lattice_dp]") {
  Generator generator(53);
  const int64_t symbols = 5;
  const int64_t windows = 40;
  // Target lengths T give 2T + 1 ctc states: 1, 15, 17, 33 and 41.
  for (const int64_t length : {0, 7, 8, 16, 20}) {
    std::vector<int64_t> target;
    for (int64_t j = 0; j < length; ++j) {
      target.push_back(generator.randint(symbols - 1));
    }
    const Lattice lattice = build_lattice(Topology::ctc(symbols - 1), target);
    const std::vector<float> energies =
        uniform({windows, symbols}, -2.0f, 2.0f, generator).to_vector();
    const ChainProblem problem{energies.data(), windows, symbols, &lattice};

    // The baseline build is the reference.
    std::vector<float> alpha(alpha_size(problem));
    const float log_z = forward_log_partition(problem, 1.0f, alpha.data(), kernels::Isa::scalar);
    std::vector<float> grad(windows * symbols, 0.0f);
    add_posteriors(problem, 1.0f, alpha.data(), log_z, 1.0f, grad.data(), kernels::Isa::scalar);
    std::vector<float> score(score_size(problem));
    std::vector<uint8_t> back(back_size(problem));
    const int64_t final_state =
        viterbi_scores(problem, score.data(), back.data(), kernels::Isa::scalar);
    REQUIRE(std::isfinite(log_z));

    for (const kernels::Isa isa : {kernels::Isa::avx2, kernels::Isa::avx512}) {
      if (!kernels::isa_supported(isa)) {
        continue;
      }
      INFO(kernels::isa_name(isa) << ", S = " << lattice.states());
      std::vector<float> other_alpha(alpha.size());
      const float other_log_z = forward_log_partition(problem, 1.0f, other_alpha.data(), isa);
      CHECK(other_log_z == Approx(log_z).epsilon(1e-5));

      std::vector<float> other_grad(grad.size(), 0.0f);
      add_posteriors(problem, 1.0f, other_alpha.data(), other_log_z, 1.0f, other_grad.data(),
                     isa);
      for (size_t i = 0; i < grad.size(); ++i) {
        CHECK(other_grad[i] == Approx(grad[i]).margin(1e-5));
      }

      std::vector<float> other_score(score.size());
      std::vector<uint8_t> other_back(back.size());
      CHECK(viterbi_scores(problem, other_score.data(), other_back.data(), isa) == final_state);
      CHECK(other_back == back);
    }
  }
}
