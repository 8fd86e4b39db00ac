#!/usr/bin/env bash
# Every per-object CSV that both notebooks-data/eval/swift/<checkpoint>/ and notebooks-data/eval/reference/<checkpoint>/
# hold, compared with compare_eval.py (issue 4's thresholds), as one Markdown table on stdout.
# Exit 1 when any pair fails.   experiments/reference/compare_eval_all.sh [SWIFT_DIR] [REF_DIR]
set -uo pipefail
cd "$(dirname "$0")/../.."
S=${1:-notebooks-data/eval/swift}; R=${2:-notebooks-data/eval/reference}
echo "| checkpoint | data set | protocol | column | objects | within 1e-3 (noc: identical) | mean Swift | mean Meta | difference | worst (object) | pass |"
echo "|---|---|---|---|---:|---:|---:|---:|---:|---|---|"
fail=0
for f in "$S"/*/*.csv; do
  ck=$(basename "$(dirname "$f")"); name=$(basename "$f" .csv)
  ref="$R/$ck/$name.csv"
  [ -f "$ref" ] || continue
  ds=${name%_*}; proto=${name##*_}
  out=$(python3 experiments/reference/compare_eval.py "$f" "$ref" --markdown) || fail=1
  echo "$out" | grep '^|' | sed "s/^|/| $ck | $ds | $proto |/"
  echo "$out" | grep -v '^|' | sed 's/^/<!-- /; s/$/ -->/' >&2
done
exit $fail
