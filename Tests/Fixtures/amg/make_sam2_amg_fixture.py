#!/usr/bin/env python3
"""Writes Tests/Fixtures/amg/sam2_tiny.json: Meta's SAM2AutomaticMaskGenerator (sam2 1.1.0) with the tiny random
SAM 2.1 (Tests/Fixtures/sam2/sam2.1_tiny_random.pt: make_checkpoint_sam2.py --config t --seed 0 --override-file
sam2_tiny_random.overrides) on a 60x80 crop of Tests/Fixtures/reference/image_small.png (x 30..90, y 40..120; the
random model's masks are noisy, so a smaller image keeps their RLEs small), for SAM2AMGTests.swift.

The random model's logits are small (|x| ~ 1e-3) and nearly the same for every point, so the thresholds are scaled to
them (stability offset 2e-4, mask thresholds of 1e-4 to 1e-3) and box NMS is mostly off (IoU threshold 1: every mask
that passes the filters is kept, each compared). One case runs min_mask_region_area: Meta's code fills holes and
removes sprinkles in the low-res logits through its CUDA extension (sam2._C) and skips the step, with a warning, where
the extension is not built; here `sam2.utils.misc.get_connected_components` is replaced by the same computation on the
CPU (OpenCV's 8-connected components: per pixel its component's label and area), so the fixture holds what the
kernel gives.

Masks are pycocotools' compressed strings; other fields as Meta's records give them. Run from the repository root:

    python Tests/Fixtures/amg/make_sam2_amg_fixture.py
"""

import json
import os
import sys
import time

import cv2
import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "experiments", "reference"))
import sam2_config  # noqa: E402
import sam2.utils.misc  # noqa: E402
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator  # noqa: E402
from sam2.utils.amg import coco_encode_rle  # noqa: E402

CHECKPOINT = "Tests/Fixtures/sam2/sam2.1_tiny_random.pt"
OVERRIDES = "experiments/reference/sam2_tiny_random.overrides"
IMAGE = "Tests/Fixtures/reference/image_small.png"
CROP = dict(x0=30, y0=40, x1=90, y1=120)  # image[y0:y1, x0:x1]

LOW = dict(stability_score_offset=0.0002, box_nms_thresh=1.0, output_mode="uncompressed_rle")
CASES = [
    # 49 points in batches of 16, 16, 16, 1; token 0 (IoU ~0.4975) fails the IoU filter, tokens 1 and 2 pass; points
    # such as 60/14 are not float32 numbers (the generator keeps them as float32)
    ("grid", dict(points_per_side=7, points_per_batch=16, pred_iou_thresh=0.5, stability_score_thresh=0.5, **LOW)),
    # a mask threshold: the stability score is centred on it and the masks are cut there
    ("mask_threshold", dict(points_per_side=4, points_per_batch=16, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                            mask_threshold=0.0004, **LOW)),
    # m2m: 16 points in batches of 5, 5, 5, 1 (a batch of one runs without repeat_image), 48 masks refined 5 at a time
    ("m2m", dict(points_per_side=4, points_per_batch=5, pred_iou_thresh=0.5, stability_score_thresh=0.5, use_m2m=True,
                 **LOW)),
    # one mask per point (the decoder's choice by stability), holes and sprinkles of <= 40 low-res pixels cleaned
    ("single_regions", dict(points_per_side=4, points_per_batch=16, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                            multimask_output=False, min_mask_region_area=40, mask_threshold=0.0003, **LOW)),
    # Meta's box NMS (0.7): the near-identical masks collapse to the one with the highest predicted IoU
    ("nms", dict(points_per_side=4, points_per_batch=16, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                 stability_score_offset=0.0002, output_mode="coco_rle")),
    # a crop layer (1 + 4 crops, each stretched to 1024x1024), crop-edge filter and crop NMS; cut at 1e-3 the masks
    # of the crops are empty (NaN stability), and survive the edge filter where the crop's corner is the image's
    ("crops", dict(points_per_side=4, points_per_batch=16, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                   mask_threshold=0.001, crop_n_layers=1, crop_nms_thresh=0.7, **LOW)),
]


def connected_components_cpu(mask):
    """`sam2.utils.misc.get_connected_components` (CUDA) on the CPU: N x 1 x H x W -> labels and per-pixel areas."""
    m = mask.to(torch.uint8).cpu().numpy()
    labels = np.zeros(m.shape, np.int32)
    areas = np.zeros(m.shape, np.int32)
    for i in range(m.shape[0]):
        n, lab, stats, _ = cv2.connectedComponentsWithStats(m[i, 0], connectivity=8)
        labels[i, 0] = lab
        areas[i, 0] = np.where(lab > 0, stats[lab, cv2.CC_STAT_AREA], 0)
    return torch.from_numpy(labels), torch.from_numpy(areas)


def main():
    torch.set_num_threads(1)
    sam2.utils.misc.get_connected_components = connected_components_cpu
    os.chdir(ROOT)
    model = sam2_config.build("t", sam2_config.read_overrides([OVERRIDES]), CHECKPOINT)
    image = np.array(Image.open(IMAGE).convert("RGB"))[CROP["y0"]:CROP["y1"], CROP["x0"]:CROP["x1"]]
    cases = []
    for name, options in CASES:
        t0 = time.time()
        records = SAM2AutomaticMaskGenerator(model, **options).generate(image)
        for r in records:
            seg = r["segmentation"]
            if isinstance(seg["counts"], list):
                r["segmentation"] = coco_encode_rle(seg)
            # repr strings: JSON has no NaN (an empty mask's stability is 0/0), and Foundation's parser can be an ulp off
            for k in ("predicted_iou", "stability_score"):
                r[k] = repr(r[k])
        cases.append({"name": name, "options": options, "records": records})
        print(f"{name}: {len(records)} masks in {time.time() - t0:.1f} s")
    out = {"generated_by": "make_sam2_amg_fixture.py", "sam2": sam2_config.versions()["sam2_version"],
           "torch": torch.__version__, "opencv": cv2.__version__, "checkpoint": CHECKPOINT, "overrides": OVERRIDES,
           "image": IMAGE, "crop": CROP, "cases": cases}
    path = os.path.join(ROOT, "Tests", "Fixtures", "amg", "sam2_tiny.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: {os.path.getsize(path) / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
