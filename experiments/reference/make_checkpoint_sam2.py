"""Write a random SAM 2.1 checkpoint in the official format (`torch.save({"model": model.state_dict()}, out)`).

The model is built with the sam2 package's own `build_sam2(config, ckpt_path=None, device="cpu")` under
`torch.manual_seed(S)`, then every parameter is overwritten from a torch.Generator seeded S, in registration order
(`named_parameters()`), so that nothing the reference initialises to zero, one or a tiny constant can hide a porting
bug (Hiera's `pos_embed` and `pos_embed_window` start at zero, `no_mem_embed` is a truncated normal, the memory
encoder's CXBlock `gamma` is 1e-6, LayerNorm affines are 1/0):
  * nn.LayerNorm / LayerNorm2d weight: 1 + normal(0, 0.1); their bias: normal(0, 0.02)
  * every other parameter (conv/linear weights and biases, embeddings, pos_embed, pos_embed_window, no_mem_embed,
    no_mem_pos_enc, no_obj_ptr, maskmem_tpos_enc, gamma, ...): normal(0, 0.02)
The whole model is randomised, including the video-only parts (memory attention/encoder, object pointer heads),
which the image predictor never runs, so that the file has every key of an official checkpoint.

Buffers: SAM 2.1 has exactly one persistent buffer, `sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix`
(2 x 128, a random Fourier matrix = scale * randn). It keeps its constructor value (seeded by torch.manual_seed(S)),
as the reference creates it; it is random already. There are no BatchNorm layers, so no running statistics. The
sine position encodings (PositionEmbeddingSine's cache) and RoPE tables (`freqs_cis`) are plain attributes computed
from fixed formulas, not state-dict entries, so they cannot be (and need not be) randomised. The script checks that
the state dict holds nothing but the parameters and that one buffer, and stops otherwise.

usage: make_checkpoint_sam2.py --config t|s|b+|l --seed S --out X.pt [--override-file F ...] [--override HYDRA_OVERRIDE ...]
"""

import argparse
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam2_config  # noqa: E402
from sam2.modeling.sam2_utils import LayerNorm2d  # noqa: E402
import dumpkit  # noqa: E402

KEPT_BUFFERS = {"sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"}


def randomize(model, seed):
    """`dumpkit.randomize` with this package's norm layers."""
    return dumpkit.randomize(model, seed, (torch.nn.LayerNorm, LayerNorm2d))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, choices=sorted(sam2_config.CONFIGS))
    ap.add_argument("--override", action="append", default=[],
                    help="Hydra override for build_sam2 (repeatable), e.g. ++model.image_encoder.trunk.stages=[1,1,1,1]")
    ap.add_argument("--override-file", action="append", default=[],
                    help="a file of Hydra overrides, one a line (e.g. sam2_tiny_random.overrides); repeatable")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    overrides = sam2_config.read_overrides(a.override_file, a.override)

    t0 = time.time()
    torch.manual_seed(a.seed)  # the constructor's own init (incl. the Fourier matrix buffer) is seeded too
    model = sam2_config.build(a.config, overrides)
    params = dict(model.named_parameters())
    extra = [k for k in model.state_dict() if k not in params and k not in KEPT_BUFFERS]
    if extra:
        raise SystemExit(f"state dict has entries that are neither parameters nor known buffers: {extra}")
    n_norm = randomize(model, a.seed)
    sd = model.state_dict()
    out_dir = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(out_dir, exist_ok=True)
    # saved in a temporary folder under the same file name (torch.save names the zip archive's top folder after the
    # file's stem, so the name is part of the bytes), then renamed over a.out: a reader of the old file keeps it
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".make_checkpoint_") as tmp_dir:
        tmp = os.path.join(tmp_dir, os.path.basename(a.out))
        torch.save({"model": sd}, tmp)
        os.replace(tmp, a.out)
    n = sum(p.numel() for p in model.parameters())
    vers = sam2_config.versions()
    print(f"sam2.1 {a.config}{f' + {len(overrides)} overrides' if overrides else ''}: "
          f"{n:,} params ({n / 1e6:.2f} M), {len(sd)} tensors ({len(params)} parameters, {n_norm} of them norm "
          f"affines; buffers kept: {sorted(k for k in sd if k not in params)}) -> {a.out} "
          f"({os.path.getsize(a.out) / 1e6:.1f} MB) in {time.time() - t0:.1f} s; "
          f"torch {vers['torch_version']}, sam2 {vers['sam2_version']}")


if __name__ == "__main__":
    main()
