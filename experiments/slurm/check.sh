#!/usr/bin/env bash
# The Slurm array and merge jobs of this folder on a real Slurm: a single-node cluster started on this machine.
#
#   experiments/slurm/check.sh [--sam PATH] [--checkpoint CKPT] [--dataset DIR] [--prompt P] [--eval-args "..."]
#
# 1. Installs slurm-wlm and munge with apt when slurmctld, slurmd or munged is missing.
# 2. Writes a munge key and a slurm.conf for this one node (its real hostname, every CPU) into a temporary folder and
#    starts munged, slurmctld and slurmd from it as background processes; nothing is written under /etc, and a trap
#    stops all three and removes the folder on exit.
# 3. Submits eval_array.sbatch as a 2-task array and eval_merge.sbatch with --dependency=afterok on the array.
# 4. Once task 1's journal holds at least KILL_AFTER rows, `scontrol requeue`s that task while it runs: Slurm kills it
#    and queues it again, and its second run resumes from the journal.
# 5. Runs the same `sam eval` unsharded and compares its CSV with the merged one, row for row.
# Exit 0 when both jobs completed, task 1 ran twice and the merged CSV equals the unsharded one.
# Not part of `make test` (it installs packages and starts daemons); its result is in reports/eval/README.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SAM=.build/release/sam
CKPT=notebooks-data/demo/sam_demo_tiny_fp16.pth
DATA=../shared/data/GrabCut
PROMPT=box
EVAL_ARGS="--ignore-value 128"
KILL_AFTER=${KILL_AFTER:-8}
while [ $# -gt 0 ]; do
  case "$1" in
    --sam) SAM=$2; shift 2 ;; --checkpoint) CKPT=$2; shift 2 ;; --dataset) DATA=$2; shift 2 ;;
    --prompt) PROMPT=$2; shift 2 ;; --eval-args) EVAL_ARGS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$SAM" ] || { echo "no $SAM: swift build -c release --product sam" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (slurmd starts jobs as their user; munged and apt need root)" >&2; exit 2; }

if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null || ! command -v munged > /dev/null; then
  echo "installing slurm-wlm and munge"
  DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm munge > /dev/null || { echo "apt-get install failed" >&2; exit 2; }
fi

T=$(mktemp -d /tmp/slurm-check.XXXXXX)
chmod 755 "$T"
PIDS=()
cleanup() {
  # Jobs still on this private cluster first (their slurmstepd and sam), then the daemons this script started, by
  # their ids; then the folder.
  if [ "${SLURM_CONF:-}" = "$T/slurm.conf" ] && [ -f "$SLURM_CONF" ]; then
    squeue -h -o %A 2> /dev/null | xargs -r scancel 2> /dev/null
    sleep 2
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -9 "$p" 2> /dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

H=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 8 / 10 ))
mkdir -p "$T/state" "$T/spool" "$T/munge" "$T/log"
chmod 711 "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
SOCK=$T/munge/munge.socket
cat > "$T/slurm.conf" << EOF
ClusterName=samcheck
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK,cred_expire=10
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool/%n
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=bf_interval=1
MinJobAge=600
NodeName=$H NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=check Nodes=$H Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$T/slurm.conf

munged --force --key-file="$T/munge/munge.key" --socket="$SOCK" --pid-file="$T/munge/munged.pid" \
  --log-file="$T/log/munged.log" --seed-file="$T/munge/munge.seed" --foreground > "$T/log/munged.out" 2>&1 &
PIDS+=($!)
sleep 1
slurmctld -D -f "$SLURM_CONF" > "$T/log/slurmctld.out" 2>&1 &
PIDS+=($!)
sleep 2
slurmd -D -f "$SLURM_CONF" > "$T/log/slurmd.out" 2>&1 &
PIDS+=($!)

for i in $(seq 1 30); do
  state=$(sinfo -h -N -o %T 2> /dev/null | head -1)
  [ "$state" = idle ] && break
  sleep 1
done
if [ "$state" != idle ]; then
  echo "node not idle after 30 s (state: ${state:-none})" >&2
  tail -n 20 "$T"/log/*.log "$T"/log/*.out >&2
  exit 1
fi
echo "cluster: $(sinfo -h -o '%P %N %c CPUs %m MB %T') ($(sinfo -V))"

# The jobs write under OUT, their logs under $T/logs (--output overrides the sbatch files' logs/), nothing in the checkout.
OUT=$T/out
LOGS=$T/logs
mkdir -p "$OUT" "$LOGS"
export CHECKPOINT=$CKPT DATASET=$DATA PROMPTS=$PROMPT OUT EVAL_ARGS
name=${PROMPT//:/}
array=$(sbatch --parsable --array=1-2 --cpus-per-task=1 --mem=2G --output="$LOGS/sam-eval-%A_%a.log" \
  experiments/slurm/eval_array.sbatch) || exit 1
merge=$(sbatch --parsable --dependency=afterok:$array --mem=1G --output="$LOGS/sam-eval-merge-%j.log" \
  experiments/slurm/eval_merge.sbatch 2) || exit 1
echo "submitted: array job $array (tasks 1-2), merge job $merge (afterok:$array)"

journal=$OUT/$name.shard1-of-2.csv.partial
requeued=""
start=$(date +%s)
while :; do
  if [ -z "$requeued" ] && [ -f "$journal" ]; then
    rows=$(( $(grep -vc '^#' "$journal") - 1 ))
    if [ "$rows" -ge "$KILL_AFTER" ]; then
      echo "task ${array}_1 running with $rows rows in its journal: scontrol requeue ${array}_1"
      scontrol requeue "${array}_1" || exit 1
      requeued=$rows
    fi
  fi
  st=$(scontrol show job "$merge" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  case "$st" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) break ;; esac
  if scontrol show job "$merge" | grep -q DependencyNeverSatisfied; then echo "merge job: DependencyNeverSatisfied" >&2; break; fi
  if [ $(( $(date +%s) - start )) -gt 3600 ]; then echo "jobs not done after an hour" >&2; squeue >&2; exit 1; fi
  sleep 1
done
[ -n "$requeued" ] || { echo "task 1 finished before it could be killed: raise the work or lower KILL_AFTER" >&2; exit 1; }

echo "job states:"
scontrol show job "$array" | grep -E "JobId=|JobState=|Restarts=" | sed 's/^ */  /'
scontrol show job "$merge" | grep -E "JobId=|JobState=" | sed 's/^ */  /'
restarts=$(scontrol show job "${array}_1" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
mstate=$(scontrol show job "$merge" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
# The task's log is appended to (--open-mode=append): it holds the killed run and the resumed one.
echo "task 1 log, both runs:"
tr '\r' '\n' < "$LOGS/sam-eval-${array}_1.log" | grep -E "DUE TO JOB REQUEUE|objects, mIoU" | sed 's/^/  /'
resumed=$(tr '\r' '\n' < "$LOGS/sam-eval-${array}_1.log" | grep -o '([0-9]* resumed)' | head -1 | tr -dc 0-9)
echo "  the second run took ${resumed:-0} rows from the journal and evaluated the rest"
echo "merge log:"; sed 's/^/  /' "$LOGS/sam-eval-merge-$merge.log"

echo "unsharded: $SAM eval --checkpoint $CKPT --dataset $DATA --prompt $PROMPT $EVAL_ARGS"
"$SAM" eval --checkpoint "$CKPT" --dataset "$DATA" --prompt "$PROMPT" $EVAL_ARGS --out "$T/unsharded.csv" > /dev/null 2>&1 \
  || { echo "unsharded run failed" >&2; exit 1; }

merged=$OUT/$name.csv
s1=$(( $(wc -l < "$OUT/$name.shard1-of-2.csv") - 1 )); s2=$(( $(wc -l < "$OUT/$name.shard2-of-2.csv") - 1 ))
m=$(( $(wc -l < "$merged") - 1 )); u=$(( $(wc -l < "$T/unsharded.csv") - 1 ))
echo "rows: shard 1 $s1, shard 2 $s2, merged $m, unsharded $u"
ok=1
if cmp -s "$merged" "$T/unsharded.csv"; then echo "merged CSV equals the unsharded CSV row for row (byte-identical)"
else echo "merged CSV differs from the unsharded CSV:"; diff "$merged" "$T/unsharded.csv" | head; ok=0; fi
[ "$mstate" = COMPLETED ] || { echo "merge job $mstate"; ok=0; }
[ "${restarts:-0}" -ge 1 ] || { echo "task 1 was not restarted"; ok=0; }
[ $ok = 1 ] && echo "PASS" || echo "FAIL"
[ $ok = 1 ]
