#!/usr/bin/env python3
"""Where the image encoder's time goes, Meta's PyTorch code vs `sam bench`, stage by stage, alternating.

  python3 experiments/bench/stages_pytorch.py --model-type vit_b --runs 3 [--rounds 2] [--markdown FILE]

The whole-encoder ratio of `compare_pytorch.py` says how far apart the two are; this says which part of the encoder
makes the difference. PyTorch's modules are timed with forward hooks (exclusive times: an Attention's own time is
its forward less its qkv and proj linears; a Block's remainder is the window partition / unpartition and the residual
adds), grouped into the stages `sam bench` reports, and both sides run in fresh processes per round, PyTorch first in
odd rounds (glibc malloc tuned as in compare_pytorch.py, torch threads = cores). Reported per stage: the medians over
rounds of each side's per-run seconds (mean over the timed runs) and the ratio. The reference projects the windows'
zero padding (4900 tokens at 1024²) where `sam` projects the 4096 real ones, so its windowed blocks' qkv + proj do
about a fifth more arithmetic. The hooks cost PyTorch a few milliseconds per encoder pass.
"""
import os, statistics, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from compare_pytorch import common_parser, swift_run, torch_json  # noqa: E402

STAGES = ["patch embedding", "layer norms", "qkv + proj", "window partition", "windowed attention", "global attention",
          "MLP", "neck"]

TORCH_STAGES = r'''
import json, os, sys, time
sys.path.insert(0, os.path.join(sys.argv[1], "experiments", "reference"))
import torch
from sam_config import build_sam, preset_config, load_sam
torch.set_num_threads(os.cpu_count())
model_type, runs, ckpt = sys.argv[2], int(sys.argv[3]), sys.argv[4]
sam = load_sam(ckpt, model_type=None) if ckpt else build_sam(preset_config(model_type))
sam.eval()
enc = sam.image_encoder
acc, start, inner = {}, {}, {}

def timed(mod, stage, parent=None):
    # exclusive time: a module's forward less its timed children (`inner` collects their time per parent)
    def pre(m, args):
        start[id(m)] = time.perf_counter(); inner[id(m)] = 0.0
    def post(m, args, out):
        dt = time.perf_counter() - start[id(m)]
        acc[stage] = acc.get(stage, 0.0) + dt - inner[id(m)]
        if parent is not None: inner[id(parent)] += dt
    mod.register_forward_pre_hook(pre); mod.register_forward_hook(post)

timed(enc.patch_embed, "patch embedding")
timed(enc.neck, "neck")
for blk in enc.blocks:
    timed(blk, "window partition")
    timed(blk.norm1, "layer norms", blk); timed(blk.norm2, "layer norms", blk)
    timed(blk.mlp, "MLP", blk)
    timed(blk.attn, "windowed attention" if blk.window_size > 0 else "global attention", blk)
    timed(blk.attn.qkv, "qkv + proj", blk.attn); timed(blk.attn.proj, "qkv + proj", blk.attn)
x = torch.randn(1, 3, enc.img_size, enc.img_size)
total = []
with torch.no_grad():
    for i in range(runs + 1):
        if i == 1: acc.clear()
        t = time.perf_counter(); enc(x); dt = time.perf_counter() - t
        if i: total.append(dt)
print(json.dumps({"encoder_seconds": sorted(total)[len(total) // 2], "stages": {k: v / runs for k, v in acc.items()}}))
'''


def torch_stages(args):
    return torch_json(TORCH_STAGES, args.model_type or "", str(args.runs), args.checkpoint or "")


def swift_stages(args):
    out = swift_run(args, 1)
    stages = {k[len("encoder: "):]: v for k, v in out["stages"].items() if k.startswith("encoder: ")}
    return {"encoder_seconds": out["encoder_seconds"], "stages": stages}


def main():
    ap = common_parser(__doc__)
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()
    if not os.path.exists(args.sam):
        sys.exit(f"error: {args.sam} not found (swift build -c release --product sam)")
    torch_runs, swift_runs = [], []
    for r in range(args.rounds):
        order = [torch_stages, swift_stages] if r % 2 == 0 else [swift_stages, torch_stages]
        res = {f: f(args) for f in order}
        torch_runs.append(res[torch_stages]); swift_runs.append(res[swift_stages])
        print(f"round {r + 1}: torch {res[torch_stages]['encoder_seconds']:.3f} s | "
              f"swift {res[swift_stages]['encoder_seconds']:.3f} s", file=sys.stderr)
    med = statistics.median
    name = args.checkpoint or args.model_type
    lines = [f"| {name} stage | PyTorch (s) | SAMSwift (s) | ratio |", "|---|---|---|---|"]
    for st in STAGES:
        t = med(run["stages"].get(st, 0.0) for run in torch_runs)
        s = med(run["stages"].get(st, 0.0) for run in swift_runs)
        lines.append(f"| {st} | {t:.3f} | {s:.3f} | {s / t:.2f}× |" if t > 0 else f"| {st} | — | {s:.3f} | |")
    t = med(run["encoder_seconds"] for run in torch_runs)
    s = med(run["encoder_seconds"] for run in swift_runs)
    lines.append(f"| whole encoder (median run) | {t:.3f} | {s:.3f} | {s / t:.2f}× |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
