"""Run a light-family package's own predictor once (MobileSAM, HQ-SAM, EfficientViT-SAM) and dump every module's
output (and the pre/post-processing) to HDF5, in dump.py's layout, so that `sam verify` compares it module by module.

usage: dump_light.py --model M --checkpoint X.pth|X.safetensors [--config REDUCED.json] --image IMG [--point x,y,label ...] [--box x0,y0,x1,y1]
                     [--mask-input FILE.h5 | --mask-input random] [--mask-index I|best] [--single-mask]
                     [--hq-token-only] [--modules REGEX] [--max-bytes N] [--gzip] --out DUMP.h5

Layout as dump.py's (module outputs under their attribute paths, every module hooked — nn.Sequential included —
tuple outputs NAME:i, a list inside a tuple NAME:i:j, dict outputs skipped, a module called more than once keeps its
first call), with these differences of the models:
  * HQ-SAM's image encoder returns (embedding, [every global block's output]): image_encoder:0, image_encoder:1:i;
    its mask decoder returns one mask per prompt (mask_decoder:0, :1); --hq-token-only passes hq_token_only=True.
  * EfficientViT-SAM's /inputs/input_image is the encoder's input: 1 x 3 x R x R, R = 512 (L) or 1024 (XL); prompts
    and masks stay in the 1024 frame.
Root attributes: model_type (the model name), checkpoint, image, package, package_version, package_file,
torch_version, hq_token_only, multimask_output, predict_only, multi_call_modules, skipped_modules, uncalled_modules.
"""

import argparse
import functools
import os
import sys
import time

import h5py
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import light_config  # noqa: E402
from dumpkit import Dumper, Prompt, add_prompt_arguments  # noqa: E402

PREDICT_ONLY = ("image_encoder", "prompt_encoder", "mask_decoder", "mask_decoder.transformer")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=light_config.MODELS)
    ap.add_argument("--checkpoint", required=True, help=".pth/.pt or .safetensors")
    ap.add_argument("--config", help="a reduced model of the family (light_config.build_custom), JSON")
    ap.add_argument("--hq-token-only", action="store_true", help="HQ-SAM: the HQ token's mask alone")
    ap.add_argument("--no-input-image", action="store_true",
                    help="leave out /inputs/input_image (small fixtures: 1024² floats are most of such a file)")
    add_prompt_arguments(ap)
    a = ap.parse_args()
    if a.autocast != "none":
        raise SystemExit("--autocast: the light family's dumps are float32 only")
    if a.hq_token_only and a.model not in light_config.HQ:
        raise SystemExit("--hq-token-only is for HQ-SAM models")

    t_start = time.time()
    model = light_config.load_any(a.model, a.checkpoint, a.config)
    t_load = time.time() - t_start
    vers = light_config.versions(a.model)
    print(f"{vers['package']} {vers['package_version']}: {vers['package_file']}, torch {vers['torch_version']}, "
          f"model {a.model}")

    image = np.array(Image.open(a.image).convert("RGB"))
    prompt = Prompt(a, 4 * model.prompt_encoder.image_embedding_size[0])  # 256 for the 1024 frame
    tmp = a.out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with h5py.File(tmp, "w") as h5:
        dumper = Dumper(h5, a.gzip, a.max_bytes)
        handles, names = dumper.hook_modules(model, a.modules, PREDICT_ONLY if a.predict_only else None)
        captured = {}

        def capture_input(module, inputs):  # must return None: a value would replace the input
            captured.setdefault("input_image", inputs[0].detach().float().cpu().numpy())

        handles.append(model.image_encoder.register_forward_pre_hook(capture_input))
        predictor = light_config.predictor(a.model, model)
        if a.model in light_config.HQ:
            predictor.predict = functools.partial(predictor.predict, hq_token_only=a.hq_token_only)
        with torch.inference_mode():
            masks, iou, low_res, t_encode, t_predict = prompt.run(predictor, image)
        for h in handles:
            h.remove()

        dumper.write_prompt_and_outputs(image, prompt, masks, iou, low_res)
        if not a.no_input_image:
            dumper.write("inputs/input_image", captured["input_image"].astype(np.float32))
        multi, uncalled = dumper.write_run_attributes(names, prompt.multimask, a.predict_only)
        h5.attrs["model_type"] = a.model
        h5.attrs["checkpoint"] = os.path.basename(a.checkpoint)
        h5.attrs["image"] = os.path.basename(a.image)
        h5.attrs["hq_token_only"] = int(a.hq_token_only)
        for k, v in vers.items():
            h5.attrs[k] = str(v)
    os.replace(tmp, a.out)

    size = os.path.getsize(a.out)
    print(f"{a.out}: {size / 1e6:.2f} MB; iou {np.array2string(iou, precision=4)}; masks {masks.shape} "
          f"({masks.sum()} px set); {len(names)} modules hooked, skipped {len(dumper.skipped)}, multi-call {multi}, "
          f"uncalled {len(uncalled)}")
    print(f"times: load {t_load:.1f} s, set_image {t_encode:.1f} s, predict {t_predict:.1f} s "
          f"(hdf5 writes inside: {dumper.t_write:.1f} s), total {time.time() - t_start:.1f} s")


if __name__ == "__main__":
    main()
