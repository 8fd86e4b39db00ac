#!/usr/bin/env bash
# Installs the C libraries SAMSwift links (Debian/Ubuntu): OpenBLAS, oneDNN (bf16 products), libpng, libjpeg-turbo, HDF5 (serial), pkg-config;
# and Chromium with chromedriver, for the headless-browser test of `sam serve`'s page (Tests/SAMServeTests).
# Skips apt entirely when they are already there. Needs root or sudo.
set -euo pipefail
pkgs="libopenblas-dev libdnnl-dev libpng-dev libjpeg62-turbo-dev libhdf5-dev pkg-config chromium chromium-driver"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "installing:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
