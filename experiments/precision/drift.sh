#!/usr/bin/env bash
# bf16 drift, module by module, on the reference dumps (made by experiments/reference/make_dumps.sh and
# make_dumps_sam2.sh, their `bf16` sections included): per-module CSVs in notebooks-data/precision/drift/.
#   tolerances: `sam verify --precision bf16` (every row, no tolerance) on the 18 float32 dumps the toolkit verifies
#               (ViT-B and SAM 2.1 t/s/b+/l with random weights, the demo checkpoint, the v1 and SAM 2 test
#               fixtures): the drift BF16Tolerance (Sources/SAMEval/Compare.swift) is set from.
#   paths:      for vit_b and sam2.1_hiera_t, three distances per module: ours (bf16) vs the float32 dump, PyTorch
#               under autocast bf16 vs the float32 dump, ours (bf16) vs PyTorch's bf16 dump.
# Then `python3 experiments/precision/drift_table.py` prints the tables of reports/precision/README.md.
# Usage: experiments/precision/drift.sh [tolerances|paths|all]  (DUMPS defaults to /work/dumps; release build of sam)
set -uo pipefail
cd "$(dirname "$0")/../.."
DUMPS="${DUMPS:-/work/dumps}"
S=${SAM:-.build/release/sam}
OUT=notebooks-data/precision/drift
mkdir -p "$OUT/tolerances" "$OUT/paths"
what=${1:-all}
# a row that fails its tolerance is data here, not an error: the exit status is ignored
v() { local name=$1; shift; "$S" verify "$@" --report "$OUT/$name.csv" >/dev/null; echo "$name: exit $?"; }
if [[ $what == tolerances || $what == all ]]; then
    T=tolerances
    v $T/vit_b --checkpoint "$DUMPS/vit_b_random.pth" --dump "$DUMPS/vit_b_random_coco_points_multi.h5" --precision bf16 --tolerance 1
    v $T/demo_tiny --checkpoint ../shared/checkpoints/sam_demo_tiny.pth --dump Tests/Fixtures/reference/demo_tiny_golden.h5 --precision bf16 --tolerance 1
    for s in t s b+ l; do
        v $T/sam2_$s --checkpoint "$DUMPS/sam2/sam2.1_hiera_${s}_random_seed0.pt" --dump "$DUMPS/sam2/sam2.1_${s}_random_davis050_points_multi.h5" --precision bf16 --tolerance 1
    done
    v $T/sam2_t_box_point_single --checkpoint "$DUMPS/sam2/sam2.1_hiera_t_random_seed0.pt" --dump "$DUMPS/sam2/sam2.1_t_random_davis050_box_point_single.h5" --precision bf16 --tolerance 1
    v $T/sam2_t_mask_random_single --checkpoint "$DUMPS/sam2/sam2.1_hiera_t_random_seed0.pt" --dump "$DUMPS/sam2/sam2.1_t_random_davis050_mask_random_single.h5" --precision bf16 --tolerance 1
    for f in tiny_box tiny_box_points tiny_mask_input tiny_one_point tiny_points_multi tiny_points_single; do
        v $T/fixture_$f --checkpoint Tests/Fixtures/reference/tiny_random.pth --dump Tests/Fixtures/reference/$f.h5 --precision bf16 --tolerance 1
    done
    for f in sam2.1_tiny_box_point_single sam2.1_tiny_mask_random_single sam2.1_tiny_points_multi sam2.1_tiny_encoder_points_multi; do
        v $T/fixture_$f --checkpoint Tests/Fixtures/sam2/sam2.1_tiny_random.pt --model-config Tests/Fixtures/sam2/sam2.1_tiny_random.json --dump Tests/Fixtures/sam2/$f.h5 --precision bf16 --tolerance 1
    done
fi
if [[ $what == paths || $what == all ]]; then
    P=paths
    vb=(--checkpoint "$DUMPS/vit_b_random.pth")
    v $P/vit_b_ours_vs_fp32 "${vb[@]}" --dump "$DUMPS/vit_b_random_coco_points_multi.h5" --precision bf16
    v $P/vit_b_torch_vs_fp32 --dump "$DUMPS/vit_b_random_coco_points_multi_bf16.h5" --against "$DUMPS/vit_b_random_coco_points_multi.h5" --tolerance 1
    v $P/vit_b_ours_vs_torch "${vb[@]}" --dump "$DUMPS/vit_b_random_coco_points_multi_bf16.h5" --precision bf16
    t=(--checkpoint "$DUMPS/sam2/sam2.1_hiera_t_random_seed0.pt")
    v $P/sam2_t_ours_vs_fp32 "${t[@]}" --dump "$DUMPS/sam2/sam2.1_t_random_davis050_points_multi.h5" --precision bf16
    v $P/sam2_t_torch_vs_fp32 --dump "$DUMPS/sam2/sam2.1_t_random_davis050_points_multi_bf16.h5" --against "$DUMPS/sam2/sam2.1_t_random_davis050_points_multi.h5" --tolerance 1
    v $P/sam2_t_ours_vs_torch "${t[@]}" --dump "$DUMPS/sam2/sam2.1_t_random_davis050_points_multi_bf16.h5" --precision bf16
fi
