#!/usr/bin/env bash
# The encoder against this machine's own sgemm rate, with the OpenBLAS kernels the environment asks for and with the
# kernels sam picks for the CPU: `sam bench --json` alternately with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE as inherited
# (or as given by INHERITED, default "OPENBLAS_CORETYPE=Haswell" when nothing is inherited) and with both unset,
# ROUNDS rounds; prints one Markdown row per run and the medians per setting.
# Usage: experiments/bench/roofline.sh [MODEL_TYPE=vit_b] [ROUNDS=3]   (release build: swift build -c release --product sam)
set -euo pipefail
cd "$(dirname "$0")/../.."
SAM=${SAM:-.build/release/sam}
MODEL=${1:-vit_b}
ROUNDS=${2:-3}
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  INHERITED=${INHERITED:-"OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE${OPENBLAS_L2_SIZE:+ OPENBLAS_L2_SIZE=$OPENBLAS_L2_SIZE}"}
else
  INHERITED=${INHERITED:-"OPENBLAS_CORETYPE=Haswell"}
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| round | setting | kernels | encoder s | encoder GFLOP/s | sgemm GFLOP/s | encoder / sgemm | decoder ms |"
echo "|---|---|---|---|---|---|---|---|"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for r in $(seq 1 "$ROUNDS"); do
  # the side that runs first alternates between rounds
  order="inherited unset"; [ $((r % 2)) = 0 ] && order="unset inherited"
  for side in $order; do
    if [ "$side" = inherited ]; then
      env $INHERITED "$SAM" bench --model-type "$MODEL" --runs 3 --json 2>/dev/null > "$tmp/$side.$r.json"
    else
      env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$SAM" bench --model-type "$MODEL" --runs 3 --json 2>/dev/null > "$tmp/$side.$r.json"
    fi
    python3 - "$tmp/$side.$r.json" "$r" "$side ($( [ "$side" = inherited ] && echo "$INHERITED" || echo "both unset"))" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"| {sys.argv[2]} | {sys.argv[3]} | {j['blas_core']} | {j['encoder_seconds']:.3f} | {j['encoder_gflops_per_second']:.1f} | "
      f"{j['sgemm_gflops']:.1f} | {100 * j['encoder_roofline_fraction']:.1f} % | {1000 * j['decoder_seconds']:.1f} |")
PY
  done
done
echo
python3 - "$tmp" <<'PY'
import glob, json, statistics, sys
for side in ("inherited", "unset"):
    js = [json.load(open(f)) for f in sorted(glob.glob(f"{sys.argv[1]}/{side}.*.json"))]
    med = lambda k: statistics.median(j[k] for j in js)
    print(f"- {side}: kernels {js[0]['blas_core']}, encoder {med('encoder_seconds'):.3f} s, sgemm {med('sgemm_gflops'):.1f} GFLOP/s, "
          f"encoder at {100 * med('encoder_roofline_fraction'):.1f} % of it (medians of {len(js)} runs)")
PY
