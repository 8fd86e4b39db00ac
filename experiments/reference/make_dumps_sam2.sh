#!/usr/bin/env bash
# SAM 2.1 reference checkpoints and dumps (sam2 1.1.0), not committed: $DUMPS/sam2 (DUMPS defaults to /work/dumps).
# Usage: make_dumps_sam2.sh [t|tiny|all]   (default all)
#   t:    random sam2.1_hiera_t checkpoint (seed 0, 156 MB) + a full dump (all modules, no gzip: ~2.8 GB) on the
#         bundled zebra image, 2 points, multimask; and a single-mask box + point dump with --predict-only
#   tiny: sam2_tiny_random.overrides checkpoint (seed 0, 2.8 MB) + full gzip dump on the zebra image, and the
#         committed-size variant on Tests/Fixtures/reference/image_small.png with --max-bytes 131072 --gzip (~1.4 MB)
# Each run's wall time and peak RSS go to $DUMPS/sam2/times.log.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DUMPS="${DUMPS:-/work/dumps}/sam2"
PY="${PYTHON:-python3}"
WHAT="${1:-all}"
mkdir -p "$DUMPS"
LOG="$DUMPS/times.log"

run() {  # run NAME CMD... : time it, log wall time and peak memory
  local name=$1; shift
  /usr/bin/time -f "%e s wall, %M KB peak RSS" -o "$DUMPS/.time" "$@"
  echo "$name: $(cat "$DUMPS/.time")" | tee -a "$LOG"
}

ZEBRA="$ROOT/notebooks-data/demo/images/zebra07_000000504439.jpg"   # 500x243
SMALL="$ROOT/Tests/Fixtures/reference/image_small.png"              # 120x160
ZEBRA_PTS=(--point 98,136,1 --point 400,60,0)
TINY=(--config t --override-file "$HERE/sam2_tiny_random.overrides")

if [ "$WHAT" = t ] || [ "$WHAT" = all ]; then
  ck="$DUMPS/sam2.1_hiera_t_random_seed0.pt"
  run sam2.1_t_make_checkpoint "$PY" "$HERE/make_checkpoint_sam2.py" --config t --seed 0 --out "$ck"
  run sam2.1_t_zebra_points_multi "$PY" "$HERE/dump_sam2.py" --checkpoint "$ck" --config t --image "$ZEBRA" \
      "${ZEBRA_PTS[@]}" --out "$DUMPS/sam2.1_t_random_zebra_points_multi.h5"
  run sam2.1_t_zebra_box_point_single_predict_only "$PY" "$HERE/dump_sam2.py" --checkpoint "$ck" --config t \
      --image "$ZEBRA" --box 20,40,300,230 --point 98,136,1 --single-mask --predict-only --gzip \
      --out "$DUMPS/sam2.1_t_random_zebra_box_point_single.h5"
fi
if [ "$WHAT" = tiny ] || [ "$WHAT" = all ]; then
  ck="$DUMPS/sam2.1_tiny_random_seed0.pt"
  run sam2.1_tiny_make_checkpoint "$PY" "$HERE/make_checkpoint_sam2.py" "${TINY[@]}" --seed 0 --out "$ck"
  run sam2.1_tiny_zebra_points_multi "$PY" "$HERE/dump_sam2.py" --checkpoint "$ck" "${TINY[@]}" --image "$ZEBRA" \
      "${ZEBRA_PTS[@]}" --gzip --out "$DUMPS/sam2.1_tiny_random_zebra_points_multi.h5"
  run sam2.1_tiny_small_points_multi_small "$PY" "$HERE/dump_sam2.py" --checkpoint "$ck" "${TINY[@]}" \
      --image "$SMALL" --point 64,80,1 --point 10,20,0 --max-bytes 131072 --gzip \
      --out "$DUMPS/sam2.1_tiny_random_small_points_multi_131072.h5"
fi
