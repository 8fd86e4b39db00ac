#!/bin/bash
# The local half of the issue-5 acceptance runs (this 2-core machine): `sam auto` against the references computed on
# the lent GPU machine (device_refs.sh, unpacked into $ACC/{base,default,crops}), and Meta's generator on this CPU for
# the base option set, for timing and memory side by side. Run from the repository root.
#   ACC=/tmp/amg/acc CPU=/tmp/amg/cpu_base SAM=/tmp/amg/bin/sam bash experiments/amg/run_local.sh default|base|crops
set -u
# OpenBLAS reads this machine's CPU (a VM reporting "Intel(R) Xeon(R) Processor") as Prescott and runs its SSE3 GEMM
# kernels; the CPU has AVX-512, and the SkylakeX kernels make `sam auto` about 2.4× faster here. PyTorch uses MKL with
# AVX-512 either way. The variable is read when libopenblas loads, so it is set for the child processes here.
if grep -q avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}; fi
D=../shared/data
IMGS="--image $D/COCO_MVal/images/airplane09_000000208208.jpg --image $D/COCO_MVal/images/apple00_000000429281.jpg"
IMGS="$IMGS --image $D/Berkeley/images/101085.jpg --image $D/DAVIS/images/000.jpg --image $D/GrabCut/images/106024.jpg"
T="--pred-iou-thresh 0.1 --stability-score-thresh 0.5 --stability-score-offset 0.1"
CMP="python3 experiments/reference/amg_compare.py --checkpoint notebooks-data/demo/sam_demo_tiny_fp16.pth --sam $SAM --reuse $IMGS"
case "$1" in
  default) $CMP --work "$ACC/default" --json notebooks-data/amg/default.json ;;
  base)    $CMP --work "$CPU" $T --json notebooks-data/amg/base_cpu.json
           # the same Swift outputs against the GPU-machine reference
           mkdir -p "$ACC/base/swift"
           for m in "$CPU"/*.meta.json; do
             python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); b['swift']=a['swift']; json.dump(b, open(sys.argv[2],'w'))" "$m" "$ACC/base/$(basename $m)"
           done
           cp "$CPU"/swift/*.json "$ACC/base/swift/"
           $CMP --work "$ACC/base" $T --json notebooks-data/amg/base.json ;;
  crops)   $CMP --work "$ACC/crops" $T --crop-n-layers 1 --min-mask-region-area 100 --json notebooks-data/amg/crops.json ;;
esac
