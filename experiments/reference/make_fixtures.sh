#!/usr/bin/env bash
# Regenerate every committed fixture under Tests/Fixtures/reference/ (seeded; run from anywhere).
# Needs: pip install segment-anything torch torchvision h5py pillow ; the shared data in /work/shared.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
FX="$ROOT/Tests/Fixtures/reference"
SHARED="${SHARED:-/work/shared}"
PY="${PYTHON:-python3}"
mkdir -p "$FX"
cd "$FX"
t() { local s=$SECONDS; "$@"; echo "  [$(( SECONDS - s )) s] $*" | cut -c1-160; }

# a. tiny random checkpoint (config tiny_random.json is committed, hand-written)
t $PY "$HERE/make_checkpoint.py" --config tiny_random.json --seed 0 --out tiny_random.pth

# b. the small test image: COCO_MVal cat00_000000197528.jpg (480x640) downscaled to 120x160 (PIL bilinear)
$PY - "$SHARED/data/COCO_MVal/images/cat00_000000197528.jpg" image_small.png <<'PYEOF'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
s = 160 / max(im.size)
im.resize((round(im.width * s), round(im.height * s)), Image.BILINEAR).save(sys.argv[2], optimize=False)
PYEOF

D() { t $PY "$HERE/dump.py" --checkpoint tiny_random.pth --config tiny_random.json --image image_small.png --gzip "$@"; }
# two positive points (one fractional) + one negative, multimask
D --point 64,80,1 --point 57.5,110.25,1 --point 10,20,0 --out tiny_points_multi.h5
# the same, single mask
D --point 64,80,1 --point 57.5,110.25,1 --point 10,20,0 --single-mask --out tiny_points_single.h5
# box only, single mask
D --box 30,28,99,159 --single-mask --out tiny_box.h5
# box + one positive + one negative point, multimask
D --box 30,28,99,159 --point 64,80,1 --point 110,20,0 --out tiny_box_points.h5
# one point + mask input = low_res_logits of the best (highest predicted IoU) mask of tiny_points_multi, single
D --point 64,80,1 --mask-input tiny_points_multi.h5 --mask-index best --single-mask --out tiny_mask_input.h5
# a single positive point, multimask
D --point 65,90,1 --out tiny_one_point.h5

# c. golden end-to-end dump of the demo checkpoint at full size (1024 input):
#    COCO_MVal zebra07_000000504439.jpg (500x243 -> 1024x498), points of both labels
t $PY "$HERE/dump.py" --checkpoint "$SHARED/checkpoints/sam_demo_tiny.pth" \
  --image "$SHARED/data/COCO_MVal/images/zebra07_000000504439.jpg" \
  --point 98,136,1 --point 60,200,1 --point 400,60,0 --predict-only --gzip --out demo_tiny_golden.h5

ls -l "$FX"
du -sh "$FX"
