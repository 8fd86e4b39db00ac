"""Run Meta's SamPredictor once and dump every module's output (and the pre/post-processing) to HDF5.

usage: dump.py --checkpoint X.pth [--model-type T | --config C.json] --image IMG
               [--point x,y,label ...] [--box x0,y0,x1,y1]
               [--mask-input FILE.h5 | --mask-input random] [--mask-index I|best] [--mask-seed S]
               [--single-mask] [--modules REGEX] [--predict-only] [--max-bytes N] [--gzip] [--autocast none|bf16]
               --out DUMP.h5

Layout of DUMP.h5 (all module outputs float32, PyTorch shape and axis order, C-contiguous):
  /<module path>            output of that module, e.g. image_encoder.blocks.3.attn,
                            mask_decoder.transformer.layers.0.cross_attn_token_to_image
  /<module path>:0, :1, ... tuple outputs (nested tuples: :0:1 ...); None members are left out
  /inputs/image             H x W x 3 uint8 (what set_image got)
  /inputs/input_image       1 x 3 x S x S float32 (resized, normalised, padded: the image_encoder input)
  /inputs/point_coords      N x 2 float32, original pixel coordinates (as passed to predict)   [if points]
  /inputs/point_labels      N int64                                                           [if points]
  /inputs/box               4 float32                                                         [if box]
  /inputs/mask_input        1 x 1 x M x M float32                                             [if mask input]
  /outputs/masks            C x H x W uint8
  /outputs/iou_predictions  C float32
  /outputs/low_res_logits   C x M x M float32
Root attributes: model_type, checkpoint, image, torch_version, segment_anything_commit, segment_anything_file,
config (JSON), multimask_output (int, also on /inputs), predict_only (int), multi_call_modules,
skipped_modules, uncalled_modules (comma-separated strings, possibly empty); autocast ("bf16", only with
--autocast bf16).

A module called more than once keeps its first call's output and is listed in multi_call_modules.
--modules is a Python regex matched with re.search against the module path (default: all).
--predict-only keeps only image_encoder, prompt_encoder, mask_decoder and mask_decoder.transformer.
--max-bytes skips any module output larger than N bytes (as float32); those are listed in skipped_modules.
--autocast bf16 runs set_image and predict under torch.autocast("cpu", dtype=torch.bfloat16): the layout and names
are the same, every module output (bf16 or float32 under autocast) is stored as float32. SamPredictor.predict turns
predict_torch's outputs into numpy without .float(), which fails on bf16, so this instance's predict_torch returns
its floating outputs as float32 (an exact conversion, after every computation).
"""

import argparse
import json
import os
import sys
import time

import h5py
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam_config  # noqa: E402
from dumpkit import Dumper, Prompt, add_prompt_arguments, autocast  # noqa: E402
from segment_anything import SamPredictor  # noqa: E402

PREDICT_ONLY = ("image_encoder", "prompt_encoder", "mask_decoder", "mask_decoder.transformer")


def float_outputs(predict_torch):
    """predict_torch with its floating-point outputs made float32 (masks stay bool): under autocast the IoUs and
    low-res logits come out bf16, which SamPredictor.predict's .numpy() cannot convert."""
    def wrapped(*args, **kwargs):
        return tuple(t.float() if t.is_floating_point() else t for t in predict_torch(*args, **kwargs))
    return wrapped


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--model-type", choices=sorted(sam_config.PRESETS), help="default: inferred from the tensors")
    g.add_argument("--config", help="custom size, JSON")
    add_prompt_arguments(ap)
    a = ap.parse_args()

    t_start = time.time()
    sam, cfg, name = sam_config.load_sam(a.checkpoint, a.model_type, a.config)
    t_load = time.time() - t_start
    vers = sam_config.versions()
    print(f"segment_anything: {vers['segment_anything_file']} (commit {vers['segment_anything_commit']}), "
          f"torch {vers['torch_version']}, model {name}")

    image = np.array(Image.open(a.image).convert("RGB"))
    prompt = Prompt(a, 4 * (cfg["img_size"] // cfg["patch_size"]))
    multimask = prompt.multimask

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with h5py.File(a.out, "w") as h5:
        dumper = Dumper(h5, a.gzip, a.max_bytes)
        handles, names = dumper.hook_modules(sam, a.modules, PREDICT_ONLY if a.predict_only else None)
        captured = {}

        def capture_input(module, inputs):  # must return None: a value would replace the input
            captured.setdefault("input_image", inputs[0].detach().float().cpu().numpy())

        handles.append(sam.image_encoder.register_forward_pre_hook(capture_input))

        predictor = SamPredictor(sam)
        if a.autocast != "none":
            predictor.predict_torch = float_outputs(predictor.predict_torch)
        with autocast(a.autocast):
            masks, iou, low_res, t_encode, t_predict = prompt.run(predictor, image)
        for h in handles:
            h.remove()

        dumper.write_prompt_and_outputs(image, prompt, masks, iou, low_res)
        dumper.write("inputs/input_image", captured["input_image"].astype(np.float32))
        multi, uncalled = dumper.write_run_attributes(names, multimask, a.predict_only, a.autocast)
        h5.attrs["model_type"] = name
        h5.attrs["checkpoint"] = os.path.basename(a.checkpoint)
        h5.attrs["image"] = os.path.basename(a.image)
        h5.attrs["torch_version"] = vers["torch_version"]
        h5.attrs["segment_anything_commit"] = vers["segment_anything_commit"]
        h5.attrs["segment_anything_file"] = vers["segment_anything_file"]
        h5.attrs["config"] = json.dumps(cfg, sort_keys=True)

    size = os.path.getsize(a.out)
    print(f"{a.out}: {size / 1e6:.2f} MB; iou {np.array2string(iou, precision=4)}; "
          f"masks {masks.shape} ({masks.sum()} px set); skipped {len(dumper.skipped)}, "
          f"multi-call {multi}")
    if a.autocast != "none":
        print(f"autocast {a.autocast}: dtypes of the recorded tensors before float32: {dumper.dtype_summary()}")
    print(f"times: load {t_load:.1f} s, set_image {t_encode:.1f} s, predict {t_predict:.1f} s "
          f"(hdf5 writes inside: {dumper.t_write:.1f} s), total {time.time() - t_start:.1f} s")


if __name__ == "__main__":
    main()
