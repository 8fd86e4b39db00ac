#!/usr/bin/env python3
"""The family report: every model the toolkit knows in one table and one plot — SAM v1 B/L/H, SAM 2.1 T/S/B+/L,
MobileSAM, HQ-SAM B/L/H/tiny, EfficientViT-SAM L0–XL1 — with parameters, encoder GFLOP, encoder time and decoder time
per prompt here, peak memory, and the PyTorch reference's times and memory measured in the same run; mIoU and NoC for
every checkpoint given. Writes reports/family/README.md (the hand-written part after its keep marker is kept),
reports/family/family.svg and notebooks-data/family/family.csv.

  python3 experiments/family/family_report.py [--runs 2] [--rounds 1] [--models vit_b,mobilesam,...]
         [--checkpoint NAME=PATH ...] [--dataset ../shared/data/GrabCut]

Each model runs `experiments/bench/compare_pytorch.py --model-type M` (random weights of the size; the reference
package in a fresh process with glibc malloc tuned, then `sam bench --json`, alternating sides between rounds;
medians): encoder seconds on a 1024² image (EfficientViT-SAM L: 512²), one prompt of one point with three masks
(HQ-SAM: one), peak resident memory of model + one image + one prompt. Run it on a quiet machine, with the release
build, and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (benchmark conditions of reports/bench). A checkpoint given as
NAME=PATH is evaluated with `sam eval` on the data set (box and point: mIoU; clicks:5: NoC@85/90) and its row is
added beside the sizes (random-weight checkpoints score near zero: the columns show that the path runs, not SAM's
accuracy).
"""
import argparse, csv, json, os, platform, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KEEP = "<!-- keep: hand-written notes below this line are kept when the report is regenerated -->"

FAMILY = [  # (model type, family, reference package)
    ("vit_b", "SAM", "segment_anything"), ("vit_l", "SAM", "segment_anything"), ("vit_h", "SAM", "segment_anything"),
    ("sam2.1_hiera_t", "SAM 2.1", "sam2"), ("sam2.1_hiera_s", "SAM 2.1", "sam2"), ("sam2.1_hiera_b+", "SAM 2.1", "sam2"),
    ("sam2.1_hiera_l", "SAM 2.1", "sam2"),
    ("mobilesam", "MobileSAM", "mobile_sam"),
    ("sam_hq_vit_b", "HQ-SAM", "segment_anything_hq"), ("sam_hq_vit_l", "HQ-SAM", "segment_anything_hq"),
    ("sam_hq_vit_h", "HQ-SAM", "segment_anything_hq"), ("sam_hq_vit_tiny", "Light HQ-SAM", "segment_anything_hq"),
    ("efficientvit_sam_l0", "EfficientViT-SAM", "efficientsam"), ("efficientvit_sam_l1", "EfficientViT-SAM", "efficientsam"),
    ("efficientvit_sam_l2", "EfficientViT-SAM", "efficientsam"), ("efficientvit_sam_xl0", "EfficientViT-SAM", "efficientsam"),
    ("efficientvit_sam_xl1", "EfficientViT-SAM", "efficientsam"),
]
COLORS = {"SAM": "#1f77b4", "SAM 2.1": "#d62728", "MobileSAM": "#2ca02c", "HQ-SAM": "#9467bd",
          "Light HQ-SAM": "#8c564b", "EfficientViT-SAM": "#ff7f0e"}


def bench(model, args, tmp):
    out = os.path.join(tmp, model + ".json")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    subprocess.run([sys.executable, os.path.join(ROOT, "experiments", "bench", "compare_pytorch.py"), "--model-type", model,
                    "--runs", str(args.runs), "--rounds", str(args.rounds), "--batch", "1", "--sam", args.sam,
                    "--json-out", out], check=True, env=env, stdout=subprocess.DEVNULL)
    return json.load(open(out))


def evaluate(name, path, args, tmp):
    """mIoU of box and point, NoC@85/90 of clicks:5 on the data set, from `sam eval`'s per-object CSVs."""
    pattern = os.path.join(tmp, f"{name}-{{prompt}}.csv")
    subprocess.run([args.sam, "eval", "--checkpoint", path, "--dataset", args.dataset, "--ignore-value", "128",
                    "--prompt", "box,point,clicks:5", "--out", pattern], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    def mean(prompt, col):
        rows = list(csv.DictReader(open(pattern.replace("{prompt}", prompt))))
        return statistics.mean(float(r[col]) for r in rows)
    size = json.loads(subprocess.run([args.sam, "bench", "--checkpoint", path, "--runs", "1", "--json"], check=True,
                                     capture_output=True, text=True).stdout.strip().splitlines()[-1])["size"]
    return {"model": size, "miou_box": mean("box", "iou"), "miou_point": mean("point", "iou"),
            "noc85": mean("clicks5", "noc85"), "noc90": mean("clicks5", "noc90")}


def svg(rows, path):
    """Encoder seconds (ours and the reference's, log) against parameters (log), one colour per family."""
    import math
    w, h, l, r, t, b = 760, 460, 70, 190, 30, 50
    xs = [x["parameters"] / 1e6 for x in rows]
    ys = [v for x in rows for v in (x["encoder_s"], x["torch_encoder_s"])]
    x0, x1 = math.log10(min(xs) / 1.5), math.log10(max(xs) * 1.5)
    y0, y1 = math.log10(min(ys) / 1.5), math.log10(max(ys) * 1.5)
    X = lambda v: l + (math.log10(v) - x0) / (x1 - x0) * (w - l - r)
    Y = lambda v: h - b - (math.log10(v) - y0) / (y1 - y0) * (h - t - b)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{l}" y="18" font-size="13">Image encoder time vs parameters (log–log): filled = SAMSwift, open = PyTorch reference</text>']
    for e in range(int(math.floor(x0)), int(math.ceil(x1)) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if x0 <= math.log10(v) <= x1:
                o.append(f'<line x1="{X(v):.1f}" y1="{t}" x2="{X(v):.1f}" y2="{h - b}" stroke="#eee"/>'
                         f'<text x="{X(v):.1f}" y="{h - b + 15}" text-anchor="middle">{v:g}</text>')
            if y0 <= math.log10(v) <= y1:
                o.append(f'<line x1="{l}" y1="{Y(v):.1f}" x2="{w - r}" y2="{Y(v):.1f}" stroke="#eee"/>'
                         f'<text x="{l - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    o.append(f'<text x="{(l + w - r) / 2}" y="{h - 12}" text-anchor="middle">parameters (millions)</text>')
    o.append(f'<text x="16" y="{(t + h - b) / 2}" transform="rotate(-90 16 {(t + h - b) / 2})" text-anchor="middle">encoder seconds</text>')
    for x in rows:
        c = COLORS.get(x["family"], "black")
        px, py, pt = X(x["parameters"] / 1e6), Y(x["encoder_s"]), Y(x["torch_encoder_s"])
        o.append(f'<line x1="{px:.1f}" y1="{py:.1f}" x2="{px:.1f}" y2="{pt:.1f}" stroke="{c}" stroke-opacity="0.4"/>')
        o.append(f'<circle cx="{px:.1f}" cy="{pt:.1f}" r="4" fill="white" stroke="{c}" stroke-width="1.5"/>')
        o.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{c}"/>')
        o.append(f'<text x="{px + 6:.1f}" y="{py + 4:.1f}" font-size="9">{x["model"]}</text>')
    for i, (fam, c) in enumerate(COLORS.items()):
        o.append(f'<circle cx="{w - r + 20}" cy="{t + 10 + 18 * i}" r="5" fill="{c}"/>'
                 f'<text x="{w - r + 30}" y="{t + 14 + 18 * i}">{fam}</text>')
    o.append("</svg>")
    open(path, "w").write("\n".join(o) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--models", help="comma-separated subset (default: all)")
    ap.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--dataset", default=os.path.join(ROOT, "..", "shared", "data", "GrabCut"))
    ap.add_argument("--sam", default=os.path.join(ROOT, ".build", "release", "sam"))
    ap.add_argument("--report", default=os.path.join(ROOT, "reports", "family", "README.md"))
    ap.add_argument("--csv", default=os.path.join(ROOT, "notebooks-data", "family", "family.csv"))
    args = ap.parse_args()
    want = args.models.split(",") if args.models else [m for m, _, _ in FAMILY]
    unknown = [m for m in want if m not in {m for m, _, _ in FAMILY}]
    if unknown:
        sys.exit(f"unknown models {unknown}")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, family, package in FAMILY:
            if model not in want:
                continue
            j = bench(model, args, tmp)
            s, t = j["swift"], j["torch"]
            rows.append({"model": model, "family": family, "reference": package, "parameters": s["parameters"],
                         "encoder_gflop": s["encoder_gflop"], "encoder_s": s["encoder_seconds"],
                         "torch_encoder_s": t["encoder_seconds"], "decoder_ms": s["decoder_seconds"] * 1e3,
                         "torch_decoder_ms": t["decoder_seconds"] * 1e3, "peak_mb": s["peak_rss_bytes"] / 1e6,
                         "torch_peak_mb": t["peak_rss_bytes"] / 1e6})
            print(f"{model}: encoder {s['encoder_seconds']:.3f} s vs {t['encoder_seconds']:.3f} s, "
                  f"peak {s['peak_rss_bytes'] / 1e6:.0f} vs {t['peak_rss_bytes'] / 1e6:.0f} MB", file=sys.stderr)
        evals = []
        for spec in args.checkpoint:
            name, path = spec.split("=", 1)
            e = evaluate(name, path, args, tmp)
            e["name"], e["path"] = name, path
            evals.append(e)
            print(f"{name}: {e}", file=sys.stderr)
    os.makedirs(os.path.dirname(args.csv), exist_ok=True)
    with open(args.csv, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        wr.writeheader()
        wr.writerows(rows)
    if evals:
        with open(args.csv.replace(".csv", "_eval.csv"), "w", newline="") as f:
            wr = csv.DictWriter(f, fieldnames=["name", "path", "model", "miou_box", "miou_point", "noc85", "noc90"])
            wr.writeheader()
            wr.writerows(evals)
    os.makedirs(os.path.dirname(args.report), exist_ok=True)
    svg(rows, os.path.join(os.path.dirname(args.report), "family.svg"))
    info = {}
    for l in open("/proc/cpuinfo"):
        k, _, v = l.partition(":")
        info.setdefault(k.strip(), v.strip())
    flags = info.get("flags", "").split()
    cpu = (f"{info.get('model name', platform.machine())} (CPU family {info.get('cpu family')} model {info.get('model')}; "
           f"{'AVX-512' if 'avx512f' in flags else 'AVX2' if 'avx2' in flags else 'no AVX2'})")
    lines = ["# The SAM family on one machine", "",
             f"Regenerate: `python3 experiments/family/family_report.py --runs {args.runs} --rounds {args.rounds}"
             + "".join(f" --checkpoint {e['name']}={e['path']}" for e in evals) + "` (release build, quiet machine, "
             "OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset).", "",
             f"Machine: {cpu}, {os.cpu_count()} cores; run started {started}. Random weights of each size; each row's "
             "reference is its own package, in a fresh process with glibc malloc tuned, measured in the same run "
             f"(`compare_pytorch.py`, {args.rounds} round(s) of {args.runs} timed runs after a warm-up, medians). Encoder: one "
             "1024² image (EfficientViT-SAM L0–L2: 512², their input); decoder: one prompt of one point, multimask "
             "(HQ-SAM returns one mask); peak: resident memory of model + one image + one prompt.", "",
             "| model | family | parameters | encoder GFLOP | encoder s | reference s | ratio | decoder ms / prompt | reference ms | peak MB | reference MB | memory ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in rows:
        lines.append(f"| {x['model']} | {x['family']} | {x['parameters'] / 1e6:.1f} M | {x['encoder_gflop']:.1f} | "
                     f"{x['encoder_s']:.3f} | {x['torch_encoder_s']:.3f} | {x['encoder_s'] / x['torch_encoder_s']:.2f}× | "
                     f"{x['decoder_ms']:.1f} | {x['torch_decoder_ms']:.1f} | {x['peak_mb']:.0f} | {x['torch_peak_mb']:.0f} | "
                     f"{x['peak_mb'] / x['torch_peak_mb']:.2f}× |")
    lines += ["", "![encoder time against parameters](family.svg)", ""]
    lines += ["## Accuracy of the checkpoints given", ""]
    if evals:
        lines += [f"`sam eval` on {os.path.basename(os.path.normpath(args.dataset))} (box and point: mIoU; clicks:5: mean NoC@85/90).", "",
                  "| checkpoint | model | mIoU box | mIoU point | NoC@85 | NoC@90 |", "|---|---|---:|---:|---:|---:|"]
        for e in evals:
            lines.append(f"| {e['name']} | {e['model']} | {e['miou_box']:.4f} | {e['miou_point']:.4f} | {e['noc85']:.2f} | {e['noc90']:.2f} |")
    else:
        lines.append("No checkpoint given: pass official ones as `--checkpoint NAME=PATH` to fill these columns.")
    lines.append("")
    old = open(args.report).read() if os.path.exists(args.report) else ""
    tail = old[old.index(KEEP):] if KEEP in old else KEEP + "\n"
    open(args.report, "w").write("\n".join(lines) + "\n" + tail)
    print(f"wrote {args.report}, {args.csv}", file=sys.stderr)


if __name__ == "__main__":
    main()
