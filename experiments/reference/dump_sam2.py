"""Run Meta's SAM2ImagePredictor (sam2 1.1.0) once and dump every module's output (and the pre/post-processing) to HDF5.

The SAM 2.1 counterpart of dump.py, with the same layout conventions.

usage: dump_sam2.py --checkpoint X.pt --config t|s|b+|l [--override-file F ...] [--override HYDRA_OVERRIDE ...] --image IMG
                    [--point x,y,label ...] [--box x0,y0,x1,y1]
                    [--mask-input FILE.h5 | --mask-input random] [--mask-index I|best] [--mask-seed S]
                    [--single-mask] [--modules REGEX] [--predict-only] [--max-bytes N] [--gzip]
                    [--autocast none|bf16] --out DUMP.h5

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
  /outputs/mask_tokens      1 x C int64: the decoder token (0..3) each returned mask comes from (always written)
Root attributes: model_config (config file), config_size, overrides (JSON list), config (the resolved model config,
YAML), checkpoint, image, torch_version, sam2_version, sam2_file, multimask_output (int, also on /inputs),
predict_only (int), multi_call_modules, skipped_modules, uncalled_modules (comma-separated, possibly empty); autocast
("bf16", only with --autocast bf16).

A module called more than once keeps its first call's output and is listed in multi_call_modules.
--modules is a Python regex matched with re.search against the module path (default: all).
--predict-only keeps only sam_prompt_encoder, sam_mask_decoder, sam_mask_decoder.transformer and /predictor.
--max-bytes skips any module output larger than N bytes as float32, and so do the diagnostic datasets
(/inputs/input_image, /predictor/*, /outputs/object_score_logits, all_mask_logits, all_iou_predictions,
singlemask_stability_score); skipped ones are listed in skipped_modules. The other /inputs and /outputs are always kept.
--autocast bf16 runs set_image and predict under torch.autocast("cpu", dtype=torch.bfloat16): the layout and names
are the same, every tensor (bf16 or float32 under autocast) is stored as float32 (SAM2ImagePredictor.predict already
converts its outputs with .float()).
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
from dumpkit import Dumper, Prompt, add_prompt_arguments, autocast  # noqa: E402
from sam2.sam2_image_predictor import SAM2ImagePredictor  # noqa: E402

PREDICT_ONLY = ("sam_prompt_encoder", "sam_mask_decoder", "sam_mask_decoder.transformer")
CONTAINERS = (torch.nn.ModuleList, torch.nn.Sequential)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help='torch.save({"model": state_dict}) file (official layout)')
    ap.add_argument("--config", required=True, choices=sorted(sam2_config.CONFIGS))
    ap.add_argument("--override", action="append", default=[],
                    help="Hydra override for build_sam2 (repeatable); must match the checkpoint's")
    ap.add_argument("--override-file", action="append", default=[],
                    help="a file of Hydra overrides, one a line (e.g. sam2_tiny_random.overrides); repeatable")
    add_prompt_arguments(ap)
    a = ap.parse_args()
    overrides = sam2_config.read_overrides(a.override_file, a.override)

    t_start = time.time()
    model = sam2_config.build(a.config, overrides, checkpoint=a.checkpoint)
    t_load = time.time() - t_start
    vers = sam2_config.versions()
    print(f"sam2 {vers['sam2_version']}: {vers['sam2_file']}, torch {vers['torch_version']}, "
          f"model {sam2_config.config_file(a.config)}{f' + {len(overrides)} overrides' if overrides else ''}")

    image = np.array(Image.open(a.image).convert("RGB"))
    prompt = Prompt(a, 4 * model.sam_image_embedding_size)  # 256
    multimask = prompt.multimask

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    # written under a temporary name and renamed at the end: a reader of an existing a.out keeps its file (h5py's
    # "w" truncates a file before it finds that another process holds it open)
    tmp = a.out + ".tmp"
    with h5py.File(tmp, "w") as h5:
        dumper = Dumper(h5, a.gzip, a.max_bytes)
        # ModuleList / Sequential containers are not hooked
        handles, names = dumper.hook_modules(model, a.modules, PREDICT_ONLY if a.predict_only else None,
                                             skip=lambda mod: isinstance(mod, CONTAINERS))
        captured = {}

        def capture_input(module, inputs):  # must return None: a value would replace the input
            captured.setdefault("input_image", inputs[0].detach().float().cpu().numpy())

        handles.append(model.image_encoder.register_forward_pre_hook(capture_input))
        # object-score logits, every mask token's logits and IoU before MaskDecoder.forward selects (multimask /
        # dynamic fallback), token 0's stability and the chosen tokens: sam_mask_decoder wrapped on the instance
        capture = sam2_config.DecoderCapture(model)

        predictor = SAM2ImagePredictor(model)
        with autocast(a.autocast):
            masks, iou, low_res, t_encode, t_predict = prompt.run(predictor, image)
        for h in handles:
            h.remove()
        capture.close()
        captured.update(capture.first)

        dumper.write_prompt_and_outputs(image, prompt, masks, iou, low_res)
        dumper.write_tensor("inputs/input_image", torch.from_numpy(captured["input_image"]))
        h5.create_group("predictor")
        dumper.write_tensor("predictor/image_embed", predictor._features["image_embed"])
        for i, t in enumerate(predictor._features["high_res_feats"]):
            dumper.write_tensor(f"predictor/high_res_feats:{i}", t)
        for k in ("object_score_logits", "all_mask_logits", "all_iou_predictions", "singlemask_stability_score"):
            dumper.write_tensor(f"outputs/{k}", torch.from_numpy(captured[k]))  # under --max-bytes too
        dumper.write("outputs/mask_tokens", captured["mask_tokens"])

        multi, uncalled = dumper.write_run_attributes(names, multimask, a.predict_only, a.autocast)
        h5.attrs["model_config"] = sam2_config.config_file(a.config)
        h5.attrs["config_size"] = a.config
        h5.attrs["overrides"] = json.dumps(overrides)
        h5.attrs["config"] = sam2_config.resolved_config_yaml(a.config, overrides)
        h5.attrs["checkpoint"] = os.path.basename(a.checkpoint)
        h5.attrs["image"] = os.path.basename(a.image)
        h5.attrs["torch_version"] = vers["torch_version"]
        h5.attrs["sam2_version"] = vers["sam2_version"]
        h5.attrs["sam2_file"] = vers["sam2_file"]

    os.replace(tmp, a.out)
    size = os.path.getsize(a.out)
    called = len(names) - len(uncalled)
    print(f"{a.out}: {size / 1e6:.2f} MB; {called} of {len(names)} hooked modules ran; "
          f"iou {np.array2string(iou, precision=4)}; object score {captured['object_score_logits'].ravel()}; "
          f"single-mask stability {captured['singlemask_stability_score'].ravel()}; "
          f"masks {masks.shape} ({int(masks.sum())} px set); skipped {len(dumper.skipped)}, multi-call {multi}")
    if a.autocast != "none":
        print(f"autocast {a.autocast}: dtypes of the recorded tensors before float32: {dumper.dtype_summary()}")
    print(f"times: load {t_load:.1f} s, set_image {t_encode:.1f} s, predict {t_predict:.1f} s "
          f"(hdf5 writes inside: {dumper.t_write:.1f} s), total {time.time() - t_start:.1f} s")


if __name__ == "__main__":
    main()
