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
