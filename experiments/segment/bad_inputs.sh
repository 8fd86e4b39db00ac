#!/usr/bin/env bash
# Every bad input of issue 3 through the command line: the command, the message on stderr and the exit status.
#
#   experiments/segment/bad_inputs.sh [--sam PATH] [--out FILE]
#
# Prints the catalogue (the "Bad inputs" section of reports/segment/README.md) to standard output, or to FILE.
#
# Uses the shared demo checkpoints and GrabCut teddy.jpg (284 x 398). Inputs that must be made (truncated image,
# corrupt JSON, embeddings) are written to a temporary folder first; paths in the table are shortened to $T/...
set -uo pipefail
cd "$(dirname "$0")/../.."
SAM=.build/release/sam
OUT=/dev/stdout
while [ $# -gt 0 ]; do
  case "$1" in
    --sam) SAM=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
CK=../shared/checkpoints/sam_demo_tiny.pth
CK2=../shared/checkpoints/sam_demo_small_fp16.pth
IMG=../shared/data/GrabCut/images/teddy.jpg
T=$(mktemp -d /tmp/bad_inputs.XXXXXX)
trap 'rm -rf "$T"' EXIT

# --- inputs made for the cases -------------------------------------------------------------------------------------
head -c 6000 "$IMG" > "$T/truncated.jpg"
echo "not an image" > "$T/text.jpg"
head -c 100000 "$CK" > "$T/truncated.pth"
python3 - "$T" <<'PY'
import json, struct, sys, zlib
from PIL import Image
t = sys.argv[1]
Image.new("L", (100, 100), 255).save(f"{t}/mask_100x100.png")
Image.new("RGB", (40, 30), (90, 120, 30)).save(f"{t}/other_size.png")
def chunk(k, d): return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
open(f"{t}/huge_header.png", "wb").write(png)
open(f"{t}/corrupt.json", "w").write('[{"points": [[100, 200]], "labels": [1]}, {"box": [1, 2')
open(f"{t}/object.json", "w").write('{"points": [[100, 200]]}')
open(f"{t}/empty.json", "w").write('[]')
open(f"{t}/typo.json", "w").write(json.dumps([{"points": [[100, 200]]}, {"points": [[100, 200], [10, 10]], "lables": [1, 0]}]))
open(f"{t}/outside.json", "w").write(json.dumps([{"points": [[100, 200]]}, {"box": [10, 10, 50, 50]}, {"points": [[300, 20]]}]))
open(f"{t}/inverted.json", "w").write(json.dumps([{"box": [200, 50, 100, 300]}]))
open(f"{t}/no_prompt.json", "w").write(json.dumps([{"points": [[100, 200]]}, {"multimask": False}]))
open(f"{t}/labels.json", "w").write(json.dumps([{"points": [[100, 200], [20, 20]], "labels": [1]}]))
PY
"$SAM" embed --checkpoint "$CK2" --image "$IMG" --out "$T/emb_small_ckpt.h5" > /dev/null
"$SAM" embed --checkpoint "$CK" --image "$T/other_size.png" --out "$T/emb_other_size.h5" > /dev/null
"$SAM" segment --checkpoint Tests/Fixtures/reference/tiny_random.pth --image Tests/Fixtures/reference/image_small.png \
    --point 60,80 --out "$T/tiny_round1" > /dev/null
"$SAM" segment --checkpoint "$CK" --image "$IMG" --point 145,179 --out "$T/round1" > /dev/null

# --- the cases ---------------------------------------------------------------------------------------------------
ROWS="$T/rows.md"
: > "$ROWS"
run() {  # run WHAT ARGS...
  local what=$1; shift
  local err rc
  err=$("$SAM" "$@" 2>&1 >/dev/null); rc=$?
  local cmd="sam $*"
  local msg
  msg=$(printf '%s' "$err" | grep -v '^Usage:\|^  See\|^$\|^Help:' | head -n 2 | tr '\n' ' ')
  cmd=${cmd//$T/\$T}; msg=${msg//$T/\$T}
  cmd=${cmd//|/\\|}; msg=${msg//|/\\|}
  printf '| %s | `%s` | %s | %s |\n' "$what" "$cmd" "$msg" "$rc" >> "$ROWS"
  printf '%-45s rc=%s  %s\n' "$what" "$rc" "$msg" >&2
}
S=(segment --checkpoint "$CK" --image "$IMG")
run "point outside the image (x = width)" "${S[@]}" --point 284,20 --out "$T/o"
run "point outside the image (negative)" "${S[@]}" --point 100,-3,0 --out "$T/o"
run "point far outside" "${S[@]}" --point 145,179 --point 5000,5000,0 --out "$T/o"
run "box with x1 < x0" "${S[@]}" --box 200,50,100,300 --out "$T/o"
run "box with y1 < y0" "${S[@]}" --box 50,300,200,100 --out "$T/o"
run "box beyond the image" "${S[@]}" --box 0,0,300,398 --out "$T/o"
run "empty prompt" "${S[@]}" --out "$T/o"
run "point label not 0/1" "${S[@]}" --point 10,20,2 --out "$T/o"
run "point with one number" "${S[@]}" --point 10 --out "$T/o"
run "box with three numbers" "${S[@]}" --box 1,2,3 --out "$T/o"
run "mask input PNG of another size" "${S[@]}" --point 145,179 --mask-input "$T/mask_100x100.png" --out "$T/o"
run "mask input logits of another model size (32x32)" "${S[@]}" --point 145,179 --mask-input "$T/tiny_round1/low_res_logits.h5" --out "$T/o"
run "--mask-index out of range" "${S[@]}" --point 145,179 --mask-input "$T/round1/low_res_logits.h5" --mask-index 3 --out "$T/o"
run "mask input that is no HDF5" "${S[@]}" --point 145,179 --mask-input "$T/text.jpg" --out "$T/o"
run "missing image" segment --checkpoint "$CK" --image /nonexistent/photo.jpg --point 1,1 --out "$T/o"
run "missing checkpoint" segment --checkpoint /nonexistent/sam.pth --image "$IMG" --point 1,1 --out "$T/o"
run "truncated checkpoint" segment --checkpoint "$T/truncated.pth" --image "$IMG" --point 1,1 --out "$T/o"
run "truncated image (first 6000 bytes)" segment --checkpoint "$CK" --image "$T/truncated.jpg" --point 1,1 --out "$T/o"
run "not an image" segment --checkpoint "$CK" --image "$T/text.jpg" --point 1,1 --out "$T/o"
run "image header claiming 100000x100000" segment --checkpoint "$CK" --image "$T/huge_header.png" --point 1,1 --out "$T/o"
run "corrupt prompts JSON" "${S[@]}" --prompts "$T/corrupt.json" --out "$T/o"
run "prompts JSON not a list" "${S[@]}" --prompts "$T/object.json" --out "$T/o"
run "prompts JSON empty list" "${S[@]}" --prompts "$T/empty.json" --out "$T/o"
run "prompts JSON with a misspelt key" "${S[@]}" --prompts "$T/typo.json" --out "$T/o"
run "prompts JSON: prompt 2 outside the image" "${S[@]}" --prompts "$T/outside.json" --out "$T/o"
run "prompts JSON: inverted box" "${S[@]}" --prompts "$T/inverted.json" --out "$T/o"
run "prompts JSON: prompt without points or box" "${S[@]}" --prompts "$T/no_prompt.json" --out "$T/o"
run "prompts JSON: 2 points, 1 label" "${S[@]}" --prompts "$T/labels.json" --out "$T/o"
run "missing prompts file" "${S[@]}" --prompts /nonexistent/prompts.json --out "$T/o"
run "--prompts with --point" "${S[@]}" --prompts "$T/outside.json" --point 1,1 --out "$T/o"
run "embedding of another checkpoint" "${S[@]}" --embedding "$T/emb_small_ckpt.h5" --point 145,179 --out "$T/o"
run "embedding of another image size" "${S[@]}" --embedding "$T/emb_other_size.h5" --point 145,179 --out "$T/o"
run "embedding file that is no embedding" "${S[@]}" --embedding "$T/round1/low_res_logits.h5" --point 145,179 --out "$T/o"
run "missing embedding file" "${S[@]}" --embedding /nonexistent/emb.h5 --point 145,179 --out "$T/o"
run "sam embed: missing image" embed --checkpoint "$CK" --image /nonexistent/photo.jpg --out "$T/e.h5"

mkdir -p "$(dirname "$OUT")"
{
  echo "# Bad inputs of \`sam segment\` / \`sam embed\` (issue 3)"
  echo
  echo "Made by \`experiments/segment/bad_inputs.sh\` with \`$SAM\`, checkpoint \`$CK\`, image \`$IMG\` (284 x 398)."
  echo "\`\$T\` is the script's temporary folder (inputs it wrote: truncated and fake images, JSON files, embeddings of"
  echo "another checkpoint and another image size, a 32 x 32 low_res_logits.h5 of the tiny test model)."
  echo "Exit status: 64 bad command line, 3 bad input (README). The message is stderr's first line(s), usage text dropped."
  echo
  echo "| case | command | message | exit |"
  echo "|---|---|---|---|"
  cat "$ROWS"
} > "$OUT"
echo "wrote $OUT" >&2
