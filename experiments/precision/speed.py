#!/usr/bin/env python3
"""fp32 and bf16, ours and PyTorch's, side by side in one run: the speed table of reports/precision/README.md.

  python3 experiments/precision/speed.py [--models vit_b,vit_l,vit_h,sam2.1_hiera_t] [--rounds 3] [--runs 2]

For each model, each round runs four fresh processes in a rotating order: Meta's PyTorch code in fp32, under
torch.autocast("cpu", dtype=torch.bfloat16), and `sam bench` in fp32 and with --precision bf16 (the PyTorch side as
experiments/bench/compare_pytorch.py runs it: glibc malloc tuned, threads = cores, random weights of the preset, a
1024² input; the decoder on one point prompt). Reported: medians over rounds of each process's medians: encoder
seconds, decoder milliseconds for one prompt, peak resident memory, the ratios the targets name (bf16 against
PyTorch's autocast, bf16 against our own fp32), and the machine's own product rates measured by `sam bench` (sgemm,
oneDNN bf16). Run it on a quiet machine with the OpenBLAS variables unset
(`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 experiments/precision/speed.py`). JSON per model in
notebooks-data/precision/speed/.
"""
import argparse, json, os, statistics, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "experiments", "bench"))
import compare_pytorch as cp  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="vit_b,vit_l,vit_h,sam2.1_hiera_t")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--sam", default=os.path.join(ROOT, ".build", "release", "sam"))
    ap.add_argument("--out", default=os.path.join(ROOT, "notebooks-data", "precision", "speed"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    sides = [("torch", "fp32"), ("swift", "fp32"), ("torch", "bf16"), ("swift", "bf16")]
    med = statistics.median
    lines = ["| model | encoder s: PyTorch fp32 / autocast bf16 / ours fp32 / ours bf16 | ours bf16 ÷ PyTorch bf16 | ours bf16 ÷ ours fp32 "
             "| decoder ms (1 prompt): ours fp32 / bf16 | peak MB: PyTorch fp32 / bf16, ours fp32 / bf16 | rates GFLOP/s: sgemm / bf16 |",
             "|---|---|---|---|---|---|---|"]
    for model in a.models.split(","):
        res = {s: [] for s in sides}
        for r in range(a.rounds):
            order = sides[r % 4:] + sides[:r % 4]
            for side, prec in order:
                args = argparse.Namespace(model_type=model, checkpoint=None, runs=a.runs, batch=8, sam=a.sam, precision=prec)
                out = cp.torch_run(args) if side == "torch" else cp.swift_run(args, 1)
                res[(side, prec)].append(out)
                print(f"{model} round {r + 1} {side} {prec}: encoder {out['encoder_seconds']:.3f} s, decoder "
                      f"{out['decoder_seconds'] * 1e3:.1f} ms, peak {out['peak_rss_bytes'] / 1e6:.0f} MB", file=sys.stderr)
        m = {f"{s}_{p}": {k: med([o[k] for o in v]) for k in ("encoder_seconds", "decoder_seconds", "peak_rss_bytes")}
             for (s, p), v in res.items()}
        sw = res[("swift", "bf16")]
        m["sgemm_gflops"] = med([o["sgemm_gflops"] for o in sw if "sgemm_gflops" in o])
        m["bf16_gflops"] = med([o["bf16_gflops"] for o in sw if "bf16_gflops" in o])
        m["bf16_kernel"] = sw[0].get("bf16_kernel")
        m["blas_core"] = sw[0].get("blas_core")
        m["rounds"] = {f"{s}_{p}": v for (s, p), v in res.items()}
        with open(os.path.join(a.out, f"{model}.json"), "w") as f:
            json.dump(m, f, indent=1, sort_keys=True)
        e = {k: m[k]["encoder_seconds"] for k in ("torch_fp32", "torch_bf16", "swift_fp32", "swift_bf16")}
        d = {k: m[k]["decoder_seconds"] * 1e3 for k in ("swift_fp32", "swift_bf16")}
        p = {k: m[k]["peak_rss_bytes"] / 1e6 for k in ("torch_fp32", "torch_bf16", "swift_fp32", "swift_bf16")}
        lines.append(f"| {model} | {e['torch_fp32']:.2f} / {e['torch_bf16']:.2f} / {e['swift_fp32']:.2f} / **{e['swift_bf16']:.2f}** | "
                     f"**{e['swift_bf16'] / e['torch_bf16']:.2f}×** | **{e['swift_bf16'] / e['swift_fp32']:.2f}×** | "
                     f"{d['swift_fp32']:.1f} / {d['swift_bf16']:.1f} | {p['torch_fp32']:.0f} / {p['torch_bf16']:.0f}, "
                     f"{p['swift_fp32']:.0f} / {p['swift_bf16']:.0f} | {m['sgemm_gflops']:.0f} / {m['bf16_gflops']:.0f} |")
        print("\n".join(lines), flush=True)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
