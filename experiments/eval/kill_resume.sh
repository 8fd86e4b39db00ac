#!/usr/bin/env bash
# Issue 4: "a run killed with SIGKILL halfway and restarted gives a CSV identical to an uninterrupted run".
# Runs `sam eval` uninterrupted on the first N objects of a data set, then again from nothing, SIGKILLs it once its
# journal (OUT.csv.partial) holds half of the rows, restarts the same command, and compares the two CSVs byte for
# byte, for every protocol of the run. Repeats R times with the kill point moved by one row each time.
#   experiments/eval/kill_resume.sh [--sam PATH] [--checkpoint CKPT] [--dataset DIR] [--prompt P] [--limit N] [--repeats R]
# Exit 0 when every restarted CSV equals the uninterrupted one.
set -uo pipefail
cd "$(dirname "$0")/../.."
SAM=.build/release/sam
CKPT=notebooks-data/demo/sam_demo_tiny_fp16.pth
DATA=../shared/data/GrabCut
PROMPT=box,point,clicks:3
LIMIT=12
REPEATS=3
EXTRA="--ignore-value 128"
while [ $# -gt 0 ]; do
  case "$1" in
    --sam) SAM=$2; shift 2 ;; --checkpoint) CKPT=$2; shift 2 ;; --dataset) DATA=$2; EXTRA=""; shift 2 ;;
    --prompt) PROMPT=$2; shift 2 ;; --limit) LIMIT=$2; shift 2 ;; --repeats) REPEATS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
T=$(mktemp -d /tmp/kill-resume.XXXXXX)
trap 'rm -rf "$T"' EXIT
run() { "$SAM" eval --checkpoint "$CKPT" --dataset "$DATA" $EXTRA --prompt "$PROMPT" --limit "$LIMIT" --out "$1/{prompt}.csv"; }
run "$T/full" > /dev/null 2>&1 || { echo "uninterrupted run failed" >&2; exit 2; }
first=$(ls "$T/full"/*.csv | head -1)
fail=0
echo "| repeat | killed after rows | rows in the journal at the kill | restarted CSVs equal to the uninterrupted ones |"
echo "|---:|---:|---:|---|"
for ((r = 0; r < REPEATS; r++)); do
  d="$T/kill$r"; mkdir -p "$d"
  target=$((LIMIT / 2 + r - REPEATS / 2))
  run "$d" > /dev/null 2>&1 &
  pid=$!
  journal="$d/$(basename "$first").partial"
  # wait until the journal of the first protocol holds `target` complete rows (header and comment lines aside)
  while kill -0 "$pid" 2>/dev/null; do
    n=$( (grep -v '^#' "$journal" 2>/dev/null | tail -n +2 | grep -c '') || true)
    [ "${n:-0}" -ge "$target" ] && break
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  at=$( (grep -v '^#' "$journal" 2>/dev/null | tail -n +2 | grep -c '') || true)
  run "$d" > /dev/null 2>&1 || { echo "restart $r failed" >&2; fail=1; }
  same=yes
  for f in "$T/full"/*.csv; do cmp -s "$f" "$d/$(basename "$f")" || { same="no ($(basename "$f") differs)"; fail=1; }; done
  [ -n "$(ls "$d" | grep partial)" ] && { same="$same; journal left behind"; fail=1; }
  echo "| $r | $target | ${at:-0} | $same |"
done
echo
echo "$(ls "$T/full"/*.csv | wc -l) protocol CSVs of $LIMIT objects each ($PROMPT, $(basename "$CKPT"), $(basename "$DATA"))."
exit $fail
