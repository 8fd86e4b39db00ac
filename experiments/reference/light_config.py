"""Build the light SAM family's reference models (MobileSAM, HQ-SAM, EfficientViT-SAM) from their packages, randomise
them for test checkpoints, and load them the way each package's documented usage does.

Shared helper of make_checkpoint_light.py, dump_light.py and the light-family parity and speed scripts.

Models (the names the Swift CLI's --model-type uses):
  mobilesam                      mobile_sam (mobilesam-mirror 1.0.0): sam_model_registry["vit_t"]
  sam_hq_vit_b|l|h, sam_hq_vit_tiny  segment_anything_hq 0.3: sam_model_registry["vit_b" | "vit_l" | "vit_h" | "vit_tiny"]
  efficientvit_sam_l0|l1|l2|xl0|xl1  efficientsam 1.0.0: create_efficientvit_sam_model("efficientvit-sam-l0", ...)
                                 (norm eps 1e-6 as that function sets it)

Quirk pinned here: TinyViT's attention (MobileSAM, Light HQ-SAM) uses in eval mode a buffer `ab` gathered from
`attention_biases` when `.eval()` / `.train(False)` runs; both packages' builders call `.eval()` *before* loading the
checkpoint, so a model used straight from the builder runs with the initial (zero) biases. The packages' READMEs call
`.eval()` again after building (MobileSAM: `mobile_sam.to(device); mobile_sam.eval()`), which gathers the loaded
biases; `load()` does the same, so the references here use the checkpoint's biases.
"""

import importlib.metadata
import os
import warnings

import torch

warnings.filterwarnings("ignore", message=".*Overwriting tiny_vit.*")  # both packages register TinyViT with timm

MOBILESAM = ("mobilesam",)
HQ = ("sam_hq_vit_b", "sam_hq_vit_l", "sam_hq_vit_h", "sam_hq_vit_tiny")
EFFICIENTVIT = ("efficientvit_sam_l0", "efficientvit_sam_l1", "efficientvit_sam_l2", "efficientvit_sam_xl0",
                "efficientvit_sam_xl1")
MODELS = MOBILESAM + HQ + EFFICIENTVIT


def package(model):
    """(distribution name, module) of the reference package of `model`."""
    if model in MOBILESAM:
        return "mobilesam-mirror", "mobile_sam"
    if model in HQ:
        return "segment-anything-hq", "segment_anything_hq"
    return "efficientsam", "efficientsam"


def versions(model):
    dist, mod = package(model)
    m = __import__(mod)
    return {"package": dist, "package_version": importlib.metadata.version(dist),
            "package_file": os.path.dirname(m.__file__), "torch_version": torch.__version__}


def build(model):
    """The reference model, default-initialised, in eval mode."""
    if model in MOBILESAM:
        from mobile_sam import sam_model_registry
        m = sam_model_registry["vit_t"](checkpoint=None)
    elif model in HQ:
        from segment_anything_hq import sam_model_registry
        m = sam_model_registry[model[len("sam_hq_"):]](checkpoint=None)
    elif model in EFFICIENTVIT:
        from efficientsam.sam_model_zoo import create_efficientvit_sam_model
        m = create_efficientvit_sam_model(model.replace("_", "-"), pretrained=False)
    else:
        raise SystemExit(f"unknown model {model}; one of {', '.join(MODELS)}")
    return m.eval()


def norm_types(model):
    """The norm modules whose weights randomise around 1."""
    types = [torch.nn.LayerNorm, torch.nn.BatchNorm2d]
    if model in MOBILESAM:
        from mobile_sam.modeling.common import LayerNorm2d
        from mobile_sam.modeling.tiny_vit_sam import LayerNorm2d as TinyLayerNorm2d
        types += [LayerNorm2d, TinyLayerNorm2d]
    elif model in HQ:
        from segment_anything_hq.modeling.common import LayerNorm2d
        from segment_anything_hq.modeling.tiny_vit_sam import LayerNorm2d as TinyLayerNorm2d
        types += [LayerNorm2d, TinyLayerNorm2d]
    else:
        from efficientsam.models.nn.norm import LayerNorm2d
        from efficientsam.segment_anything.modeling.common import LayerNorm2d as SamLayerNorm2d
        types += [LayerNorm2d, SamLayerNorm2d]
    return tuple(types)


def randomize(model_name, m, seed):
    """Every parameter from dumpkit.randomize (norm weights 1 + N(0, 0.1), the rest N(0, 0.02)), and every BatchNorm
    statistic: running_mean N(0, 0.1), running_var U(0.5, 1.5), num_batches_tracked a random count. Then `.eval()`
    gathers TinyViT's attention biases (see the module docstring)."""
    import dumpkit
    dumpkit.randomize(m, seed, norm_types(model_name))
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _, mod in m.named_modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=gen))
                mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=gen))
                mod.num_batches_tracked.fill_(int(torch.randint(1, 100000, (1,), generator=gen)))
    return m.eval()


def state_dict_of(m):
    return m.state_dict()


def load(model, checkpoint):
    """The reference model with a checkpoint's weights (a plain state dict, or one under "model"/"state_dict"),
    loaded strictly, then `.eval()` as the packages' READMEs do."""
    return load_any(model, checkpoint)


def predictor(model, m):
    """The package's own predictor class around `m`."""
    if model in MOBILESAM:
        from mobile_sam import SamPredictor
        return SamPredictor(m)
    if model in HQ:
        from segment_anything_hq import SamPredictor
        return SamPredictor(m)
    from efficientsam.models.efficientvit.sam import EfficientViTSamPredictor
    return EfficientViTSamPredictor(m)


def _decoder(mod, cfg, hq_vit_dim=None):
    """The package's PromptEncoder and (HQ) MaskDecoder at the custom sizes of `cfg`."""
    d, g, s = cfg.get("prompt_embed_dim", 256), cfg.get("grid", 64), cfg.get("img_size", 1024)
    pe = mod.PromptEncoder(embed_dim=d, image_embedding_size=(g, g), input_image_size=(s, s),
                           mask_in_chans=cfg.get("mask_in_chans", 16))
    tr = mod.TwoWayTransformer(depth=cfg.get("decoder_depth", 2), embedding_dim=d, mlp_dim=cfg.get("decoder_mlp_dim", 2048),
                               num_heads=cfg.get("decoder_num_heads", 8))
    kw = dict(num_multimask_outputs=3, transformer=tr, transformer_dim=d, iou_head_depth=cfg.get("iou_head_depth", 3),
              iou_head_hidden_dim=cfg.get("iou_head_hidden_dim", 256))
    md = mod.MaskDecoderHQ(vit_dim=hq_vit_dim, **kw) if hq_vit_dim is not None else mod.MaskDecoder(**kw)
    return pe, md


def build_custom(model, cfg):
    """A reduced member of `model`'s family (test fixtures), from the package's own classes, in eval mode.

    cfg keys: "tinyvit" {embed_dims, depths, num_heads, window_sizes, mlp_ratio, mbconv_expand_ratio} (MobileSAM,
    Light HQ-SAM: TinyViT-SAM keeps the 64² grid only with a last width of 320, 448 or 576); "vit" {img_size,
    embed_dim, depth, num_heads, global_attn_indexes, window_size} (HQ-SAM); "backbone" {width_list, depth_list,
    block_list, expand_list, fewer_norm_list, qkv_dim} and "neck" {fid_list, in_channel_list, head_width, head_depth,
    expand_ratio, middle_op}, "image_size" (EfficientViT-SAM); and the prompt encoder / decoder sizes prompt_embed_dim,
    mask_in_chans, decoder_depth, decoder_mlp_dim, decoder_num_heads, iou_head_depth, iou_head_hidden_dim."""
    from functools import partial
    if model in MOBILESAM or model == "sam_hq_vit_tiny":
        mod = __import__("mobile_sam.modeling" if model in MOBILESAM else "segment_anything_hq.modeling", fromlist=["x"])
        t = cfg["tinyvit"]
        enc = mod.TinyViT(img_size=1024, in_chans=3, num_classes=1000, embed_dims=t["embed_dims"], depths=t["depths"],
                          num_heads=t["num_heads"], window_sizes=t["window_sizes"], mlp_ratio=t.get("mlp_ratio", 4.0),
                          drop_rate=0.0, drop_path_rate=0.0, use_checkpoint=False,
                          mbconv_expand_ratio=t.get("mbconv_expand_ratio", 4.0), local_conv_size=3, layer_lr_decay=0.8)
        pe, md = _decoder(mod, cfg, t["embed_dims"][2] if model in HQ else None)
        m = mod.Sam(image_encoder=enc, prompt_encoder=pe, mask_decoder=md, pixel_mean=[123.675, 116.28, 103.53],
                    pixel_std=[58.395, 57.12, 57.375])
    elif model in HQ:
        import segment_anything_hq.modeling as mod
        v = cfg["vit"]
        s = v["img_size"]
        d = cfg.get("prompt_embed_dim", 256)
        enc = mod.ImageEncoderViT(depth=v["depth"], embed_dim=v["embed_dim"], img_size=s, mlp_ratio=v.get("mlp_ratio", 4),
                                  norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=v["num_heads"], patch_size=16,
                                  qkv_bias=True, use_rel_pos=True, global_attn_indexes=v["global_attn_indexes"],
                                  window_size=v["window_size"], out_chans=d)
        pe, md = _decoder(mod, dict(cfg, grid=s // 16, img_size=s), v["embed_dim"])
        m = mod.Sam(image_encoder=enc, prompt_encoder=pe, mask_decoder=md, pixel_mean=[123.675, 116.28, 103.53],
                    pixel_std=[58.395, 57.12, 57.375])
    elif model in EFFICIENTVIT:
        from efficientsam.models.efficientvit.backbone import EfficientViTLargeBackbone
        from efficientsam.models.efficientvit.sam import EfficientViTSam, EfficientViTSamImageEncoder, SamNeck
        from efficientsam.models.nn.norm import set_norm_eps
        import efficientsam.segment_anything.modeling as mod
        bb = EfficientViTLargeBackbone(**cfg["backbone"])
        enc = EfficientViTSamImageEncoder(bb, SamNeck(**cfg["neck"]))
        pe, md = _decoder(mod, cfg)
        m = EfficientViTSam(image_encoder=enc, prompt_encoder=pe, mask_decoder=md, image_size=(1024, cfg["image_size"]))
        set_norm_eps(m, 1e-6)
    else:
        raise SystemExit(f"unknown model {model}")
    return m.eval()


def read_weights(path):
    """A state dict from a .pth/.pt (a plain one, or under "model"/"state_dict") or a .safetensors file."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(path)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    for k in ("model", "state_dict"):
        if isinstance(sd, dict) and k in sd and isinstance(sd[k], dict):
            sd = sd[k]
    return sd


def load_any(model, checkpoint, config=None):
    """`load`, or with `config` (a JSON file for `build_custom`) a reduced model; either from .pth or .safetensors.
    TinyViT's attention_bias_idxs is a non-persistent buffer here: a file that has it (older saves) must hold the
    table the module computes, which is then dropped before the strict load."""
    import json
    m = build_custom(model, json.load(open(config))) if config else build(model)
    sd = dict(read_weights(checkpoint))
    own = m.state_dict(keep_vars=False)
    for k in [k for k in sd if k.endswith("attention_bias_idxs") and k not in own]:
        mod = m.get_submodule(k.rsplit(".", 1)[0])
        if not torch.equal(sd[k].long(), mod.attention_bias_idxs):
            raise SystemExit(f"{checkpoint}: {k} differs from the table the module computes")
        del sd[k]
    m.load_state_dict(sd, strict=True)
    return m.eval()
