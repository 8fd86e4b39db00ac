"""The committed HQ-SAM fixture (Tests/Fixtures/light/hq/): a tiny SAM-HQ built from segment_anything_hq 0.3's own
modules (ImageEncoderViT, PromptEncoder, MaskDecoderHQ, TwoWayTransformer, Sam, SamPredictor), every parameter
randomised (dumpkit.randomize: norm weights 1 + N(0, 0.1), the rest N(0, 0.02)), saved as the package saves it
(`torch.save(model.state_dict())`), and a dump of its predictor on Tests/Fixtures/reference/image_small.png.

Sizes (HQ's builder fixes 1024 / 256; MaskDecoderHQ accepts any transformer_dim): image 128, patch 16 (grid 8, masks
32 x 32), encoder embed 48 (= vit_dim), depth 2, heads 2, window 3, global block [1]; prompt / decoder dim 32,
mask_in_chans 8, decoder depth 2, 8 heads, MLP 64, IoU head 3 x 32.

The dump (`tiny_hq_points.h5`, dumpkit's layout): every module's output of one `predict(points, multimask_output=True,
hq_token_only=False)` under its path (tuple outputs NAME:i, HQ's encoder `image_encoder:0` and `image_encoder:1:i`),
`inputs/*`, `outputs/*`; then, hooks removed, for each (multimask, hq_token_only) in {1, 0}²
`combos/mm{M}_hq{H}/low_res_logits` (1 x 1 x 32 x 32) and `/iou_predictions` (1 x 1); and `batch/*`: predict_torch
on two prompts at once (`batch/point_coords` 2 x 2 x 2 in input pixels, `batch/point_labels` 2 x 2), multimask,
hq_token_only False: `batch/low_res_logits` 2 x 1 x 32 x 32, `batch/iou_predictions` 2 x 1.

usage: make_hq_fixture.py [--out-dir Tests/Fixtures/light/hq]   (seeded; byte-identical reruns on one machine)
"""

import argparse
import json
import os
import sys
from functools import partial

import h5py
import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import dumpkit  # noqa: E402
from segment_anything_hq import SamPredictor  # noqa: E402
from segment_anything_hq.modeling import (ImageEncoderViT, MaskDecoderHQ, PromptEncoder, Sam,  # noqa: E402
                                          TwoWayTransformer)
from segment_anything_hq.modeling.common import LayerNorm2d  # noqa: E402

CONFIG = dict(img_size=128, patch_size=16, encoder_embed_dim=48, encoder_depth=2, encoder_num_heads=2,
              encoder_global_attn_indexes=[1], window_size=3, out_chans=32, prompt_embed_dim=32, mask_in_chans=8,
              decoder_depth=2, decoder_num_heads=8, decoder_mlp_dim=64, iou_head_depth=3, iou_head_hidden_dim=32)
SEED = 0
POINTS = np.array([[64, 80], [57.5, 110.25], [10, 20]], dtype=np.float32)
LABELS = np.array([1, 1, 0])
# two prompts of two points each, in the input (resized) frame of predict_torch
BATCH_POINTS = np.array([[[50, 60], [15, 20]], [[100, 30], [75, 85]]], dtype=np.float32)
BATCH_LABELS = np.array([[1, 0], [1, 1]])


def build():
    """segment_anything_hq's _build_sam with the sizes above."""
    c = CONFIG
    grid = c["img_size"] // c["patch_size"]
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=c["encoder_depth"], embed_dim=c["encoder_embed_dim"], img_size=c["img_size"], mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=c["encoder_num_heads"],
            patch_size=c["patch_size"], qkv_bias=True, use_rel_pos=True,
            global_attn_indexes=c["encoder_global_attn_indexes"], window_size=c["window_size"],
            out_chans=c["out_chans"]),
        prompt_encoder=PromptEncoder(
            embed_dim=c["prompt_embed_dim"], image_embedding_size=(grid, grid),
            input_image_size=(c["img_size"], c["img_size"]), mask_in_chans=c["mask_in_chans"]),
        mask_decoder=MaskDecoderHQ(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=c["decoder_depth"], embedding_dim=c["prompt_embed_dim"],
                                          mlp_dim=c["decoder_mlp_dim"], num_heads=c["decoder_num_heads"]),
            transformer_dim=c["prompt_embed_dim"], iou_head_depth=c["iou_head_depth"],
            iou_head_hidden_dim=c["iou_head_hidden_dim"], vit_dim=c["encoder_embed_dim"]),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    ).eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "Tests/Fixtures/light/hq"))
    ap.add_argument("--image", default=os.path.join(ROOT, "Tests/Fixtures/reference/image_small.png"))
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    torch.manual_seed(SEED)
    model = build()
    dumpkit.randomize(model, SEED, (torch.nn.LayerNorm, LayerNorm2d))
    ckpt = os.path.join(a.out_dir, "tiny_hq_random.pth")
    torch.save(model.state_dict(), ckpt)
    with open(os.path.join(a.out_dir, "tiny_hq_random.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")

    image = np.array(Image.open(a.image).convert("RGB"))
    predictor = SamPredictor(model)
    out = os.path.join(a.out_dir, "tiny_hq_points.h5")
    with torch.no_grad(), h5py.File(out, "w") as h5:
        d = dumpkit.Dumper(h5, compression=True, max_bytes=None)
        # input_image: the encoder's input, as dump.py captures it
        h5.create_group("inputs")
        pre = model.image_encoder.register_forward_pre_hook(
            lambda m, inp: d.write("inputs/input_image", inp[0].float().numpy()))
        handles, names = d.hook_modules(model, None, None)
        predictor.set_image(image)
        masks, iou, low = predictor.predict(point_coords=POINTS, point_labels=LABELS, multimask_output=True,
                                            hq_token_only=False)
        for h in handles + [pre]:
            h.remove()
        d.write("inputs/image", image.astype(np.uint8))
        d.write("inputs/point_coords", POINTS)
        d.write("inputs/point_labels", LABELS.astype(np.int64))
        h5["inputs"].attrs["multimask_output"] = 1
        h5.create_group("outputs")
        d.write("outputs/masks", masks.astype(np.uint8))
        d.write("outputs/iou_predictions", iou.astype(np.float32))
        d.write("outputs/low_res_logits", low.astype(np.float32))
        d.write_run_attributes(names, True, False)
        h5.attrs["hq_token_only"] = 0
        h5.attrs["config"] = json.dumps(CONFIG)
        h5.attrs["checkpoint"] = os.path.basename(ckpt)
        h5.attrs["image"] = os.path.basename(a.image)
        for k, v in versions().items():
            h5.attrs[k] = str(v)
        for mm in (1, 0):
            for hq in (1, 0):
                _, iou_c, low_c = predictor.predict(point_coords=POINTS, point_labels=LABELS,
                                                    multimask_output=bool(mm), hq_token_only=bool(hq))
                d.write(f"combos/mm{mm}_hq{hq}/low_res_logits", low_c[None].astype(np.float32))
                d.write(f"combos/mm{mm}_hq{hq}/iou_predictions", iou_c[None].astype(np.float32))
        _, iou_b, low_b = predictor.predict_torch(point_coords=torch.from_numpy(BATCH_POINTS),
                                                  point_labels=torch.from_numpy(BATCH_LABELS),
                                                  multimask_output=True, hq_token_only=False)
        d.write("batch/point_coords", BATCH_POINTS)
        d.write("batch/point_labels", BATCH_LABELS.astype(np.int64))
        d.write("batch/low_res_logits", low_b.float().numpy())
        d.write("batch/iou_predictions", iou_b.float().numpy())
    n = sum(p.numel() for p in model.parameters())
    print(f"tiny SAM-HQ: {n / 1e3:.0f} k params -> {ckpt} ({os.path.getsize(ckpt) / 1e3:.0f} kB), "
          f"{out} ({os.path.getsize(out) / 1e3:.0f} kB); {versions()}")


def versions():
    """The reference package and torch that wrote the fixture."""
    import importlib.metadata
    import segment_anything_hq
    return {"package": "segment-anything-hq", "package_version": importlib.metadata.version("segment-anything-hq"),
            "package_file": os.path.dirname(segment_anything_hq.__file__), "torch_version": torch.__version__}


if __name__ == "__main__":
    main()
