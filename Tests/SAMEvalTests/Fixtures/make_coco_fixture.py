"""Writes coco_tiny.json (a COCO instances file) and coco_tiny_expected.json (each annotation's mask as decoded by
pycocotools 2.0.8: COCO.annToMask, i.e. frPyObjects + merge + decode), for DatasetCOCOTests.

  pip install pycocotools==2.0.8 && python make_coco_fixture.py
"""
import json
import os

import numpy as np
from pycocotools import mask as mu
from pycocotools.coco import COCO

here = os.path.dirname(os.path.abspath(__file__))
H, W = 13, 17
rng = np.random.default_rng(4)
blob = np.zeros((H, W), np.uint8)
blob[2:9, 3:12] = 1
blob[5, 14] = 1
blob[11:, :2] = 1
compressed = mu.encode(np.asfortranarray(blob))["counts"].decode()
uncompressed = []
flat = blob.flatten(order="F")
run, cur = 0, 0
for v in flat:
    if v != cur:
        uncompressed.append(run)
        run, cur = 0, v
    run += 1
uncompressed.append(run)
anns = [
    # a triangle with fractional vertices
    dict(id=1, image_id=7, iscrowd=0, segmentation=[[1.3, 1.7, 14.6, 3.2, 6.1, 11.9]]),
    # two polygons (union), one partly outside the image, one with a repeated vertex
    dict(id=2, image_id=7, iscrowd=0, segmentation=[[-2.0, -1.5, 5.5, -1.0, 5.0, 6.25, -1.0, 5.0],
                                                     [10.0, 8.0, 16.9, 8.0, 16.9, 8.0, 16.4, 12.6, 9.6, 12.9]]),
    # an axis-aligned rectangle on integer coordinates and a thin sliver
    dict(id=3, image_id=7, iscrowd=0, segmentation=[[2, 2, 8, 2, 8, 9, 2, 9], [12.2, 0.0, 12.8, 0.0, 12.8, 12.0, 12.2, 12.0]]),
    # compressed and uncompressed RLE of the same blob
    dict(id=4, image_id=7, iscrowd=0, segmentation={"size": [H, W], "counts": compressed}),
    dict(id=5, image_id=7, iscrowd=0, segmentation={"size": [H, W], "counts": uncompressed}),
    # a crowd region: skipped by the reader
    dict(id=6, image_id=7, iscrowd=1, segmentation={"size": [H, W], "counts": uncompressed}),
]
for a in anns:
    a["category_id"] = 1
    a["area"] = 0.0
    a["bbox"] = [0, 0, 1, 1]
coco_json = {"images": [{"id": 7, "file_name": "tiny image.png", "height": H, "width": W}],
             "annotations": anns, "categories": [{"id": 1, "name": "thing"}]}
path = os.path.join(here, "coco_tiny.json")
with open(path, "w") as f:
    json.dump(coco_json, f, indent=1)
coco = COCO(path)
expected = {}
for a in anns:
    m = coco.annToMask(coco.anns[a["id"]])
    expected[str(a["id"])] = {"area": int(m.sum()), "rows": ["".join(str(int(v)) for v in row) for row in m]}
expected["counts_of_compressed"] = uncompressed  # the string decodes to these counts
with open(os.path.join(here, "coco_tiny_expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
print({k: v["area"] for k, v in expected.items() if isinstance(v, dict)})
