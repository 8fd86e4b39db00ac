#!/usr/bin/env bash
# Error catalogue: runs the release `sam` on ≥ 30 kinds of bad input and writes the catalogue section of
# reports/robustness/README.md (between its "bad-inputs" markers) with each case's exit status and exact stderr.
# Rerun: experiments/fuzz/bad_inputs.sh [path/to/sam]   (default .build/release/sam)
# Needs python3 with numpy, h5py and Pillow (images, HDF5 files); the broken checkpoints are made from the bundled
# demo checkpoint by experiments/fuzz/pth_tools.py (standard library: no torch needed, no pickle executed).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SAM=$(realpath "${1:-.build/release/sam}")
README=${README:-reports/robustness/README.md}
OUT=$(mktemp /tmp/sam-bad-table-XXXXXX)
T=$(mktemp -d /tmp/sam-bad-XXXXXX)
trap 'rm -rf "$T" "$OUT" "$OUT.tmp"' EXIT
CK=notebooks-data/demo/sam_demo_tiny_fp16.pth
FX=Tests/SAMIOTests/Fixtures
IMG=$T/img.png

PYTHONPATH=experiments/fuzz python3 - "$T" "$CK" <<'PY'
import sys, os, json, struct, collections, numpy as np, h5py
from PIL import Image
import pth_tools as pt
t, ck = sys.argv[1], sys.argv[2]
Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(f"{t}/img.png")
Image.fromarray(np.zeros((48, 64), np.uint8)).save(f"{t}/mask_zero.png")
Image.fromarray(np.full((40, 64), 255, np.uint8)).save(f"{t}/mask_40x64.png")
open(f"{t}/empty.pth", "wb").close()
open(f"{t}/png_named.h5", "wb").write(open(f"{t}/img.png", "rb").read())
open(f"{t}/empty.png", "wb").close()
d = open(ck, "rb").read()
open(f"{t}/truncated.pth", "wb").write(d[: len(d) // 2])
sd = pt.read(ck)
def save(tensors, name): pt.write(collections.OrderedDict(tensors), f"{t}/{name}")
extra = dict(sd); extra["image_encoder.extra_layer.weight"] = pt.Tensor.contiguous("HalfStorage", [0, 0, 0], [3])
save(extra, "unknown_key.pth")
k = "mask_decoder.iou_prediction_head.layers.0.weight"
wrong = dict(sd); w = sd[k]  # [:, :-1]: the same storage, one column fewer, rows keep their stride
wrong[k] = pt.Tensor(w.dtype, w.key, w.data, w.offset, (w.size[0], w.size[1] - 1), w.stride); save(wrong, "wrong_shape.pth")
missing = dict(sd); del missing[k]; save(missing, "missing_key.pth")
# torch.save(..., _use_new_zipfile_serialization=False) begins with PROTO 2 and the LONG1 magic number
open(f"{t}/legacy.pth", "wb").write(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.")
save({"w": pt.Tensor.contiguous("LongStorage", [0, 0], [2])}, "int64.pth")
# image_encoder.neck.0.weight = torch.tensor(1.0): a scalar view of a one-element storage
scalar = dict(sd); scalar["image_encoder.neck.0.weight"] = pt.Tensor.contiguous("HalfStorage", [1.0], [])
save(scalar, "scalar_neck.pth")
# a NaN in one weight: element 5 of image_encoder.blocks.1.mlp.lin2.bias (its storage rewritten, same size)
nan = dict(sd); b = sd["image_encoder.blocks.1.mlp.lin2.bias"]
vals = list(struct.unpack("<%de" % (len(b.data) // 2), b.data)); vals[b.offset + 5] = float("nan")
nan["image_encoder.blocks.1.mlp.lin2.bias"] = pt.Tensor(b.dtype, b.key, struct.pack("<%de" % len(vals), *vals), b.offset, b.size, b.stride)
save(nan, "nan_weight.pth")
open(f"{t}/notes.pth", "w").write("These are my notes about the model, not its weights.\n")
open(f"{t}/huge_header.safetensors", "wb").write((10**12).to_bytes(8, "little") + b"{}")
open(f"{t}/not_json.safetensors", "wb").write((4).to_bytes(8, "little") + b"{abc")
# prompts
json.dump([{"points": [[10, 10]], "lables": [1]}], open(f"{t}/p_unknown_key.json", "w"))
open(f"{t}/p_malformed.json", "w").write('[{"points": [[10, 10]]')
json.dump([], open(f"{t}/p_empty.json", "w"))
json.dump([{"points": [[10, 10, 3]]}], open(f"{t}/p_three_coords.json", "w"))
json.dump([{"points": [[10, 10]], "labels": [2]}], open(f"{t}/p_bad_label.json", "w"))
json.dump([{"points": [[10, 10], [20, 20]], "labels": [1]}], open(f"{t}/p_labels_count.json", "w"))
json.dump([{"multimask": True}], open(f"{t}/p_no_prompt.json", "w"))
json.dump([{"box": [5, 5, 500, 20]}], open(f"{t}/p_box_outside.json", "w"))
with h5py.File(f"{t}/logits_64.h5", "w") as f:
    f.create_dataset("low_res_logits", data=np.zeros((3, 64, 64), np.float32))
with h5py.File(f"{t}/not_embedding.h5", "w") as f:
    f.create_dataset("x", data=np.zeros(3, np.float32))
# data sets
for name, mh in [("ds_mismatch", 40), ("ds_empty", 48), ("ds_ok", 48)]:
    os.makedirs(f"{t}/{name}/images"); os.makedirs(f"{t}/{name}/masks")
    Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(f"{t}/{name}/images/a.png")
    Image.fromarray(np.zeros((mh, 64), np.uint8) if name == "ds_empty" else np.full((mh, 64), 255, np.uint8)).save(f"{t}/{name}/masks/a.png")
open(f"{t}/coco_malformed.json", "w").write('{"images": [')
json.dump({"images": [{"id": 1, "file_name": "img.png", "height": 48, "width": 64}],
           "annotations": [{"id": 1, "image_id": 1, "segmentation": {"size": [48, 64], "counts": [1, 5000000000]}}]},
          open(f"{t}/coco_bad_rle.json", "w"))
json.dump({"images": [{"id": 1, "file_name": "img.png", "height": 48, "width": 64}],
           "annotations": [{"id": 1, "image_id": 9, "segmentation": [[1, 1, 5, 1, 5, 5]]}]},
          open(f"{t}/coco_unknown_image.json", "w"))
json.dump({"images": [{"id": 1, "file_name": "img.png", "height": 48, "width": 64}],
           "annotations": [{"id": 1, "image_id": 1, "segmentation": [[1, 1, 1e300, 1, 5, 5]]}]},
          open(f"{t}/coco_far_polygon.json", "w"))
PY
cp "$IMG" "$T/coco_images_img.png" 2>/dev/null

n=0
{
echo "Produced by \`experiments/fuzz/bad_inputs.sh\` with \`$(basename "$SAM")\` (release build) on $(date -u +%F). Temporary"
echo "paths are shown as \`\$T\`. Exit status: 0 success, 1 a comparison failed, 64 bad command line (ArgumentParser), 3 bad input."
echo
echo "| # | bad input | command | exit | stderr |"
echo "|---:|---|---|---:|---|"
} > "$OUT.tmp"

run() {  # run "kind" args...
    local kind=$1; shift
    n=$((n + 1))
    local err rc
    err=$(cd "$T" && timeout 300 "$SAM" "$@" 2>&1 >/dev/null)
    rc=$?
    local shown
    shown=$(printf '%s' "$err" | sed "s#$T#\$T#g; s#$ROOT/##g" | grep -v '^$' | head -4 | tr '\n' ' ' | sed 's/|/\\|/g' | cut -c1-400)
    local cmd
    cmd=$(printf '%s ' "$@" | sed "s#$T/##g; s#$ROOT/##g" | cut -c1-120)
    printf '| %d | %s | `sam %s` | %d | %s |\n' "$n" "$kind" "$cmd" "$rc" "$shown" >> "$OUT.tmp"
    echo "$n $kind -> $rc" >&2
}
C=$ROOT/$CK
seg() { run "$1" segment --checkpoint "$2" --image "$3" "${@:4}" --out "$T/out"; }
P=(--point 10,10)
seg "missing checkpoint file" "$T/nope.pth" "$IMG" "${P[@]}"
seg "empty checkpoint file" "$T/empty.pth" "$IMG" "${P[@]}"
seg "checkpoint is a folder" "$T" "$IMG" "${P[@]}"
seg "truncated zip (.pth cut in half)" "$T/truncated.pth" "$IMG" "${P[@]}"
seg "corrupt central directory" "$ROOT/$FX/checkpoints/bad_central_directory.pth" "$IMG" "${P[@]}"
seg "forbidden pickle global" "$ROOT/$FX/checkpoints/bad_forbidden_global.pth" "$IMG" "${P[@]}"
seg "forbidden global via STACK_GLOBAL" "$ROOT/$FX/checkpoints/bad_forbidden_stack_global.pth" "$IMG" "${P[@]}"
seg "truncated pickle" "$ROOT/$FX/checkpoints/bad_pickle_truncated.pth" "$IMG" "${P[@]}"
seg "compressed (deflated) zip entry" "$ROOT/$FX/checkpoints/bad_deflated.pth" "$IMG" "${P[@]}"
seg "storage shorter than its tensor" "$ROOT/$FX/checkpoints/bad_storage_short.pth" "$IMG" "${P[@]}"
seg "tensor view beyond its storage" "$ROOT/$FX/checkpoints/bad_view_out_of_range.pth" "$IMG" "${P[@]}"
seg "pickle is not a dict of tensors" "$ROOT/$FX/checkpoints/bad_not_a_dict.pth" "$IMG" "${P[@]}"
seg "legacy (pre-1.6) torch.save" "$T/legacy.pth" "$IMG" "${P[@]}"
seg "int64 tensor" "$T/int64.pth" "$IMG" "${P[@]}"
seg "unknown key" "$T/unknown_key.pth" "$IMG" "${P[@]}"
seg "missing key" "$T/missing_key.pth" "$IMG" "${P[@]}"
seg "wrong shape" "$T/wrong_shape.pth" "$IMG" "${P[@]}"
seg "scalar in place of a weight (neck.0.weight = torch.tensor(1.0))" "$T/scalar_neck.pth" "$IMG" "${P[@]}"
run "scalar in place of a weight, verify" verify --checkpoint "$T/scalar_neck.pth" --dump "$ROOT/Tests/Fixtures/reference/demo_tiny_golden.h5"
seg "NaN in a weight" "$T/nan_weight.pth" "$IMG" "${P[@]}"
run "NaN in a weight, eval" eval --checkpoint "$T/nan_weight.pth" --dataset "$T/ds_ok" --prompt box --out "$T/eval_nan.csv"
seg "text file named .pth" "$T/notes.pth" "$IMG" "${P[@]}"
seg "not a checkpoint (a module's state)" "$ROOT/$FX/checkpoints/tiny_module_fp32.pth" "$IMG" "${P[@]}"
seg "safetensors huge header length" "$T/huge_header.safetensors" "$IMG" "${P[@]}"
seg "safetensors header not JSON" "$T/not_json.safetensors" "$IMG" "${P[@]}"
seg "safetensors unsupported dtype" "$ROOT/$FX/checkpoints/bad_dtype.safetensors" "$IMG" "${P[@]}"
seg "safetensors offsets beyond data" "$ROOT/$FX/checkpoints/bad_offsets.safetensors" "$IMG" "${P[@]}"
seg "missing image" "$C" "$T/nope.jpg" "${P[@]}"
seg "empty image file" "$C" "$T/empty.png" "${P[@]}"
seg "not an image" "$C" "$ROOT/$FX/images/bad/not_an_image.png" "${P[@]}"
seg "truncated JPEG" "$C" "$ROOT/$FX/images/bad/truncated.jpg" "${P[@]}"
seg "truncated progressive JPEG" "$C" "$ROOT/$FX/images/bad/truncated_progressive.jpg" "${P[@]}"
seg "corrupt JPEG header" "$C" "$ROOT/$FX/images/bad/corrupt_header.jpg" "${P[@]}"
seg "truncated PNG" "$C" "$ROOT/$FX/images/bad/truncated.png" "${P[@]}"
seg "PNG with a bad IHDR CRC" "$C" "$ROOT/$FX/images/bad/bad_ihdr_crc.png" "${P[@]}"
seg "huge PNG header (100000×100000)" "$C" "$ROOT/$FX/images/bad/huge_100000x100000.png" "${P[@]}"
seg "huge JPEG header (65000×65000)" "$C" "$ROOT/$FX/images/bad/huge_65000x65000.jpg" "${P[@]}"
seg "huge BMP header (60000×60000)" "$C" "$ROOT/$FX/images/bad/huge_60000x60000.bmp" "${P[@]}"
seg "truncated BMP" "$C" "$ROOT/$FX/images/bad/truncated.bmp" "${P[@]}"
seg "point outside the image" "$C" "$IMG" --point 500,10
seg "box with x1 < x0" "$C" "$IMG" --box 30,5,10,20
seg "box outside the image" "$C" "$IMG" --box 5,5,500,20
seg "malformed --point" "$C" "$IMG" --point 10,abc
seg "point label not 0/1" "$C" "$IMG" --point 10,10,7
seg "empty prompt" "$C" "$IMG"
seg "prompts JSON malformed" "$C" "$IMG" --prompts "$T/p_malformed.json"
seg "prompts JSON unknown key" "$C" "$IMG" --prompts "$T/p_unknown_key.json"
seg "prompts JSON empty list" "$C" "$IMG" --prompts "$T/p_empty.json"
seg "prompts JSON point with 3 coordinates" "$C" "$IMG" --prompts "$T/p_three_coords.json"
seg "prompts JSON label 2" "$C" "$IMG" --prompts "$T/p_bad_label.json"
seg "prompts JSON 2 points, 1 label" "$C" "$IMG" --prompts "$T/p_labels_count.json"
seg "prompts JSON prompt with neither points nor box" "$C" "$IMG" --prompts "$T/p_no_prompt.json"
seg "prompts JSON box outside the image" "$C" "$IMG" --prompts "$T/p_box_outside.json"
seg "missing prompts file" "$C" "$IMG" --prompts "$T/nope.json"
seg "--prompts together with --point" "$C" "$IMG" --prompts "$T/p_empty.json" --point 1,1
seg "mask input PNG of another size" "$C" "$IMG" --point 10,10 --mask-input "$T/mask_40x64.png"
seg "mask input logits of the wrong size" "$C" "$IMG" --point 10,10 --mask-input "$T/logits_64.h5"
seg "mask input file missing" "$C" "$IMG" --point 10,10 --mask-input "$T/nope.h5"
seg "mask input not HDF5" "$C" "$IMG" --point 10,10 --mask-input "$T/png_named.h5"
seg "embedding file not from sam embed" "$C" "$IMG" --point 10,10 --embedding "$T/not_embedding.h5"
ev() { run "$1" eval --checkpoint "$C" --dataset "$2" --prompt "${PROTO:-box}" --out "$T/eval_$((n + 1)).csv" "${@:3}"; }
ev "image/mask size mismatch" "$T/ds_mismatch"
ev "empty ground-truth mask" "$T/ds_empty"
ev "data set folder missing" "$T/nope_ds"
ev "COCO JSON malformed" "$T/coco_malformed.json" --images "$T"
ev "COCO RLE count beyond 32 bits" "$T/coco_bad_rle.json" --images "$T"
ev "COCO annotation of an unknown image" "$T/coco_unknown_image.json" --images "$T"
ev "COCO polygon far outside the image" "$T/coco_far_polygon.json" --images "$T"
PROTO=boxx ev "unknown protocol" "$T/ds_mismatch"
run "unknown option" segment --checkpoint "$C" --image "$IMG" --point 1,1 --out "$T/o" --colour red
run "missing required option" segment --checkpoint "$C" --point 1,1 --out "$T/o"
run "unknown subcommand" segmnet --checkpoint "$C"
run "unknown --model-type" bench --model-type vit_z --runs 1
run "verify with a missing dump" verify --checkpoint "$C" --dump "$T/nope.h5"
# the table replaces what lies between the README's markers
python3 - "$README" "$OUT.tmp" <<'PY'
import sys
readme, table = sys.argv[1], open(sys.argv[2]).read()
text = open(readme).read()
begin, end = "<!-- bad-inputs:begin (experiments/fuzz/bad_inputs.sh) -->", "<!-- bad-inputs:end -->"
i, j = text.index(begin) + len(begin), text.index(end)
open(readme + ".tmp", "w").write(text[:i] + "\n" + table + text[j:])
PY
mv "$README.tmp" "$README"
echo "wrote the catalogue section of $README ($n cases)" >&2
