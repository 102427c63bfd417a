#!/usr/bin/env bash
# Installs what is missing, builds Ember and runs the whole test suite.
#
# Usage: scripts/test.sh [BUILD_DIR]   (default: build)
# Extra CMake options can be passed in EMBER_CMAKE_ARGS, for example
#   EMBER_CMAKE_ARGS="-DEMBER_WERROR=ON" scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${1:-build}"
scripts/install-deps.sh --fonts

# shellcheck disable=SC2086  # EMBER_CMAKE_ARGS is a list of options
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release ${EMBER_CMAKE_ARGS:-}
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)"
