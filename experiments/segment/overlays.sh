#!/usr/bin/env bash
# The overlay pictures of reports/segment/README.md (issue 3: "an overlay you have looked at yourself, for a point
# prompt and for a box prompt"): `sam segment` on two shared images with the demo tiny checkpoint.
#
#   experiments/segment/overlays.sh [--sam PATH]
#
# What `sam segment` writes goes to notebooks-data/segment/NAME/ (mask_<k>.png, result.json; not low_res_logits.h5,
# 0.8 MB of float32 not needed to look at); its overlay.png becomes reports/segment/overlay_NAME.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
SAM=.build/release/sam
[ "${1:-}" = "--sam" ] && SAM=$2
CK=../shared/checkpoints/sam_demo_tiny.pth
COCO=../shared/data/COCO_MVal/images/bear03_000000375015.jpg
TEDDY=../shared/data/GrabCut/images/teddy.jpg
D=notebooks-data/segment
R=reports/segment
seg() {
  local out=$1; shift
  rm -rf "${D:?}/$out"
  "$SAM" segment --checkpoint "$CK" "$@" --out "$D/$out"
  rm -f "$D/$out/low_res_logits.h5"
  mv "$D/$out/overlay.png" "$R/overlay_$out.png"
}
# point prompts: the bear's back (positive), the ground top-left (negative); multimask (Meta's default)
seg point_bear --image "$COCO" --point 507,125 --point 150,60,0
# one positive point on the teddy's belly (its farthest-from-boundary pixel), multimask
seg point_teddy --image "$TEDDY" --point 145,179
# box prompts: the bear's ground-truth box, single mask; the teddy's, multimask
seg box_bear --image "$COCO" --box 291,0,639,403 --single-mask
seg box_teddy --image "$TEDDY" --box 58,57,233,325
