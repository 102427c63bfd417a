#!/usr/bin/env bash
# The main job: installs what is missing, builds Ember, then trains two
# handwriting recognizers end to end and reports their error on data they
# never saw in training:
#   1. words in 16 fonts: handwriting and script fonts (dkg, Breip,
#      femkeklaver, Rufscript, Comic Neue, Dancing Script, Kristi, Isabella,
#      Ecolier, Purisa, Z003) and print fonts for variety, with one whole
#      font family (Klee One) held out for the test set;
#   2. strings of 4-6 real handwritten MNIST digits, tested on strings made
#      only from digits that no training string used.
# Checkpoints, metrics, plots and result.json of each go to a run folder.
#
# Usage: scripts/main-job.sh [RUN_DIR]   (default: runs/main-<date>-<time>)
# EMBER_MAIN_SCALE=0.25 shrinks the sample counts for a quick look.
set -euo pipefail
cd "$(dirname "$0")/.."

run_dir="${1:-runs/main-$(date +%Y%m%d-%H%M%S)}"
scale="${EMBER_MAIN_SCALE:-1}"
count() { awk -v n="$1" -v s="$scale" 'BEGIN { c = int(n * s); print (c < 50 ? 50 : c) }'; }

scripts/install-deps.sh --fonts
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target ember ember_mnist_to_idx
scripts/fetch-mnist.sh build

mkdir -p "$run_dir"
echo "main-job: writing everything to $run_dir"

echo "main-job: 1/2 handwriting fonts (Klee One held out for the test)"
fonts="dkg,Breip,femkeklaver,Rufscript,DejaVu Sans,DejaVu Serif,Anonymous Pro,Comic Neue"
fonts+=",Dancing Script,Kristi,Isabella,Ecolier_court,Purisa,Z003,Liberation Sans,FreeSans"
build/apps/ember train --source fonts --fonts "$fonts" \
  --holdout-fonts "Klee One" --cell-width 0 --min-length 3 --max-length 7 --affine --elastic \
  --stroke 0.3 --model cnn --loss ctc --topology ctc --epochs 6 --lr-schedule cosine \
  --train-samples "$(count 12000)" --validation-samples "$(count 300)" --test-samples "$(count 500)" \
  --run-dir "$run_dir/fonts" | tee "$run_dir/fonts.txt"

echo "main-job: 2/2 real handwritten digit strings (MNIST, held-out digits for the test)"
build/apps/ember train --source digits --min-digits 4 --max-digits 6 --affine --elastic \
  --model cnn --loss ctc --topology ctc --epochs 8 --lr-schedule cosine \
  --train-samples "$(count 10000)" --validation-samples "$(count 300)" --test-samples "$(count 1000)" \
  --run-dir "$run_dir/digits" | tee "$run_dir/digits.txt"

echo
echo "main-job: results (test sets never seen in training)"
for part in fonts digits; do
  sed -n 's/^train: /  /p' "$run_dir/$part.txt"
done
echo "main-job: plots (energies.png, path-matrix.png, viterbi-table.png, curves.png) are in $run_dir/fonts and $run_dir/digits"
