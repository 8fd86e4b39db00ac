#!/usr/bin/env bash
# Large reference dumps, not committed: /work/dumps (override with DUMPS=...). ~17 GB, ~15 min on 2 CPU cores.
# Usage: make_dumps.sh [demo|vit_b|vit_l|vit_h|bf16|all]   (default all; all = everything but bf16)
#   bf16: vit_b's COCO points dump again under dump.py --autocast bf16 (3 GB, beside the fp32 one)
# Each run's wall time and peak RSS go to $DUMPS/times.log.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SHARED="${SHARED:-/work/shared}"
DUMPS="${DUMPS:-/work/dumps}"
PY="${PYTHON:-python3}"
WHAT="${1:-all}"
mkdir -p "$DUMPS"
LOG="$DUMPS/times.log"

run() {  # run NAME CMD... : time it, log wall time and peak memory
  local name=$1; shift
  /usr/bin/time -f "%e s wall, %M KB peak RSS" -o "$DUMPS/.time" "$@"
  echo "$name: $(cat "$DUMPS/.time")" | tee -a "$LOG"
}

COCO="$SHARED/data/COCO_MVal/images/bear03_000000375015.jpg"   # 640x404
GRAB="$SHARED/data/GrabCut/images/teddy.jpg"                      # 284x398
# per image: 2 positive + 1 negative point; a box; the points of the box case; the point of the mask-input case
COCO_PTS=(--point 490,169,1 --point 560,300,1 --point 100,100,0)
COCO_BOX=291,0,639,403
COCO_BOX_PTS=(--point 490,169,1 --point 400,250,0)
COCO_MASK_PT=(--point 560,300,1)
GRAB_PTS=(--point 138,190,1 --point 140,100,1 --point 20,20,0)
GRAB_BOX=58,57,233,325
GRAB_BOX_PTS=(--point 138,190,1 --point 270,380,0)
GRAB_MASK_PT=(--point 140,100,1)

demo_cases() {  # demo_cases TAG CHECKPOINT IMAGE_TAG IMAGE
  local tag=$1 ck=$2 it=$3 img=$4 P B BP MP
  if [ "$it" = coco ]; then P=("${COCO_PTS[@]}"); B=$COCO_BOX; BP=("${COCO_BOX_PTS[@]}"); MP=("${COCO_MASK_PT[@]}")
  else P=("${GRAB_PTS[@]}"); B=$GRAB_BOX; BP=("${GRAB_BOX_PTS[@]}"); MP=("${GRAB_MASK_PT[@]}"); fi
  local D=("$PY" "$HERE/dump.py" --checkpoint "$ck" --image "$img" --max-bytes 60000000)
  local o="$DUMPS/${tag}_${it}"
  run "${tag}_${it}_points_multi" "${D[@]}" "${P[@]}" --out "${o}_points_multi.h5"
  run "${tag}_${it}_box_single" "${D[@]}" --box "$B" --single-mask --out "${o}_box_single.h5"
  run "${tag}_${it}_box_points_multi" "${D[@]}" --box "$B" "${BP[@]}" --out "${o}_box_points_multi.h5"
  # mask input = best low-res mask of the points case, plus one positive point, single mask
  run "${tag}_${it}_mask_single" "${D[@]}" "${MP[@]}" --mask-input "${o}_points_multi.h5" --mask-index best \
    --single-mask --out "${o}_mask_single.h5"
}

if [ "$WHAT" = all ] || [ "$WHAT" = demo ]; then
  for it in coco grabcut; do
    img=$COCO; [ $it = grabcut ] && img=$GRAB
    demo_cases demo_tiny "$SHARED/checkpoints/sam_demo_tiny.pth" $it "$img"
    demo_cases demo_small "$SHARED/checkpoints/sam_demo_small_fp16.pth" $it "$img"
  done
fi

if [ "$WHAT" = all ] || [ "$WHAT" = vit_b ]; then
  run vit_b_make_checkpoint "$PY" "$HERE/make_checkpoint.py" --model-type vit_b --seed 1 --out "$DUMPS/vit_b_random.pth"
  run vit_b_coco_points_multi "$PY" "$HERE/dump.py" --checkpoint "$DUMPS/vit_b_random.pth" --model-type vit_b \
    --image "$COCO" "${COCO_PTS[@]}" --max-bytes 60000000 --out "$DUMPS/vit_b_random_coco_points_multi.h5"
fi

if [ "$WHAT" = bf16 ]; then  # not in "all": the vit_b dump above, run under torch.autocast("cpu", bfloat16)
  [ -e "$DUMPS/vit_b_random.pth" ] || \
    run vit_b_make_checkpoint "$PY" "$HERE/make_checkpoint.py" --model-type vit_b --seed 1 --out "$DUMPS/vit_b_random.pth"
  run vit_b_coco_points_multi_bf16 "$PY" "$HERE/dump.py" --checkpoint "$DUMPS/vit_b_random.pth" --model-type vit_b \
    --image "$COCO" "${COCO_PTS[@]}" --max-bytes 60000000 --autocast bf16 \
    --out "$DUMPS/vit_b_random_coco_points_multi_bf16.h5"
fi

for t in vit_l:2 vit_h:3; do
  m=${t%%:*} seed=${t##*:}
  if [ "$WHAT" = all ] || [ "$WHAT" = "$m" ]; then
    run ${m}_make_checkpoint "$PY" "$HERE/make_checkpoint.py" --model-type $m --seed $seed --out "$DUMPS/${m}_random.pth"
    run ${m}_coco_points_multi_predict_only "$PY" "$HERE/dump.py" --checkpoint "$DUMPS/${m}_random.pth" \
      --model-type $m --image "$COCO" "${COCO_PTS[@]}" --predict-only --out "$DUMPS/${m}_random_coco_points_multi.h5"
  fi
done
ls -l "$DUMPS"
