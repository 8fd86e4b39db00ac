#!/bin/bash
# `sam auto` for the crop option set of issue 5 on the lent machine's 16 cores (the local 2-core machine would need
# hours). That machine has no Swift runtime: the binary is built with --static-swift-stdlib and travels xz-compressed in
# .build-amg/amgcarry with libjpeg.so.62 (also missing there). Meta's side is computed by device_refs.sh; the finished
# images' JSON and timings come back in $OUT/swift.tgz and are merged into the local work folder.
# Outcome (2026-11-26): no image finished within the 330 s of device time that were left. That VM also reports a
# generic "Intel(R) Xeon(R) Processor", which OpenBLAS reads as Prescott (SSE3 kernels) on the local machine; the run
# did not set OPENBLAS_CORETYPE (not measured there). Every `sam auto` run of the acceptance was made locally
# (run_local.sh).
set -u
C=.build-amg/amgcarry
START=$(date +%s)
DEADLINE=${DEADLINE:-360}
python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" $C/sam-static.xz /tmp/sam
chmod +x /tmp/sam
export LD_LIBRARY_PATH=$C/lib
ldd /tmp/sam | grep "not found"
/tmp/sam auto --help > /dev/null || { echo "sam does not run"; exit 11; }
nproc
IMGS=""
for f in ${IMAGES:-airplane09_000000208208.jpg apple00_000000429281.jpg 101085.jpg 000.jpg 106024.jpg}; do IMGS="$IMGS --image $C/images/$f"; done
T="--pred-iou-thresh 0.1 --stability-score-thresh 0.5 --stability-score-offset 0.1"
W=/tmp/swiftwork
timeout $(( DEADLINE - ($(date +%s) - START) )) python3 experiments/reference/amg_compare.py \
  --checkpoint notebooks-data/demo/sam_demo_tiny_fp16.pth --sam /tmp/sam --reuse --skip-reference $IMGS --work $W/crops \
  $T --crop-n-layers 1 --min-mask-region-area 100 > $W.log 2>&1
echo "rc $? at $(( $(date +%s) - START )) s"
cp $W.log $W/ 2>/dev/null
tar czf "$OUT/swift.tgz" -C $W .
tail -n 12 $W.log
