"""Reference evaluation with Meta's SamPredictor (segment_anything 1.0, commit dca509f), or with Meta's
SAM2ImagePredictor (sam2 1.1.0, `--sam2-config`): the protocols of `sam eval`.

Written from the protocol definitions (issue 4, ../../shared/REFERENCE.md "Evaluation protocols"), independently of
the Swift code: pairing with os.listdir + dicts, the farthest point with scipy's exact EDT, the click simulation with
RITM's clicker (clicks_reference.py, cv2.distanceTransform). The CSV columns and ids are those of `sam eval`, so
`compare_eval.py` compares the two object by object.

  python eval_reference.py --checkpoint C.pth --dataset DIR --prompt box,point,clicks:5 --out 'out/{prompt}.csv'
      [--ignore-value 128] [--instances binary|merged|separate] [--rotate-mismatched] [--limit N] [--shard k/n] [--seed S]
      [--sam2-config t|s|b+|l [--override-file F] [--override O]]

SAM 2.1: `--sam2-config SIZE` builds configs/sam2.1/sam2.1_hiera_<SIZE>.yaml with sam2's own build_sam2 (plus the Hydra
overrides of --override-file / --override, e.g. sam2_tiny_random.overrides; sam2_config.py), loads the checkpoint
(`{"model": state_dict}`, strict) and runs every protocol through SAM2ImagePredictor instead of SamPredictor: the same
prompts, the same `predict` calls (the predictor's defaults: mask_threshold 0, no hole/sprinkle filling; single-mask
predictions go through build_sam2's dynamic multimask fallback), the same CSV. Without it nothing changes.

Protocols (one encoder pass per image serves every protocol given):
  box        tight inclusive box of the object pixels (ignore excluded), multimask off         -> id,iou
  point      farthest point from the boundary (EDT of the mask padded by one background pixel, first maximum in
             row-major order), multimask on; iou = mask with the highest predicted IoU, oracle = best of three
                                                                                              -> id,iou,iou_oracle
  center     centre of mass, rounded half up (floor(mean + 0.5)); `point`'s point when that pixel is not object,
             multimask on, top-1                                                               -> id,iou
  random     an object pixel drawn uniformly: SplitMix64 seeded with seed ^ FNV-1a-64(id), first output modulo the
             object's pixel count, pixels in row-major order; multimask on, top-1              -> id,iou
  box+point  the box and the farthest point together, multimask off                           -> id,iou
  jbox       the tight box with every side moved by an integer drawn uniformly in [-r, r], r = floor(0.1 * side
             length), SplitMix64 outputs 1..4 of the object's generator (x0, y0, x1, y1 in that order), clipped
             to the image and kept ordered; multimask off                                      -> id,iou
  clicks:N   RITM click simulation (clicks_reference.py)                  -> id,iou_1..iou_N,noc85,noc90

Masks: `binary` (default) object = value >= 128; `merged` object = any non-zero value; `separate` one object per
distinct non-zero value (id `stem#value`). `--ignore-value V`: pixels equal to V are ignore (neither intersection nor
union). Pairing: mask stem == image stem, or mask stem minus one trailing lowercase letter == image stem (Berkeley's
189011a/189011b). A mask whose image has another size is an error, unless --rotate-mismatched and the image's
transpose has the mask's size: the image is then turned 90 degrees counter-clockwise (np.rot90), Berkeley's fix.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam_config  # noqa: E402
from segment_anything import SamPredictor  # noqa: E402

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp"}
M64 = (1 << 64) - 1


# ---------------------------------------------------------------- dataset

def list_objects(root, instances="binary", ignore_value=None, rotate_mismatched=False):
    """[(id, image_path, mask_path, value or None)] sorted by id (code points)."""
    images = {}
    for f in os.listdir(os.path.join(root, "images")):
        stem, ext = os.path.splitext(f)
        if f.startswith(".") or ext.lower() not in IMAGE_EXTS:
            continue
        if stem in images:
            raise SystemExit(f"two images with stem {stem!r}: {images[stem]} and {f}")
        images[stem] = os.path.join(root, "images", f)
    out = []
    for f in os.listdir(os.path.join(root, "masks")):
        stem, ext = os.path.splitext(f)
        if f.startswith(".") or ext.lower() not in IMAGE_EXTS:
            continue
        if stem in images:
            img = images[stem]
        elif len(stem) > 1 and "a" <= stem[-1] <= "z" and stem[:-1] in images:
            img = images[stem[:-1]]
        else:
            raise SystemExit(f"mask {f} has no image")
        mpath = os.path.join(root, "masks", f)
        if instances == "separate":
            vals = np.unique(read_labels(mpath))
            for v in vals:
                if v != 0 and (ignore_value is None or v != ignore_value):
                    out.append((f"{stem}#{int(v)}", img, mpath, int(v)))
        else:
            out.append((stem, img, mpath, None))
    out.sort(key=lambda o: o[0])
    return out


def read_labels(path):
    im = Image.open(path)
    if im.mode not in ("P", "L"):
        im = im.convert("L")
    return np.asarray(im)


def ground_truth(values, instances, value, ignore_value):
    """labels: 1 object, 0 background, 2 ignore."""
    if instances == "binary":
        obj = values >= 128
    elif instances == "merged":
        obj = values != 0
    else:
        obj = values == value
    lab = obj.astype(np.uint8)
    if ignore_value is not None:
        lab[values == ignore_value] = 2
    return lab


def load_pair(obj, instances, ignore_value, rotate_mismatched):
    oid, ipath, mpath, value = obj
    image = np.array(Image.open(ipath).convert("RGB"))
    values = read_labels(mpath)
    if image.shape[:2] != values.shape:
        if rotate_mismatched and image.shape[1::-1] == values.shape:
            image = np.ascontiguousarray(np.rot90(image))
        else:
            raise SystemExit(f"image {ipath} is {image.shape[1]}x{image.shape[0]} but its mask {mpath} is "
                             f"{values.shape[1]}x{values.shape[0]}")
    return image, ground_truth(values, instances, value, ignore_value)


# ---------------------------------------------------------------- prompts and metrics

def iou(lab, pred):
    valid = lab != 2
    g = lab == 1
    inter = np.logical_and(np.logical_and(pred, g), valid).sum()
    union = np.logical_and(np.logical_or(pred, g), valid).sum()
    return 1.0 if union == 0 else float(inter) / float(union)


def tight_box(lab):
    ys, xs = np.nonzero(lab == 1)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float64)


def farthest_point(lab):
    padded = np.pad(lab == 1, 1, mode="constant")
    dt = ndimage.distance_transform_edt(padded)[1:-1, 1:-1]
    k = int(np.argmax(dt))  # first maximum, row-major
    return k % lab.shape[1], k // lab.shape[1]


def center_point(lab):
    ys, xs = np.nonzero(lab == 1)
    cx, cy = int(np.floor(xs.mean() + 0.5)), int(np.floor(ys.mean() + 0.5))
    if lab[cy, cx] == 1:
        return cx, cy
    return farthest_point(lab)


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def object_rng(seed, oid):
    return SplitMix64((seed & M64) ^ fnv1a64(oid))


def random_point(lab, seed, oid):
    ys, xs = np.nonzero(lab == 1)  # row-major order
    k = object_rng(seed, oid).next() % len(xs)
    return int(xs[k]), int(ys[k])


def jittered_box(lab, seed, oid):
    x0, y0, x1, y1 = (int(v) for v in tight_box(lab))
    h, w = lab.shape
    rng = object_rng(seed, oid)
    rng.next()  # output 0 is the random protocol's
    rx, ry = (x1 - x0 + 1) // 10, (y1 - y0 + 1) // 10

    def jit(r):
        return int(rng.next() % (2 * r + 1)) - r

    nx0 = min(max(x0 + jit(rx), 0), w - 1)
    ny0 = min(max(y0 + jit(ry), 0), h - 1)
    nx1 = min(max(x1 + jit(rx), 0), w - 1)
    ny1 = min(max(y1 + jit(ry), 0), h - 1)
    return np.array([min(nx0, nx1), min(ny0, ny1), max(nx0, nx1), max(ny0, ny1)], dtype=np.float64)


def top1(scores):
    return int(np.argmax(scores))  # first maximum


def protocol_columns(p):
    if p == "point":
        return ["iou", "iou_oracle"]
    if p.startswith("clicks:"):
        n = int(p.split(":")[1])
        return [f"iou_{k}" for k in range(1, n + 1)] + ["noc85", "noc90"]
    return ["iou"]


def run_protocol(p, predictor, lab, oid, seed):
    """Values of the protocol's columns for one object (predictor already holds the image)."""
    one = np.array([1])
    if p == "box":
        m, s, _ = predictor.predict(box=tight_box(lab), multimask_output=False)
        return [iou(lab, m[0])]
    if p in ("point", "center", "random"):
        if p == "point":
            x, y = farthest_point(lab)
        elif p == "center":
            x, y = center_point(lab)
        else:
            x, y = random_point(lab, seed, oid)
        m, s, _ = predictor.predict(point_coords=np.array([[x, y]], dtype=np.float64), point_labels=one,
                                    multimask_output=True)
        ious = [iou(lab, m[k]) for k in range(m.shape[0])]
        return [ious[top1(s)], max(ious)] if p == "point" else [ious[top1(s)]]
    if p == "box+point":
        x, y = farthest_point(lab)
        m, s, _ = predictor.predict(point_coords=np.array([[x, y]], dtype=np.float64), point_labels=one,
                                    box=tight_box(lab), multimask_output=False)
        return [iou(lab, m[0])]
    if p == "jbox":
        m, s, _ = predictor.predict(box=jittered_box(lab, seed, oid), multimask_output=False)
        return [iou(lab, m[0])]
    if p.startswith("clicks:"):
        import clicks_reference
        ious = clicks_reference.simulate(predictor, lab, int(p.split(":")[1]))
        n = len(ious)
        return ious + [clicks_reference.noc(ious, 0.85, n), clicks_reference.noc(ious, 0.90, n)]
    raise SystemExit(f"unknown protocol {p}")


def csv_field(s):
    """RFC 4180 quoting, only where needed (a comma, a quote or a line break)."""
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\r\n') else s


def fmt(v):
    return str(v) if isinstance(v, (int, np.integer)) else f"{v:.6f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--model-type", default=None)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--prompt", required=True, help="comma-separated protocols")
    ap.add_argument("--out", required=True, help="CSV path; with several protocols it must contain {prompt}")
    ap.add_argument("--ignore-value", type=int, default=None)
    ap.add_argument("--instances", choices=["binary", "merged", "separate"], default="binary")
    ap.add_argument("--rotate-mismatched", action="store_true")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--shard", default=None, help="k/n: the k-th of n contiguous blocks of the sorted objects (as sam eval)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--sam2-config", default=None, choices=["t", "s", "b+", "l"],
                    help="SAM 2.1: build this size with sam2's build_sam2 and use SAM2ImagePredictor")
    ap.add_argument("--override-file", action="append", default=[],
                    help="with --sam2-config: a file of Hydra overrides, one a line (repeatable)")
    ap.add_argument("--override", action="append", default=[], help="with --sam2-config: a Hydra override (repeatable)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda: the network on a GPU in float32 with TF32 "
                    "off (matmul and cuDNN); prompts, distance transforms and IoUs stay in NumPy/SciPy on the CPU")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.device != "cpu":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    protocols = a.prompt.split(",")
    if len(protocols) > 1 and "{prompt}" not in a.out:
        raise SystemExit("--out must contain {prompt} with several protocols")
    if a.sam2_config:
        if a.model_type:
            raise SystemExit("--model-type is for segment_anything checkpoints; not with --sam2-config")
        import sam2_config
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        model = sam2_config.build(a.sam2_config, sam2_config.read_overrides(a.override_file, a.override),
                                  checkpoint=a.checkpoint)
        model.to(a.device)
        predictor = SAM2ImagePredictor(model)
    else:
        if a.override_file or a.override:
            raise SystemExit("--override-file / --override need --sam2-config")
        sam, cfg, name = sam_config.load_sam(a.checkpoint, a.model_type)
        sam.to(a.device)
        predictor = SamPredictor(sam)
    objs = list_objects(a.dataset, a.instances, a.ignore_value, a.rotate_mismatched)
    if a.shard:
        k, n = (int(v) for v in a.shard.split("/"))
        objs = objs[(k - 1) * len(objs) // n: k * len(objs) // n]
    if a.limit:
        objs = objs[: a.limit]
    files = {}
    for p in protocols:
        path = a.out.replace("{prompt}", p.replace(":", ""))
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        f = open(path + ".tmp", "w")
        f.write(",".join(["id"] + protocol_columns(p)) + "\n")
        files[p] = (f, path)
    t0 = time.time()
    last_key = None
    sums = {p: 0.0 for p in protocols}
    with torch.no_grad():
        for i, obj in enumerate(objs):
            image, lab = load_pair(obj, a.instances, a.ignore_value, a.rotate_mismatched)
            key = (obj[1], image.shape)
            if key != last_key:
                predictor.set_image(image)
                last_key = key
            for p in protocols:
                vals = run_protocol(p, predictor, lab, obj[0], a.seed)
                sums[p] += vals[0]
                files[p][0].write(csv_field(obj[0]) + "," + ",".join(fmt(v) for v in vals) + "\n")
                files[p][0].flush()
            el = time.time() - t0
            print(f"{i + 1}/{len(objs)} {obj[0]} {el:.0f}s", file=sys.stderr, flush=True)
    for p, (f, path) in files.items():
        f.close()
        os.replace(path + ".tmp", path)
        print(f"{p}: {len(objs)} objects, mIoU {sums[p] / max(1, len(objs)):.4f} -> {path}")


if __name__ == "__main__":
    main()
