// CTC is the NLL of locally normalised windows, so it must not depend on a
// constant added to one window's energies, and it equals -log p by hand.
#include <catch2/catch.hpp>
#include <cmath>

#include "autodiff/autodiff.h"
#include "ebm/alignment/losses.h"

using namespace ember;
using namespace ember::alignment;

TEST_CASE("ctc loss by hand", "[alignment][ctc_loss][hw-p2-ctc]") {
  // C = 2 (symbol 0, blank 1), L = 2 windows, target [0]. With all energies
  // 0 each window gives p = 1/2 to both. The valid paths are (0, 0),
  // (0, blank) and (blank, 0): p = 3/4, so the loss is -log(3/4).
  AlignmentLossOptions options;
  options.topology = Topology::ctc(1);
  const AlignmentBatch batch = make_alignment_batch({{0}});

  SECTION("equal energies") {
    const AlignmentLossResult result = ctc_loss(zeros({1, 2, 2}), batch, options);
    CHECK(result.loss.item() == Approx(-std::log(0.75)));
  }
  SECTION("a constant added to a window changes nothing") {
    const Tensor shifted = from_vector({5.0f, 5.0f, -3.0f, -3.0f}, {1, 2, 2});
    CHECK(ctc_loss(shifted, batch, options).loss.item() == Approx(-std::log(0.75)));
  }
  SECTION("the loss is never negative") {
    Generator generator(4);
    const Tensor energies = normal({1, 2, 2}, 0.0f, 10.0f, generator);
    CHECK(ctc_loss(energies, batch, options).loss.item() >= 0.0f);
  }
  SECTION("gradient matches finite differences") {
    Generator generator(5);
    Tensor energies = normal({2, 4, 3}, 0.0f, 1.0f, generator).set_requires_grad(true);
    options.topology = Topology::ctc(2);
    const AlignmentBatch two = make_alignment_batch({{0, 1}, {1}});
    const GradCheckResult result =
        gradcheck([&](const auto& in) { return ctc_loss(in[0], two, options).loss; }, {energies});
    INFO(result.report);
    CHECK(result.ok);
  }
}
