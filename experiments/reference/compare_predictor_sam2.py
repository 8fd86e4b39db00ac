"""Reference outputs of Meta's SAM2ImagePredictor (sam2 1.1.0) for predictor parity checks of a SAM 2.1 port.

The SAM 2.1 counterpart of compare_predictor.py's Meta side: for every image and prompt set it runs
`SAM2ImagePredictor.predict` once (one `set_image` per image) and writes what a port has to reproduce, one file per
image x prompt set. There is no Swift side yet; a port compares its own outputs to these files.

  python compare_predictor_sam2.py --checkpoint X.pt --config t|s|b+|l [--override-file F] [--override O] \\
      --images a.jpg b.jpg ... --out DIR [--sets points_multi,box_batch_single] [--format h5|npz] [--features] \\
      [--device cpu|cuda]

Prompts come from the image's ground-truth mask when there is one beside `images/` in `masks/` (same stem;
dumpkit.find_mask: DAVIS palette masks use the first instance id), as in compare_predictor.py:
  p1   the object pixel farthest from the boundary (EDT of the padded mask, first maximum)       -- positive
  p2   the same maximum outside a disc of radius max(3, 0.6 * EDT(p1)) around p1                 -- positive
  n1   the background pixel farthest from the object (first maximum)                             -- negative
  box  the tight inclusive box of the object, x0, y0, x1, y1
Without a mask (any other image): p1 = (W // 2, H // 2), p2 = (W // 2, H // 4), n1 = (W // 10, H // 10),
box = (W // 4, H // 4, 3 W // 4, 3 H // 4) (attribute prompt_source = "geometry").

Prompt sets (multi = multimask_output=True, 3 masks; single = False, 1 mask, through the dynamic stability choice):
  points_multi        p1 (+), p2 (+), n1 (-), multi
  box_points_single   box + p1 (+) + n1 (-), single (the box becomes two points labelled 2 and 3 placed first)
  mask_input_single   p1 (+) + mask_input = points_multi's low_res_logits (as returned: clamped to +-32) of its
                      mask with the highest predicted IoU (first maximum), 1 x 256 x 256; single
  box_batch_single    N = 4 boxes at once (`box` of shape N x 4, no points): the tight box; the box grown by 10 % of
                      its width/height on every side, clipped to [0, W-1] x [0, H-1]; the box shrunk to its central
                      half; the whole image (0, 0, W-1, H-1); all rounded to quarter pixels; single
  box_batch_multi     the same 4 boxes, multi
points_multi always runs (mask_input_single needs it) but is written only when selected.

File DIR/<image stem>/<set>.h5 (h5py; datasets of at least 16 KiB gzip level 4) or .npz (np.savez_compressed,
the same names as keys, the attributes as JSON in the key "attrs"):
  inputs/image                H x W x 3 uint8: the pixels given to set_image (PIL decode, RGB)
  inputs/point_coords         K x 2 float32, original pixels              [sets with points]
  inputs/point_labels         K int64 (1 +, 0 -)                          [sets with points]
  inputs/box                  4 float32, or N x 4 for the batch sets      [sets with a box]
  inputs/mask_input           1 x 1 x 256 x 256 float32                   [mask_input_single]
  outputs/masks               C x H x W uint8 (N x C x H x W for the batch sets): logits > 0 at full resolution
  outputs/iou_predictions     C float32 (N x C)
  outputs/low_res_logits      C x 256 x 256 float32 (N x C x 256 x 256), clamped to [-32, 32] by the predictor
  outputs/object_score_logits       B x 1 float32 (B = 1, or N): the decoder's 4th output, dropped by the predictor
  outputs/all_mask_logits           B x 4 x 256 x 256 float32: every mask token before selection (unclamped)
  outputs/all_iou_predictions       B x 4 float32
  outputs/singlemask_stability_score   B x 1 float32: token 0's stability (fallback when < 0.98, single mask only)
  outputs/mask_tokens               B x C int64: the decoder token each returned mask came from (0..3)
Attributes: set, multimask_output, batch (0/1), config_size, model_config, overrides (JSON list), checkpoint, image
(file name), image_path, prompt_source ("mask:<path>" or "geometry"), prompts (JSON: points, labels, box(es)),
mask_input_from / mask_input_index [mask_input_single], set_image_seconds, predict_seconds, device, torch_version,
sam2_version, sam2_file.
--features also writes DIR/<image stem>/features.h5: inputs/input_image (1 x 3 x 1024 x 1024, the encoder input),
predictor/image_embed (1 x 256 x 64 x 64, neck level 2 + no_mem_embed), predictor/high_res_feats:0 (1 x 32 x 256 x
256), :1 (1 x 64 x 128 x 128). DIR/index.json lists every file with its image, set, prompts and IoUs.
"""

import argparse
import json
import os
import sys
import time

import h5py
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam2_config  # noqa: E402
from dumpkit import Dumper, derive_prompts, find_mask  # noqa: E402
from sam2.sam2_image_predictor import SAM2ImagePredictor  # noqa: E402

SETS = ("points_multi", "box_points_single", "mask_input_single", "box_batch_single", "box_batch_multi")


def image_prompts(image_path, h, w):
    """(p1, p2, n1, box, source) for an image: from its ground-truth mask, or from the image size."""
    try:
        obj, mask_path = find_mask(image_path)
    except SystemExit:
        obj = None
    if obj is not None and obj.shape == (h, w) and obj.any() and not obj.all():
        p1, p2, n1, box = derive_prompts(obj)
        return p1, p2, n1, box, f"mask:{mask_path}"
    return (w // 2, h // 2), (w // 2, h // 4), (w // 10, h // 10), [w // 4, h // 4, 3 * w // 4, 3 * h // 4], "geometry"


def batch_boxes(box, h, w):
    """The 4 boxes of the batch sets (N x 4 float32), see the module docstring."""
    x0, y0, x1, y1 = (float(v) for v in box)
    bw, bh = x1 - x0, y1 - y0
    grown = [max(0.0, x0 - 0.1 * bw), max(0.0, y0 - 0.1 * bh), min(w - 1.0, x1 + 0.1 * bw), min(h - 1.0, y1 + 0.1 * bh)]
    inner = [x0 + 0.25 * bw, y0 + 0.25 * bh, x1 - 0.25 * bw, y1 - 0.25 * bh]
    boxes = np.array([[x0, y0, x1, y1], grown, inner, [0.0, 0.0, w - 1.0, h - 1.0]], dtype=np.float64)
    return (np.round(boxes * 4) / 4).astype(np.float32)  # quarter pixels: exact in float32 and in JSON


def prompt_sets(p1, p2, n1, box, h, w):
    pts = lambda *ps: np.array([list(p) for p in ps], dtype=np.float32)  # noqa: E731
    boxes = batch_boxes(box, h, w)
    return {
        "points_multi": dict(point_coords=pts(p1, p2, n1), point_labels=np.array([1, 1, 0], dtype=np.int64),
                             multimask=True),
        "box_points_single": dict(point_coords=pts(p1, n1), point_labels=np.array([1, 0], dtype=np.int64),
                                  box=np.array(box, dtype=np.float32), multimask=False),
        "mask_input_single": dict(point_coords=pts(p1), point_labels=np.array([1], dtype=np.int64), mask="round1",
                                  multimask=False),
        "box_batch_single": dict(box=boxes, multimask=False),
        "box_batch_multi": dict(box=boxes, multimask=True),
    }


def write_file(path, data, attrs, fmt):
    """data: {dataset path: array}; attrs: {name: str | int | float}."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if fmt == "npz":
        np.savez_compressed(path + ".tmp.npz", attrs=np.array(json.dumps(attrs)), **data)
        os.replace(path + ".tmp.npz", path)
        return
    with h5py.File(path + ".tmp", "w") as h5:
        dumper = Dumper(h5, compression=True, max_bytes=None)
        for k, v in data.items():
            dumper.write(k, v)
        for k, v in attrs.items():
            h5.attrs[k] = v
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help='torch.save({"model": state_dict}) file (official layout)')
    ap.add_argument("--config", "--sam2-config", dest="config", required=True, choices=sorted(sam2_config.CONFIGS))
    ap.add_argument("--override", action="append", default=[], help="Hydra override (repeatable)")
    ap.add_argument("--override-file", action="append", default=[], help="file of Hydra overrides (repeatable)")
    ap.add_argument("--images", nargs="+", required=True)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated subset of {','.join(SETS)}")
    ap.add_argument("--format", choices=["h5", "npz"], default="h5")
    ap.add_argument("--features", action="store_true", help="also write <stem>/features.h5 (encoder input, features)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda (float32, TF32 off)")
    a = ap.parse_args()
    sets = [s for s in a.sets.split(",") if s]
    for s in sets:
        if s not in SETS:
            raise SystemExit(f"unknown set {s!r}; known: {', '.join(SETS)}")
    torch.set_grad_enabled(False)
    if a.device != "cpu":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    overrides = sam2_config.read_overrides(a.override_file, a.override)
    model = sam2_config.build(a.config, overrides, checkpoint=a.checkpoint)
    model.to(a.device)
    vers = sam2_config.versions()
    print(f"sam2 {vers['sam2_version']}: {vers['sam2_file']}, torch {vers['torch_version']}, "
          f"model {sam2_config.config_file(a.config)}{f' + {len(overrides)} overrides' if overrides else ''}, "
          f"checkpoint {a.checkpoint}", flush=True)
    capture = sam2_config.DecoderCapture(model)
    predictor = SAM2ImagePredictor(model)
    common = dict(config_size=a.config, model_config=sam2_config.config_file(a.config),
                  overrides=json.dumps(overrides), checkpoint=os.path.basename(a.checkpoint), device=a.device, **vers)
    index = []
    ext = "." + a.format
    for img_path in a.images:
        image = np.array(Image.open(img_path).convert("RGB"))
        h, w = image.shape[:2]
        stem = os.path.splitext(os.path.basename(img_path))[0]
        p1, p2, n1, box, source = image_prompts(img_path, h, w)
        print(f"{stem} {w}x{h}: p1 {p1} p2 {p2} n1 {n1} box {box} ({source})", flush=True)

        feats = {}

        def capture_input(module, inputs):  # must return None: a value would replace the input
            feats.setdefault("input_image", inputs[0].detach().float().cpu().numpy())

        pre = model.image_encoder.register_forward_pre_hook(capture_input)
        t0 = time.time()
        predictor.set_image(image)
        t_set = time.time() - t0
        pre.remove()
        if a.features:
            data = {"inputs/input_image": feats["input_image"],
                    "predictor/image_embed": predictor._features["image_embed"].float().cpu().numpy()}
            for i, t in enumerate(predictor._features["high_res_feats"]):
                data[f"predictor/high_res_feats:{i}"] = t.float().cpu().numpy()
            write_file(os.path.join(a.out, stem, "features.h5"), data,
                       dict(common, image=os.path.basename(img_path), image_path=img_path, set_image_seconds=t_set),
                       "h5")

        results = {}
        for name, c in prompt_sets(p1, p2, n1, box, h, w).items():
            if name not in sets and not (name == "points_multi" and "mask_input_single" in sets):
                continue
            mask_input, extra = None, {}
            if c.get("mask") == "round1":
                _, r_iou, r_low = results["points_multi"]
                k = int(np.argmax(r_iou))
                mask_input = r_low[k][None].astype(np.float32)
                extra = dict(mask_input_from="points_multi", mask_input_index=k)
            capture.clear()
            t0 = time.time()
            masks, iou, low = predictor.predict(point_coords=c.get("point_coords"), point_labels=c.get("point_labels"),
                                                box=c.get("box"), mask_input=mask_input,
                                                multimask_output=c["multimask"], return_logits=False)
            t_pred = time.time() - t0
            results[name] = (masks, iou, low)
            if name not in sets:
                continue
            cap = capture.last
            data = {"inputs/image": image}
            if "point_coords" in c:
                data["inputs/point_coords"] = c["point_coords"]
                data["inputs/point_labels"] = c["point_labels"]
            if "box" in c:
                data["inputs/box"] = c["box"]
            if mask_input is not None:
                data["inputs/mask_input"] = mask_input[None]
            data.update({
                "outputs/masks": masks.astype(np.uint8),
                "outputs/iou_predictions": iou.astype(np.float32),
                "outputs/low_res_logits": low.astype(np.float32),
            })
            for k in ("object_score_logits", "all_mask_logits", "all_iou_predictions", "singlemask_stability_score",
                      "mask_tokens"):
                data["outputs/" + k] = cap[k]
            prompts = {k: c[k].tolist() for k in ("point_coords", "point_labels", "box") if k in c}
            attrs = dict(common, set=name, multimask_output=int(c["multimask"]), batch=int(name.startswith("box_batch")),
                         image=os.path.basename(img_path), image_path=img_path, prompt_source=source,
                         prompts=json.dumps(prompts), set_image_seconds=t_set, predict_seconds=t_pred, **extra)
            path = os.path.join(a.out, stem, name + ext)
            write_file(path, data, attrs, a.format)
            index.append(dict(image=img_path, set=name, file=os.path.relpath(path, a.out), prompts=prompts,
                              multimask_output=c["multimask"], mask_shape=list(masks.shape),
                              iou_predictions=iou.tolist(), mask_tokens=cap["mask_tokens"].tolist(),
                              object_score_logits=cap["object_score_logits"].ravel().tolist(), **extra))
            print(f"  {name:<18} masks {tuple(masks.shape)} iou {np.array2string(iou.ravel(), precision=4)} "
                  f"tokens {cap['mask_tokens'].ravel().tolist()} object score "
                  f"{np.array2string(cap['object_score_logits'].ravel(), precision=4)} stability "
                  f"{np.array2string(cap['singlemask_stability_score'].ravel(), precision=4)} -> {path} "
                  f"({os.path.getsize(path) / 1e6:.2f} MB)", flush=True)
        print(f"  set_image {t_set:.1f} s", flush=True)
    capture.close()
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump(dict(common, files=index), f, indent=1)


if __name__ == "__main__":
    main()
