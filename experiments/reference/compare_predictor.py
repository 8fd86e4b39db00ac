"""Meta's SamPredictor against the release `sam segment` CLI, prompt by prompt (issue 3 acceptance); with --model, the
light family's own predictors (MobileSAM, HQ-SAM, EfficientViT-SAM, light_config.py) in its place.

For every checkpoint and image, both sides get the same prompts, derived from the image's ground-truth mask (so
that they land on a real object):

  p1   the object pixel farthest from the boundary (scipy EDT of the mask padded by one background pixel, first
       maximum in row-major order)              -- positive
  p2   the same maximum after zeroing a disc of radius max(3, 0.6 * EDT(p1)) around p1       -- positive
  n1   the background pixel farthest from the object (EDT of the background), first maximum -- negative
  box  the tight inclusive box of the object pixels, x0,y0,x1,y1

Cases (multimask "multi" = Meta's default, three masks; "single" = one mask):

  points_multi / points_single       p1, p2
  one_point_multi                    p1 (round 1 of the mask-input cases)
  negative_multi / negative_single   p1, n1(-)
  box_multi / box_single             box
  box_points_multi / _single         box, p1, n1(-)
  mask_input_single / _multi         p1 + mask input = round 1's low_res_logits.h5, highest predicted IoU; each side
                                     feeds back its *own* round 1 (the CLI gets `--mask-input DIR/low_res_logits.h5`
                                     with no `--mask-index`, so the default pick is exercised too)
  mask_png_single                    p1 + the ground-truth mask as a binary PNG (the CLI's documented conversion,
                                     MaskInput.fromBinaryMask, re-implemented here for Meta's side)
  mask_only_single                   round 1's mask input alone, no point or box (Meta's predict accepts it)

The CLI runs `sam embed` once per image and checkpoint and then `sam segment --embedding` for every case except
`points_multi`, which runs from the image (so both the encoder path and the cache path are compared). Then all the
point/box cases go through one `sam segment --prompts FILE.json` call (batched decoding) and are compared again
(rows `json:<case>`).

Per case: `agree` = the smallest, over the C masks, fraction of pixels on which the two binary masks are equal;
`diff px` = differing pixels summed over the masks; `max dIoU` = max |IoU_meta - IoU_swift|; `max dlogit` = max
|low-res logit difference|. Pass: agree >= 0.999 and max dIoU <= 1e-4 (README "Tolerances").

  python experiments/reference/compare_predictor.py \
      --checkpoint ../shared/checkpoints/sam_demo_tiny.pth --checkpoint ../shared/checkpoints/sam_demo_small_fp16.pth \
      --image ../shared/data/GrabCut/images/teddy.jpg ... [--sam .build/release/sam] [--work /tmp/cmp] \
      [--markdown out.md] [--json out.json]
  python experiments/reference/compare_predictor.py --model mobilesam --checkpoint mobilesam.pt --image ...

Exit status 0 when every case passes, 1 otherwise.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import light_config  # noqa: E402
import sam_config  # noqa: E402
from dumpkit import derive_prompts, find_mask  # noqa: E402  (shared with compare_predictor_sam2.py)
from segment_anything import SamPredictor  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIN_AGREE = 0.999
MAX_DIOU = 1e-4
BINARY_LOGIT = 10.0


def binary_mask_logits(mask, s, m):
    """MaskInput.fromBinaryMask (Sources/SAMInference/PromptFile.swift): cell (i, j)'s centre in the S x S frame,
    mapped back to original pixels (floor), +10 where the mask is set, -10 elsewhere and in the padding."""
    h, w = mask.shape
    scale = s * 1.0 / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    c = (np.arange(m, dtype=np.float64) + 0.5) * s / m
    fy, fx = np.meshgrid(c, c, indexing="ij")
    inside = (fx < nw) & (fy < nh)
    ox = np.minimum(w - 1, (fx * w / nw).astype(np.int64))
    oy = np.minimum(h - 1, (fy * h / nh).astype(np.int64))
    v = np.where(inside & (mask[np.clip(oy, 0, h - 1), np.clip(ox, 0, w - 1)] != 0), BINARY_LOGIT, -BINARY_LOGIT)
    return v.astype(np.float32)[None]


def cases_for(p1, p2, n1, box):
    pts = lambda *ps: [list(p[:2]) for p in ps]  # noqa: E731
    return [
        dict(name="points_multi", points=pts(p1, p2), labels=[1, 1], multimask=True),
        dict(name="points_single", points=pts(p1, p2), labels=[1, 1], multimask=False),
        dict(name="one_point_multi", points=pts(p1), labels=[1], multimask=True),
        dict(name="negative_multi", points=pts(p1, n1), labels=[1, 0], multimask=True),
        dict(name="negative_single", points=pts(p1, n1), labels=[1, 0], multimask=False),
        dict(name="box_multi", box=box, multimask=True),
        dict(name="box_single", box=box, multimask=False),
        dict(name="box_points_multi", points=pts(p1, n1), labels=[1, 0], box=box, multimask=True),
        dict(name="box_points_single", points=pts(p1, n1), labels=[1, 0], box=box, multimask=False),
        dict(name="mask_input_single", points=pts(p1), labels=[1], mask="round1", multimask=False),
        dict(name="mask_input_multi", points=pts(p1), labels=[1], mask="round1", multimask=True),
        dict(name="mask_png_single", points=pts(p1), labels=[1], mask="png", multimask=False),
        dict(name="mask_only_single", mask="round1", multimask=False),
    ]


def run(cmd):
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return time.time() - t


def read_swift(d):
    import h5py
    with open(os.path.join(d, "result.json")) as f:
        res = json.load(f)
    masks = np.stack([np.array(Image.open(os.path.join(d, m["file"]))) > 0 for m in res["masks"]])
    with h5py.File(os.path.join(d, "low_res_logits.h5"), "r") as f:
        low = f["low_res_logits"][...]
    return masks, np.array(res["iou_predictions"], dtype=np.float32), low, res


def compare(meta, swift):
    mm, mi, ml = meta
    sm, si, sl, res = swift
    if mm.shape != sm.shape:
        return dict(agree=0.0, diff_px=-1, d_iou=float("inf"), d_logit=float("inf"), note=f"shape {sm.shape} vs {mm.shape}")
    hw = mm.shape[1] * mm.shape[2]
    per = [(mm[k] != sm[k]).sum() for k in range(mm.shape[0])]
    # result.json's bookkeeping must describe the PNGs
    note = ""
    for k, rec in enumerate(res["masks"]):
        ys, xs = np.nonzero(sm[k])
        bb = [0, 0, 0, 0] if len(xs) == 0 else [int(xs.min()), int(ys.min()), int(xs.max() - xs.min()), int(ys.max() - ys.min())]
        if rec["area"] != int(sm[k].sum()) or rec["bbox"] != bb:
            note = f"result.json mask {k}: area/bbox {rec['area']}/{rec['bbox']} vs {int(sm[k].sum())}/{bb}"
    return dict(agree=1.0 - max(per) / hw, diff_px=int(sum(per)), d_iou=float(np.abs(mi - si).max()),
                d_logit=float(np.abs(ml - sl).max()), note=note)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", action="append", required=True)
    ap.add_argument("--image", action="append", required=True)
    ap.add_argument("--sam", default=os.path.join(REPO, ".build/release/sam"))
    ap.add_argument("--work", default="/tmp/compare_predictor")
    ap.add_argument("--markdown", help="write the table here too")
    ap.add_argument("--json", help="write every row as JSON here")
    ap.add_argument("--no-json-batch", action="store_true", help="skip the --prompts comparison")
    ap.add_argument("--cases", help="regex (re.search) on case names; one_point_multi always runs (round 1 of the mask cases)")
    ap.add_argument("--model", choices=light_config.MODELS,
                    help="the checkpoints are of this light-family model: its package's predictor is the reference")
    a = ap.parse_args()
    if not os.access(a.sam, os.X_OK):
        raise SystemExit(f"{a.sam}: not an executable; build it with `swift build -c release --product sam`")
    torch.set_grad_enabled(False)
    vers = sam_config.versions()
    print(f"segment_anything {vers['segment_anything_file']} (commit {vers['segment_anything_commit']}), "
          f"torch {vers['torch_version']}; sam: {a.sam}", flush=True)

    rows = []
    for ckpt in a.checkpoint:
        if a.model:
            predictor = light_config.predictor(a.model, light_config.load(a.model, ckpt))
            s, m = 1024, 256  # every light model's prompt and mask frame
        else:
            sam, cfg, name = sam_config.load_sam(ckpt)
            predictor = SamPredictor(sam)
            s, m = cfg["img_size"], 4 * (cfg["img_size"] // cfg["patch_size"])
        cname = os.path.basename(ckpt)
        for img_path in a.image:
            iname = os.path.basename(img_path)
            work = os.path.join(a.work, os.path.splitext(cname)[0], os.path.splitext(iname)[0])
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work)
            image = np.array(Image.open(img_path).convert("RGB"))
            obj, mask_path = find_mask(img_path)
            if obj.shape != image.shape[:2]:
                raise SystemExit(f"{mask_path}: {obj.shape} but the image is {image.shape[:2]}; pick another image")
            p1, p2, n1, box = derive_prompts(obj)
            png = os.path.join(work, "gt_mask.png")
            Image.fromarray((obj * 255).astype(np.uint8)).save(png)
            print(f"{cname} {iname} {image.shape[1]}x{image.shape[0]}: p1 {p1} p2 {p2} n1 {n1} box {box}", flush=True)

            t = time.time()
            predictor.set_image(image)
            t_meta_enc = time.time() - t
            emb = os.path.join(work, "emb.h5")
            t_swift_embed = run([a.sam, "embed", "--checkpoint", ckpt, "--image", img_path, "--out", emb])

            meta_out, swift_dirs = {}, {}
            cases = [c for c in cases_for(p1, p2, n1, box)
                     if not a.cases or re.search(a.cases, c["name"]) or c["name"] == "one_point_multi"]
            for c in cases:
                pc = np.array(c["points"], dtype=np.float32) if "points" in c else None
                pl = np.array(c["labels"], dtype=np.int64) if "points" in c else None
                bx = np.array(c["box"], dtype=np.float32) if "box" in c else None
                mi = None
                cmd = [a.sam, "segment", "--checkpoint", ckpt, "--image", img_path]
                cmd += ["--embedding", emb] if c["name"] != "points_multi" else []
                for p, l in zip(c.get("points", []), c.get("labels", [])):
                    cmd += ["--point", f"{p[0]},{p[1]},{l}"]
                if "box" in c:
                    cmd += ["--box", ",".join(str(v) for v in c["box"])]
                if c.get("mask") == "round1":
                    mm_, mi_, ml_ = meta_out["one_point_multi"]
                    mi = ml_[int(np.argmax(mi_))][None]
                    cmd += ["--mask-input", os.path.join(swift_dirs["one_point_multi"], "low_res_logits.h5")]
                elif c.get("mask") == "png":
                    mi = binary_mask_logits(obj, s, m)
                    cmd += ["--mask-input", png]
                if not c["multimask"]:
                    cmd += ["--single-mask"]
                masks, iou, low = predictor.predict(point_coords=pc, point_labels=pl, box=bx, mask_input=mi,
                                                    multimask_output=c["multimask"], return_logits=False)
                meta_out[c["name"]] = (masks.astype(bool), iou.astype(np.float32), low.astype(np.float32))
                d = os.path.join(work, c["name"])
                run(cmd + ["--out", d])
                swift_dirs[c["name"]] = d
                r = compare(meta_out[c["name"]], read_swift(d))
                r.update(checkpoint=cname, image=iname, case=c["name"], masks=int(masks.shape[0]))
                rows.append(r)
                print(f"  {c['name']:<20} agree {r['agree']:.6f}  diff px {r['diff_px']:>5}  max dIoU {r['d_iou']:.2e}  "
                      f"max dlogit {r['d_logit']:.2e} {r['note']}", flush=True)
            r = dict(checkpoint=cname, image=iname, case="(times)", t_meta_encoder=t_meta_enc, t_swift_embed=t_swift_embed)
            if not a.no_json_batch:
                batch = [c for c in cases if "mask" not in c]
                spec = [{k: c[k] for k in ("points", "labels", "box", "multimask") if k in c} for c in batch]
                pj = os.path.join(work, "prompts.json")
                with open(pj, "w") as f:
                    json.dump(spec, f)
                d = os.path.join(work, "batch")
                r["t_swift_prompts_file"] = run([a.sam, "segment", "--checkpoint", ckpt, "--image", img_path,
                                                 "--embedding", emb, "--prompts", pj, "--out", d])
                for i, c in enumerate(batch):
                    rr = compare(meta_out[c["name"]], read_swift(os.path.join(d, str(i))))
                    rr.update(checkpoint=cname, image=iname, case="json:" + c["name"], masks=int(meta_out[c["name"]][0].shape[0]))
                    rows.append(rr)
                worst = [x for x in rows if x["image"] == iname and x["checkpoint"] == cname and x["case"].startswith("json:")]
                print(f"  --prompts ({len(batch)} prompts): min agree {min(x['agree'] for x in worst):.6f}, "
                      f"max dIoU {max(x['d_iou'] for x in worst):.2e}", flush=True)
            rows.append(r)

    table = markdown(rows)
    print(table)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(table)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    bad = [r for r in rows if "agree" in r and not (r["agree"] >= MIN_AGREE and r["d_iou"] <= MAX_DIOU and not r["note"])]
    print(f"{len([r for r in rows if 'agree' in r]) - len(bad)} cases pass, {len(bad)} fail "
          f"(agree >= {MIN_AGREE}, max dIoU <= {MAX_DIOU})")
    sys.exit(1 if bad else 0)


def markdown(rows):
    cases = [r for r in rows if "agree" in r]
    out = ["| checkpoint | image | case | masks | agree (min over masks) | diff px | max abs dIoU | max abs dlogit | pass |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in cases:
        ok = r["agree"] >= MIN_AGREE and r["d_iou"] <= MAX_DIOU and not r["note"]
        out.append(f"| {r['checkpoint']} | {r['image']} | {r['case']} | {r['masks']} | {100 * r['agree']:.4f} % | "
                   f"{r['diff_px']} | {r['d_iou']:.1e} | {r['d_logit']:.1e} | {'yes' if ok else 'NO ' + r['note']} |")
    out.append("")
    # summary per checkpoint and case
    out.append("| checkpoint | case | images | worst agree | worst max abs dIoU |")
    out.append("|---|---|---|---|---|")
    keys = []
    for r in cases:
        k = (r["checkpoint"], r["case"])
        if k not in keys:
            keys.append(k)
    for k in keys:
        rs = [r for r in cases if (r["checkpoint"], r["case"]) == k]
        out.append(f"| {k[0]} | {k[1]} | {len(rs)} | {100 * min(r['agree'] for r in rs):.4f} % | "
                   f"{max(r['d_iou'] for r in rs):.1e} |")
    times = [r for r in rows if r["case"] == "(times)"]
    if times:
        out += ["", "| checkpoint | image | Meta set_image s | sam embed s (process, incl. load) | sam segment --prompts s |",
                "|---|---|---|---|---|"]
        for r in times:
            out.append(f"| {r['checkpoint']} | {r['image']} | {r['t_meta_encoder']:.2f} | {r['t_swift_embed']:.2f} | "
                       f"{r.get('t_swift_prompts_file', float('nan')):.2f} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
