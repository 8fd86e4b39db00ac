#!/usr/bin/env bash
# Issue 6, "memory flat over a 1000-image evaluation (no growth)": one `sam ablate` process evaluates the demo_tiny
# checkpoint (point protocol) over every image of the four shared data sets, DAVIS twice (96 + 188 + 345 + 50 + 345 =
# 1024 images, one encoder pass each; DAVIS merged, its published protocol), while this script samples the process's resident memory (VmRSS) every second.
#
#   experiments/bench/memory_over_images.sh [--sam PATH] [--out DIR]
#
# Writes DIR/memory_over_images.csv (seconds, rss_mb, images_done; default DIR notebooks-data/bench) and prints the
# table of reports/bench/README.md: RSS after the first 10 % of the images, at the middle and at the end, the peak, and
# the slope of a line fitted to the second half.
# Images done are counted from the rows the evaluation has flushed to its CSVs (.partial journals while running).
set -euo pipefail
cd "$(dirname "$0")/../.."
SAM=.build/release/sam
OUT=notebooks-data/bench
while [ $# -gt 0 ]; do
  case "$1" in
    --sam) SAM=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$SAM" ] || { echo "$SAM: build it with swift build -c release --product sam" >&2; exit 2; }
WORK=$(mktemp -d /tmp/memory_over_images.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
D=$(cd ../shared/data && pwd)
cat > "$WORK/config.json" <<JSON
{"name": "memory", "checkpoints": [{"name": "tiny", "path": "$(cd ../shared/checkpoints && pwd)/sam_demo_tiny.pth"}],
 "datasets": [{"name": "Berkeley", "path": "$D/Berkeley", "rotate_mismatched": true},
              {"name": "COCO_MVal", "path": "$D/COCO_MVal"},
              {"name": "DAVIS", "path": "$D/DAVIS", "instances": "merged"},
              {"name": "GrabCut", "path": "$D/GrabCut", "ignore_value": 128},
              {"name": "DAVIS_again", "path": "$D/DAVIS", "instances": "merged"}],
 "protocols": ["point"], "seed": 0, "csv_dir": "$WORK/csv", "report": "$WORK/report.md", "model_size": false}
JSON
"$SAM" ablate "$WORK/config.json" --no-model-size > "$WORK/ablate.log" 2>&1 &
PID=$!
START=$(date +%s.%N)
echo "seconds,rss_mb,images_done" > "$OUT/memory_over_images.csv"
while kill -0 "$PID" 2> /dev/null; do
  RSS=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status" 2> /dev/null || echo "")
  # (sam may re-execute itself with OPENBLAS_CORETYPE set: execv keeps the PID) rows flushed, one per object
  DONE=$(find "$WORK/csv" -name '*.csv*' -exec cat {} + 2> /dev/null | grep -vc '^id,' || true)
  [ -n "$RSS" ] && echo "$(python3 -c "print(round($(date +%s.%N) - $START, 1))"),$((RSS / 1024)),$DONE" >> "$OUT/memory_over_images.csv"
  sleep 1
done
wait "$PID" || { cat "$WORK/ablate.log" >&2; exit 1; }
python3 - "$OUT" <<'PY'
import csv, sys
out = sys.argv[1]
rows = [(float(r["seconds"]), float(r["rss_mb"]), int(r["images_done"])) for r in csv.DictReader(open(f"{out}/memory_over_images.csv"))]
n = max(r[2] for r in rows)
def at(frac):
    target = frac * n
    return next(r for r in rows if r[2] >= target)
half = [r for r in rows if r[2] >= n / 2]
xs = [r[2] for r in half]; ys = [r[1] for r in half]
mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(1e-9, sum((x - mx) ** 2 for x in xs))
L = ["# Resident memory over a 1024-image evaluation (one process)", "",
     "`experiments/bench/memory_over_images.sh`: `sam ablate` with demo_tiny, point protocol, over Berkeley, COCO_MVal, DAVIS, "
     "GrabCut and DAVIS again (one encoder pass per image); VmRSS sampled every second. Acceptance (issue 6): memory flat "
     "(no growth).", "",
     f"| objects done | RSS (MB) |", "|---|---|"]
for frac in (0.1, 0.25, 0.5, 0.75, 1.0):
    r = at(frac)
    L.append(f"| {r[2]} ({int(frac * 100)} %) | {r[1]:.0f} |")
L += ["", f"Peak {max(r[1] for r in rows):.0f} MB over {rows[-1][0]:.0f} s; slope over the second half "
      f"{slope * 1000:.3f} MB per 1000 objects.", "",
      "Time per object in each quarter (scaling: linear in the number of images when these agree):", "",
      "| quarter | objects | ms per object |", "|---|---|---|"]
prev_k, prev_t = 0, 0.0
for q in range(1, 5):
    r = at(q / 4)
    L.append(f"| {q} | {prev_k + 1}–{r[2]} | {1000 * (r[0] - prev_t) / max(1, r[2] - prev_k):.0f} |")
    prev_k, prev_t = r[2], r[0]
print("\n".join(L))
PY
