"""Writes bilinear_aa_cases.json: torch's F.interpolate(mode="bilinear", align_corners=False, antialias=True) of
synthetic N x C x H x W float32 inputs, for interpolateBilinearAntialias (SAM 2's SAM2Transforms resize).

  python Tests/SAMTensorTests/Fixtures/resize/make_aa_fixtures.py     (torch 2.15.0, numpy 2.4.6)

Input of a case: value(c, y, x) = ((7x + 13y + 31c) mod 256) / 255 as float32, C = 3, N = 1. Cases with `values`
hold the whole output (row-major); the 1024 x 1024 case holds every 997th value (`stride`) and the float64 sum.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def image(h, w):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return (((x * 7 + y * 13 + c * 31) % 256) / 255.0).astype(np.float32).transpose(2, 0, 1)[None].copy()


def main():
    cases = []
    for (h, w, oh, ow, full) in [(40, 30, 17, 13, True), (40, 30, 41, 33, True), (40, 30, 25, 70, True),
                                 (160, 120, 37, 29, True), (160, 120, 1024, 1024, False)]:
        out = F.interpolate(torch.from_numpy(image(h, w)), size=(oh, ow), mode="bilinear", align_corners=False,
                            antialias=True).numpy().reshape(-1)
        c = {"height": h, "width": w, "out_height": oh, "out_width": ow}
        if full:
            c["values"] = [float(v) for v in out]
        else:
            c["stride"] = 997
            c["samples"] = [float(v) for v in out[::997]]
            c["sum"] = float(out.astype(np.float64).sum())
        cases.append(c)
    with open(os.path.join(HERE, "bilinear_aa_cases.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f)


if __name__ == "__main__":
    main()
