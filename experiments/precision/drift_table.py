#!/usr/bin/env python3
"""Markdown tables of the bf16 drift from the CSVs of experiments/precision/drift.sh (notebooks-data/precision/drift):

  tolerances: per part (image encoder, prompt encoder, decoder, masks, scores), the worst drift of a bf16 run against
              the float32 dumps, where it was measured, the tolerance and their ratio;
  paths:      for vit_b and sam2.1_hiera_t, module by module (the top-level modules and every block's output), rel-L2 of
              ours (bf16) vs float32, PyTorch autocast bf16 vs float32, and ours vs PyTorch's bf16.

Usage: python3 experiments/precision/drift_table.py [DIR]
"""
import csv, glob, os, re, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "notebooks-data", "precision", "drift")
TOL = {"image encoder": 2e-2, "prompt encoder": 1.5e-2, "decoder": 6e-2, "masks (1 − agreement)": 1e-2, "IoU / object score (max-abs)": 2e-3}


def strip(n):
    for p in ("fast path: ", "batch: "):
        if n.startswith(p):
            n = n[len(p):]
    return n


def part(n):
    n = strip(n)
    if n == "inputs/input_image":
        return None
    if n == "outputs/masks":
        return "masks (1 − agreement)"
    if n in ("outputs/iou_predictions", "outputs/object_score_logits"):
        return "IoU / object score (max-abs)"
    if n.startswith("image_encoder") or "image_embed" in n or "high_res_feats" in n:
        return "image encoder"
    if n.startswith("prompt_encoder") or n.startswith("sam_prompt_encoder"):
        return "prompt encoder"
    return "decoder"


def value(row, p):
    key = "max_abs" if p in ("masks (1 − agreement)", "IoU / object score (max-abs)") else "rel_l2"
    try:
        return float(row[key])
    except ValueError:
        return float("nan")


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def tolerances():
    files = sorted(glob.glob(os.path.join(DIR, "tolerances", "*.csv")))
    worst = {}
    for f in files:
        for r in rows(f):
            p = part(r["module"])
            if p is None:
                continue
            v = value(r, p)
            if v == v and v > worst.get(p, (-1,))[0]:
                worst[p] = (v, os.path.basename(f)[:-4], r["module"])
    print(f"bf16 against the float32 dumps, {len(files)} dumps: the worst drift of each part and its tolerance.\n")
    print("| part | worst measured | where (dump: module) | tolerance | tolerance / worst |")
    print("|---|---|---|---|---|")
    for p in TOL:
        if p in worst:
            v, d, m = worst[p]
            print(f"| {p} | {v:.3g} | {d}: `{m}` | {TOL[p]:g} | {TOL[p] / v:.1f}× |")
    print()


def keep(name):
    """The modules of the condensed table: top-level modules, every block's output, the outputs."""
    n = strip(name)
    if n.startswith("outputs/"):
        return True
    if re.fullmatch(r"image_encoder\.(trunk\.)?blocks\.\d+", n):
        return True
    if re.fullmatch(r"image_encoder(\.neck|\.patch_embed|\.trunk)?(:\d+)*", n):
        return True
    if re.fullmatch(r"(sam_)?mask_decoder(\.transformer)?(\.layers\.\d+|\.final_attn_token_to_image|\.norm_final_attn)?(:\d+)?", n):
        return True
    if re.fullmatch(r"(sam_)?prompt_encoder(:\d+)?", n):
        return True
    return False


def paths():
    for model in ("vit_b", "sam2_t"):
        sets = {}
        for tag in ("ours_vs_fp32", "torch_vs_fp32", "ours_vs_torch"):
            f = os.path.join(DIR, "paths", f"{model}_{tag}.csv")
            if os.path.exists(f):
                sets[tag] = {r["module"]: r for r in rows(f)}
        if not sets:
            continue
        base = sets.get("ours_vs_fp32", {})
        title = {"vit_b": "vit_b (random weights, COCO_MVal image, 3 points, multimask)",
                 "sam2_t": "sam2.1_hiera_t (random weights, DAVIS 050, 2 points, multimask)"}[model]
        print(f"**{title}**: rel-L2 (masks: fraction of pixels that differ; IoU: max-abs).\n")
        print("| module | ours bf16 vs fp32 | PyTorch autocast bf16 vs fp32 | ours bf16 vs PyTorch bf16 |")
        print("|---|---|---|---|")
        for name in base:
            if not keep(name) or name.startswith("fast path") or name.startswith("inputs/"):
                continue
            p = part(name)
            cells = []
            for tag in ("ours_vs_fp32", "torch_vs_fp32", "ours_vs_torch"):
                r = sets.get(tag, {}).get(name)
                cells.append(f"{value(r, p):.2e}" if r is not None and value(r, p) == value(r, p) else "—")
            print(f"| `{name}` | " + " | ".join(cells) + " |")
        for tag in ("ours_vs_fp32", "torch_vs_fp32", "ours_vs_torch"):
            s = sets.get(tag)
            if s:
                worst = max((value(r, part(n)) for n, r in s.items() if part(n) not in (None, "masks (1 − agreement)", "IoU / object score (max-abs)")
                             and value(r, part(n)) == value(r, part(n))), default=float("nan"))
                print(f"\n{tag.replace('_', ' ')}: {len(s)} rows, worst module rel-L2 {worst:.2e}", end="")
        print("\n")


if __name__ == "__main__":
    tolerances()
    paths()
