#!/usr/bin/env bash
# Reproduces the homework's Part 1 with the ember command line, step by step,
# and copies the pictures into docs/images/walkthrough/. docs/walkthrough.md
# explains each step; run this to regenerate its pictures and figures.
#
# Usage: scripts/walkthrough.sh [WORK_DIR]   (default: runs/walkthrough)
set -euo pipefail
cd "$(dirname "$0")/.."

work="${1:-runs/walkthrough}"
pictures=docs/images/walkthrough
ember=build/apps/ember
if [[ -e "$work" ]]; then
  echo "walkthrough.sh: '$work' exists; remove it or name another folder" >&2
  exit 1
fi
mkdir -p "$work" "$pictures"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target ember

step() { echo; echo "== $*"; }

step "1. render the alphabet and a word in Anonymous Pro, 32 px tall, 18 px per character"
$ember render --text "abcdefghijklmnopqrstuvwxyz" --fonts "Anonymous Pro" --binarize --out "$work/alphabet"
$ember render --text "hello" --fonts "Anonymous Pro" --binarize --out "$work/hello"

step "2. pretrain the tiny net (726 parameters) on single characters"
$ember pretrain --model tiny --binarize --epochs 10 --train-samples 5000 --run-dir "$work/pretrain"

step "3. the pretrained net's energies over the alphabet image"
$ember plot energies "$work/pretrain/best.safetensors" "$work/alphabet/000000.png" \
  -o "$pictures/alphabet-energies.png"

step "4. Viterbi training on two-letter words: cross-entropy along the best path"
$ember train --init "$work/pretrain/best.safetensors" --model tiny --loss viterbi-ce --binarize \
  --min-length 2 --max-length 2 --epochs 10 --train-samples 4000 --run-dir "$work/two-letter"

step "5. Viterbi training on words of 1-5 letters with jitter and 10% salt noise"
$ember train --init "$work/two-letter/best.safetensors" --model tiny --loss viterbi-ce --binarize \
  --min-length 1 --max-length 5 --jitter 7 --salt 0.1 --epochs 10 --train-samples 6000 \
  --run-dir "$work/words"

step "6. decode 'hello' and draw its path matrix with the best path"
$ember decode "$work/words/best.safetensors" "$work/hello/000000.png"
$ember plot energies "$work/words/best.safetensors" "$work/hello/000000.png" --target hello \
  -o "$pictures/hello-energies.png"
$ember plot path "$work/words/best.safetensors" "$work/hello/000000.png" --target hello \
  -o "$pictures/hello-path-matrix.png" --table-out "$pictures/hello-viterbi-table.png"

step "7. the CTC route, without and with pretraining"
$ember train --model tiny --loss ctc --topology ctc --binarize --min-length 1 --max-length 5 \
  --jitter 7 --salt 0.1 --epochs 10 --train-samples 6000 --run-dir "$work/ctc-scratch"
$ember train --init "$work/pretrain/best.safetensors" --model tiny --loss ctc --topology ctc \
  --binarize --min-length 1 --max-length 5 --jitter 7 --salt 0.1 --epochs 10 --train-samples 6000 \
  --run-dir "$work/ctc-pretrained"

step "8. the stronger CNN on the same data"
$ember train --model cnn --loss ctc --topology ctc --binarize --min-length 5 --max-length 5 \
  --jitter 7 --salt 0.1 --epochs 4 --train-samples 6000 --run-dir "$work/cnn"

cp "$work/words/curves.png" "$pictures/words-curves.png"
cp "$work/ctc-scratch/curves.png" "$pictures/ctc-scratch-curves.png"
cp "$work/ctc-pretrained/curves.png" "$pictures/ctc-pretrained-curves.png"
echo
echo "walkthrough.sh: pictures are in $pictures, runs in $work"
