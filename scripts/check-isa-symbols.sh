#!/usr/bin/env bash
# Checks that the objects compiled with -mavx2 or -mavx512f share no weak
# function (an inline function or template instance) with any other object
# of the build. The linker keeps one copy of each weak function for the
# whole program, so a shared one could run AVX instructions on a CPU without
# them, whichever variant EMBER_SIMD picked. Run it on a Debug build: with
# optimization such functions are usually inlined and leave no symbol, so
# the check passes there even when the code is at risk.
# Usage: scripts/check-isa-symbols.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}

mapfile -t isa_objects < <(find "$build" -name 'kernels_avx*.cpp.o' | sort)
if [[ ${#isa_objects[@]} -eq 0 ]]; then
  echo "check-isa-symbols: no kernels_avx*.cpp.o under '$build'; build the library first" >&2
  exit 2
fi

weak_functions() {  # the weak functions an object defines, one per line
  nm --defined-only "$1" | awk '$2 == "W" {print $3}' | sort -u
}

status=0
for object in "${isa_objects[@]}"; do
  mine=$(mktemp)
  theirs=$(mktemp)
  weak_functions "$object" > "$mine"
  find "$build" -name '*.o' ! -path "$object" -print0 |
    xargs -0 -r nm --defined-only 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u > "$theirs"
  shared=$(comm -12 "$mine" "$theirs")
  if [[ -n "$shared" ]]; then
    echo "check-isa-symbols: $object shares weak functions with other objects; give them" \
      "internal linkage (an unnamed namespace) so each object keeps its own copy:" >&2
    c++filt <<< "$shared" | sed 's/^/  /' >&2
    status=1
  fi
  rm -f "$mine" "$theirs"
done
if [[ $status -eq 0 ]]; then
  echo "check-isa-symbols: ${#isa_objects[@]} ISA objects share no weak function with other objects"
fi
exit $status
