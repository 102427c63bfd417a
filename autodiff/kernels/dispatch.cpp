// CPUID detection and the EMBER_SIMD override that choose the kernel variant.
//
// The choice is made once per process; tests that compare variants call
// kernel_table(isa) directly instead.
#include "autodiff/kernels/dispatch.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace ember::kernels {

namespace {

Isa widest_supported() {
  if (isa_supported(Isa::avx512)) {
    return Isa::avx512;
  }
  if (isa_supported(Isa::avx2)) {
    return Isa::avx2;
  }
  return Isa::scalar;
}

Isa choose_isa() {
  const char* choice = std::getenv("EMBER_SIMD");
  if (choice == nullptr || *choice == '\0') {
    return widest_supported();
  }
  return parse_isa(choice);
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return "scalar";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
  }
  return "unknown";
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return true;
#if defined(__x86_64__)
    // GCC's CPU feature check also confirms that the OS saves the AVX and
    // AVX-512 register state (XGETBV).
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#else
    case Isa::avx2:
    case Isa::avx512:
      return false;
#endif
  }
  return false;
}

Isa parse_isa(std::string_view choice) {
  const std::string allowed = "allowed values: scalar, avx2, avx512";
  Isa isa;
  if (choice == "scalar") {
    isa = Isa::scalar;
  } else if (choice == "avx2") {
    isa = Isa::avx2;
  } else if (choice == "avx512") {
    isa = Isa::avx512;
  } else {
    throw std::invalid_argument("EMBER_SIMD=" + std::string(choice) +
                                " is not a known instruction set; " + allowed);
  }

  if (!isa_supported(isa)) {
    std::string supported = "scalar";
    for (Isa candidate : {Isa::avx2, Isa::avx512}) {
      if (isa_supported(candidate)) {
        supported += std::string(", ") + isa_name(candidate);
      }
    }
    throw std::invalid_argument("EMBER_SIMD=" + std::string(choice) +
                                " is not supported by this CPU or build; supported values: " +
                                supported);
  }
  return isa;
}

Isa active_isa() {
  static const Isa isa = choose_isa();
  return isa;
}

const KernelTable& kernel_table(Isa isa) {
  if (!isa_supported(isa)) {
    throw std::invalid_argument(std::string("kernel_table: instruction set ") + isa_name(isa) +
                                " is not supported by this CPU or build");
  }
  switch (isa) {
    case Isa::scalar:
      return detail::scalar_table();
#if defined(__x86_64__)
    case Isa::avx2:
      return detail::avx2_table();
    case Isa::avx512:
      return detail::avx512_table();
#endif
    default:
      break;
  }
  return detail::scalar_table();
}

const KernelTable& active_kernels() {
  static const KernelTable& table = kernel_table(active_isa());
  return table;
}

}  // namespace ember::kernels
