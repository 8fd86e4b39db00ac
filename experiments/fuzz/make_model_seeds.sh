#!/usr/bin/env bash
# Writes the checkpoint seeds that reach the loader and a forward pass: corpus/safetensors/micro_sam.safetensors
# (float32, 32² input, ~8 K values, written by the Swift test
# HostileCheckpointTests.testMicroModelSeedLoadsBackAndRuns, which also checks that it loads back and runs) and
# corpus/pth/micro_sam.pth, micro_sam_fp16.pth (the same tensors as torch.save writes them, pth_tools.py); and the
# SAM 2.1 seed micro_sam2.safetensors / .pth (29 K values, HostileCheckpointTests.testMicroSAM2SeedLoadsBack); and the
# light family's (HostileCheckpointTests.testMicroLightSeeds): HQ-SAM and EfficientViT-SAM micro models, and a TinyViT
# file refused at its size check.
# The bundled demo checkpoints (16 MB, 483 KB) are far above libFuzzer's -max_len and would be cut.
set -euo pipefail
cd "$(dirname "$0")/../.."
SAM_FUZZ_SEED_DIR=$PWD/experiments/fuzz/corpus/safetensors \
    swift test ${SKIP_BUILD:+--skip-build} --filter 'HostileCheckpointTests.testMicro(ModelSeedLoadsBackAndRuns|SAM2SeedLoadsBack|LightSeeds)'
PYTHONPATH=experiments/fuzz python3 - <<'PY'
import struct, pth_tools as p
t = p.read_safetensors("experiments/fuzz/corpus/safetensors/micro_sam.safetensors")
p.write(t, "experiments/fuzz/corpus/pth/micro_sam.pth", top="micro_sam")
half = {k: p.Tensor.contiguous("HalfStorage", struct.unpack("<%df" % (len(v.data) // 4), v.data), v.size) for k, v in t.items()}
p.write(half, "experiments/fuzz/corpus/pth/micro_sam_fp16.pth", top="micro_sam_fp16")
t2 = p.read_safetensors("experiments/fuzz/corpus/safetensors/micro_sam2.safetensors")
p.write(t2, "experiments/fuzz/corpus/pth/micro_sam2.pth", top="micro_sam2")
for name in ("micro_sam_hq", "micro_efficientvit_sam", "micro_mobilesam_bounds"):
    t3 = p.read_safetensors(f"experiments/fuzz/corpus/safetensors/{name}.safetensors")
    p.write(t3, f"experiments/fuzz/corpus/pth/{name}.pth", top=name)
PY
ls -l experiments/fuzz/corpus/safetensors/micro_sam*.safetensors experiments/fuzz/corpus/pth/micro_sam*.pth
