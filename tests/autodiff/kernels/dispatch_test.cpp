// Tests of the instruction-set choice: names, parsing errors, and that the
// active variant follows EMBER_SIMD.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "autodiff/kernels/dispatch.h"

using namespace ember::kernels;

TEST_CASE("isa names round-trip", "[kernels][dispatch]") {
  CHECK(std::string(isa_name(Isa::scalar)) == "scalar");
  CHECK(std::string(isa_name(Isa::avx2)) == "avx2");
  CHECK(std::string(isa_name(Isa::avx512)) == "avx512");
  CHECK(parse_isa("scalar") == Isa::scalar);
  CHECK(isa_supported(Isa::scalar));
  CHECK(kernel_table(Isa::scalar).isa == Isa::scalar);
}

TEST_CASE("unknown isa is rejected", "[kernels][dispatch]") {
  CHECK_THROWS_WITH(parse_isa("sse9"), Catch::Contains("EMBER_SIMD=sse9") &&
                                           Catch::Contains("scalar, avx2, avx512"));
  CHECK_THROWS_WITH(parse_isa(""), Catch::Contains("not a known instruction set"));
  CHECK_THROWS_WITH(parse_isa("AVX2"), Catch::Contains("not a known instruction set"));
}

TEST_CASE("unsupported isa is rejected", "[kernels][dispatch]") {
  for (Isa isa : {Isa::avx2, Isa::avx512}) {
    if (isa_supported(isa)) {
      CHECK(parse_isa(isa_name(isa)) == isa);
      CHECK(kernel_table(isa).isa == isa);
    } else {
      CHECK_THROWS_WITH(parse_isa(isa_name(isa)),
                        Catch::Contains("not supported") && Catch::Contains("supported values: scalar"));
    }
  }
}

TEST_CASE("active isa follows EMBER_SIMD", "[kernels][dispatch]") {
  const char* choice = std::getenv("EMBER_SIMD");
  if (choice != nullptr && *choice != '\0') {
    CHECK(std::string(isa_name(active_isa())) == choice);
  } else {
    const Isa widest = isa_supported(Isa::avx512) ? Isa::avx512
                       : isa_supported(Isa::avx2) ? Isa::avx2
                                                  : Isa::scalar;
    CHECK(active_isa() == widest);
  }
  CHECK(active_kernels().isa == active_isa());
}
