"""A tiny EfficientViT-SAM image encoder from MIT-Han-lab's own classes (package efficientsam 1.0.0), random weights,
and every module's output on a random input: the committed fixture of Tests/SAMModelTests/EfficientViTTests.swift.

The encoder is EfficientViTSamImageEncoder(EfficientViTLargeBackbone(...), SamNeck(...)) with every norm's eps set to
1e-6 (as create_efficientvit_sam_model does), small widths and one block per stage, chosen so that one file covers
every path of the five presets: a ResBlock, FusedMBConv and MBConv stage (with and without fewer_norm), LiteMLA with
5×5 and 3×3 aggregation, ReLU linear attention (16 positions, head width 4) and the quadratic form (4 positions), and
neck inputs resized bicubically from 2×2 and 8×8 and one already 64×64 (UpSampleLayer's identity), a FusedMBConv
middle with expansion 2. The neck's output width is 8 instead of 256 (the final LayerNorm2d with it), to keep the
file small; everything else is the reference's code.

Parameters: dumpkit.randomize (norm weights 1 + N(0, 0.1), everything else N(0, 0.02)), then every convolution weight
rescaled to std 1/sqrt(fan_in) so that activations keep their size through the blocks; BatchNorm running_mean
N(0, 0.1), running_var U(0.5, 1.5). Input: N(0, 1), 1×3×128×128.

Writes (into --out, default Tests/Fixtures/light/efficientvit):
  tiny_random.pth  the encoder's state_dict under `image_encoder.` (torch.save)
  tiny_random.h5   inputs/input_image and every module's output under its path (`image_encoder`,
                   `image_encoder.backbone.stages.0.op_list.0.conv`, …; dict outputs skipped, first call kept), float32;
                   outputs that are the same tensor (an IdentityLayer's, an OpSequential's last op's) are HDF5 hard
                   links to one dataset; gzip level 4 on datasets of at least 16 KiB. Root attributes: config (JSON),
                   torch_version, efficientsam_file, module_count.
Run: /work/venv/bin/python experiments/reference/make_efficientvit_fixture.py
"""

import argparse
import json
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dumpkit import randomize  # noqa: E402

import efficientsam  # noqa: E402
from efficientsam.models.efficientvit.backbone import EfficientViTLargeBackbone  # noqa: E402
from efficientsam.models.efficientvit.sam import EfficientViTSamImageEncoder, SamNeck  # noqa: E402
from efficientsam.models.nn.norm import LayerNorm2d, build_norm, set_norm_eps  # noqa: E402

CONFIG = dict(
    width_list=[2, 4, 8, 8, 16, 16],
    depth_list=[1, 1, 1, 1, 1, 1],
    block_list=["res", "fmb", "mb", "fmb", "att", "att@3"],
    expand_list=[1, 1, 1, 1, 1, 2],
    fewer_norm_list=[False, False, True, False, True, True],
    qkv_dim=4,
    fid_list=["stage5", "stage3", "stage0"],
    in_channel_list=[16, 8, 2],
    head_width=4,
    head_depth=1,
    expand_ratio=2,
    middle_op="fmb",
    out_dim=8,
    input_size=128,
    norm_eps=1e-6,
)


def build():
    c = CONFIG
    backbone = EfficientViTLargeBackbone(
        width_list=c["width_list"], depth_list=c["depth_list"], block_list=c["block_list"],
        expand_list=c["expand_list"], fewer_norm_list=c["fewer_norm_list"], qkv_dim=c["qkv_dim"])
    neck = SamNeck(fid_list=c["fid_list"], in_channel_list=c["in_channel_list"], head_width=c["head_width"],
                   head_depth=c["head_depth"], expand_ratio=c["expand_ratio"], middle_op=c["middle_op"],
                   out_dim=c["out_dim"])
    enc = EfficientViTSamImageEncoder(backbone, neck)
    enc.norm = build_norm("ln2d", c["out_dim"])  # the reference hard-codes 256: the width of the tiny neck instead
    set_norm_eps(enc, c["norm_eps"])
    return enc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", default=os.path.join(root, "Tests/Fixtures/light/efficientvit"))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    torch.manual_seed(a.seed)
    model = nn.Module()
    model.image_encoder = build()
    model.eval()
    randomize(model, a.seed, (nn.BatchNorm2d, LayerNorm2d))
    gen = torch.Generator().manual_seed(a.seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
                m.weight.mul_(1.0 / (fan_in ** 0.5) / 0.02)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
    torch.save(model.state_dict(), os.path.join(a.out, "tiny_random.pth"))

    outputs = []  # (name, tensor), first call of each module

    def hook(name):
        def fn(module, inputs, output):
            if torch.is_tensor(output) and name not in dict(outputs):
                outputs.append((name, output))
        return fn

    for name, m in model.named_modules():
        if name:
            m.register_forward_hook(hook(name))
    x = torch.randn((1, 3, CONFIG["input_size"], CONFIG["input_size"]), generator=gen)
    with torch.inference_mode():
        y = model.image_encoder(x)
    assert y.shape == (1, CONFIG["out_dim"], 64, 64), y.shape

    path = os.path.join(a.out, "tiny_random.h5")
    with h5py.File(path, "w") as f:
        f.attrs["config"] = json.dumps(CONFIG)
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["efficientsam_file"] = efficientsam.__file__
        f.attrs["module_count"] = len(outputs)
        f.create_dataset("inputs/input_image", data=x.numpy(), compression="gzip", compression_opts=4)
        first = {}  # (data_ptr, shape, stride) -> dataset name
        for name, t in outputs:
            key = (t.data_ptr(), tuple(t.shape), t.stride())
            if key in first:
                f[name] = f[first[key]]  # hard link: the same tensor
                continue
            first[key] = name
            arr = np.ascontiguousarray(t.detach().float().numpy())
            kw = dict(compression="gzip", compression_opts=4) if arr.nbytes >= 16384 else {}
            f.create_dataset(name, data=arr, **kw)
    print(f"{len(outputs)} modules ({len(first)} distinct tensors) -> {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
