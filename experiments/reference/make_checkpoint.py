"""Write a random SAM checkpoint in the official format (`torch.save(model.state_dict())`).

Every parameter is overwritten with random values, so that nothing the reference initialises to zero or identity
(rel_pos tables, pos_embed, LayerNorm affine, biases) can hide a porting bug:
  * LayerNorm / LayerNorm2d weight: 1 + normal(0, 0.1); their bias: normal(0, 0.02)
  * every other parameter (conv/linear weights and biases, embeddings, pos_embed, rel_pos_h/w): normal(0, 0.02)
The buffer prompt_encoder.pe_layer.positional_encoding_gaussian_matrix keeps its constructor value
(torch.randn under the same seed), exactly as the reference creates it.

usage: make_checkpoint.py (--model-type vit_b|vit_l|vit_h|demo_tiny|demo_small | --config custom.json)
                          --seed S --out X.pth [--fp16]
"""

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam_config  # noqa: E402
from segment_anything.modeling.common import LayerNorm2d  # noqa: E402
import dumpkit  # noqa: E402


def randomize(model, seed):
    """`dumpkit.randomize` with this package's norm layers."""
    return dumpkit.randomize(model, seed, (torch.nn.LayerNorm, LayerNorm2d))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--model-type", choices=sorted(sam_config.PRESETS))
    g.add_argument("--config", help="custom size, JSON")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fp16", action="store_true", help="store float16 tensors (like sam_demo_*_fp16.pth)")
    a = ap.parse_args()

    t0 = time.time()
    cfg, name = sam_config.resolve_config(model_type=a.model_type, config_path=a.config)
    torch.manual_seed(a.seed)  # the constructor's own init (incl. the PE gaussian buffer) is seeded too
    model = sam_config.build_sam(cfg)
    randomize(model, a.seed)
    sd = model.state_dict()
    if a.fp16:
        sd = type(sd)((k, v.half() if v.is_floating_point() else v) for k, v in sd.items())
        sd._metadata = model.state_dict()._metadata
    torch.save(sd, a.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"{name}: {n / 1e6:.2f} M params, {len(sd)} tensors -> {a.out} "
          f"({os.path.getsize(a.out) / 1e6:.1f} MB) in {time.time() - t0:.1f} s; torch {torch.__version__}")


if __name__ == "__main__":
    main()
