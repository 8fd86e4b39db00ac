"""Writes Tests/Fixtures/segment/demo_tiny_zebra.h5: what Meta's SamPredictor (segment_anything 1.0, commit
dca509f) returns for the bundled demo checkpoint on one bundled image, for every prompt kind. Used by
Tests/SAMInferenceTests/DemoPredictorTests.swift (everything it needs is in the repository).

  python Tests/Fixtures/segment/make_fixture.py   [--checkpoint notebooks-data/demo/sam_demo_tiny_fp16.pth]
                                                   [--image notebooks-data/demo/images/zebra07_000000504439.jpg]

Small by design (< 1.5 MB): no image, no embedding, no full-resolution logits.

Layout
  root attributes: checkpoint, image (file names), image_width, image_height, image_fnv1a64 (FNV-1a 64 of Pillow's
    convert("RGB") bytes, H x W x 3 row-major, as 16 hex digits), torch_version, segment_anything_commit,
    logit_quantum (the step low-res logits are rounded to, 2^-12), cases (comma-separated names, in order)
  /<case>/point_coords N x 2 float32 (original pixels), /<case>/point_labels N int64, /<case>/box 4 float32
    (each only when the prompt has it), /<case>/mask_input 1 x 256 x 256 float32 (mask cases only)
  /<case> attribute multimask_output (0/1)
  /<case>/iou_predictions C float32 (exact)
  /<case>/low_res_logits C x 256 x 256 float32, rounded to multiples of 2^-12 (|error| <= 2^-13 = 1.2e-4) so that
    shuffle + gzip compress them; exact for the values fed back as mask input (see below)
  /<case>/mask_area C int64 (pixels set), /<case>/mask_bits C x ceil(H*W/8) uint8 (np.packbits of each mask,
    row-major, big-endian bit order: pixel k is bit 7 - k % 8 of byte k / 8), attribute mask_fnv1a64 (comma-separated,
    one per mask, FNV-1a 64 of the H x W 0/1 bytes)

Cases: prompts from the image's ground-truth mask exactly as experiments/reference/compare_predictor.py derives them
(p1 farthest-from-boundary object pixel, p2 the next such away from p1, n1 the background pixel farthest from the
object, box the tight box):
  points_multi (p1, p2), points_single, negative_multi (p1, n1-), box_single, box_multi, box_points_multi
  (box, p1, n1-), mask_input_single (p1 + the best-IoU low-res mask of points_multi *after rounding*, so that the
  stored input is exactly what Meta was given).
"""

import argparse
import os
import sys

import h5py
import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(REPO, "experiments", "reference"))
import compare_predictor  # noqa: E402
import sam_config  # noqa: E402
from segment_anything import SamPredictor  # noqa: E402

QUANTUM = 2.0 ** -12


def fnv1a64(b):
    h = 0xCBF29CE484222325
    for x in bytes(b):
        h = ((h ^ x) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def quantize(x):
    return (np.round(x.astype(np.float64) / QUANTUM) * QUANTUM).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo = os.path.join(REPO, "notebooks-data", "demo")
    ap.add_argument("--checkpoint", default=os.path.join(demo, "sam_demo_tiny_fp16.pth"))
    ap.add_argument("--image", default=os.path.join(demo, "images", "zebra07_000000504439.jpg"))
    ap.add_argument("--out", default=os.path.join(HERE, "demo_tiny_zebra.h5"))
    a = ap.parse_args()
    torch.set_grad_enabled(False)

    sam, cfg, _ = sam_config.load_sam(a.checkpoint)
    predictor = SamPredictor(sam)
    image = np.array(Image.open(a.image).convert("RGB"))
    obj, _ = compare_predictor.find_mask(a.image)
    p1, p2, n1, box = compare_predictor.derive_prompts(obj)
    predictor.set_image(image)
    h, w = image.shape[:2]

    cases = [
        ("points_multi", [p1, p2], [1, 1], None, None, True),
        ("points_single", [p1, p2], [1, 1], None, None, False),
        ("negative_multi", [p1, n1], [1, 0], None, None, True),
        ("box_single", [], [], box, None, False),
        ("box_multi", [], [], box, None, True),
        ("box_points_multi", [p1, n1], [1, 0], box, None, True),
        ("mask_input_single", [p1], [1], None, "points_multi", False),
    ]
    results = {}
    with h5py.File(a.out, "w") as f:
        vers = sam_config.versions()
        f.attrs["checkpoint"] = os.path.basename(a.checkpoint)
        f.attrs["image"] = os.path.basename(a.image)
        f.attrs["image_width"], f.attrs["image_height"] = w, h
        f.attrs["image_fnv1a64"] = fnv1a64(image.astype(np.uint8).tobytes())
        f.attrs["torch_version"] = vers["torch_version"]
        f.attrs["segment_anything_commit"] = vers["segment_anything_commit"]
        f.attrs["logit_quantum"] = QUANTUM
        f.attrs["cases"] = ",".join(c[0] for c in cases)
        for name, pts, labels, bx, mask_from, multimask in cases:
            g = f.create_group(name)
            pc = np.array(pts, dtype=np.float32).reshape(-1, 2) if pts else None
            pl = np.array(labels, dtype=np.int64) if pts else None
            b = np.array(bx, dtype=np.float32) if bx is not None else None
            mi = None
            if mask_from:
                iou0, low0 = results[mask_from]
                mi = quantize(low0[int(np.argmax(iou0))])[None]
            masks, iou, low = predictor.predict(point_coords=pc, point_labels=pl, box=b, mask_input=mi,
                                                multimask_output=multimask, return_logits=False)
            results[name] = (iou, low)
            g.attrs["multimask_output"] = int(multimask)
            if pc is not None:
                g["point_coords"], g["point_labels"] = pc, pl
            if b is not None:
                g["box"] = b
            if mi is not None:
                g.create_dataset("mask_input", data=mi, compression="gzip", compression_opts=9, shuffle=True)
            g["iou_predictions"] = iou.astype(np.float32)
            g.create_dataset("low_res_logits", data=quantize(low), compression="gzip", compression_opts=9, shuffle=True)
            m8 = masks.astype(np.uint8)
            g["mask_area"] = m8.reshape(m8.shape[0], -1).sum(1).astype(np.int64)
            g.create_dataset("mask_bits", data=np.stack([np.packbits(m.reshape(-1)) for m in m8]),
                             compression="gzip", compression_opts=9)
            g.attrs["mask_fnv1a64"] = ",".join(fnv1a64(m.tobytes()) for m in m8)
            print(f"{name}: iou {np.array2string(iou, precision=4)} area {g['mask_area'][...]}")
    print(f"{a.out}: {os.path.getsize(a.out) / 1e6:.2f} MB; p1 {p1} p2 {p2} n1 {n1} box {box}")


if __name__ == "__main__":
    main()
