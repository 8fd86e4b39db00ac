#!/usr/bin/env bash
# Runs every fuzz target for N executions (default 100000) and prints a Markdown table:
# parser, executions, crashes, hangs, out-of-memory, seconds. Usage: experiments/fuzz/run.sh [N] [target ...]
# Needs experiments/fuzz/samfuzz (build.sh). Limits per input: 10 s (-timeout, a hang), 2 GiB per allocation
# (-malloc_limit_mb) and 4 GiB RSS; inputs up to 16 KiB, 256 KiB for pth/safetensors (whole-model seeds, MAXLEN
# overrides; the SAM 2.1 seeds are 110 and 141 KB). Findings go to experiments/fuzz/findings/, logs to experiments/fuzz/logs/.
set -uo pipefail
cd "$(dirname "$0")"
N=${1:-100000}; shift || true
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(pth safetensors png jpeg bmp coco sa1b rle rle-amg prompt hdf5 ablation)
mkdir -p findings logs work
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=0:handle_abort=1}
echo "| parser | executions | crashes | hangs | out-of-memory | time (s) | corpus after |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for t in "${targets[@]}"; do
    seeds=corpus/$t
    [[ $t == rle-amg ]] && seeds=corpus/rle
    mkdir -p work/$t
    # checkpoints run through the loader and a forward pass: their seeds are whole models (micro_sam_*: 30-60 KB)
    maxlen=${MAXLEN:-16384}
    # (a SAM 2.1 seed has ~300 tensors: 140 KB as .safetensors, 175 KB as .pth, whatever its values)
    [[ $t == pth || $t == safetensors ]] && maxlen=${MAXLEN:-262144}
    start=$(date +%s.%N)
    SAMFUZZ_TARGET=$t SAMFUZZ_TMP=${SAMFUZZ_TMP:-/dev/shm} ./samfuzz work/$t $seeds -runs=$N -timeout=10 \
        -rss_limit_mb=4096 -malloc_limit_mb=2048 -max_len=$maxlen -print_final_stats=1 \
        -artifact_prefix=findings/$t- > logs/$t.log 2>&1
    rc=$?
    end=$(date +%s.%N)
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' logs/$t.log | grep -o '[0-9]*$' | tail -1)
    crashes=0; hangs=0; oom=0
    grep -q 'ERROR: libFuzzer: timeout' logs/$t.log && hangs=1
    grep -Eq 'out-of-memory|malloc\(.*\) exceeds|rss limit' logs/$t.log && oom=1
    if [[ $rc -ne 0 && $hangs -eq 0 && $oom -eq 0 ]]; then crashes=1; fi
    printf '| %s | %s | %s | %s | %s | %.0f | %s |\n' "$t" "${runs:-0}" "$crashes" "$hangs" "$oom" \
        "$(echo "$end - $start" | bc)" "$(ls work/$t | wc -l)"
done
