#!/usr/bin/env bash
# The main job: installs what is missing, builds Ember in Release mode and
# runs the end-to-end demo.
#
# Usage: scripts/main-job.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${1:-build}"
scripts/install-deps.sh --fonts
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j"$(nproc)" --target ember

"$build_dir/apps/ember" demo
