#!/usr/bin/env python3
"""Make tiny_random_hf.safetensors: the tiny random Meta checkpoint (../reference/tiny_random.pth) as a Hugging Face
`SamModel` checkpoint, written by transformers' own `save_pretrained`.

    pip install transformers safetensors h5py   # torch already installed; used here: transformers 5.24.0
    python Tests/Fixtures/hf/make_hf_fixture.py

Steps:
1. Build `SamModel(SamConfig(...))` with the sizes of ../reference/tiny_random.json (field names of transformers'
   `SamVisionConfig`, `SamPromptEncoderConfig`, `SamMaskDecoderConfig`).
2. Rename the Meta state dict with the logic of transformers' `convert_sam_to_hf.py`. That script is not shipped in
   the transformers wheel (`transformers/models/sam/` holds no `convert_*` file in 5.24.0), so `KEYS_TO_MODIFY_MAPPING`
   and `replace_keys` below are replicated verbatim from huggingface/transformers
   src/transformers/models/sam/convert_sam_to_hf.py at commit 09cb93d8890401636f6abd80b763671e755aa025.
3. `load_state_dict(strict=True)`, then check that the HF model reproduces Meta's outputs recorded in
   ../reference/tiny_points_multi.h5 (image embedding, low-res masks, IoUs), so the conversion is known good.
4. `save_pretrained` (safetensors) into a temporary folder and copy its `model.safetensors` here.
"""

import json
import os
import re
import shutil
import sys
import tempfile

import h5py
import numpy as np
import torch
import transformers
from safetensors import safe_open
from transformers import SamConfig, SamMaskDecoderConfig, SamModel, SamPromptEncoderConfig, SamVisionConfig

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "reference")
OUT = os.path.join(HERE, "tiny_random_hf.safetensors")

# --- replicated from transformers convert_sam_to_hf.py (commit 09cb93d) -------------------------------------------
KEYS_TO_MODIFY_MAPPING = {
    "iou_prediction_head.layers.0": "iou_prediction_head.proj_in",
    "iou_prediction_head.layers.1": "iou_prediction_head.layers.0",
    "iou_prediction_head.layers.2": "iou_prediction_head.proj_out",
    "mask_decoder.output_upscaling.0": "mask_decoder.upscale_conv1",
    "mask_decoder.output_upscaling.1": "mask_decoder.upscale_layer_norm",
    "mask_decoder.output_upscaling.3": "mask_decoder.upscale_conv2",
    "mask_downscaling.0": "mask_embed.conv1",
    "mask_downscaling.1": "mask_embed.layer_norm1",
    "mask_downscaling.3": "mask_embed.conv2",
    "mask_downscaling.4": "mask_embed.layer_norm2",
    "mask_downscaling.6": "mask_embed.conv3",
    "point_embeddings": "point_embed",
    "pe_layer.positional_encoding_gaussian_matrix": "shared_embedding.positional_embedding",
    "image_encoder": "vision_encoder",
    "neck.0": "neck.conv1",
    "neck.1": "neck.layer_norm1",
    "neck.2": "neck.conv2",
    "neck.3": "neck.layer_norm2",
    "patch_embed.proj": "patch_embed.projection",
    ".norm": ".layer_norm",
    "blocks": "layers",
}


def replace_keys(state_dict):
    model_state_dict = {}
    state_dict.pop("pixel_mean", None)
    state_dict.pop("pixel_std", None)

    output_hypernetworks_mlps_pattern = r".*.output_hypernetworks_mlps.(\d+).layers.(\d+).*"

    for key, value in state_dict.items():
        for key_to_modify, new_key in KEYS_TO_MODIFY_MAPPING.items():
            if key_to_modify in key:
                key = key.replace(key_to_modify, new_key)

        if re.match(output_hypernetworks_mlps_pattern, key):
            layer_nb = int(re.match(output_hypernetworks_mlps_pattern, key).group(2))
            if layer_nb == 0:
                key = key.replace("layers.0", "proj_in")
            elif layer_nb == 1:
                key = key.replace("layers.1", "layers.0")
            elif layer_nb == 2:
                key = key.replace("layers.2", "proj_out")

        model_state_dict[key] = value

    model_state_dict["shared_image_embedding.positional_embedding"] = model_state_dict[
        "prompt_encoder.shared_embedding.positional_embedding"
    ]

    return model_state_dict


# --- end of the replicated part ------------------------------------------------------------------------------------


def config_from_meta(c):
    vision = SamVisionConfig(
        hidden_size=c["encoder_embed_dim"],
        num_hidden_layers=c["encoder_depth"],
        num_attention_heads=c["encoder_num_heads"],
        image_size=c["img_size"],
        patch_size=c["patch_size"],
        window_size=c["window_size"],
        global_attn_indexes=c["encoder_global_attn_indexes"],
        mlp_dim=c["encoder_embed_dim"] * c["mlp_ratio"],
        output_channels=c["out_chans"],
        # the Fourier matrix of the prompt encoder is 2 × prompt_embed_dim/2 (Meta's PositionEmbeddingRandom)
        num_pos_feats=c["prompt_embed_dim"] // 2,
    )
    prompt = SamPromptEncoderConfig(
        hidden_size=c["prompt_embed_dim"],
        image_size=c["img_size"],
        patch_size=c["patch_size"],
        mask_input_channels=c["mask_in_chans"],
    )
    decoder = SamMaskDecoderConfig(
        hidden_size=c["prompt_embed_dim"],
        mlp_dim=c["decoder_mlp_dim"],
        num_hidden_layers=c["decoder_depth"],
        num_attention_heads=c["decoder_num_heads"],
        num_multimask_outputs=c["num_multimask_outputs"],
        iou_head_depth=c["iou_head_depth"],
        iou_head_hidden_dim=c["iou_head_hidden_dim"],
    )
    return SamConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder)


def rel_l2(a, b):
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def main():
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    with open(os.path.join(REF, "tiny_random.json")) as f:
        cfg = json.load(f)
    meta = torch.load(os.path.join(REF, "tiny_random.pth"), map_location="cpu", weights_only=True)
    meta = {k: v.float() for k, v in meta.items()}

    torch.manual_seed(0)
    model = SamModel(config_from_meta(cfg)).eval()
    sd = replace_keys(dict(meta))
    missing, unexpected = model.load_state_dict(sd, strict=True)
    assert not missing and not unexpected, (missing, unexpected)
    pe = model.shared_image_embedding.positional_embedding
    assert pe.data_ptr() == model.prompt_encoder.shared_embedding.positional_embedding.data_ptr(), "PE not tied"

    # The HF model with these weights must reproduce Meta's recorded outputs.
    with h5py.File(os.path.join(REF, "tiny_points_multi.h5"), "r") as d:
        image = torch.from_numpy(d["inputs/input_image"][()])
        coords = d["inputs/point_coords"][()]
        labels = d["inputs/point_labels"][()]
        h, w = d["inputs/image"].shape[:2]
        ref_emb = d["image_encoder"][()]
        ref_logits = d["outputs/low_res_logits"][()]
        ref_iou = d["outputs/iou_predictions"][()]
    scale = cfg["img_size"] / max(h, w)  # ResizeLongestSide.apply_coords (x and y scale alike up to rounding)
    new_h, new_w = int(h * scale + 0.5), int(w * scale + 0.5)
    xy = coords.astype(np.float64) * np.array([new_w / w, new_h / h])
    with torch.no_grad():
        emb = model.get_image_embeddings(image)
        out = model(
            image_embeddings=emb,
            input_points=torch.tensor(xy, dtype=torch.float32)[None, None],
            input_labels=torch.tensor(labels, dtype=torch.int64)[None, None],
            multimask_output=True,
        )
    checks = {
        "image_encoder": rel_l2(emb.numpy(), ref_emb),
        "low_res_logits": rel_l2(out.pred_masks[0, 0].numpy(), ref_logits),
        "iou_predictions": rel_l2(out.iou_scores[0, 0].numpy(), ref_iou),
    }
    for k, v in checks.items():
        print(f"  HF SamModel vs Meta dump {k}: rel-L2 {v:.3g}")
        assert v < 1e-4, k

    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        shutil.copyfile(os.path.join(tmp, "model.safetensors"), OUT)

    with safe_open(OUT, "pt") as f:
        keys = sorted(f.keys())
        for k in keys:
            assert f.get_tensor(k).dtype == torch.float32
    dropped = sorted(set(sd) - set(keys))
    print(f"wrote {OUT}: {len(keys)} tensors, {os.path.getsize(OUT)} bytes; "
          f"state-dict keys not in the file (tied): {dropped}")


if __name__ == "__main__":
    sys.exit(main())
