#!/bin/bash
# Meta's generator for the acceptance option sets of issue 5 on a lent GPU machine: the network on the GPU (float32,
# no TF32), filtering, RLEs and every NMS in PyTorch's and torchvision's CPU kernels (amg_compare.py --ref-device cuda).
# That machine has torch and OpenCV but neither segment_anything (carried: .build-amg/amgcarry/py, Meta's package as
# installed here, commit dca509f) nor pycocotools (the worker then writes uncompressed RLEs) nor the Swift runtime, so
# `sam auto` runs here and amg_compare.py --reuse matches both sides. The checkpoint is the bundled
# notebooks-data/demo/sam_demo_tiny_fp16.pth, whose 230 tensors widened to float32 equal
# ../shared/checkpoints/sam_demo_tiny.pth (torch.equal on every key). Run from the repository root with OUT set.
set -u
C=.build-amg/amgcarry
export PYTHONPATH=$C/py
START=$(date +%s)
python3 -c "import torch, segment_anything, cv2; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), segment_anything.__file__)"
IMGS=""
for f in airplane09_000000208208.jpg apple00_000000429281.jpg 101085.jpg 000.jpg 106024.jpg; do IMGS="$IMGS --image $C/images/$f"; done
T="--pred-iou-thresh 0.1 --stability-score-thresh 0.5 --stability-score-offset 0.1"
CMP="python3 experiments/reference/amg_compare.py --checkpoint notebooks-data/demo/sam_demo_tiny_fp16.pth --ref-device cuda --reuse --skip-swift $IMGS"
$CMP --work "$OUT/base" $T > "$OUT/ref_base.log" 2>&1; echo "base rc $? at $(( $(date +%s) - START )) s"
$CMP --work "$OUT/default" > "$OUT/ref_default.log" 2>&1; echo "default rc $? at $(( $(date +%s) - START )) s"
$CMP --work "$OUT/crops" $T --crop-n-layers 1 --min-mask-region-area 100 > "$OUT/ref_crops.log" 2>&1; echo "crops rc $? at $(( $(date +%s) - START )) s"
tail -n 4 "$OUT"/ref_*.log
