#!/usr/bin/env bash
# SIGKILLs `sam segment`, `sam embed` and `sam eval` at random moments, K times each (default 40), and checks after
# every kill that no file at a final name is incomplete (check_outputs.py: PNG decoded, JSON parsed, HDF5 read,
# CSV rows complete, segment folders holding everything result.json lists). Output folders are reused across kills,
# so a kill can land while an earlier complete output is being replaced. Prints a table; exit 1 on any bad file.
# Usage: [CMDS="segment embed eval"] experiments/fuzz/kill_mid_write.sh [K] [path/to/sam]
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
K=${1:-40}
SAM=$(realpath "${2:-.build-fuzz/release/sam}")
CK=$ROOT/notebooks-data/demo/sam_demo_tiny_fp16.pth
IMG=$(ls "$ROOT"/notebooks-data/demo/images/*.jpg | head -1)
T=$(mktemp -d /tmp/sam-kill-XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/ds/images" "$T/ds/masks"
python3 - "$T" <<'PY'
import sys, numpy as np
from PIL import Image
t = sys.argv[1]
for i in range(6):
    Image.fromarray(np.full((96, 128, 3), 40 * i, np.uint8)).save(f"{t}/ds/images/im{i}.png")
    m = np.zeros((96, 128), np.uint8); m[10 + i:60, 20:90 + i] = 255
    Image.fromarray(m).save(f"{t}/ds/masks/im{i}.png")
PY
json='[{"points": [[100, 100]]}, {"box": [50, 60, 300, 280]}, {"points": [[200, 150], [50, 50]], "labels": [1, 0]}]'
echo "$json" > "$T/prompts.json"

timeit() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc; }
declare -A CMD
CMD[segment]="$SAM segment --checkpoint $CK --image $IMG --prompts $T/prompts.json --out $T/seg"
CMD[embed]="$SAM embed --checkpoint $CK --image $IMG --out $T/emb/embedding.h5"
CMD[eval]="$SAM eval --checkpoint $CK --dataset $T/ds --prompt box,point --out $T/ev/eval_{prompt}.csv"
mkdir -p "$T/emb" "$T/ev"
echo "| command | full run (s) | kills | killed before exit | files checked | bad files | temporaries at the end |"
echo "|---|---:|---:|---:|---:|---:|---:|"
total_bad=0
for c in ${CMDS:-segment embed eval}; do
    full=$(timeit ${CMD[$c]})
    killed=0; checked=0; bad=0; temps=0
    for ((i = 0; i < K; i++)); do
        # every 4th eval run starts from nothing; the others resume the journal the previous kill left
        [[ $c == eval && $((i % 4)) -eq 0 ]] && rm -f "$T"/ev/*
        ${CMD[$c]} >/dev/null 2>&1 &
        pid=$!
        sleep "$(python3 -c "import random; print(random.uniform(0, $full * 1.1))")"
        if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
        wait "$pid" 2>/dev/null
        r=$(python3 experiments/fuzz/check_outputs.py "$T/seg" "$T/emb" "$T/ev" 2>&1)
        line=$(echo "$r" | head -1)
        checked=$((checked + $(echo "$line" | sed 's/.*checked=\([0-9]*\).*/\1/')))
        b=$(echo "$line" | sed 's/.*bad=\([0-9]*\).*/\1/'); bad=$((bad + b))
        temps=$(echo "$line" | sed 's/.*temporaries=\([0-9]*\).*/\1/')
        [[ $b -gt 0 ]] && echo "$r" | tail -n +2 >&2
    done
    total_bad=$((total_bad + bad))
    printf '| `sam %s` | %.1f | %d | %d | %d | %d | %d |\n' "$c" "$full" "$K" "$killed" "$checked" "$bad" "$temps"
done
[[ $total_bad -eq 0 ]]
