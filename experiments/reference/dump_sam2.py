"""Run Meta's SAM2ImagePredictor (sam2 1.1.0) once and dump every module's output (and the pre/post-processing) to HDF5.

The SAM 2.1 counterpart of dump.py, with the same layout conventions.

usage: dump_sam2.py --checkpoint X.pt --config t|s|b+|l [--override-file F ...] [--override HYDRA_OVERRIDE ...] --image IMG
                    [--point x,y,label ...] [--box x0,y0,x1,y1]
                    [--mask-input FILE.h5 | --mask-input random] [--mask-index I|best] [--mask-seed S]
                    [--single-mask] [--modules REGEX] [--predict-only] [--max-bytes N] [--gzip] --out DUMP.h5

Layout of DUMP.h5 (all module outputs float32, PyTorch shape and axis order, C-contiguous):
  /<module path>            forward-hook output of that module, named as in model.named_modules() (the state-dict
                            prefixes), e.g. image_encoder.trunk.blocks.3.attn, image_encoder.neck,
                            sam_mask_decoder.transformer.layers.0; ModuleList and Sequential containers are not
                            hooked
  /<module path>:i          tuple or list outputs; a list inside a tuple is :i:j (image_encoder.neck:1:2);
                            None members and dicts (image_encoder's output) are left out
  /inputs/image             H x W x 3 uint8 (what set_image got)
  /inputs/input_image       1 x 3 x 1024 x 1024 float32 (resized to a square, normalised: the image_encoder input)
  /inputs/point_coords      N x 2 float32, original pixel coordinates (as passed to predict)   [if points]
  /inputs/point_labels      N int64                                                           [if points]
  /inputs/box               4 float32                                                         [if box]
  /inputs/mask_input        1 x 1 x 256 x 256 float32                                         [if mask input]
  /predictor/image_embed    1 x 256 x 64 x 64: the predictor's _features["image_embed"] (neck level 2 + no_mem_embed)
  /predictor/high_res_feats:0, :1   1 x 32 x 256 x 256, 1 x 64 x 128 x 128 (conv_s0 / conv_s1 of neck levels 0, 1)
  /outputs/masks            C x H x W uint8
  /outputs/iou_predictions  C float32
  /outputs/low_res_logits   C x 256 x 256 float32 (clamped to [-32, 32] by the predictor)
  /outputs/object_score_logits      1 x 1 float32 (4th output of sam_mask_decoder)
  /outputs/all_mask_logits          1 x 4 x 256 x 256 float32: every mask token's logits before selection (unclamped)
  /outputs/all_iou_predictions      1 x 4 float32 (token 0 = single-mask token)
  /outputs/singlemask_stability_score   1 x 1 float32: Meta's _get_stability_scores of token 0 (the dynamic
                            multimask fallback picks the best multimask token when it is < 0.98; single mask only)
Root attributes: model_config (config file), config_size, overrides (JSON list), config (the resolved model config,
YAML), checkpoint, image, torch_version, sam2_version, sam2_file, multimask_output (int, also on /inputs),
predict_only (int), multi_call_modules, skipped_modules, uncalled_modules (comma-separated, possibly empty).

A module called more than once keeps its first call's output and is listed in multi_call_modules.
--modules is a Python regex matched with re.search against the module path (default: all).
--predict-only keeps only sam_prompt_encoder, sam_mask_decoder, sam_mask_decoder.transformer and /predictor.
--max-bytes skips any module output larger than N bytes as float32, and so do the diagnostic datasets
(/inputs/input_image, /predictor/*, /outputs/object_score_logits, all_mask_logits, all_iou_predictions,
singlemask_stability_score); skipped ones are listed in skipped_modules. The other /inputs and /outputs are always kept.
"""

import argparse
import json
import os
import re
import sys
import time

import h5py
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam2_config  # noqa: E402
from sam2.sam2_image_predictor import SAM2ImagePredictor  # noqa: E402

MIN_COMPRESS_BYTES = 16384
PREDICT_ONLY = ("sam_prompt_encoder", "sam_mask_decoder", "sam_mask_decoder.transformer")
CONTAINERS = (torch.nn.ModuleList, torch.nn.Sequential)


def parse_floats(s, n):
    v = [float(x) for x in s.split(",")]
    if len(v) != n:
        raise argparse.ArgumentTypeError(f"expected {n} comma-separated numbers, got {s!r}")
    return v


def flatten(name, out):
    """[(dataset name, tensor)] for a module output: tensor, nested tuple/list of tensors; dicts and None skipped."""
    if torch.is_tensor(out):
        return [(name, out)]
    if isinstance(out, (tuple, list)):
        items = []
        for i, o in enumerate(out):
            items += flatten(f"{name}:{i}", o)
        return items
    return []  # None, a dict or a non-tensor


class Dumper:
    def __init__(self, h5, compression, max_bytes):
        self.h5 = h5
        self.compression = compression
        self.max_bytes = max_bytes
        self.calls = {}
        self.skipped = []
        self.t_write = 0.0

    def write(self, path, array):
        # small datasets stay contiguous: a chunked dataset costs ~3 KB of HDF5 metadata, more than gzip saves
        kw = {}
        if self.compression and array.nbytes >= MIN_COMPRESS_BYTES:
            kw = dict(compression="gzip", compression_opts=4)
        self.h5.create_dataset(path, data=np.ascontiguousarray(array), **kw)

    def write_tensor(self, dname, t):
        if self.max_bytes is not None and t.numel() * 4 > self.max_bytes:
            self.skipped.append(dname)
            return
        self.write(dname, t.detach().float().cpu().contiguous().numpy())

    def hook(self, name):
        def fn(module, inputs, output):
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.calls[name] > 1:
                return  # keep the first call
            t0 = time.time()
            for dname, t in flatten(name, output):
                self.write_tensor(dname, t)
            self.t_write += time.time() - t0
        return fn


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help='torch.save({"model": state_dict}) file (official layout)')
    ap.add_argument("--config", required=True, choices=sorted(sam2_config.CONFIGS))
    ap.add_argument("--override", action="append", default=[],
                    help="Hydra override for build_sam2 (repeatable); must match the checkpoint's")
    ap.add_argument("--override-file", action="append", default=[],
                    help="a file of Hydra overrides, one a line (e.g. sam2_tiny_random.overrides); repeatable")
    ap.add_argument("--image", required=True)
    ap.add_argument("--point", action="append", default=[], metavar="x,y,label",
                    help="original pixel coordinates; label 1 positive, 0 negative; repeatable")
    ap.add_argument("--box", metavar="x0,y0,x1,y1")
    ap.add_argument("--mask-input", help="an HDF5 file with (outputs/)low_res_logits, or 'random'")
    ap.add_argument("--mask-index", default="0", help="which of its masks: an index or 'best' (highest IoU)")
    ap.add_argument("--mask-seed", type=int, default=0, help="seed of --mask-input random (normal, std 4)")
    ap.add_argument("--single-mask", action="store_true", help="multimask_output=False")
    ap.add_argument("--modules", default=None, help="regex (re.search) on module paths; default all")
    ap.add_argument("--predict-only", action="store_true")
    ap.add_argument("--max-bytes", type=int, default=None)
    ap.add_argument("--gzip", action="store_true",
                    help=f"gzip level 4 on every dataset of at least {MIN_COMPRESS_BYTES} bytes")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    overrides = sam2_config.read_overrides(a.override_file, a.override)

    t_start = time.time()
    model = sam2_config.build(a.config, overrides, checkpoint=a.checkpoint)
    t_load = time.time() - t_start
    vers = sam2_config.versions()
    print(f"sam2 {vers['sam2_version']}: {vers['sam2_file']}, torch {vers['torch_version']}, "
          f"model {sam2_config.config_file(a.config)}{f' + {len(overrides)} overrides' if overrides else ''}")

    image = np.array(Image.open(a.image).convert("RGB"))
    multimask = not a.single_mask

    points = [parse_floats(p, 3) for p in a.point]
    point_coords = np.array([p[:2] for p in points], dtype=np.float32).reshape(-1, 2) if points else None
    point_labels = np.array([int(p[2]) for p in points], dtype=np.int64) if points else None
    box = np.array(parse_floats(a.box, 4), dtype=np.float32) if a.box else None

    mask_input = None
    m = 4 * model.sam_image_embedding_size  # 256
    if a.mask_input == "random":
        rng = np.random.default_rng(a.mask_seed)
        mask_input = (4.0 * rng.standard_normal((1, m, m))).astype(np.float32)
    elif a.mask_input:
        with h5py.File(a.mask_input, "r") as f:
            key = "outputs/low_res_logits" if "outputs/low_res_logits" in f else "low_res_logits"
            logits = f[key][...]
            if a.mask_index == "best":
                idx = int(np.argmax(f["outputs/iou_predictions"][...]))
            else:
                idx = int(a.mask_index)
        mask_input = logits[idx][None].astype(np.float32)
        print(f"mask input: {a.mask_input}:{key}[{idx}]")
    if mask_input is not None and mask_input.shape != (1, m, m):
        raise SystemExit(f"mask input {mask_input.shape} should be (1, {m}, {m})")

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    pattern = re.compile(a.modules) if a.modules else None
    with h5py.File(a.out, "w") as h5:
        dumper = Dumper(h5, a.gzip, a.max_bytes)
        handles, names = [], []
        for mname, mod in model.named_modules():
            if mname == "" or isinstance(mod, CONTAINERS):
                continue  # the root; ModuleList / Sequential containers
            if pattern is not None and not pattern.search(mname):
                continue
            if a.predict_only and mname not in PREDICT_ONLY:
                continue
            names.append(mname)
            handles.append(mod.register_forward_hook(dumper.hook(mname)))
        captured = {}

        def capture_input(module, inputs):  # must return None: a value would replace the input
            captured.setdefault("input_image", inputs[0].detach().float().cpu().numpy())

        def capture_decoder(module, inputs, output):
            captured.setdefault("object_score_logits", output[3].detach().float().cpu().numpy())

        handles.append(model.image_encoder.register_forward_pre_hook(capture_input))
        handles.append(model.sam_mask_decoder.register_forward_hook(capture_decoder))

        # every mask token's logits and IoU before MaskDecoder.forward selects (multimask / dynamic fallback)
        decoder = model.sam_mask_decoder
        predict_masks = decoder.predict_masks

        def predict_masks_capturing(*args, **kwargs):
            out = predict_masks(*args, **kwargs)
            captured.setdefault("all_mask_logits", out[0].detach().float().cpu().numpy())
            captured.setdefault("all_iou_predictions", out[1].detach().float().cpu().numpy())
            captured.setdefault("singlemask_stability_score",
                                decoder._get_stability_scores(out[0][:, 0:1]).detach().float().cpu().numpy())
            return out

        decoder.predict_masks = predict_masks_capturing

        predictor = SAM2ImagePredictor(model)
        t0 = time.time()
        predictor.set_image(image)
        t_encode = time.time() - t0
        t0 = time.time()
        masks, iou, low_res = predictor.predict(
            point_coords=point_coords,
            point_labels=point_labels,
            box=box,
            mask_input=mask_input,
            multimask_output=multimask,
            return_logits=False,
        )
        t_predict = time.time() - t0
        for h in handles:
            h.remove()
        del decoder.predict_masks

        inp = h5.create_group("inputs")
        dumper.write("inputs/image", image.astype(np.uint8))
        dumper.write_tensor("inputs/input_image", torch.from_numpy(captured["input_image"]))
        if point_coords is not None:
            dumper.write("inputs/point_coords", point_coords)
            dumper.write("inputs/point_labels", point_labels)
        if box is not None:
            dumper.write("inputs/box", box)
        if mask_input is not None:
            dumper.write("inputs/mask_input", mask_input[None])
        inp.attrs["multimask_output"] = int(multimask)
        h5.create_group("predictor")
        dumper.write_tensor("predictor/image_embed", predictor._features["image_embed"])
        for i, t in enumerate(predictor._features["high_res_feats"]):
            dumper.write_tensor(f"predictor/high_res_feats:{i}", t)
        h5.create_group("outputs")
        dumper.write("outputs/masks", masks.astype(np.uint8))
        dumper.write("outputs/iou_predictions", iou.astype(np.float32))
        dumper.write("outputs/low_res_logits", low_res.astype(np.float32))
        for k in ("object_score_logits", "all_mask_logits", "all_iou_predictions", "singlemask_stability_score"):
            dumper.write_tensor(f"outputs/{k}", torch.from_numpy(captured[k]))  # under --max-bytes too

        multi = [n for n in names if dumper.calls.get(n, 0) > 1]
        uncalled = [n for n in names if dumper.calls.get(n, 0) == 0]
        h5.attrs["model_config"] = sam2_config.config_file(a.config)
        h5.attrs["config_size"] = a.config
        h5.attrs["overrides"] = json.dumps(overrides)
        h5.attrs["config"] = sam2_config.resolved_config_yaml(a.config, overrides)
        h5.attrs["checkpoint"] = os.path.basename(a.checkpoint)
        h5.attrs["image"] = os.path.basename(a.image)
        h5.attrs["torch_version"] = vers["torch_version"]
        h5.attrs["sam2_version"] = vers["sam2_version"]
        h5.attrs["sam2_file"] = vers["sam2_file"]
        h5.attrs["multimask_output"] = int(multimask)
        h5.attrs["predict_only"] = int(a.predict_only)
        h5.attrs["multi_call_modules"] = ",".join(multi)
        h5.attrs["skipped_modules"] = ",".join(dumper.skipped)
        h5.attrs["uncalled_modules"] = ",".join(uncalled)

    size = os.path.getsize(a.out)
    called = len(names) - len(uncalled)
    print(f"{a.out}: {size / 1e6:.2f} MB; {called} of {len(names)} hooked modules ran; "
          f"iou {np.array2string(iou, precision=4)}; object score {captured['object_score_logits'].ravel()}; "
          f"single-mask stability {captured['singlemask_stability_score'].ravel()}; "
          f"masks {masks.shape} ({int(masks.sum())} px set); skipped {len(dumper.skipped)}, multi-call {multi}")
    print(f"times: load {t_load:.1f} s, set_image {t_encode:.1f} s, predict {t_predict:.1f} s "
          f"(hdf5 writes inside: {dumper.t_write:.1f} s), total {time.time() - t_start:.1f} s")


if __name__ == "__main__":
    main()
