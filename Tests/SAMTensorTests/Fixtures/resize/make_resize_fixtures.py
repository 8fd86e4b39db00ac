#!/usr/bin/env python3
# Generates Tests/SAMTensorTests/Fixtures/resize/resize_cases.json for ResizeTests.swift: Pillow BILINEAR resizes of
# synthetic uint8 images (odd sizes, up/down/mixed, 1 and 3 channels) and of real images from ../shared/data, each
# checked here to equal torchvision's resize of the PIL image (what SAM's ResizeLongestSide.apply_image calls),
# plus Meta's get_preprocess_shape on many sizes.
# Usage (from the package root): python3 Tests/SAMTensorTests/Fixtures/resize/make_resize_fixtures.py
# Checked with Pillow 13.0.0, torchvision 0.29, numpy 2.x.
import hashlib
import json
import os
import sys

import numpy as np
import PIL
import torchvision
import torchvision.transforms.functional as TF
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "../../../../../shared/data"))


def synthetic(w, h, c, seed, kind):
    """Must match `synthetic(...)` in ResizeTests.swift bit for bit."""
    i = np.arange(w * h * c, dtype=np.uint64)
    if kind == "noise":
        m = 0xFFFFFFFF
        v = (i * np.uint64(2654435761) + np.uint64(seed) * np.uint64(0x9E3779B9)) & np.uint64(m)
        v ^= v >> np.uint64(16)
        v = (v * np.uint64(0x85EBCA6B)) & np.uint64(m)
        v ^= v >> np.uint64(13)
        b = (v & np.uint64(0xFF)).astype(np.uint8)
    else:  # "ramp": steep ramps with wrap-around edges
        ch = i % np.uint64(c)
        x = (i // np.uint64(c)) % np.uint64(w)
        y = i // np.uint64(c * w)
        b = ((x * np.uint64(7) + y * np.uint64(3) + ch * np.uint64(50) + np.uint64(seed)) & np.uint64(0xFF)).astype(np.uint8)
    return b.reshape(h, w, c)


def get_preprocess_shape(oldh, oldw, long_side_length):
    """segment_anything/utils/transforms.py ResizeLongestSide.get_preprocess_shape (verbatim arithmetic)."""
    scale = long_side_length * 1.0 / max(oldh, oldw)
    newh, neww = oldh * scale, oldw * scale
    neww = int(neww + 0.5)
    newh = int(newh + 0.5)
    return (newh, neww)


def pil_resize(arr, nw, nh):
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    out = np.asarray(img.resize((nw, nh), Image.BILINEAR))
    # torchvision on a PIL image, as SamPredictor/ResizeLongestSide.apply_image do it.
    tv = np.asarray(TF.resize(TF.to_pil_image(arr[..., 0] if arr.shape[2] == 1 else arr), [nh, nw]))
    assert np.array_equal(out, tv), "torchvision and Pillow disagree"
    return out.reshape(nh, nw, arr.shape[2])


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def main():
    cases = []
    synthetic_specs = [
        # (w, h, c, newW, newH, kind, seed)
        (7, 5, 3, 13, 11, "noise", 1),
        (13, 11, 3, 7, 5, "noise", 2),
        (1, 1, 3, 5, 3, "noise", 3),
        (37, 1, 1, 3, 1, "noise", 4),          # horizontal pass only
        (5, 37, 1, 5, 3, "noise", 5),          # vertical pass only
        (9, 9, 3, 9, 9, "noise", 6),           # no pass: a copy
        (97, 61, 1, 40, 25, "noise", 7),
        (61, 97, 1, 130, 207, "ramp", 8),
        (1000, 3, 3, 7, 2, "noise", 9),        # extreme downscale, wide support
        (50, 300, 3, 128, 77, "ramp", 10),     # up horizontally, down vertically
        (300, 50, 3, 77, 128, "noise", 11),    # down horizontally, up vertically
        (3, 2, 3, 1024, 683, "noise", 12),     # extreme upscale
        (1023, 1, 1, 1024, 1, "ramp", 13),
        (640, 480, 3, 1024, 768, "noise", 14),  # SAM's usual upscale
        (500, 375, 3, 1024, 768, "ramp", 15),  # COCO size
        (481, 321, 3, 1024, 683, "noise", 16),  # Berkeley size
        (854, 480, 3, 1024, 576, "ramp", 17),   # DAVIS size
        (640, 427, 3, 128, 85, "noise", 18),    # the 128 demo encoder size, downscale
        (1025, 767, 3, 512, 383, "noise", 19),  # downscale by ~2, antialiased
        (255, 383, 1, 85, 128, "ramp", 20),
        # Pillow 13 pass order: vertical first iff inH - outH > 0 and inH - outH > 2 * (inW - outW)
        (100, 300, 3, 50, 200, "noise", 21),      # 100 == 2 * 50: horizontal first
        (100, 300, 3, 50, 199, "noise", 22),      # 101 > 100: vertical first
        (300, 2000, 3, 19, 128, "noise", 23),     # tall image to the 128 encoder size: vertical first
        (40, 100, 1, 40, 7, "ramp", 24),       # vertical pass only, 1 channel
    ]
    for (w, h, c, nw, nh, kind, seed) in synthetic_specs:
        src = synthetic(w, h, c, seed, kind)
        out = pil_resize(src, nw, nh)
        case = {"width": w, "height": h, "channels": c, "new_width": nw, "new_height": nh, "kind": kind,
                "seed": seed, "sha256": sha(out)}
        if out.size <= 400:
            case["hex"] = out.tobytes().hex()
        cases.append(case)

    shapes = []
    rng = np.random.default_rng(0)
    sizes = [(480, 640), (321, 481), (427, 640), (1, 2), (2, 1), (3, 5), (5, 3), (683, 1024), (1500, 2000),
             (333, 500), (375, 500), (600, 450), (1, 1), (7, 3)]
    sizes += [tuple(int(v) for v in rng.integers(1, 4000, 2)) for _ in range(200)]
    for (hh, ww) in sizes:
        for target in (1024, 128, 64, 1, 37):
            nh, nw = get_preprocess_shape(hh, ww, target)
            shapes.append([hh, ww, target, nh, nw])

    real = []
    if os.path.isdir(SHARED):
        for rel in ("GrabCut/images/banana1.bmp", "GrabCut/images/106024.jpg", "GrabCut/images/scissors.JPG",
                    "COCO_MVal/images/airplane09_000000208208.jpg", "Berkeley/images/101085.jpg"):
            with Image.open(os.path.join(SHARED, rel)) as im:
                arr = np.asarray(im.convert("RGB"))
            for target in (1024, 128):
                nh, nw = get_preprocess_shape(arr.shape[0], arr.shape[1], target)
                out = pil_resize(arr, nw, nh)
                real.append({"file": rel, "target": target, "new_width": nw, "new_height": nh, "sha256": sha(out)})
    else:
        print("note: ../shared/data not found; no real-image cases", file=sys.stderr)

    doc = {"pillow": PIL.__version__, "torchvision": torchvision.__version__, "synthetic": cases,
           "preprocess_shapes": shapes, "real": real}
    with open(os.path.join(HERE, "resize_cases.json"), "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"{len(cases)} synthetic, {len(shapes)} shapes, {len(real)} real")


if __name__ == "__main__":
    main()
