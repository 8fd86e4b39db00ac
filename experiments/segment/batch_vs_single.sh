#!/usr/bin/env bash
# Issue 3 acceptance, "64 prompts in one batch give masks agreeing with 64 single calls on >= 99.99 % of pixels,
# in at most half their time", on both shared demo checkpoints with the release build.
#
#   experiments/segment/batch_vs_single.sh [--sam PATH] [--image IMG] [--runs N] [--reps R] [--out DIR]
#
# 1. The acceptance figure (command line, what a user runs): `sam embed` once, then one `sam segment --embedding
#    --prompts` with 64 one-point prompts (an 8 x 8 grid over the image) against 64 `sam segment --embedding --point`
#    calls, each side timed R times, alternating (on a shared machine the load changes between runs);
#    ratio = median(batched call) / median(64 calls). Both write the same files (masks, overlay, logits, result.json).
#    Agreement from the first repetition: masks pixel by pixel, IoU predictions and low-res logits by max |difference|.
# 2. For reference (library level, `sam bench`, synthetic 1024x1024 image, one-point prompts, multimask): the prompt
#    encoder + mask decoder + postprocessing of one predictBatch call with 64 prompts against one call with 1 prompt,
#    on a predictor whose image is set (medians of N runs after a warm-up, measured in the order 64, 1, 64, 1). A single
#    call uses both cores inside its kernels, and a batch shares only the image's preparation with it (which the
#    predictor keeps for every call on the image), so this ratio sits near 1 on two cores; it is not the acceptance figure.
# Writes DIR/batch_vs_single.json (default DIR notebooks-data/segment) and prints the Markdown tables of
# reports/segment/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
SAM=.build/release/sam
IMAGE=../shared/data/COCO_MVal/images/bear03_000000375015.jpg
RUNS=3
REPS=3
OUT=notebooks-data/segment
while [ $# -gt 0 ]; do
  case "$1" in
    --sam) SAM=$2; shift 2 ;;
    --image) IMAGE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$SAM" ] || { echo "$SAM: build it with swift build -c release --product sam" >&2; exit 2; }
WORK=$(mktemp -d /tmp/batch_vs_single.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
ROWS="$WORK/rows.jsonl"
: > "$ROWS"
for CKPT in ../shared/checkpoints/sam_demo_tiny.pth ../shared/checkpoints/sam_demo_small_fp16.pth; do
  NAME=$(basename "$CKPT" .pth)
  echo "== $NAME: sam bench --batch 64 / --batch 1 (runs $RUNS)" >&2
  for PASS in a b; do
    "$SAM" bench --checkpoint "$CKPT" --batch 64 --runs "$RUNS" --json > "$WORK/$NAME.b64$PASS.json"
    "$SAM" bench --checkpoint "$CKPT" --batch 1 --runs "$RUNS" --json > "$WORK/$NAME.b1$PASS.json"
  done
  echo "== $NAME: 64 prompts through the command line, batched and one by one" >&2
  "$SAM" embed --checkpoint "$CKPT" --image "$IMAGE" --out "$WORK/$NAME.emb.h5" > /dev/null
  python3 - "$IMAGE" "$WORK/$NAME.prompts.json" <<'PY'
import json, sys
from PIL import Image
w, h = Image.open(sys.argv[1]).size
pts = [[int(w * (i % 8 + 0.5) / 8), int(h * (i // 8 + 0.5) / 8)] for i in range(64)]
json.dump([{"points": [p], "labels": [1]} for p in pts], open(sys.argv[2], "w"))
PY
  python3 -c "import json,sys; [print(f'{p[\"points\"][0][0]},{p[\"points\"][0][1]}') for p in json.load(open(sys.argv[1]))]" \
      "$WORK/$NAME.prompts.json" > "$WORK/$NAME.points.txt"
  : > "$WORK/$NAME.times"
  for REP in $(seq 1 "$REPS"); do
    rm -rf "$WORK/$NAME.batch" "$WORK/$NAME.single"
    T0=$(date +%s.%N)
    "$SAM" segment --checkpoint "$CKPT" --image "$IMAGE" --embedding "$WORK/$NAME.emb.h5" \
        --prompts "$WORK/$NAME.prompts.json" --out "$WORK/$NAME.batch" > /dev/null
    T1=$(date +%s.%N)
    i=0
    while read -r P; do
      "$SAM" segment --checkpoint "$CKPT" --image "$IMAGE" --embedding "$WORK/$NAME.emb.h5" --point "$P" \
          --out "$WORK/$NAME.single/$i" > /dev/null
      i=$((i + 1))
    done < "$WORK/$NAME.points.txt"
    T2=$(date +%s.%N)
    echo "$T0 $T1 $T2" >> "$WORK/$NAME.times"
    [ "$REP" = 1 ] && { rm -rf "$WORK/$NAME.batch1" "$WORK/$NAME.single1"; cp -r "$WORK/$NAME.batch" "$WORK/$NAME.batch1"; cp -r "$WORK/$NAME.single" "$WORK/$NAME.single1"; }
    echo "   rep $REP: batched $(python3 -c "print(round($T1 - $T0, 2))") s, 64 calls $(python3 -c "print(round($T2 - $T1, 2))") s" >&2
  done
  python3 - "$WORK" "$NAME" >> "$ROWS" <<'PY'
import json, os, sys
import h5py, numpy as np
from PIL import Image
work, name = sys.argv[1], sys.argv[2]
times = [list(map(float, l.split())) for l in open(f"{work}/{name}.times")]
cli_batch = [t1 - t0 for t0, t1, t2 in times]; cli_single = [t2 - t1 for t0, t1, t2 in times]
b64s = [json.load(open(f"{work}/{name}.b64{p}.json")) for p in "ab"]; b1s = [json.load(open(f"{work}/{name}.b1{p}.json")) for p in "ab"]
med = lambda xs: float(np.median(xs))  # noqa: E731
r64 = [x for b in b64s for x in b["decoder_runs"]]; r1 = [x for b in b1s for x in b["decoder_runs"]]
stages = lambda bs: {k: med([b["stages"][k] for b in bs]) for k in ("prompt encoder", "mask decoder", "mask postprocessing") if all(k in b.get("stages", {}) for b in bs)}  # noqa: E731
same = total = 0; worst = 1.0; d_iou = d_logit = 0.0
for i in range(64):
    a, b = f"{work}/{name}.batch1/{i}", f"{work}/{name}.single1/{i}"
    ra, rb = json.load(open(f"{a}/result.json")), json.load(open(f"{b}/result.json"))
    for ma, mb in zip(ra["masks"], rb["masks"]):
        x = np.array(Image.open(f"{a}/{ma['file']}")) > 0; y = np.array(Image.open(f"{b}/{mb['file']}")) > 0
        same += int((x == y).sum()); total += x.size; worst = min(worst, float((x == y).mean()))
    d_iou = max(d_iou, float(np.abs(np.array(ra["iou_predictions"]) - np.array(rb["iou_predictions"])).max()))
    la = h5py.File(f"{a}/low_res_logits.h5", "r")["low_res_logits"][...]; lb = h5py.File(f"{b}/low_res_logits.h5", "r")["low_res_logits"][...]
    d_logit = max(d_logit, float(np.abs(la - lb).max()))
print(json.dumps(dict(checkpoint=name, batch64_decoder_s=med(r64), batch1_decoder_s=med(r1),
                      batch64_runs=r64, batch1_runs=r1, ratio=med(r64) / (64 * med(r1)),
                      batch64_stages=stages(b64s), batch1_stages=stages(b1s),
                      batch64_gflop=b64s[0]["decoder_gflop"], batch1_gflop=b1s[0]["decoder_gflop"],
                      batch64_rss=b64s[0]["peak_rss_bytes"], batch1_rss=b1s[0]["peak_rss_bytes"],
                      pixels_equal=same, pixels=total, agreement=same / total, worst_mask_agreement=worst,
                      max_d_iou=d_iou, max_d_logit=d_logit, cli_batch_runs=cli_batch, cli_single_runs=cli_single,
                      cli_prompts_file_s=med(cli_batch), cli_64_calls_s=med(cli_single), cli_ratio=med(cli_batch) / med(cli_single),
                      encoder_s=med([b["encoder_seconds"] for b in b64s + b1s]))))
PY
done
python3 - "$ROWS" "$OUT" "$SAM" "$IMAGE" "$RUNS" <<'PY'
import json, sys, platform, os
rows = [json.loads(l) for l in open(sys.argv[1])]
out, sam, image, runs = sys.argv[2:]
json.dump(rows, open(f"{out}/batch_vs_single.json", "w"), indent=1)
L = ["# 64 prompts in one batch against 64 single calls", "",
     f"Command: `experiments/segment/batch_vs_single.sh` (sam: `{sam}`, image `{os.path.basename(image)}`, machine: "
     f"{os.cpu_count()} cores).", "",
     "## Acceptance: one `sam segment --prompts` call against 64 `sam segment --point` calls", "",
     "Both from the same cached embedding (`sam embed` once), both writing every file (three mask PNGs, overlay, "
     "low_res_logits.h5, result.json per prompt); each side timed in every repetition, alternating; medians. "
     "Acceptance: ratio <= 0.5 and >= 99.99 % of pixels equal.", "",
     "| checkpoint | batched call, s | 64 calls, s | ratio | runs (batched) | runs (64 calls) |", "|---|---|---|---|---|---|"]
for r in rows:
    L.append(f"| {r['checkpoint']} | {r['cli_prompts_file_s']:.2f} | {r['cli_64_calls_s']:.2f} | **{r['cli_ratio']:.2f}** | "
             f"{', '.join(f'{x:.2f}' for x in r['cli_batch_runs'])} | {', '.join(f'{x:.2f}' for x in r['cli_single_runs'])} |")
L += ["", "| checkpoint | pixels equal | of | agreement | worst mask | max abs dIoU | max abs dlogit |", "|---|---|---|---|---|---|---|"]
for r in rows:
    L.append(f"| {r['checkpoint']} | {r['pixels_equal']} | {r['pixels']} | {100 * r['agreement']:.5f} % | {100 * r['worst_mask_agreement']:.4f} % | "
             f"{r['max_d_iou']:.1e} | {r['max_d_logit']:.1e} |")
L += ["", f"## For reference: the library, `sam bench --batch 64` against `--batch 1` ({runs} timed runs after a warm-up, twice)", "",
      "Prompt encoder + mask decoder + postprocessing on a predictor whose image is set (synthetic 1024x1024 image, "
      "multimask, one-point prompts; medians). One prompt alone uses both cores inside its kernels, and the image's "
      "preparation (dense PE, src, layer 0's image-side projections) is kept by the predictor for every call, batched or "
      "not; so on two cores a batch is not much faster per prompt than single calls in one process.", "",
      "| checkpoint | batch of 64, s | one prompt, s | 64 x one prompt, s | ratio | runs (64) | runs (1) |", "|---|---|---|---|---|---|---|"]
for r in rows:
    L.append(f"| {r['checkpoint']} | {r['batch64_decoder_s']:.3f} | {r['batch1_decoder_s']:.4f} | {64 * r['batch1_decoder_s']:.3f} | "
             f"{r['ratio']:.2f} | {', '.join(f'{x:.3f}' for x in r['batch64_runs'])} | {', '.join(f'{x:.4f}' for x in r['batch1_runs'])} |")
L += ["", "| checkpoint | batch | prompt encoder | mask decoder | postprocessing | decoder GFLOP | GFLOP per prompt | GFLOP/s | peak RSS |",
      "|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    for b in ("64", "1"):
        st = r[f"batch{b}_stages"]; g = r[f"batch{b}_gflop"]; t = r[f"batch{b}_decoder_s"]
        tot = sum(st.values()) or float("nan")
        pct = lambda k: f"{100 * st[k] / tot:.1f} %" if k in st else "-"  # noqa: E731
        L.append(f"| {r['checkpoint']} | {b} | {pct('prompt encoder')} | {pct('mask decoder')} | {pct('mask postprocessing')} | "
                 f"{g:.1f} | {g / int(b):.3f} | {g / t:.2f} | {r[f'batch{b}_rss'] / 1e6:.0f} MB |")
L.append("")
print("\n".join(L))
ok = all(r["cli_ratio"] <= 0.5 and r["agreement"] >= 0.9999 for r in rows)
sys.exit(0 if ok else 1)
PY
