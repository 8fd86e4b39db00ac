"""Write a random light-family checkpoint as its package saves it (`torch.save(model.state_dict())`), with every
parameter and every BatchNorm statistic randomised (light_config.randomize), so that nothing a package initialises to
zero or one (TinyViT's attention_biases, BatchNorm weights and statistics, position tables) can hide a porting bug.

usage: make_checkpoint_light.py --model mobilesam|sam_hq_vit_b|...|efficientvit_sam_l0|... --seed S --out X.pth
"""

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import light_config  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=light_config.MODELS)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    t0 = time.time()
    torch.manual_seed(a.seed)
    m = light_config.randomize(a.model, light_config.build(a.model), a.seed)
    sd = m.state_dict()
    torch.save(sd, a.out)
    n = sum(p.numel() for p in m.parameters())
    print(f"{a.model}: {n / 1e6:.2f} M params, {len(sd)} tensors -> {a.out} "
          f"({os.path.getsize(a.out) / 1e6:.1f} MB) in {time.time() - t0:.1f} s; {light_config.versions(a.model)}")


if __name__ == "__main__":
    main()
