#!/usr/bin/env bash
# Regenerates Tests/Fixtures/light/: module-by-module dumps of the light family's own predictors (MobileSAM, Light
# HQ-SAM, HQ-SAM, EfficientViT-SAM) for reduced models of each (experiments/reference/light/*.json), whose weights —
# every value random — the Swift tests make again from a seed (SAMTestSupport.RandomCheckpoint): only the reference's
# outputs are committed. Steps: the test LightFixtureTests.testWritesCheckpoints writes the seeded weights as
# safetensors into SAM_LIGHT_FIXTURE_DIR; dump_light.py runs each package on them (image_small.png, 64 KB bound,
# gzip). Needs: /work/venv (or PYTHON) with torch, timm, mobilesam-mirror, segment-anything-hq, efficientsam, h5py.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-/work/venv/bin/python}"
FX="$ROOT/Tests/Fixtures/light"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
mkdir -p "$FX"
(cd "$ROOT" && SAM_LIGHT_FIXTURE_DIR="$TMP" swift test ${SKIP_BUILD:+--skip-build} --filter 'LightFixtureTests.testWritesCheckpoints')
IMG="$ROOT/Tests/Fixtures/reference/image_small.png"   # 120 x 160
D() {  # D NAME MODEL CONFIG ARGS...
  local name=$1 model=$2 cfg=$3; shift 3
  # the encoder input (1024² floats, most of a file) is kept once: EfficientViT-SAM's 512² (its own normalisation);
  # the 1024-frame preprocessing is SAM's, checked by the v1 fixtures
  local keep=(--no-input-image); [[ " $* " == *" --keep-input "* ]] && { keep=(); set -- "${@/--keep-input/}"; }
  "$PY" "$HERE/dump_light.py" --model "$model" --config "$HERE/light/$cfg.json" --checkpoint "$TMP/$cfg.safetensors" \
    --image "$IMG" --max-bytes 65536 --gzip "${keep[@]}" $* --out "$FX/$name.h5" 2>&1 | grep -v -i warn | tail -1
}
D mobilesam_points_multi mobilesam mobilesam_micro --point 64,80,1 --point 10,20,0
D mobilesam_mask_single mobilesam mobilesam_micro --point 64,80,1 --mask-input random --single-mask
D sam_hq_tiny_points_multi sam_hq_vit_tiny sam_hq_tiny_micro --point 64,80,1 --point 10,20,0
D sam_hq_box_mask_single_token_only sam_hq_vit_b sam_hq_micro --box 30,28,99,159 --point 64,80,1 --mask-input random --single-mask --hq-token-only
D efficientvit_points_multi efficientvit_sam_l0 efficientvit_micro --point 64,80,1 --point 10,20,0 --keep-input
D efficientvit_box_mask_single efficientvit_sam_l0 efficientvit_micro --box 30,28,99,159 --point 64,80,1 --mask-input random --single-mask
ls -l "$FX"; du -sh "$FX"
