#!/usr/bin/env python3
"""Compare Meta's SamAutomaticMaskGenerator with `sam auto` on the same images and options.

For each image, runs Meta's generator (segment_anything, commit dca509f) in a child process and `sam auto` in
another, each measured with os.wait4 (wall time, user + system CPU time, peak resident memory of the process); the time
of `generate` alone is reported by each side (Meta's: timed around `generate()` in the child; Swift's: the per-image
time `sam auto` prints). --ref-device cuda runs Meta's network on a GPU (one child for every image; its outputs are
moved back to the CPU, so filtering and NMS still run in the CPU kernels).
Both write SA-1B JSON with coco_rle segmentations; masks are decoded with pycocotools and matched by mask IoU.

Per image: mask counts, the fraction of reference masks with a Swift mask of IoU >= --iou (0.98) and the other way
round, how many masks are bit-identical, wall time and peak memory of both.

    python experiments/reference/amg_compare.py --checkpoint ../shared/checkpoints/sam_demo_tiny.pth \
        --image ../shared/data/COCO_MVal/images/airplane09_000000208208.jpg \
        --sam .build-amg/release/sam --work /tmp/amg_cmp --markdown /tmp/amg_cmp/table.md \
        --pred-iou-thresh 0.1 --stability-score-thresh 0.5 --stability-score-offset 0.1

Every generator option has the flag `sam auto` has (--points-per-side, --points-per-batch, --pred-iou-thresh,
--stability-score-thresh, --stability-score-offset, --box-nms-thresh, --crop-n-layers, --crop-nms-thresh,
--crop-overlap-ratio, --crop-n-points-downscale-factor, --point-grids FILE.json, --min-mask-region-area), with Meta's
defaults. --reuse keeps results already in --work for the same checkpoint, image and options (the JSON files are
written atomically, so an interrupted run can be resumed).

--rle-check additionally runs `sam auto --format amg` (PNG masks) and `--output-mode uncompressed_rle` and checks that
the coco_rle strings decode with pycocotools to exactly the PNG masks and to the uncompressed RLEs.

Needs: segment-anything, torch, torchvision, numpy, pillow, pycocotools, opencv-python-headless (min_mask_region_area).

SAM 2.1 (`--sam2-config t|s|b+|l`, with `--override-file F` / `--override O` for custom sizes such as
sam2_tiny_random.overrides): the child runs sam2 1.1.0's SAM2AutomaticMaskGenerator (sam2/automatic_mask_generator.py)
on a model built by sam2_config.build (build_sam2, strict checkpoint loading), on the CPU only. Its defaults differ from
v1's: pred_iou_thresh 0.8 (v1 0.88), and three options v1 lacks: mask_threshold 0.0 (--mask-threshold; binarises the
logits and is the centre of the stability score), use_m2m False (--use-m2m: every mask is decoded again, single mask,
with its own point and its low-res logits as mask input, in batches of points_per_batch, before the filters) and
multimask_output True (--no-multimask-output for one mask per point, through the dynamic stability fallback). The
other defaults are v1's (points_per_side 32, points_per_batch 64, stability 0.95 / offset 1.0, NMS 0.7, crops as v1).
`sam auto` gets v1's flags with these values, plus --use-m2m when on and --multimask-output / --no-multimask-output
(always), and --mask-threshold only when it is not 0. min_mask_region_area has another meaning in sam2 1.1.0: generate()
never calls postprocess_small_regions; the value goes to SAM2ImagePredictor(max_hole_area=, max_sprinkle_area=), which
fills holes/removes sprinkles on the 256 x 256 low-res logits with sam2._C's connected components -- an extension this
CPU build lacks, so Meta's code warns and skips it (no effect here).
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

OPTIONS = [
    # (flag, Meta's keyword, type, default); SAM2_DEFAULTS and SAM2_OPTIONS below for --sam2-config
    ("points-per-side", "points_per_side", int, None),
    ("points-per-batch", "points_per_batch", int, 64),
    ("pred-iou-thresh", "pred_iou_thresh", float, 0.88),
    ("stability-score-thresh", "stability_score_thresh", float, 0.95),
    ("stability-score-offset", "stability_score_offset", float, 1.0),
    ("box-nms-thresh", "box_nms_thresh", float, 0.7),
    ("crop-n-layers", "crop_n_layers", int, 0),
    ("crop-nms-thresh", "crop_nms_thresh", float, 0.7),
    ("crop-overlap-ratio", "crop_overlap_ratio", float, 512 / 1500),
    ("crop-n-points-downscale-factor", "crop_n_points_downscale_factor", int, 1),
    ("point-grids", "point_grids", str, None),
    ("min-mask-region-area", "min_mask_region_area", int, 0),
]
# SAM2AutomaticMaskGenerator's defaults where they differ from SamAutomaticMaskGenerator's (sam2 1.1.0)
SAM2_DEFAULTS = {"pred_iou_thresh": 0.8}
# its options that v1 lacks: (flag, keyword, default); only used with --sam2-config
SAM2_OPTIONS = [
    ("mask-threshold", "mask_threshold", 0.0),
    ("use-m2m", "use_m2m", False),
    ("multimask-output", "multimask_output", True),
]


def generator_kwargs(args):
    kw = {}
    for flag, key, _, default in OPTIONS:
        v = getattr(args, key)
        if key == "point_grids":
            if v is not None:
                with open(v) as f:
                    kw["point_grids"] = [np.array(g, dtype=np.float64) for g in json.load(f)]
                kw["points_per_side"] = None
            continue
        if key == "points_per_side":
            if args.point_grids is None:
                kw["points_per_side"] = 32 if v is None else v
            continue
        kw[key] = v
    if args.sam2_config:
        for _, key, _ in SAM2_OPTIONS:
            kw[key] = getattr(args, key)
    return kw


def sam_flags(args):
    out = []
    for flag, key, _, default in OPTIONS:
        v = getattr(args, key)
        if v is None:
            continue
        out += ["--" + flag, repr(v) if isinstance(v, float) else str(v)]
    if args.sam2_config:
        if args.use_m2m:
            out += ["--use-m2m"]
        out += ["--multimask-output" if args.multimask_output else "--no-multimask-output"]
        if args.mask_threshold != 0.0:
            out += ["--mask-threshold", repr(args.mask_threshold)]
    return out


def model_flags(args):
    """What the child needs to build the model besides the checkpoint (nothing for segment_anything)."""
    if not args.sam2_config:
        return []
    out = ["--sam2-config", args.sam2_config]
    for f in args.override_file:
        out += ["--override-file", f]
    for o in args.override:
        out += ["--override=" + o]
    return out


def options_key(args):
    d = {key: getattr(args, key) for _, key, _, _ in OPTIONS}
    if args.sam2_config:
        d.update({key: getattr(args, key) for _, key, _ in SAM2_OPTIONS})
        d["sam2_config"] = args.sam2_config
        d["overrides"] = read_overrides(args)
    if args.point_grids:
        with open(args.point_grids, "rb") as f:
            d["point_grids"] = hashlib.sha256(f.read()).hexdigest()
    return d


# ---------------------------------------------------------------------------------------------------------- reference

def run_reference_worker(args):
    """Child process: Meta's generator on each --image (written to the matching --out, atomically); one JSON line of
    timing per image on stdout. On the CPU the parent starts one child per image (its peak RSS is that image's); on a
    GPU one child does every image."""
    import torch
    from PIL import Image

    sys.path.insert(0, HERE)
    try:
        import pycocotools  # noqa: F401
        mode = "coco_rle"
    except ImportError:  # a machine without pycocotools: uncompressed RLEs, compressed where the comparison runs
        mode = "uncompressed_rle"
    if args.sam2_config:
        run_sam2_worker(args, mode)
        return
    from sam_config import load_sam  # noqa: E402
    from segment_anything import SamAutomaticMaskGenerator

    sam, _, _ = load_sam(args.checkpoint)
    if args.ref_device != "cpu":
        # float32 throughout, as on the CPU: no TF32 in matmuls or convolutions
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        sam.to(args.ref_device)
    gen = SamAutomaticMaskGenerator(sam, output_mode=mode, **generator_kwargs(args))
    if args.ref_device != "cpu":
        # Only the network runs on the GPU: its outputs come back to the CPU, so filtering, boxes, RLEs and every NMS
        # run in PyTorch's and torchvision's CPU kernels, as in a CPU run (the CUDA NMS sorts ties differently).
        predict_on_device = gen.predictor.predict_torch

        def predict_then_cpu(*a, **k):
            masks, iou, low = predict_on_device(*a, **k)
            return masks.cpu(), iou.cpu(), low.cpu()

        gen.predictor.predict_torch = predict_then_cpu
    generate_all(args, gen, args.ref_device)


def generate_all(args, gen, device, extra_info=None):
    """gen.generate on every --image, written to the matching --out; one JSON line of timing per image on stdout."""
    import torch
    from PIL import Image

    for image_path, out in zip(args.image, args.out):
        image = np.array(Image.open(image_path).convert("RGB"))
        t0 = time.perf_counter()
        masks = gen.generate(image)
        if device != "cpu":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        doc = {
            "image": {"file_name": os.path.basename(image_path), "width": int(image.shape[1]), "height": int(image.shape[0])},
            "annotations": [dict(id=i, **m) for i, m in enumerate(masks)],
        }
        with open(out + ".tmp", "w") as f:
            json.dump(doc, f)
        os.replace(out + ".tmp", out)
        print(json.dumps({"image": os.path.basename(image_path), "generate_seconds": seconds, "torch": torch.__version__,
                          "threads": torch.get_num_threads(), "device": device, **(extra_info or {})}), flush=True)


def read_overrides(args):
    sys.path.insert(0, HERE)
    from sam2_config import read_overrides as read  # noqa: E402

    return read(args.override_file, args.override)


def run_sam2_worker(args, mode):
    """Child process for --sam2-config: sam2 1.1.0's SAM2AutomaticMaskGenerator, on the CPU."""
    import warnings

    import sam2_config  # noqa: E402
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

    if args.ref_device != "cpu":
        raise SystemExit("--sam2-config runs on the CPU only")
    model = sam2_config.build(args.sam2_config, read_overrides(args), checkpoint=args.checkpoint)
    gen = SAM2AutomaticMaskGenerator(model, output_mode=mode, **generator_kwargs(args))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        generate_all(args, gen, "cpu", {"sam2_version": sam2_config.versions()["sam2_version"]})
    for w in caught:  # e.g. the skipped hole/sprinkle filling of min_mask_region_area (no sam2._C)
        if "jit.script" not in str(w.message):
            print(f"warning: {w.category.__name__}: {str(w.message).splitlines()[0]}", file=sys.stderr)


def run_measured(cmd, log):
    """Runs cmd, returns (returncode, wall seconds, peak RSS in MiB, stdout text, CPU seconds (user + system))."""
    t0 = time.perf_counter()
    with open(log, "w") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        out = p.stdout.read().decode()
        _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    return os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss / 1024.0, out, usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------------------------- compare

def load_rles(path):
    """pycocotools RLEs (counts as bytes) of an SA-1B JSON whose segmentations are coco or uncompressed RLEs."""
    from pycocotools import mask as mu

    with open(path) as f:
        doc = json.load(f)
    rles = []
    for a in doc["annotations"]:
        s = a["segmentation"]
        if isinstance(s["counts"], list):
            h, w = s["size"]
            rles.append(mu.frPyObjects({"size": [h, w], "counts": s["counts"]}, h, w))
        else:
            rles.append({"size": s["size"], "counts": s["counts"].encode()})
    return doc, rles


def match(ref_rles, swift_rles, thresh):
    from pycocotools import mask as mu

    if not ref_rles or not swift_rles:
        return 0, 0, 0, np.zeros((len(ref_rles), len(swift_rles)))
    iou = np.array(mu.iou(swift_rles, ref_rles, [0] * len(ref_rles)))  # swift × ref
    iou = iou.reshape(len(swift_rles), len(ref_rles)).T  # ref × swift
    ref_matched = int((iou.max(axis=1) >= thresh).sum())
    swift_matched = int((iou.max(axis=0) >= thresh).sum())
    ref_strings = {r["counts"] for r in ref_rles}
    identical = sum(1 for r in swift_rles if r["counts"] in ref_strings)
    return ref_matched, swift_matched, identical, iou


def rle_check(args, image, work, stem):
    """coco_rle strings of `sam auto` vs its PNG masks and its uncompressed RLEs, decoded with pycocotools."""
    from PIL import Image
    from pycocotools import mask as mu

    res = {}
    base = [args.sam, "auto", "--checkpoint", args.checkpoint, "--image", image] + sam_flags(args)
    coco_dir, unc_dir, amg_dir = (os.path.join(work, d) for d in ("swift", "swift_unc", "swift_amg"))
    for d, extra in ((unc_dir, ["--output-mode", "uncompressed_rle"]), (amg_dir, ["--format", "amg"])):
        rc, _, _, _, _ = run_measured(base + ["--out", d] + extra, os.path.join(work, stem + ".rlecheck.log"))
        if rc != 0:
            raise SystemExit(f"sam auto failed for the RLE check ({d}), see {work}/{stem}.rlecheck.log")
    with open(os.path.join(coco_dir, stem + ".json")) as f:
        coco = json.load(f)["annotations"]
    with open(os.path.join(unc_dir, stem + ".json")) as f:
        unc = json.load(f)["annotations"]
    bad_png = bad_unc = 0
    for i, a in enumerate(coco):
        h, w = a["segmentation"]["size"]
        m = mu.decode({"size": [h, w], "counts": a["segmentation"]["counts"].encode()})
        png = np.array(Image.open(os.path.join(amg_dir, stem, f"{i}.png"))) > 0
        bad_png += int(not np.array_equal(m.astype(bool), png))
        u = mu.frPyObjects(unc[i]["segmentation"], h, w)
        bad_unc += int(u["counts"].decode() != a["segmentation"]["counts"] or int(mu.area(u)) != a["area"])
    res.update(rle_masks=len(coco), rle_png_mismatch=bad_png, rle_uncompressed_mismatch=bad_unc)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--image", action="append", required=True, help="repeatable")
    ap.add_argument("--sam", default=".build-amg/release/sam", help="the sam executable (release build)")
    ap.add_argument("--work", help="folder for both sides' JSON and logs")
    ap.add_argument("--markdown", help="append the table to this Markdown file")
    ap.add_argument("--json", help="write every figure to this JSON file")
    ap.add_argument("--title", default="", help="heading of the Markdown section")
    ap.add_argument("--iou", type=float, default=0.98, help="mask IoU that counts as a match")
    ap.add_argument("--ref-device", default="cpu", help="torch device of Meta's generator (cpu; cuda runs float32, no TF32)")
    ap.add_argument("--reuse", action="store_true", help="keep results already in --work for the same inputs")
    ap.add_argument("--skip-swift", action="store_true")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--rle-check", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", action="append", help=argparse.SUPPRESS)
    ap.add_argument("--sam2-config", choices=["t", "s", "b+", "l"], default=None,
                    help="SAM 2.1: the reference is sam2's SAM2AutomaticMaskGenerator on this size (CPU)")
    ap.add_argument("--override-file", action="append", default=[], help="with --sam2-config: Hydra overrides file")
    ap.add_argument("--override", action="append", default=[], help="with --sam2-config: a Hydra override")
    for flag, key, typ, default in OPTIONS:
        ap.add_argument("--" + flag, dest=key, type=typ, default=None,
                        help=f"default {default!r} (sam2: {SAM2_DEFAULTS[key]!r})" if key in SAM2_DEFAULTS
                        else f"default {default!r}")
    ap.add_argument("--mask-threshold", type=float, default=0.0, help="sam2 only (default 0.0)")
    ap.add_argument("--use-m2m", action="store_true", help="sam2 only: one refinement step with the mask as input")
    ap.add_argument("--multimask-output", action=argparse.BooleanOptionalAction, default=True,
                    help="sam2 only (default on)")
    args = ap.parse_args()
    for flag, key, typ, default in OPTIONS:  # each side's defaults
        if getattr(args, key) is None:
            setattr(args, key, SAM2_DEFAULTS.get(key, default) if args.sam2_config else default)
    if not args.sam2_config and (args.override_file or args.override or args.use_m2m or not args.multimask_output
                                 or args.mask_threshold != 0.0):
        ap.error("--override-file, --override, --mask-threshold, --use-m2m and --no-multimask-output need --sam2-config")

    if args.worker:
        run_reference_worker(args)
        return

    if not args.work:
        ap.error("--work is required")
    os.makedirs(os.path.join(args.work, "ref"), exist_ok=True)
    os.makedirs(os.path.join(args.work, "swift"), exist_ok=True)
    # results are reused for the same checkpoint file name, image file name and options
    key = {"checkpoint": os.path.basename(args.checkpoint), **options_key(args)}

    def stem_of(image):
        return os.path.splitext(os.path.basename(image))[0]

    def paths(image):
        st = stem_of(image)
        return (os.path.join(args.work, st + ".meta.json"), os.path.join(args.work, "ref", st + ".json"),
                os.path.join(args.work, "swift", st + ".json"))

    def load_meta(image):
        meta_path = paths(image)[0]
        if args.reuse and os.path.exists(meta_path):
            with open(meta_path) as f:
                meta = json.load(f)
            if meta.get("key") == key and meta.get("image") == os.path.basename(image):
                return meta
        return {}

    def save_meta(image, meta):
        meta_path = paths(image)[0]
        meta.update(key=key, image=os.path.basename(image))
        with open(meta_path + ".tmp", "w") as f:
            json.dump(meta, f)
        os.replace(meta_path + ".tmp", meta_path)

    metas = {image: load_meta(image) for image in args.image}
    for image in args.image:  # a fresh run forgets results of other inputs
        if not metas[image]:
            save_meta(image, {})

    # Meta's generator: one child per image on the CPU (peak RSS per image), one child for all on a GPU
    todo = [im for im in args.image if not ("ref" in metas[im] and os.path.exists(paths(im)[1]))]
    if not args.skip_reference and todo:
        groups = [[im] for im in todo] if args.ref_device == "cpu" else [todo]
        for group in groups:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--checkpoint", args.checkpoint,
                   "--ref-device", args.ref_device] + model_flags(args) + sam_flags(args)
            for im in group:
                cmd += ["--image", im, "--out", paths(im)[1]]
            log = os.path.join(args.work, stem_of(group[0]) + ".ref.log")
            rc, wall, rss, out, cpu = run_measured(cmd, log)
            if rc != 0:
                raise SystemExit(f"reference failed on {group}: see {log}")
            lines = [json.loads(line) for line in out.strip().splitlines() if line.startswith("{")]
            for im, info in zip(group, lines):
                one = len(group) == 1
                metas[im]["ref"] = {"wall_s": wall if one else None, "cpu_s": cpu if one else None, "peak_mib": rss, **info}
                save_meta(im, metas[im])

    rows = []
    for image in args.image:
        meta = metas[image]
        _, ref_json, swift_json = paths(image)
        stem = stem_of(image)
        row = {"image": os.path.basename(image)}
        if not args.skip_swift and not ("swift" in meta and os.path.exists(swift_json)):
            cmd = [args.sam, "auto", "--checkpoint", args.checkpoint, "--image", image, "--out",
                   os.path.join(args.work, "swift"), "--format", "sa1b", "--output-mode", "coco_rle"] + sam_flags(args)
            log = os.path.join(args.work, stem + ".swift.log")
            rc, wall, rss, _, cpu = run_measured(cmd, log)
            if rc != 0:
                raise SystemExit(f"sam auto failed on {image} (exit {rc}): see {log}")
            with open(log) as f:
                m = re.findall(r"masks in ([0-9.]+) s", f.read())
            meta["swift"] = {"wall_s": wall, "cpu_s": cpu, "peak_mib": rss, "generate_seconds": float(m[-1]) if m else None}
            save_meta(image, meta)

        if os.path.exists(ref_json) and os.path.exists(swift_json) and "ref" in meta and "swift" in meta:
            _, ref_rles = load_rles(ref_json)
            _, swift_rles = load_rles(swift_json)
            rm, sm, ident, _ = match(ref_rles, swift_rles, args.iou)
            row.update(n_ref=len(ref_rles), n_swift=len(swift_rles), ref_matched=rm, swift_matched=sm, identical=ident)
        for side in ("ref", "swift"):
            if side in meta:
                row[side + "_generate_s"] = meta[side].get("generate_seconds")
                row[side + "_wall_s"] = meta[side]["wall_s"]
                row[side + "_cpu_s"] = meta[side].get("cpu_s")
                row[side + "_peak_mib"] = meta[side]["peak_mib"]
        row["ref_device"] = meta.get("ref", {}).get("device")
        if args.rle_check:
            row.update(rle_check(args, image, args.work, stem))
        rows.append(row)
        print(json.dumps(row), flush=True)

    table = markdown(rows, args)
    print(table)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(table + "\n")
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"options": options_key(args), "checkpoint": args.checkpoint, "iou": args.iou, "rows": rows}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)
    ok = all(r.get("n_ref") is not None and r.get("n_swift") is not None and abs(r["n_ref"] - r["n_swift"]) <= 1
             and (r["n_ref"] == 0 or r["ref_matched"] / r["n_ref"] >= 0.98)
             and (r["n_swift"] == 0 or r["swift_matched"] / r["n_swift"] >= 0.98) for r in rows)
    sys.exit(0 if ok or args.skip_reference or args.skip_swift else 1)


def pct(a, b):
    return "—" if b == 0 else f"{100.0 * a / b:.1f} %"


def num(v, fmt):
    return "—" if v is None else fmt.format(v)


def markdown(rows, args):
    defaults = dict((o[1], o[3]) for o in OPTIONS)
    if args.sam2_config:
        defaults.update(SAM2_DEFAULTS)
        defaults.update((o[1], o[2]) for o in SAM2_OPTIONS)
        defaults.update(sam2_config=args.sam2_config, overrides=[])
    opts = ", ".join(f"{k} {len(v) if k == 'overrides' else v}" for k, v in options_key(args).items()
                     if v is not None and v != defaults.get(k))
    lines = []
    if args.title:
        lines += [f"### {args.title}", ""]
    lines += [f"Checkpoint `{os.path.basename(args.checkpoint)}`"
              f"{f' (sam2 {args.sam2_config}, SAM2AutomaticMaskGenerator)' if args.sam2_config else ''}; "
              f"options (beyond Meta's defaults): {opts or 'none'}; "
              f"match = mask IoU ≥ {args.iou}.", ""]
    head = ("| image | Meta on | masks Meta | masks Swift | Δ | Meta matched | Swift matched | identical | Meta generate s | "
            "Swift generate s | Meta wall s | Swift wall s | Meta CPU s | Swift CPU s | Meta peak MiB | Swift peak MiB |")
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        nr, ns = r.get("n_ref"), r.get("n_swift")
        lines.append("| " + " | ".join([
            r["image"], r.get("ref_device") or "—", num(nr, "{}"), num(ns, "{}"), num(None if nr is None else ns - nr, "{:+d}"),
            pct(r.get("ref_matched", 0), nr or 0), pct(r.get("swift_matched", 0), ns or 0), num(r.get("identical"), "{}"),
            num(r.get("ref_generate_s"), "{:.1f}"), num(r.get("swift_generate_s"), "{:.1f}"),
            num(r.get("ref_wall_s"), "{:.1f}"), num(r.get("swift_wall_s"), "{:.1f}"),
            num(r.get("ref_cpu_s"), "{:.1f}"), num(r.get("swift_cpu_s"), "{:.1f}"),
            num(r.get("ref_peak_mib"), "{:.0f}"), num(r.get("swift_peak_mib"), "{:.0f}")]) + " |")
    if any("rle_masks" in r for r in rows):
        lines += ["", "| image | coco_rle masks | ≠ PNG mask (pycocotools decode) | ≠ uncompressed RLE (frPyObjects) |",
                  "|---|---|---|---|"]
        for r in rows:
            if "rle_masks" in r:
                lines.append(f"| {r['image']} | {r['rle_masks']} | {r['rle_png_mismatch']} | {r['rle_uncompressed_mismatch']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
