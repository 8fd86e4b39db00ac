#!/usr/bin/env bash
# SAM 2.1 reference checkpoints and dumps (sam2 1.1.0), not committed: $DUMPS/sam2 (DUMPS defaults to /work/dumps).
# Usage: make_dumps_sam2.sh [t|s|b+|l|tiny|fixtures|predictor|eval|amg|bf16|all]   (default all; several may be given;
#        all = everything but amg and bf16)
#   t:        random sam2.1_hiera_t checkpoint (seed 0, 156 MB) + a full dump (all modules, no gzip: ~2.8 GB) on the
#             bundled zebra image, 2 points, multimask; a single-mask box + point dump with --predict-only; and the
#             held-out DAVIS runs below, plus (t only) box + point single mask and random mask input single mask
#   s, b+, l: random sam2.1_hiera_<size> checkpoint (seed 0) + a full dump (all modules, no gzip) on the held-out
#             DAVIS frame 050.jpg (854x480, stretched to 1024x1024), 2 points (one positive, one negative), multimask
#   tiny:     sam2_tiny_random.overrides checkpoint (seed 0, 2.8 MB) + full gzip dump on the zebra image, and the
#             committed-size variant on Tests/Fixtures/reference/image_small.png with --max-bytes 131072 --gzip (~1.4 MB)
#   fixtures: $DUMPS/sam2/fixtures/: the tiny checkpoint and three committed-size dumps on image_small.png
#             (2 points multimask; box + 1 point single mask; 1 point + random mask input single mask)
#   predictor: compare_predictor_sam2.py references ($DUMPS/sam2/predictor/{t,tiny}_random/), 3 held-out images
#   eval:     eval_reference.py --sam2-config t on 3 GrabCut objects, every protocol ($DUMPS/sam2/eval/)
#   amg:      amg_compare.py --sam2-config reference outputs on 5 COCO_MVal images for t and tiny ($DUMPS/sam2/amg/)
#   bf16:     t's DAVIS points dump again under dump_sam2.py --autocast bf16 (2.8 GB, beside the fp32 one)
# Each run's wall time and peak RSS go to $DUMPS/sam2/times.log. SKIP_EXISTING=1 skips every run whose output file
# exists. Both Python scripts write under a temporary name and rename at the end, so a rerun does not disturb a
# process that is reading the old file (it keeps the old inode).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DUMPS="${DUMPS:-/work/dumps}/sam2"
PY="${PYTHON:-python3}"
DATA="${DATA:-$ROOT/../shared/data}"
[ $# -eq 0 ] && set -- all
mkdir -p "$DUMPS"
LOG="$DUMPS/times.log"

run() {  # run NAME OUTPUT CMD... : time it, log wall time and peak memory
  local name=$1 out=$2; shift 2
  if [ "${SKIP_EXISTING:-0}" = 1 ] && [ -e "$out" ]; then echo "$name: $out exists, skipped"; return; fi
  /usr/bin/time -f "%e s wall, %M KB peak RSS" -o "$DUMPS/.time" "$@"
  echo "$name: $(cat "$DUMPS/.time")" | tee -a "$LOG"
}

ZEBRA="$ROOT/notebooks-data/demo/images/zebra07_000000504439.jpg"   # 500x243
SMALL="$ROOT/Tests/Fixtures/reference/image_small.png"              # 120x160
DAVIS="$DATA/DAVIS/images/050.jpg"                                  # 854x480, held out (not a demo-training frame)
ZEBRA_PTS=(--point 98,136,1 --point 400,60,0)
DAVIS_PTS=(--point 470,200,1 --point 150,420,0)   # on the dancer (mask id 1) / on the grass
DAVIS_BOX=(--box 342,60,577,340)                  # the dancer's tight box (masks/050.png == 1)
TINY=(--config t --override-file "$HERE/sam2_tiny_random.overrides")

ckpt() {  # ckpt NAME OUT.pt ARGS...: make_checkpoint_sam2.py ARGS --out OUT.pt
  local name=$1 out=$2; shift 2
  run "$name" "$out" "$PY" "$HERE/make_checkpoint_sam2.py" "$@" --out "$out"
}
dump() {  # dump NAME OUT.h5 ARGS...: dump_sam2.py ARGS --out OUT.h5
  local name=$1 out=$2; shift 2
  run "$name" "$out" "$PY" "$HERE/dump_sam2.py" "$@" --out "$out"
}
size_runs() {  # size_runs SIZE: checkpoint + full DAVIS points dump
  local size=$1 ck="$DUMPS/sam2.1_hiera_$1_random_seed0.pt"
  ckpt "sam2.1_${size}_make_checkpoint" "$ck" --config "$size" --seed 0
  dump "sam2.1_${size}_davis050_points_multi" "$DUMPS/sam2.1_${size}_random_davis050_points_multi.h5" \
      --checkpoint "$ck" --config "$size" --image "$DAVIS" "${DAVIS_PTS[@]}"
}

for WHAT in "$@"; do
case "$WHAT" in
t|all)
  ck="$DUMPS/sam2.1_hiera_t_random_seed0.pt"
  T=(--checkpoint "$ck" --config t)
  size_runs t
  dump sam2.1_t_zebra_points_multi "$DUMPS/sam2.1_t_random_zebra_points_multi.h5" "${T[@]}" \
      --image "$ZEBRA" "${ZEBRA_PTS[@]}"
  dump sam2.1_t_zebra_box_point_single_predict_only "$DUMPS/sam2.1_t_random_zebra_box_point_single.h5" "${T[@]}" \
      --image "$ZEBRA" --box 20,40,300,230 --point 98,136,1 --single-mask --predict-only --gzip
  dump sam2.1_t_davis050_box_point_single "$DUMPS/sam2.1_t_random_davis050_box_point_single.h5" "${T[@]}" \
      --image "$DAVIS" "${DAVIS_BOX[@]}" --point 470,200,1 --single-mask
  dump sam2.1_t_davis050_mask_random_single "$DUMPS/sam2.1_t_random_davis050_mask_random_single.h5" "${T[@]}" \
      --image "$DAVIS" --point 470,200,1 --mask-input random --mask-seed 0 --single-mask
  ;;&
s|all) size_runs s ;;&
b+|all) size_runs b+ ;;&
l|all) size_runs l ;;&
tiny|all)
  ck="$DUMPS/sam2.1_tiny_random_seed0.pt"
  ckpt sam2.1_tiny_make_checkpoint "$ck" "${TINY[@]}" --seed 0
  dump sam2.1_tiny_zebra_points_multi "$DUMPS/sam2.1_tiny_random_zebra_points_multi.h5" --checkpoint "$ck" \
      "${TINY[@]}" --image "$ZEBRA" "${ZEBRA_PTS[@]}" --gzip
  dump sam2.1_tiny_small_points_multi_small "$DUMPS/sam2.1_tiny_random_small_points_multi_131072.h5" \
      --checkpoint "$ck" "${TINY[@]}" --image "$SMALL" --point 64,80,1 --point 10,20,0 --max-bytes 131072 --gzip
  ;;&
fixtures|all)
  fx="$DUMPS/fixtures"; mkdir -p "$fx"
  ck="$fx/sam2.1_tiny_random.pt"
  FX=(--checkpoint "$ck" "${TINY[@]}" --image "$SMALL" --max-bytes 131072 --gzip)
  ckpt sam2.1_fixture_make_checkpoint "$ck" "${TINY[@]}" --seed 0
  dump sam2.1_fixture_points_multi "$fx/sam2.1_tiny_points_multi.h5" "${FX[@]}" --point 64,80,1 --point 10,20,0
  dump sam2.1_fixture_box_point_single "$fx/sam2.1_tiny_box_point_single.h5" "${FX[@]}" \
      --box 30,28,99,159 --point 64,80,1 --single-mask
  dump sam2.1_fixture_mask_random_single "$fx/sam2.1_tiny_mask_random_single.h5" "${FX[@]}" \
      --point 64,80,1 --mask-input random --mask-seed 0 --single-mask
  # the larger encoder outputs the 128 KB bound drops: a global block, a query-pooling block over padded windows
  dump sam2.1_fixture_encoder_points_multi "$fx/sam2.1_tiny_encoder_points_multi.h5" --checkpoint "$ck" "${TINY[@]}" \
      --image "$SMALL" --max-bytes 600000 --gzip \
      --modules '^image_encoder\.trunk\.blocks\.3(\.attn)?$|^image_encoder\.trunk\.blocks\.4(\.pool|\.attn)?$' \
      --point 64,80,1 --point 10,20,0
  ;;&
predictor|all)  # compare_predictor_sam2.py references: 3 held-out images x 5 prompt sets, t and tiny
  PRED_IMGS=(--images "$DAVIS" "$DATA/COCO_MVal/images/baseball bat04_000000270474.jpg" "$DATA/GrabCut/images/124080.jpg")
  run sam2.1_t_predictor "$DUMPS/predictor/t_random/index.json" "$PY" "$HERE/compare_predictor_sam2.py" \
      --checkpoint "$DUMPS/sam2.1_hiera_t_random_seed0.pt" --config t "${PRED_IMGS[@]}" --features \
      --out "$DUMPS/predictor/t_random"
  run sam2.1_tiny_predictor "$DUMPS/predictor/tiny_random/index.json" "$PY" "$HERE/compare_predictor_sam2.py" \
      --checkpoint "$DUMPS/sam2.1_tiny_random_seed0.pt" "${TINY[@]}" "${PRED_IMGS[@]}" --features \
      --out "$DUMPS/predictor/tiny_random"
  ;;&
eval|all)  # eval_reference.py --sam2-config on the first 3 GrabCut objects, every protocol
  run sam2.1_t_eval_grabcut3 "$DUMPS/eval/t_random_GrabCut_box.csv" "$PY" "$HERE/eval_reference.py" \
      --checkpoint "$DUMPS/sam2.1_hiera_t_random_seed0.pt" --sam2-config t --dataset "$DATA/GrabCut" \
      --ignore-value 128 --prompt box,point,center,random,box+point,jbox,clicks:3 --limit 3 \
      --out "$DUMPS/eval/t_random_GrabCut_{prompt}.csv"
  ;;
amg)  # not in "all": about 5-10 min per image and checkpoint here. --reuse keeps results already in --work.
  C=$DATA/COCO_MVal/images
  AMG_IMGS=(--image "$C/airplane09_000000208208.jpg" --image "$C/apple00_000000429281.jpg"
            --image "$C/backpack02_000000306139.jpg" --image "$C/banana02_000000571718.jpg"
            --image "$C/bear06_000000361180.jpg")
  AMG_OPTS=(--pred-iou-thresh 0.505 --stability-score-thresh 0.9 --stability-score-offset 1e-5 --box-nms-thresh 1.0
            --skip-swift --reuse)
  run sam2.1_t_amg "$DUMPS/amg/t_random.json" "$PY" "$HERE/amg_compare.py" --sam2-config t \
      --checkpoint "$DUMPS/sam2.1_hiera_t_random_seed0.pt" "${AMG_IMGS[@]}" "${AMG_OPTS[@]}" \
      --work "$DUMPS/amg/t_random" --json "$DUMPS/amg/t_random.json"
  run sam2.1_tiny_amg "$DUMPS/amg/tiny_random.json" "$PY" "$HERE/amg_compare.py" --sam2-config t \
      --override-file "$HERE/sam2_tiny_random.overrides" --checkpoint "$DUMPS/sam2.1_tiny_random_seed0.pt" \
      "${AMG_IMGS[@]}" "${AMG_OPTS[@]}" --work "$DUMPS/amg/tiny_random" --json "$DUMPS/amg/tiny_random.json"
  ;;
bf16)  # not in "all": t's DAVIS points dump under torch.autocast("cpu", bfloat16)
  ck="$DUMPS/sam2.1_hiera_t_random_seed0.pt"
  [ -e "$ck" ] || ckpt sam2.1_t_make_checkpoint "$ck" --config t --seed 0
  dump sam2.1_t_davis050_points_multi_bf16 "$DUMPS/sam2.1_t_random_davis050_points_multi_bf16.h5" \
      --checkpoint "$ck" --config t --image "$DAVIS" "${DAVIS_PTS[@]}" --autocast bf16
  ;;
t|s|b+|l|tiny|fixtures|predictor) ;;
*) echo "unknown: $WHAT (t|s|b+|l|tiny|fixtures|predictor|eval|amg|bf16|all)" >&2; exit 2 ;;
esac
done
