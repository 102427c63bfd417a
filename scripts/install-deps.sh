#!/usr/bin/env bash
# Installs the Debian packages Ember needs to build, test and run its demos.
# Idempotent: packages already present are skipped, so a second run is quick.
# Runs as root directly, or through sudo when a non-root user has it.
#
# Usage: scripts/install-deps.sh [--fonts] [--peers] [--all]
#   (no flag)  compilers, CMake and the header libraries the build needs
#   --fonts    the font packages and npm that the handwriting demos read
#   --peers    python3-torch, python3-numpy, OpenBLAS and tesseract, used only
#              by bench/peers and the results table, never by the library
set -euo pipefail

build_packages=(g++ cmake make libfmt-dev catch2 libstb-dev libcli11-dev nlohmann-json3-dev)
font_packages=(fonts-anonymous-pro fonts-dkg-handwriting fonts-breip fonts-femkeklaver
               fonts-rufscript fonts-klee fonts-humor-sans fonts-comic-neue fonts-dancingscript
               fonts-kristi fonts-isabella fonts-ecolier-court fonts-tlwg-purisa fonts-urw-base35
               fonts-liberation2 fonts-freefont-ttf npm)
peer_packages=(python3-torch python3-numpy libopenblas0 libbenchmark-dev tesseract-ocr tesseract-ocr-eng)

wanted=("${build_packages[@]}")
for flag in "$@"; do
  case "$flag" in
    --fonts) wanted+=("${font_packages[@]}") ;;
    --peers) wanted+=("${peer_packages[@]}") ;;
    --all) wanted+=("${font_packages[@]}" "${peer_packages[@]}") ;;
    *) echo "install-deps.sh: unknown option '$flag'; expected --fonts, --peers or --all" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${wanted[@]}"; do
  # Node.js builds from outside Debian bundle their own npm and conflict with
  # Debian's npm package, so a working npm command counts as installed.
  if [[ "$package" == npm ]] && command -v npm >/dev/null; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps.sh: all ${#wanted[@]} packages are already installed"
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps.sh: missing packages (${missing[*]}) and no root or sudo to install them" >&2
    exit 1
  fi
  as_root=(sudo)
fi

echo "install-deps.sh: installing ${missing[*]}"
# The package lists may be absent on a fresh machine, so update them once.
if ! compgen -G "/var/lib/apt/lists/*_Packages" >/dev/null; then
  "${as_root[@]}" apt-get update -q
fi
if ! DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  # Stale lists make apt ask for files that are gone; refresh and retry once.
  "${as_root[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
