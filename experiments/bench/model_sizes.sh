#!/usr/bin/env bash
# The size comparison of SAM v1 ViT-B/L/H and SAM 2.1 Hiera T/S/B+/L in one table: parameters (image model), analytic
# encoder GFLOP, encoder seconds, decoder milliseconds per prompt (one point, three masks), peak resident memory
# (model + one 1024² image + one prompt), each from `sam bench --model-type M --runs RUNS --json` (seeded random
# weights) in its own process, sizes in turn; and mIoU where a checkpoint is given: NAME=CHECKPOINT arguments are
# evaluated with `sam eval` on GrabCut (box and point protocols) and benchmarked from the checkpoint instead.
# Writes notebooks-data/bench/model_sizes.csv and prints the Markdown table (reports/bench/README.md).
# Usage: experiments/bench/model_sizes.sh [RUNS=2] [NAME=CHECKPOINT ...]   (release build; benchmark conditions as
# in reports/bench: run alone, OPENBLAS_* unset)
set -euo pipefail
cd "$(dirname "$0")/../.."
SAM=${SAM:-.build/release/sam}
RUNS=${1:-2}; shift || true
DATA=${DATA:-../shared/data/GrabCut}
out=notebooks-data/bench/model_sizes.csv
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)" >&2
echo "model,family,source,parameters,encoder_gflop,encoder_seconds,decoder_ms_per_prompt,peak_mb,miou_box,miou_point" > "$tmp/csv"
row() {  # row NAME FAMILY SOURCE JSON [MIOU_BOX MIOU_POINT]
  python3 - "$@" >> "$tmp/csv" <<'PY'
import json, sys
name, family, source, path = sys.argv[1:5]
mb = sys.argv[5] if len(sys.argv) > 5 else ""
mp = sys.argv[6] if len(sys.argv) > 6 else ""
j = json.load(open(path))
print(f"{name},{family},{source},{j['parameters']},{j['encoder_gflop']:.1f},{j['encoder_seconds']:.3f},"
      f"{j['decoder_seconds_per_prompt'] * 1e3:.1f},{j['peak_rss_bytes'] / 1e6:.0f},{mb},{mp}")
PY
}
for m in vit_b vit_l vit_h sam2.1_hiera_t sam2.1_hiera_s sam2.1_hiera_b+ sam2.1_hiera_l; do
  fam=SAM; [[ $m == sam2* ]] && fam="SAM 2.1"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$SAM" bench --model-type "$m" --runs "$RUNS" --json 2>/dev/null > "$tmp/$m.json"
  row "$m" "$fam" "random weights" "$tmp/$m.json"
  echo "$m done" >&2
done
for spec in "$@"; do
  name=${spec%%=*}; ck=${spec#*=}
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$SAM" bench --checkpoint "$ck" --runs "$RUNS" --json 2>/dev/null > "$tmp/$name.json"
  "$SAM" eval --checkpoint "$ck" --dataset "$DATA" --ignore-value 128 --prompt box,point --out "$tmp/$name-{prompt}.csv" > /dev/null 2>&1
  mb=$(python3 -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(f'{sum(float(x[\"iou\"]) for x in r)/len(r):.4f}')" "$tmp/$name-box.csv")
  mp=$(python3 -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(f'{sum(float(x[\"iou\"]) for x in r)/len(r):.4f}')" "$tmp/$name-point.csv")
  fam=$(python3 -c "import json,sys; print('SAM 2.1' if json.load(open(sys.argv[1]))['size'].startswith('sam2') else 'SAM')" "$tmp/$name.json")
  row "$name" "$fam" "$ck" "$tmp/$name.json" "$mb" "$mp"
done
mkdir -p "$(dirname "$out")"; cp "$tmp/csv" "$out"
python3 - "$out" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| model | family | weights | parameters | encoder GFLOP | encoder s | decoder ms / prompt | peak MB | GrabCut mIoU box / point |")
print("|---|---|---|---:|---:|---:|---:|---:|---|")
for r in rows:
    miou = f"{r['miou_box']} / {r['miou_point']}" if r["miou_box"] else "—"
    print(f"| {r['model']} | {r['family']} | {r['source']} | {int(r['parameters']) / 1e6:.1f} M | {r['encoder_gflop']} | "
          f"{r['encoder_seconds']} | {r['decoder_ms_per_prompt']} | {r['peak_mb']} | {miou} |")
PY
