#!/usr/bin/env python3
"""Writes the fixtures of Tests/SAMInferenceTests/AMG*Tests.swift from Meta's own functions (segment_anything 1.0,
commit dca509f: utils/amg.py), torchvision's batched_nms, OpenCV's connectedComponentsWithStats (through Meta's
remove_small_regions) and pycocotools. Deterministic (numpy seed 0); run from the repository root:

    python Tests/Fixtures/amg/make_amg_fixtures.py

Floats that tests compare bit for bit (grid points, stability scores) are written as strings holding Python's repr,
since Foundation's JSON parser on Linux does not round every decimal to the nearest double; other floats are JSON
numbers (float32 values widened to float64 exactly).
Masks are strings of '0'/'1', row-major.
"""

import json
import os

import cv2
import numpy as np
import pycocotools
import segment_anything
import torch
import torchvision
from pycocotools import mask as mask_utils
from segment_anything.utils import amg
from torchvision.ops.boxes import batched_nms

OUT = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(0)


def bits(m):
    return "".join("1" if v else "0" for v in np.asarray(m, dtype=bool).reshape(-1))


def write(name, obj):
    obj = {"generated_by": "make_amg_fixtures.py", "segment_anything_commit": "dca509f",
           "torch": torch.__version__, "torchvision": torchvision.__version__, "opencv": cv2.__version__,
           "pycocotools": getattr(pycocotools, "__version__", "2.0.8"), **obj}
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


# ------------------------------------------------------------------------------------------------------------ RLE
def rle_cases():
    masks = []
    masks.append(np.zeros((3, 4), bool))                       # empty
    masks.append(np.ones((3, 4), bool))                        # full (counts start with 0)
    m = np.zeros((5, 7), bool); m[0, 0] = True; masks.append(m)  # first pixel only
    m = np.zeros((5, 7), bool); m[4, 6] = True; masks.append(m)  # last pixel only
    m = np.zeros((1, 1), bool); masks.append(m)
    masks.append(np.ones((1, 1), bool))
    for h, w, p in [(6, 9, 0.5), (11, 8, 0.2), (13, 17, 0.8), (40, 30, 0.5)]:
        masks.append(rng.random((h, w)) < p)
    # blobs with long runs: counts ≥ 32, ≥ 1024, ≥ 32768 need 2, 3 and 4 characters; differences go negative
    m = np.zeros((300, 250), bool); m[20:280, 30:200] = True; m[100:110, 60:70] = False; masks.append(m)
    m = np.zeros((200, 400), bool); m[:, 150:] = True; m[0:3, 0:2] = True; masks.append(m)
    m = np.zeros((64, 48), bool); m[5:60:3, 7:40] = True; masks.append(m)
    cases = []
    for m in masks:
        h, w = m.shape
        unc = amg.mask_to_rle_pytorch(torch.as_tensor(m)[None])[0]
        coco = amg.coco_encode_rle(unc)
        back = mask_utils.decode({"size": [h, w], "counts": coco["counts"].encode()})
        assert np.array_equal(back.astype(bool), m)
        assert np.array_equal(amg.rle_to_mask(unc), m)
        # large masks are given by their counts only (asserted above to decode to the mask)
        cases.append({"height": h, "width": w, "mask": bits(m) if h * w <= 4096 else None, "counts": [int(c) for c in unc["counts"]],
                      "coco": coco["counts"], "area": int(mask_utils.area(coco)), "area_from_rle": amg.area_from_rle(unc)})
    write("rle.json", {"cases": cases})


# ------------------------------------------------------------------------------------------------- grids and crops
def grids_and_crops():
    grids = []
    for n, layers, scale in [(1, 0, 1), (2, 0, 1), (3, 1, 1), (5, 2, 2), (7, 1, 3), (32, 0, 1), (32, 2, 2), (10, 1, 4)]:
        g = amg.build_all_layer_point_grids(n, layers, scale)
        grids.append({"n_per_side": n, "n_layers": layers, "scale_per_layer": scale,
                      "grids": [[[repr(float(x)), repr(float(y))] for x, y in layer] for layer in g]})
    crops = []
    for h, w, layers, ratio in [(480, 640, 0, 512 / 1500), (480, 640, 1, 512 / 1500), (640, 480, 2, 512 / 1500),
                                (321, 481, 3, 512 / 1500), (854, 480, 1, 0.25), (100, 100, 1, 0.0), (7, 5, 2, 0.9),
                                (1, 1, 1, 512 / 1500), (1000, 1500, 2, 0.5)]:
        boxes, idx = amg.generate_crop_boxes((h, w), layers, ratio)
        crops.append({"height": h, "width": w, "n_layers": layers, "overlap_ratio": ratio,
                      "boxes": [[int(v) for v in b] for b in boxes], "layers": [int(i) for i in idx]})
    write("grids_crops.json", {"grids": grids, "crops": crops})


# -------------------------------------------------------------------------------------------- stability and boxes
def stability_and_boxes():
    cases = []
    # exact threshold values: a logit equal to float32(t ± offset) is not counted (strict >)
    special = np.array([0.1, -0.1, 0.0, 1.0, -1.0, 0.10000001, -0.09999999, 0.5, 2.0, -2.0], np.float32)
    for shape, offset, scale in [((4, 5), 1.0, 2.0), ((6, 7), 0.1, 0.3), ((9, 4), 0.5, 1.0), ((3, 3), 1.0, 0.01),
                                 ((2, 5), 0.1, None), ((5, 5), 0.0, 1.0), ((4, 4), 0.25, -1.0)]:
        if scale is None:
            logits = special.reshape(shape)
        elif scale < 0:
            logits = np.full(shape, -5.0, np.float32)  # nothing above t − offset: 0/0 = NaN
        else:
            logits = (rng.standard_normal(shape) * scale).astype(np.float32)
        s = amg.calculate_stability_score(torch.as_tensor(logits)[None], 0.0, offset)[0].item()
        box = amg.batched_mask_to_box(torch.as_tensor(logits > 0)[None])[0].tolist()
        cases.append({"height": shape[0], "width": shape[1], "offset": offset,
                      "logits": [float(v) for v in logits.reshape(-1)], "stability": None if s != s else repr(s),
                      "box_xyxy": [int(v) for v in box]})
    # edge filtering: (box in crop frame, crop box, image size) → is_box_near_crop_edge
    edges = []
    for box, crop, (iw, ih) in [([0, 0, 10, 10], [0, 0, 640, 480], (640, 480)),
                                ([5, 5, 100, 100], [100, 0, 420, 300], (640, 480)),
                                ([21, 21, 100, 100], [100, 50, 420, 300], (640, 480)),
                                ([20, 30, 100, 100], [100, 50, 420, 300], (640, 480)),
                                ([30, 30, 299, 200], [100, 50, 420, 300], (640, 480)),
                                ([30, 30, 300, 229], [100, 50, 420, 300], (640, 480)),
                                ([30, 30, 300, 230], [100, 50, 420, 300], (640, 480)),
                                ([0, 0, 319, 249], [320, 230, 640, 480], (640, 480)),
                                ([0, 0, 319, 249], [0, 0, 320, 250], (640, 480)),
                                ([0, 0, 0, 0], [0, 0, 320, 250], (640, 480)),
                                ([0, 0, 0, 0], [300, 200, 640, 480], (640, 480)),
                                ([25, 3, 200, 150], [0, 200, 320, 480], (640, 480))]:
        near = amg.is_box_near_crop_edge(torch.tensor([box]), crop, [0, 0, iw, ih])[0].item()
        edges.append({"box": box, "crop_box": crop, "image_width": iw, "image_height": ih, "near": bool(near)})
    write("stability_boxes.json", {"stability": cases, "edges": edges})


# --------------------------------------------------------------------------------------------------------- NMS
def nms_cases():
    cases = []

    def add(boxes, scores, thr, note):
        b = torch.tensor(boxes, dtype=torch.float)
        s = torch.tensor(scores, dtype=torch.float)
        keep = batched_nms(b, s, torch.zeros(len(boxes)), iou_threshold=thr).tolist()
        cases.append({"note": note, "boxes": boxes, "scores": [float(np.float32(v)) for v in scores],
                      "iou_threshold": thr, "keep": keep})

    add([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], [0.9, 0.8, 0.7], 0.5, "overlap suppressed, far box kept")
    add([[0, 0, 10, 10], [1, 1, 11, 11], [2, 2, 12, 12]], [0.5, 0.5, 0.5], 0.5, "ties keep input order")
    add([[2, 2, 12, 12], [1, 1, 11, 11], [0, 0, 10, 10]], [1.0, 1.0, 1.0], 0.5, "ties, reversed geometry")
    add([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], [0.3, 0.9, 0.3], 0.7, "identical boxes: best wins")
    # IoU exactly at the threshold is not suppressed (strict >): [0,0,10,10] vs [0,0,10,5] → 50/100 = 0.5
    add([[0, 0, 10, 10], [0, 0, 10, 5]], [0.9, 0.8], 0.5, "IoU equal to the threshold survives")
    add([[0, 0, 10, 10], [0, 0, 10, 5]], [0.9, 0.8], 0.49, "IoU just above the threshold")
    add([[0, 0, 0, 0], [0, 0, 0, 0], [5, 5, 5, 9]], [0.4, 0.6, 0.5], 0.0, "zero-area boxes: 0/0 never suppresses")
    add([[0, 0, 10, 10], [5, 0, 15, 10], [10, 0, 20, 10]], [0.7, 0.8, 0.9], 0.3, "chain: the middle one is suppressed")
    add([[0, 0, 10, 10], [0, 0, 10, 10]], [0.5, 0.5], 1.0, "threshold 1 keeps duplicates")
    # a random set with many ties (scores in steps of 0.25), more than 1000 boxes → torchvision's vanilla path
    for n in (40, 1100):
        xy = rng.integers(0, 200, size=(n, 2))
        wh = rng.integers(0, 60, size=(n, 2))
        boxes = np.concatenate([xy, xy + wh], axis=1).tolist()
        scores = (rng.integers(0, 5, size=n) / 4).tolist()
        add(boxes, scores, 0.7 if n == 40 else 0.5, f"{n} random boxes, tied scores")
    write("nms.json", {"cases": cases})


# ------------------------------------------------------------------------------------------- small regions (cv2)
def small_regions():
    cases = []
    masks = []
    m = np.zeros((12, 14), bool); m[1:4, 1:4] = True; m[6:11, 6:13] = True; m[8, 9] = False; masks.append(m)
    m = np.zeros((10, 10), bool); m[0, 5] = True; m[1, 0] = True; masks.append(m)  # equal islands: raster ≠ block order
    m = np.zeros((10, 10), bool); m[0, 3] = True; m[1, 1] = True; m[5:7, 5] = True; m[3, 8:10] = True; masks.append(m)
    m = np.zeros((9, 11), bool); m[2, 2] = True; m[3, 3] = True; m[7, 0] = True; masks.append(m)  # diagonal: 8-connected
    m = np.ones((8, 8), bool); m[0, 0] = False; m[3:5, 3:5] = False; m[7, 2] = False; masks.append(m)  # border holes
    masks.append(np.zeros((5, 6), bool))
    masks.append(np.ones((5, 6), bool))
    for h, w, p in [(20, 25, 0.35), (31, 17, 0.55), (40, 40, 0.5), (16, 16, 0.15)]:
        masks.append(rng.random((h, w)) < p)
    # ties among islands that are all small, at odd positions (block order vs pixel order)
    for _ in range(6):
        m = np.zeros((15, 13), bool)
        for _ in range(5):
            y, x = rng.integers(0, 15), rng.integers(0, 13)
            m[y, x] = True
        masks.append(m)
    for m in masks:
        for thr in (1, 2, 3, 5, 10, 100):
            for mode in ("holes", "islands"):
                out, changed = amg.remove_small_regions(m, thr, mode)
                cases.append({"height": m.shape[0], "width": m.shape[1], "mask": bits(m), "area_thresh": thr, "mode": mode,
                              "out": bits(out), "changed": bool(changed)})
    write("small_regions.json", {"cases": cases})


# ------------------------------------------------------------------------------ end to end: Meta's generator
GOLDEN_OPTIONS = dict(points_per_side=3, points_per_batch=4, pred_iou_thresh=0.1, stability_score_thresh=0.5,
                      stability_score_offset=0.1, min_mask_region_area=100, output_mode="coco_rle")


def golden():
    """Meta's SamAutomaticMaskGenerator with the bundled demo checkpoint on a bundled image: 9 points in batches of
    4, 4 and 1, holes and islands below 100 px removed (crops are covered by formula.json; one encoder run keeps the
    debug-build test short)."""
    import sys
    from PIL import Image
    from segment_anything import SamAutomaticMaskGenerator

    root = os.path.dirname(os.path.dirname(os.path.dirname(OUT)))
    sys.path.insert(0, os.path.join(root, "experiments", "reference"))
    from sam_config import load_sam

    ckpt = "notebooks-data/demo/sam_demo_tiny_fp16.pth"
    image = "notebooks-data/demo/images/cat00_000000197528.jpg"
    sam, _, _ = load_sam(os.path.join(root, ckpt))
    img = np.array(Image.open(os.path.join(root, image)).convert("RGB"))
    records = SamAutomaticMaskGenerator(sam, **GOLDEN_OPTIONS).generate(img)
    write("golden_demo_tiny.json", {"checkpoint": ckpt, "image": image, "options": GOLDEN_OPTIONS, "records": records})


# ------------------------------------------- Meta's generator around formula masks (no model: exact in both languages)
class FormulaPredictor:
    """Stands in for SamPredictor inside Meta's generator: `predict_torch` returns, for each point (px, py) of the crop,
    three logit maps R_k − max(|x − px|, |y − py|) + (n − 3.5)/2 (float64, then float32) with
    R_k = 3 + 6k + (7·ix + 13·iy) mod 5, n = ((92837111·x) ^ (689287499·y) ^ (283923481·(k+1) + 1000003·ix + 7919·iy)) & 7,
    ix, iy = floor(px), floor(py); predicted IoU float32(((31·ix + 17·iy + 11k) mod 100) / 100). The same formulas are in
    AMGFormulaTests.swift, so Meta's filtering, NMS, crops and small-region code can be compared bit for bit."""

    def __init__(self):
        import types
        self.model = types.SimpleNamespace(mask_threshold=0.0)
        self.device = torch.device("cpu")
        self.transform = types.SimpleNamespace(apply_coords=lambda coords, size: np.array(coords, dtype=np.float64))
        self.size = None

    def set_image(self, image):
        self.size = image.shape[:2]

    def reset_image(self):
        pass

    def predict_torch(self, point_coords, point_labels, boxes=None, mask_input=None, multimask_output=True,
                      return_logits=False):
        pts = point_coords[:, 0, :].double().numpy()
        h, w = self.size
        ys, xs = np.mgrid[0:h, 0:w].astype(np.int64)
        masks = np.empty((len(pts), 3, h, w), np.float32)
        iou = np.empty((len(pts), 3), np.float32)
        for b, (px, py) in enumerate(pts):
            ix, iy = int(np.floor(px)), int(np.floor(py))
            d = np.maximum(np.abs(xs - px), np.abs(ys - py))
            for k in range(3):
                r = 3 + 6 * k + (7 * ix + 13 * iy) % 5
                n = ((xs * 92837111) ^ (ys * 689287499) ^ (283923481 * (k + 1) + 1000003 * ix + 7919 * iy)) & 7
                masks[b, k] = (r - d + (n - 3.5) * 0.5).astype(np.float32)
                iou[b, k] = np.float32(((31 * ix + 17 * iy + 11 * k) % 100) / 100.0)
        return torch.from_numpy(masks), torch.from_numpy(iou), None


FORMULA_CASES = [
    # crops in two layers (1 + 4 + 16), partial batches, every filter, holes and islands, coco strings
    dict(height=97, width=83, options=dict(points_per_side=7, points_per_batch=10, pred_iou_thresh=0.3,
                                           stability_score_thresh=0.6, stability_score_offset=0.75, box_nms_thresh=0.6,
                                           crop_n_layers=2, crop_nms_thresh=0.5, crop_overlap_ratio=0.3,
                                           crop_n_points_downscale_factor=2, min_mask_region_area=6, output_mode="coco_rle")),
    # filters off, 1200 masks in one crop: torchvision's >1000-box path with tied scores, then small regions
    dict(height=48, width=56, options=dict(points_per_side=20, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                                           box_nms_thresh=0.4, min_mask_region_area=4, output_mode="uncompressed_rle")),
    # explicit point grids (one per layer), one crop layer, binary masks
    dict(height=50, width=61, options=dict(points_per_side=None, point_grids=[
        [[0.1, 0.2], [0.5, 0.5], [0.9, 0.35], [0.3, 0.8], [0.75, 0.95]], [[0.25, 0.25], [0.5, 0.75], [0.8, 0.4]]],
        pred_iou_thresh=0.2, stability_score_thresh=0.5, stability_score_offset=0.5, crop_n_layers=1,
        output_mode="binary_mask")),
]


def formula():
    from segment_anything import SamAutomaticMaskGenerator

    cases = []
    for c in FORMULA_CASES:
        opts = dict(c["options"])
        kw = dict(opts)
        if kw.get("point_grids") is not None:
            kw["point_grids"] = [np.array(g, dtype=np.float64) for g in kw["point_grids"]]
        defaults = dict(points_per_side=32, points_per_batch=64, pred_iou_thresh=0.88, stability_score_thresh=0.95,
                        stability_score_offset=1.0, box_nms_thresh=0.7, crop_n_layers=0, crop_nms_thresh=0.7,
                        crop_overlap_ratio=512 / 1500, crop_n_points_downscale_factor=1, point_grids=None,
                        min_mask_region_area=0, output_mode="binary_mask")
        defaults.update(kw)
        import segment_anything.automatic_mask_generator as amg_mod
        orig = amg_mod.SamPredictor
        amg_mod.SamPredictor = lambda model: FormulaPredictor()
        try:
            gen = SamAutomaticMaskGenerator(None, **defaults)
        finally:
            amg_mod.SamPredictor = orig
        image = np.zeros((c["height"], c["width"], 3), np.uint8)
        records = gen.generate(image)
        out = []
        for r in records:
            r = dict(r)
            seg = r["segmentation"]
            # every mask as pycocotools' string (compact); the test decodes it and compares with its own output mode
            if isinstance(seg, np.ndarray):
                r["segmentation"] = amg.coco_encode_rle(amg.mask_to_rle_pytorch(torch.as_tensor(seg)[None])[0])
            elif isinstance(seg["counts"], list):
                r["segmentation"] = amg.coco_encode_rle(seg)
            r["predicted_iou"] = repr(r["predicted_iou"])
            r["stability_score"] = repr(r["stability_score"])
            r["point_coords"] = [[repr(float(v)) for v in r["point_coords"][0]]]
            r["bbox"] = [int(v) for v in r["bbox"]]
            r["crop_box"] = [int(v) for v in r["crop_box"]]
            out.append(r)
        # floats as repr strings: Foundation's JSON numbers are not always the nearest double
        opts_repr = {k: (repr(v) if isinstance(v, float) else v) for k, v in opts.items() if k != "point_grids"}
        if opts.get("point_grids") is not None:
            opts_repr["point_grids_text"] = json.dumps(opts["point_grids"])
        cases.append({"height": c["height"], "width": c["width"], "options": opts_repr, "records": out})
        print("formula case", len(out), "records")
    write("formula.json", {"cases": cases})


if __name__ == "__main__":
    print("segment_anything", segment_anything.__file__, "torch", torch.__version__, "cv2", cv2.__version__)
    rle_cases()
    grids_and_crops()
    stability_and_boxes()
    nms_cases()
    small_regions()
    formula()
    golden()
    print("wrote", sorted(f for f in os.listdir(OUT) if f.endswith(".json")))
