#!/usr/bin/env bash
# Predictor parity of `sam verify` (the path `segment` runs, batches through predictBatch) with Meta's
# SAM2ImagePredictor on held-out images: the files of compare_predictor_sam2.py in DIR/<image>/<set>.h5, one row per
# file (masks agreeing, max |ΔIoU|, low-res logits rel-L2, max |Δ object score|).
# Usage: experiments/reference/parity_sam2.sh CHECKPOINT DIR   (release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
SAM=${SAM:-.build/release/sam}
CK=$1; DIR=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "| image | prompt set | rows passed | masks agree | max ΔIoU | low-res logits rel-L2 | max Δ object score |"
echo "|---|---|---|---|---|---|---|"
for d in "$DIR"/*/; do
  for f in "$d"*.h5; do
    [[ $(basename "$f") == features.h5 ]] && continue
    "$SAM" verify --checkpoint "$CK" --dump "$f" --report "$tmp/r.csv" > "$tmp/out.txt" 2>&1 || true
    python3 - "$tmp/r.csv" "$(basename "$d")" "$(basename "$f" .h5)" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def pick(suffix):
    return [r for r in rows if r["module"].endswith(suffix) and "fast path" not in r["module"]] or \
           [r for r in rows if r["module"].endswith(suffix)]
masks = pick("outputs/masks"); iou = pick("outputs/iou_predictions"); low = pick("outputs/low_res_logits")
obj = pick("outputs/object_score_logits")
agree = f"{100 * (1 - float(masks[0]['rel_l2'] if masks[0]['rel_l2'] not in ('', 'nan') else masks[0]['max_abs'])):.5f} %" if masks else "—"
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sum(int(r['passed']) for r in rows)}/{len(rows)} | {agree} | "
      f"{max(float(r['max_abs']) for r in iou):.1e} | {max(float(r['rel_l2']) for r in low):.2e} | "
      f"{max(float(r['max_abs']) for r in obj):.1e} |")
PY
  done
done
