#!/usr/bin/env bash
# Coverage-guided fuzzing of one target in libFuzzer's fork mode, for targets whose run.sh pass stops at the first
# finding: runs until N executions (or T seconds), keeps going past crashes, out-of-memory and timeouts, then
# replays every saved input alone and sorts it by where it failed:
#   libhdf5  - the first frame past the sanitizer, libc and Swift runtimes is inside libhdf5 (its own parser: not
#              counted, per issue 7; an allocation libhdf5 makes from a size in the file lands here too)
#   slow     - a timeout whose report has no such frame
#   ours     - anything else (copied to findings/)
# Usage: experiments/fuzz/fork.sh TARGET [N=100000] [T=1500]. Prints one Markdown row and writes
# logs/TARGET-fork.log, logs/TARGET-fork-classes.txt. Needs samfuzz (build.sh).
set -uo pipefail
cd "$(dirname "$0")"
T=$1; N=${2:-100000}; SECS=${3:-1500}
mkdir -p findings logs work/$T work/$T-fork
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=0:handle_abort=1}
art=work/$T-fork-artifacts/
start=$(date +%s)
# CLASSIFY_ONLY=1: sort the inputs of the last run again (e.g. after a fix, or with a new samfuzz) without fuzzing
if [[ ${CLASSIFY_ONLY:-0} != 1 ]]; then rm -rf "$art"; mkdir -p "$art"
SAMFUZZ_TARGET=$T SAMFUZZ_TMP=${SAMFUZZ_TMP:-/dev/shm} ./samfuzz work/$T-fork work/$T corpus/$T -fork=1 \
    -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=2048 \
    -max_len=${MAXLEN:-16384} -max_total_time=$SECS -runs=$N -artifact_prefix=$art > logs/$T-fork.log 2>&1
fi
end=$(date +%s)
# fork mode prints "#<execs>: cov: ... oom/timeout/crash: a/b/c ..." after each job
last=$(grep -E '^#[0-9]+: cov:' logs/$T-fork.log | tail -1)
execs=$(echo "$last" | sed -E 's/^#([0-9]+):.*/\1/')
: > logs/$T-fork-classes.txt
ours=0; lib=0; slow=0
for f in "$art"*; do
    [[ -f $f ]] || continue
    out=$(SAMFUZZ_TARGET=$T timeout 60 ./samfuzz "$f" -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=2048 2>&1)
    # the first frame of the report that is neither the sanitizer/libFuzzer runtime, libc, nor Swift's runtime
    first=$(echo "$out" | grep -E '^ *#[0-9]+ 0x' \
        | grep -vE 'libclang_rt|compiler-rt|sanitizer|asan|fuzzer::|libc\.so|sysdeps|nptl/|stdlib/|debug/|libio/|signal/|string/|__libc_start|libswiftCore|libstdc\+\+|libdispatch|libFoundation' | head -1)
    if echo "$first" | grep -qE 'libhdf5|in H5[A-Za-z_]'; then cls=libhdf5; lib=$((lib+1))
    elif [[ -z $first ]] && echo "$out" | grep -q 'ERROR: libFuzzer: timeout'; then cls=slow; slow=$((slow+1))
    else cls=ours; ours=$((ours+1)); cp "$f" findings/$T-fork-ours-$(basename "$f"); fi
    echo "$cls $(basename "$f") $(echo "$out" | grep -m1 -E 'ERROR|error|Fatal' | cut -c1-160)" >> logs/$T-fork-classes.txt
done
printf '| %s | %s | %s | %s | %s | %s |\n' "$T" "${execs:-0}" "$ours" "$lib" "$slow" "$((end - start))"
