#!/usr/bin/env python3
"""Meta's PyTorch SAM vs `sam bench`, on the same machine in the same run, alternating, with the ratios.

  python3 experiments/bench/compare_pytorch.py --model-type vit_b --runs 3 [--rounds 2] [--batch 64]
  python3 experiments/bench/compare_pytorch.py --model-type sam2.1_hiera_t [--checkpoint sam2.1_hiera_tiny.pt]
  python3 experiments/bench/compare_pytorch.py --model-type vit_b --precision bf16
  python3 experiments/bench/compare_pytorch.py --model-type mobilesam|sam_hq_vit_b|efficientvit_sam_l0|… [--json-out F]

SAM 2.1 sizes (sam2.1_hiera_t, _s, _b+, _l) run Meta's sam2 1.1.0: the encoder as SAM2ImagePredictor.set_image runs
it after its transforms (forward_image, _prepare_backbone_features, no_mem_embed) and `_predict` for the decoder.

Each round runs the PyTorch benchmark in a fresh process (glibc malloc tuned as PyTorch is at its best:
MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=1073741824, torch threads = cores) and
`sam bench --json` (release build), PyTorch first in odd rounds and SAMSwift first in even ones, so drifts of the
machine hit both. Reported: medians over rounds of each side's
medians; encoder seconds (1024² input), prompt encoder + decoder seconds for one prompt and per prompt in a batch,
peak resident memory (model + one image + one prompt), and Swift/PyTorch ratios.

--precision bf16 (default fp32) runs PyTorch's timed encoder and decoder calls, warm-up runs included, inside one
torch.autocast("cpu", dtype=torch.bfloat16) context (the image features it stores for the decoder are then what the
encoder returns under autocast, as in set_image under autocast; the bf16 copies of the weights autocast makes are
cached within the context, so the discarded first run pays for them), and appends `--precision bf16` to `sam bench`.
The table's header names the precision of each side; fp32 runs exactly as before.
"""
import argparse, json, os, statistics, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# the decoder timing and the report, shared by both benchmarks: `predict(points B×1×2, labels B×1 int)` is set above
DECODE_AND_REPORT = r'''
    def decode(b):
        pts = torch.tensor([[[100.0 + 7 * k, 200.0 + 3 * k]] for k in range(b)])
        lab = torch.ones(b, 1, dtype=torch.int)
        t = time.perf_counter(); predict(pts, lab); return time.perf_counter() - t
    one = [decode(1) for _ in range(runs + 1)][1:]
    many = [decode(batch) for _ in range(runs + 1)][1:]
print(json.dumps({"encoder_seconds": statistics.median(enc), "decoder_seconds": statistics.median(one),
                  "decoder_batch_seconds": statistics.median(many),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "precision": precision}))
'''

TORCH_BENCH = r'''
import contextlib, json, os, resource, sys, time, statistics
sys.path.insert(0, os.path.join(sys.argv[1], "experiments", "reference"))
import torch
precision = sys.argv[6]  # fp32: no context; bf16: the timed calls under CPU autocast
amp = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
from sam_config import build_sam, preset_config, load_sam
torch.set_num_threads(os.cpu_count())
model_type, runs, batch, ckpt = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sam = load_sam(ckpt, model_type=None) if ckpt else build_sam(preset_config(model_type))
sam.eval()
from segment_anything import SamPredictor
x = torch.randn(1, 3, 1024, 1024)
enc = []
with torch.no_grad(), amp:
    for i in range(runs + 1):
        t = time.perf_counter(); feats = sam.image_encoder(x); dt = time.perf_counter() - t
        if i: enc.append(dt)
    pred = SamPredictor(sam)
    pred.features, pred.original_size, pred.input_size, pred.is_image_set = feats, (1024, 1024), (1024, 1024), True
    predict = lambda pts, lab: pred.predict_torch(pts, lab.float(), multimask_output=True)
''' + DECODE_AND_REPORT

# SAM 2.1 (sam2 1.1.0): the image encoder as SAM2ImagePredictor.set_image runs it after its transforms
# (forward_image, _prepare_backbone_features, no_mem_embed), and _predict on one point per prompt
TORCH_BENCH_SAM2 = r'''
import contextlib, json, os, resource, sys, time, statistics
sys.path.insert(0, os.path.join(sys.argv[1], "experiments", "reference"))
import torch
precision = sys.argv[6]  # fp32: no context; bf16: the timed calls under CPU autocast
amp = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
from sam2_config import build
from sam2.sam2_image_predictor import SAM2ImagePredictor
torch.set_num_threads(os.cpu_count())
size, runs, batch, ckpt = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
model = build(size, checkpoint=ckpt or None)
pred = SAM2ImagePredictor(model)
x = torch.randn(1, 3, 1024, 1024)
enc = []
with torch.no_grad(), amp:
    for i in range(runs + 1):
        t = time.perf_counter()
        out = model.forward_image(x)
        _, feats, _, _ = model._prepare_backbone_features(out)
        feats[-1] = feats[-1] + model.no_mem_embed
        dt = time.perf_counter() - t
        if i: enc.append(dt)
    fs = [f.permute(1, 2, 0).view(1, -1, *s) for f, s in zip(feats[::-1], pred._bb_feat_sizes[::-1])][::-1]
    pred._features = {"image_embed": fs[-1], "high_res_feats": fs[:-1]}
    pred._is_image_set, pred._orig_hw = True, [(1024, 1024)]
    predict = lambda pts, lab: pred._predict(pts, lab, multimask_output=True)
''' + DECODE_AND_REPORT

# the light family (experiments/reference/light_config.py: MobileSAM, HQ-SAM, EfficientViT-SAM), each with its own
# package: the encoder on its input (EfficientViT-SAM L: 512², the rest 1024²), the decoder through the package's
# predictor's predict_torch (HQ-SAM: with the encoder's interm_embeddings, hq_token_only=False)
TORCH_BENCH_LIGHT = r'''
import contextlib, json, os, resource, sys, time, statistics
sys.path.insert(0, os.path.join(sys.argv[1], "experiments", "reference"))
import torch
precision = sys.argv[6]
amp = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
import light_config
torch.set_num_threads(os.cpu_count())
name, runs, batch, ckpt = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
model = light_config.load(name, ckpt) if ckpt else light_config.build(name)
side = model.image_size[1] if name in light_config.EFFICIENTVIT else 1024
x = torch.randn(1, 3, side, side)
enc = []
with torch.no_grad(), amp:
    for i in range(runs + 1):
        t = time.perf_counter(); out = model.image_encoder(x); dt = time.perf_counter() - t
        if i: enc.append(dt)
    pred = light_config.predictor(name, model)
    if name in light_config.HQ:
        pred.features, pred.interm_features = out
    else:
        pred.features = out
    pred.original_size, pred.input_size, pred.is_image_set = (1024, 1024), (1024, 1024), True
    predict = lambda pts, lab: pred.predict_torch(pts, lab.float(), multimask_output=True)
''' + DECODE_AND_REPORT

# the sizes of `sam bench --model-type` for SAM 2.1 → sam2_config's names
SAM2_SIZES = {"sam2.1_hiera_t": "t", "sam2.1_hiera_s": "s", "sam2.1_hiera_b+": "b+", "sam2.1_hiera_l": "l"}


LIGHT_MODELS = ("mobilesam", "sam_hq_vit_b", "sam_hq_vit_l", "sam_hq_vit_h", "sam_hq_vit_tiny", "efficientvit_sam_l0",
                "efficientvit_sam_l1", "efficientvit_sam_l2", "efficientvit_sam_xl0", "efficientvit_sam_xl1")

# glibc malloc as PyTorch is at its best (its page faults cost a third of the encoder's time otherwise)
TORCH_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "68719476736", "MALLOC_TOP_PAD_": "1073741824"}


def torch_json(script, *argv):
    """Runs a PyTorch benchmark `script` in a fresh interpreter (malloc tuned) with the repository root and `argv` as
    its arguments; returns the JSON object its last line prints."""
    out = subprocess.run([sys.executable, "-c", script, ROOT, *argv], env=dict(os.environ, **TORCH_ENV), check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def torch_run(args):
    if args.model_type in LIGHT_MODELS:
        return torch_json(TORCH_BENCH_LIGHT, args.model_type, str(args.runs), str(args.batch), args.checkpoint or "",
                          args.precision)
    if args.model_type in SAM2_SIZES:
        return torch_json(TORCH_BENCH_SAM2, SAM2_SIZES[args.model_type], str(args.runs), str(args.batch),
                          args.checkpoint or "", args.precision)
    return torch_json(TORCH_BENCH, args.model_type or "", str(args.runs), str(args.batch), args.checkpoint or "",
                      args.precision)


def swift_run(args, batch):
    cmd = [args.sam, "bench", "--runs", str(args.runs), "--batch", str(batch), "--json"]
    cmd += ["--checkpoint", args.checkpoint] if args.checkpoint else ["--model-type", args.model_type]
    if args.checkpoint and args.model_type in SAM2_SIZES:
        cmd += ["--model-type", args.model_type]
    precision = getattr(args, "precision", "fp32")  # stages_pytorch.py has no --precision
    if precision == "bf16":
        cmd += ["--precision", "bf16"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    if res.get("precision", precision) != precision:  # builds before --precision have no such key
        sys.exit(f"error: sam bench ran in {res['precision']}, not {precision}: {' '.join(cmd)}")
    return res


def common_parser(doc):
    """The options both comparison scripts take: what to run, how many runs and rounds, which `sam`."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-type", default="vit_b")
    ap.add_argument("--checkpoint")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sam", default=os.path.join(ROOT, ".build", "release", "sam"))
    return ap


def main():
    ap = common_parser(__doc__)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help='bf16: PyTorch under torch.autocast("cpu", dtype=torch.bfloat16), sam bench --precision bf16')
    ap.add_argument("--json-out", help="also write the medians of both sides as JSON to this file")
    args = ap.parse_args()
    t_enc, t_dec, t_bat, t_rss, s_enc, s_dec, s_bat, s_rss = ([] for _ in range(8))
    for r in range(args.rounds):
        # the side that runs first alternates between rounds: a machine whose clock or neighbours change over a
        # round's minutes would otherwise favour one side every time
        if r % 2 == 0:
            t = torch_run(args)
            s1 = swift_run(args, 1)
            sb = swift_run(args, args.batch) if args.batch > 1 else s1
        else:
            s1 = swift_run(args, 1)
            sb = swift_run(args, args.batch) if args.batch > 1 else s1
            t = torch_run(args)
        t_enc.append(t["encoder_seconds"]); t_dec.append(t["decoder_seconds"]); t_bat.append(t["decoder_batch_seconds"])
        t_rss.append(t["peak_rss_bytes"])
        s_enc.append(s1["encoder_seconds"]); s_dec.append(s1["decoder_seconds"]); s_bat.append(sb["decoder_seconds"])
        s_rss.append(s1["peak_rss_bytes"])
        print(f"round {r + 1} ({args.precision}): torch enc {t['encoder_seconds']:.3f}s dec {t['decoder_seconds'] * 1e3:.1f}ms | "
              f"swift enc {s1['encoder_seconds']:.3f}s dec {s1['decoder_seconds'] * 1e3:.1f}ms | "
              f"batch {t['decoder_batch_seconds'] / args.batch * 1e3:.1f} vs {sb['decoder_seconds'] / args.batch * 1e3:.1f} ms",
              file=sys.stderr)
    med = statistics.median
    rows = [("image encoder (s)", med(t_enc), med(s_enc)),
            ("decoder, 1 prompt (ms)", med(t_dec) * 1e3, med(s_dec) * 1e3),
            (f"decoder per prompt, batch {args.batch} (ms)", med(t_bat) / args.batch * 1e3, med(s_bat) / args.batch * 1e3),
            ("peak RSS (MB)", med(t_rss) / 1e6, med(s_rss) / 1e6)]
    torch_prec = "autocast bf16" if args.precision == "bf16" else "fp32"
    print(f"| {args.checkpoint or args.model_type} | PyTorch ({torch_prec}) | SAMSwift ({args.precision}) | ratio |\n"
          "|---|---|---|---|")
    for name, a, b in rows:
        print(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.2f}× |")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"model": args.checkpoint or args.model_type, "precision": args.precision, "rounds": args.rounds,
                       "runs": args.runs, "batch": args.batch,
                       "torch": {"encoder_seconds": med(t_enc), "decoder_seconds": med(t_dec),
                                 "decoder_batch_seconds": med(t_bat), "peak_rss_bytes": med(t_rss)},
                       "swift": {"encoder_seconds": med(s_enc), "decoder_seconds": med(s_dec),
                                 "decoder_batch_seconds": med(s_bat), "peak_rss_bytes": med(s_rss),
                                 "parameters": s1.get("parameters"), "encoder_gflop": s1.get("encoder_gflop")}}, f, indent=1)


if __name__ == "__main__":
    main()
