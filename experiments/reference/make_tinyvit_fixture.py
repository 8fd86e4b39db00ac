"""Reference outputs of a small TinyViT (MobileSAM's image encoder class) for the Swift test TinyViTTests, small
enough to commit: Tests/Fixtures/light/tinyvit/tinyvit_small.h5 (about 0.5 MB).

    /work/venv/bin/python experiments/reference/make_tinyvit_fixture.py [--out Tests/Fixtures/light/tinyvit/tinyvit_small.h5]

The model: mobile_sam.modeling.tiny_vit_sam.TinyViT(img_size=1024, embed_dims=[16, 32, 40, 320], depths=[1, 1, 2, 1],
num_heads=[2, 2, 2, 4], window_sizes=[7, 7, 14, 7], mlp_ratio=2, mbconv_expand_ratio=2, local_conv_size=5,
num_classes=10), eval mode (layer 0's head count and window are unused: MobileSAM's 2 and 7, which the Swift
inference reports for them). It keeps what the full size exercises: padded windows at every attention layer (128 and
64 are not multiples of 7 or 14), stride-2 merges and the stride-1 merge into 320 channels, the 64×64 view, the
256-channel neck; a local convolution of 5 instead of 3 and ratios of 2 instead of 4 test that those are read from the
weights.

The weights and the input are not stored: both sides generate them from SplitMix64 (SAMTensor's `SplitMix64`), so the
fixture holds only reference outputs. For a state-dict key, the stream is seeded with the FNV-1a 64-bit hash of the
key's UTF-8 bytes and u = (next() >> 40) / 2^24 in order over the tensor's row-major elements; then, in float32:
  rank ≥ 2 weights               (2u − 1) · float32(sqrt(3 / fan_in)), fan_in = numel / shape[0]
  rank-1 `.weight` (norms)       1 + (2u − 1) · 0.2
  `.bias`                        (2u − 1) · 0.1
  `attention_biases`             2u − 1
  `running_mean`                 (2u − 1) · 0.1
  `running_var`                  0.5 + u
  `num_batches_tracked`          7
The input image (1×3×1024×1024) is (2u − 1) · 2 from SplitMix64(seed 2024).

`.eval()` runs after the weights are set, so that Attention's `ab` buffer holds the generated biases (see
light_config.py about TinyViT's `ab`).

Stored per module output (forward hooks on every named module but ModuleLists, the root as `image_encoder`, first
call kept, names prefixed `image_encoder.`):
  shapes/<name>   the output's shape (float32)
  samples/<name>  the whole tensor when it has at most 512 values, else the 512 values at flat indices
                  (j · 2654435761) mod numel, j = 0…511
  stats/<name>    [Σ x, Σ x²] over the whole tensor (float64 sums, stored float32)
plus hq/... the same for the HQ copy's tuple (segment_anything_hq's TinyViT with the same weights): `image_encoder:0`
(embedding) and `image_encoder:1:0` (layers[1]'s output viewed B×64×64×C).
Root attribute `state_dict`: JSON {key: shape} of the reference's `state_dict()` (prefix `image_encoder.`), the keys
the Swift encoder must take; `config`: the constructor arguments (JSON).
"""

import argparse
import json
import math
import os
import sys
import warnings

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dumpkit import flatten  # noqa: E402  (the dumps' NAME:i naming of tuple outputs)

warnings.filterwarnings("ignore")

CONFIG = dict(img_size=1024, in_chans=3, num_classes=10, embed_dims=[16, 32, 40, 320], depths=[1, 1, 2, 1],
              num_heads=[2, 2, 2, 4], window_sizes=[7, 7, 14, 7], mlp_ratio=2.0, drop_rate=0.0, drop_path_rate=0.0,
              use_checkpoint=False, mbconv_expand_ratio=2.0, local_conv_size=5, layer_lr_decay=0.8)
SAMPLES = 512
SAMPLE_STEP = 2654435761
INPUT_SEED = 2024
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix_uniform(seed, n):
    """n values u = (next() >> 40) / 2^24 of SplitMix64 seeded `seed` (state += golden, then the mix), float32."""
    with np.errstate(over="ignore"):
        state = np.uint64(seed) + GOLDEN * np.arange(1, n + 1, dtype=np.uint64)
        z = state
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def generated(key, shape):
    """The value of state-dict entry `key` (see the module docstring), float32."""
    n = int(np.prod(shape)) if len(shape) else 1
    if key.endswith("num_batches_tracked"):
        return np.full(shape, 7, dtype=np.float32)
    u = splitmix_uniform(fnv1a64(key), n).reshape(shape)
    two_u_minus_1 = u * np.float32(2) - np.float32(1)
    if key.endswith("running_var"):
        return np.float32(0.5) + u
    if key.endswith("running_mean"):
        return two_u_minus_1 * np.float32(0.1)
    if key.endswith("attention_biases"):
        return two_u_minus_1
    if key.endswith(".bias"):
        return two_u_minus_1 * np.float32(0.1)
    if len(shape) == 1:
        return np.float32(1) + two_u_minus_1 * np.float32(0.2)
    fan_in = n // shape[0]
    return two_u_minus_1 * np.float32(math.sqrt(3.0 / fan_in))


def build(cls):
    m = cls(**CONFIG)
    sd = m.state_dict()
    with torch.no_grad():
        for k, v in sd.items():
            v.copy_(torch.from_numpy(generated("image_encoder." + k, tuple(v.shape))).to(v.dtype))
    return m.eval()  # gathers `ab` from the generated attention_biases


def write_stats(h5, group, name, t):
    a = t.detach().float().contiguous().numpy().ravel()
    n = a.size
    if n <= SAMPLES:
        s = a
    else:
        idx = (np.arange(SAMPLES, dtype=np.int64) * SAMPLE_STEP) % n
        s = a[idx]
    h5.create_dataset(f"{group}shapes/{name}", data=np.array(t.shape, dtype=np.float32))
    h5.create_dataset(f"{group}samples/{name}", data=s.astype(np.float32))
    d = a.astype(np.float64)
    h5.create_dataset(f"{group}stats/{name}", data=np.array([d.sum(), (d * d).sum()], dtype=np.float32))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../Tests/Fixtures/light/tinyvit/tinyvit_small.h5"))
    args = ap.parse_args()
    from mobile_sam.modeling.tiny_vit_sam import TinyViT
    from segment_anything_hq.modeling.tiny_vit_sam import TinyViT as TinyViTHQ

    torch.manual_seed(0)
    model = build(TinyViT)
    x = torch.from_numpy((splitmix_uniform(INPUT_SEED, 3 * 1024 * 1024) * np.float32(2) - np.float32(1)) * np.float32(2))
    x = x.reshape(1, 3, 1024, 1024)

    outputs, calls = {}, {}

    def hook(name):
        def fn(module, inputs, output):
            calls[name] = calls.get(name, 0) + 1
            if calls[name] == 1:
                for dname, t in flatten(name, output):
                    outputs[dname] = t.detach().clone()
        return fn

    for mname, mod in model.named_modules():
        if isinstance(mod, torch.nn.ModuleList):
            continue  # never called
        mod.register_forward_hook(hook("image_encoder" + ("." + mname if mname else "")))
    with torch.no_grad():
        emb = model(x)
    hq = build(TinyViTHQ)
    with torch.no_grad():
        hq_emb, hq_interm = hq(x)
    assert torch.equal(hq_emb, emb), "the HQ copy differs from MobileSAM's"

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with h5py.File(args.out, "w") as h5:
        for name in sorted(outputs):
            write_stats(h5, "", name, outputs[name])
        write_stats(h5, "hq/", "image_encoder:0", hq_emb)
        write_stats(h5, "hq/", "image_encoder:1:0", hq_interm[0])
        sd = {"image_encoder." + k: list(v.shape) for k, v in model.state_dict().items()}
        h5.attrs["state_dict"] = json.dumps(sd)
        h5.attrs["config"] = json.dumps(CONFIG)
        h5.attrs["modules"] = len(outputs)
        h5.attrs["mobile_sam_file"] = __import__("mobile_sam").__file__
        h5.attrs["torch_version"] = str(torch.__version__)
    print(f"{len(outputs)} module outputs, {len(sd)} state-dict keys, embedding |x| mean "
          f"{emb.abs().mean().item():.4f}, written {args.out} ({os.path.getsize(args.out)} bytes)")
    for name in sorted(outputs):
        t = outputs[name]
        if not torch.isfinite(t).all():
            raise SystemExit(f"{name}: non-finite output")


if __name__ == "__main__":
    main()
