"""Build Meta's `Sam` (segment_anything 1.0, commit dca509f) for named or custom sizes.

Shared helper of make_checkpoint.py and dump.py. The model is assembled from Meta's own modules with exactly the
fixed arguments of `segment_anything/build_sam.py` (qkv_bias=True, use_rel_pos=True, rel_pos_zero_init=True,
LayerNorm eps 1e-6 in the encoder, pixel mean/std); only the sizes vary.

Config keys (a custom JSON file may give any subset of the optional ones):
  img_size, patch_size, encoder_embed_dim, encoder_depth, encoder_num_heads, encoder_global_attn_indexes,
  window_size, mlp_ratio, out_chans (256), prompt_embed_dim (256), mask_in_chans (16), decoder_depth (2),
  decoder_num_heads (8), decoder_mlp_dim (2048), num_multimask_outputs (3), iou_head_depth (3),
  iou_head_hidden_dim (256)
"""

import json
import os
import re
from functools import partial

import torch

import segment_anything
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

SEGMENT_ANYTHING_COMMIT = "dca509f"  # segment_anything 1.0 on PyPI

DEFAULTS = {
    "img_size": 1024,
    "patch_size": 16,
    "window_size": 14,
    "mlp_ratio": 4.0,
    "out_chans": 256,
    "prompt_embed_dim": 256,
    "mask_in_chans": 16,
    "decoder_depth": 2,
    "decoder_num_heads": 8,
    "decoder_mlp_dim": 2048,
    "num_multimask_outputs": 3,
    "iou_head_depth": 3,
    "iou_head_hidden_dim": 256,
}

REQUIRED = ["encoder_embed_dim", "encoder_depth", "encoder_num_heads", "encoder_global_attn_indexes"]

PRESETS = {
    # exactly segment_anything/build_sam.py
    "vit_h": dict(encoder_embed_dim=1280, encoder_depth=32, encoder_num_heads=16,
                  encoder_global_attn_indexes=[7, 15, 23, 31]),
    "vit_l": dict(encoder_embed_dim=1024, encoder_depth=24, encoder_num_heads=16,
                  encoder_global_attn_indexes=[5, 11, 17, 23]),
    "vit_b": dict(encoder_embed_dim=768, encoder_depth=12, encoder_num_heads=12,
                  encoder_global_attn_indexes=[2, 5, 8, 11]),
    # the demo checkpoints in /work/shared/checkpoints (standard SAM apart from the encoder size)
    "demo_tiny": dict(encoder_embed_dim=192, encoder_depth=6, encoder_num_heads=3,
                      encoder_global_attn_indexes=[1, 3, 5]),
    "demo_small": dict(encoder_embed_dim=384, encoder_depth=8, encoder_num_heads=6,
                       encoder_global_attn_indexes=[1, 3, 5, 7]),
}


def full_config(cfg):
    """Fill in defaults, check required keys, normalise types."""
    out = dict(DEFAULTS)
    out.update(cfg)
    missing = [k for k in REQUIRED if k not in out]
    if missing:
        raise ValueError(f"config lacks {missing}")
    unknown = [k for k in out if k not in DEFAULTS and k not in REQUIRED]
    if unknown:
        raise ValueError(f"unknown config keys {unknown}")
    out["encoder_global_attn_indexes"] = [int(i) for i in out["encoder_global_attn_indexes"]]
    for k in out:
        if k not in ("mlp_ratio", "encoder_global_attn_indexes"):
            out[k] = int(out[k])
    out["mlp_ratio"] = float(out["mlp_ratio"])
    return out


def preset_config(model_type):
    if model_type not in PRESETS:
        raise ValueError(f"unknown model type {model_type!r}; known: {sorted(PRESETS)}")
    return full_config(PRESETS[model_type])


def load_config_json(path):
    with open(path) as f:
        return full_config(json.load(f))


def config_name(cfg):
    """The preset name a full config equals, else 'custom'."""
    for name in PRESETS:
        if preset_config(name) == full_config(cfg):
            return name
    return "custom"


def build_sam(cfg):
    """Meta's Sam for a (full or partial) config, in eval mode, random init as the reference leaves it."""
    c = full_config(cfg)
    grid = c["img_size"] // c["patch_size"]
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=c["encoder_depth"],
            embed_dim=c["encoder_embed_dim"],
            img_size=c["img_size"],
            mlp_ratio=c["mlp_ratio"],
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=c["encoder_num_heads"],
            patch_size=c["patch_size"],
            qkv_bias=True,
            use_rel_pos=True,
            rel_pos_zero_init=True,
            global_attn_indexes=c["encoder_global_attn_indexes"],
            window_size=c["window_size"],
            out_chans=c["out_chans"],
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=c["prompt_embed_dim"],
            image_embedding_size=(grid, grid),
            input_image_size=(c["img_size"], c["img_size"]),
            mask_in_chans=c["mask_in_chans"],
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=c["num_multimask_outputs"],
            transformer=TwoWayTransformer(
                depth=c["decoder_depth"],
                embedding_dim=c["prompt_embed_dim"],
                mlp_dim=c["decoder_mlp_dim"],
                num_heads=c["decoder_num_heads"],
            ),
            transformer_dim=c["prompt_embed_dim"],
            iou_head_depth=c["iou_head_depth"],
            iou_head_hidden_dim=c["iou_head_hidden_dim"],
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    sam.eval()
    return sam


def load_state_dict(path):
    """torch.load on CPU; fp16 (or bf16) tensors converted to float32. Accepts a bare state dict or {'model': sd}."""
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
        sd = sd["model"]
    out = {}
    for k, v in sd.items():
        if torch.is_tensor(v) and v.is_floating_point() and v.dtype != torch.float32:
            v = v.float()
        out[k] = v
    return out


def _count(sd, prefix):
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return len({int(m.group(1)) for k in sd for m in [pat.match(k)] if m})


def infer_config(sd, decoder_num_heads=8):
    """Recover the config from tensor shapes. decoder_num_heads cannot be seen in the shapes (default 8)."""
    e = "image_encoder."
    embed, _, patch, _ = sd[e + "patch_embed.proj.weight"].shape
    grid = sd[e + "pos_embed"].shape[1]
    depth = _count(sd, e + "blocks.")
    head_dim = sd[e + "blocks.0.attn.rel_pos_h"].shape[1]
    global_len = 2 * grid - 1
    glob, window = [], None
    for i in range(depth):
        n = sd[f"{e}blocks.{i}.attn.rel_pos_h"].shape[0]
        if n == global_len:
            glob.append(i)
        else:
            window = (n + 1) // 2
    if window is None:  # every block global: window size is irrelevant
        window = DEFAULTS["window_size"]
    prompt_dim = sd["prompt_encoder.no_mask_embed.weight"].shape[1]
    cfg = dict(
        img_size=grid * patch,
        patch_size=patch,
        encoder_embed_dim=embed,
        encoder_depth=depth,
        encoder_num_heads=embed // head_dim,
        encoder_global_attn_indexes=glob,
        window_size=window,
        mlp_ratio=sd[e + "blocks.0.mlp.lin1.weight"].shape[0] / embed,
        out_chans=sd[e + "neck.0.weight"].shape[0],
        prompt_embed_dim=prompt_dim,
        mask_in_chans=sd["prompt_encoder.mask_downscaling.3.weight"].shape[0],
        decoder_depth=_count(sd, "mask_decoder.transformer.layers."),
        decoder_num_heads=decoder_num_heads,
        decoder_mlp_dim=sd["mask_decoder.transformer.layers.0.mlp.lin1.weight"].shape[0],
        num_multimask_outputs=sd["mask_decoder.mask_tokens.weight"].shape[0] - 1,
        iou_head_depth=_count(sd, "mask_decoder.iou_prediction_head.layers."),
        iou_head_hidden_dim=sd["mask_decoder.iou_prediction_head.layers.0.weight"].shape[0],
    )
    return full_config(cfg)


def resolve_config(state_dict=None, model_type=None, config_path=None):
    """(config, name): from --config, else --model-type, else inferred from the checkpoint's tensors."""
    if config_path:
        cfg = load_config_json(config_path)
        name = config_name(cfg)
        if name == "custom":
            name = "custom:" + os.path.basename(config_path)
        return cfg, name
    if model_type:
        return preset_config(model_type), model_type
    if state_dict is None:
        raise ValueError("need a model type, a config or a checkpoint")
    cfg = infer_config(state_dict)
    return cfg, config_name(cfg)


def load_sam(checkpoint, model_type=None, config_path=None):
    """(sam, config, name) with the checkpoint loaded strictly."""
    sd = load_state_dict(checkpoint)
    cfg, name = resolve_config(sd, model_type, config_path)
    sam = build_sam(cfg)
    sam.load_state_dict(sd, strict=True)
    sam.eval()
    return sam, cfg, name


def versions():
    return {
        "torch_version": str(torch.__version__),
        "segment_anything_file": str(segment_anything.__file__),
        "segment_anything_commit": SEGMENT_ANYTHING_COMMIT,
    }
