"""Build Meta's SAM 2.1 (`sam2` 1.1.0 from PyPI) on the CPU for the four published sizes.

Shared helper of make_checkpoint_sam2.py and dump_sam2.py; the SAM 2 counterpart of sam_config.py. The model is
built by the package's own `build_sam2` (Hydra config + `instantiate`), so everything (including the
post-processing overrides `build_sam2` adds by default: dynamic multimask via stability, delta 0.05, threshold 0.98)
is exactly what a user of the package gets.

Sizes: t, s, b+, l -> configs/sam2.1/sam2.1_hiera_<size>.yaml inside the installed package.
Overrides: Hydra override strings (`++model.image_encoder.trunk.stages=[1,1,1,1]`) passed on to `build_sam2`'s
`hydra_overrides_extra`; they are how a smaller custom model is made (README, "SAM 2.1"). A checkpoint made with
overrides must be loaded with the same overrides: the official file layout `{"model": state_dict}` has no room for
the config.
"""

import importlib.metadata

import numpy as np
import torch

import sam2  # initialises Hydra's config module "sam2" on import
from hydra import compose
from omegaconf import OmegaConf
from sam2.build_sam import build_sam2

SAM2_VERSION_EXPECTED = "1.1.0"

CONFIGS = {
    "t": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "s": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "b+": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "l": "configs/sam2.1/sam2.1_hiera_l.yaml",
}

# what build_sam2(apply_postprocessing=True), the default, appends (sam2/build_sam.py@1.1.0)
POSTPROCESSING_OVERRIDES = [
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
]


def read_overrides(override_files=(), overrides=()):
    """Override strings from files (one a line; blank lines and '#' comments ignored), then the single ones."""
    out = []
    for path in override_files or ():
        with open(path) as f:
            out += [ln.strip() for ln in f if ln.strip() and not ln.strip().startswith("#")]
    return out + list(overrides or ())


def config_file(size):
    if size not in CONFIGS:
        raise ValueError(f"unknown size {size!r}; known: {sorted(CONFIGS)}")
    return CONFIGS[size]


def build(size, overrides=(), checkpoint=None):
    """SAM2Base in eval mode on the CPU, via build_sam2 (strict checkpoint loading when a checkpoint is given)."""
    return build_sam2(config_file(size), ckpt_path=checkpoint, device="cpu", mode="eval",
                      hydra_overrides_extra=list(overrides))


def resolved_config_yaml(size, overrides=()):
    """The model config exactly as build_sam2 composes and resolves it, as YAML text (for the dump's attributes)."""
    cfg = compose(config_name=config_file(size), overrides=list(overrides) + POSTPROCESSING_OVERRIDES)
    OmegaConf.resolve(cfg)
    return OmegaConf.to_yaml(cfg.model)


def versions():
    return {
        "torch_version": str(torch.__version__),
        "sam2_version": importlib.metadata.version("sam2"),
        "sam2_file": str(sam2.__file__),
    }


class DecoderCapture:
    """What SAM2ImagePredictor computes but does not return, captured by wrapping the model's `sam_mask_decoder` on
    the instance (the class and every other instance are untouched; `close()` removes the wrappers):

      object_score_logits         B x 1: the decoder's 4th output (MaskDecoder.forward), dropped by the predictor
      all_mask_logits             B x 4 x 256 x 256: predict_masks' logits of every mask token, before selection
      all_iou_predictions         B x 4
      singlemask_stability_score  B x 1: Meta's _get_stability_scores of token 0 (what the dynamic multimask fallback
                                  tests against its threshold, 0.98)
      mask_tokens                 B x C int64: the token each returned mask comes from (1..3 with multimask output;
                                  with a single mask 0 when token 0 is stable, else 1 + argmax of IoUs 1..3)

    `last` holds the values (float32 / int64 numpy arrays) of the latest decoder call, `first` those of the first
    call after `clear()`."""

    def __init__(self, model):
        self.decoder = model.sam_mask_decoder
        self.first, self.last = {}, {}
        dec = self.decoder
        forward, predict_masks = dec.forward, dec.predict_masks
        cap = self

        def forward_capturing(*args, **kwargs):
            out = forward(*args, **kwargs)
            multimask = kwargs["multimask_output"] if "multimask_output" in kwargs else args[4]
            all_iou = cap.last["all_iou_predictions"]
            if multimask:
                tokens = np.tile(np.arange(1, dec.num_mask_tokens, dtype=np.int64), (all_iou.shape[0], 1))
            elif dec.dynamic_multimask_via_stability and not dec.training:
                best = 1 + np.argmax(all_iou[:, 1:], axis=-1)
                stable = cap.last["singlemask_stability_score"][:, 0] >= dec.dynamic_multimask_stability_thresh
                tokens = np.where(stable, 0, best).astype(np.int64)[:, None]
            else:
                tokens = np.zeros((all_iou.shape[0], 1), dtype=np.int64)
            cap._put("object_score_logits", out[3])
            cap._put("mask_tokens", tokens)
            return out

        def predict_masks_capturing(*args, **kwargs):
            out = predict_masks(*args, **kwargs)
            cap._put("all_mask_logits", out[0])
            cap._put("all_iou_predictions", out[1])
            cap._put("singlemask_stability_score", dec._get_stability_scores(out[0][:, 0:1]))
            return out

        dec.forward = forward_capturing
        dec.predict_masks = predict_masks_capturing

    def _put(self, key, value):
        if torch.is_tensor(value):
            value = value.detach().float().cpu().numpy()
        self.last[key] = value
        self.first.setdefault(key, value)

    def clear(self):
        self.first, self.last = {}, {}

    def close(self):
        for name in ("forward", "predict_masks"):
            if name in self.decoder.__dict__:
                del self.decoder.__dict__[name]
