#!/usr/bin/env python3
"""Click-to-mask latency of `sam serve`, embedding cached.

Starts `sam serve` with the given model options on a free port, embeds one image (timed once, the encoder), then
sends N single-click POST /api/segment requests at different points of the image (each click a new prompt, as a user
adds them) and reports the median and 90th percentile of the server's own time (`server_ms`: request arrival to
encoded answer, masks as base64 PNG) and of the client's round trip on localhost. Writes one CSV row per run.

    python3 experiments/serve/latency.py --sam .build-serve/release/sam --label demo_tiny \
        --image-dir ../shared/data/GrabCut/images --image 106024.jpg --csv notebooks-data/serve/latency.csv \
        -- --checkpoint notebooks-data/demo/sam_demo_tiny_fp16.pth
    python3 experiments/serve/latency.py ... --label vit_b -- --model-type vit_b
"""
import argparse, csv, json, os, socket, statistics, subprocess, sys, time, urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def post(url, body):
    t = time.perf_counter()
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=600) as r:
        d = json.load(r)
    return d, (time.perf_counter() - t) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sam", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--image-dir", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--clicks", type=int, default=30)
    ap.add_argument("--multimask", type=int, default=1)
    ap.add_argument("--format", default="png", help="mask encoding of the answers: png (what the page asks for), rle or both")
    ap.add_argument("--csv")
    ap.add_argument("model", nargs=argparse.REMAINDER, help="after --: sam serve's model options")
    a = ap.parse_args()
    model = [m for m in a.model if m != "--"]
    port = free_port()
    srv = subprocess.Popen([a.sam, "serve", *model, "--images", a.image_dir, "--port", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/api/info", timeout=1).read()
                break
            except Exception:
                if srv.poll() is not None:
                    sys.exit("sam serve exited: " + srv.stdout.read())
                time.sleep(0.5)
        e, e_rt = post(base + "/api/embed", {"image": a.image})
        w, h = e["width"], e["height"]
        # warm-up click (first decoder call allocates its buffers)
        post(base + "/api/segment", {"image": a.image, "points": [[w // 2, h // 2]], "labels": [1]})
        server, rtt, decode, encode, dcpu, ecpu = [], [], [], [], [], []
        for i in range(a.clicks):
            # points on a 6×5 grid inside the image, one prompt per click
            x = int(w * (0.1 + 0.8 * (i % 6) / 5)); y = int(h * (0.1 + 0.8 * (i // 6 % 5) / 4))
            d, ms = post(base + "/api/segment", {"image": a.image, "points": [[x, y]], "labels": [1],
                                                 "multimask": bool(a.multimask), "format": a.format})
            assert d["cached"], "embedding was not cached"
            server.append(d["server_ms"]); decode.append(d["decode_ms"]); encode.append(d["encode_ms"]); rtt.append(ms)
            dcpu.append(d["decode_cpu_ms"]); ecpu.append(d["encode_cpu_ms"])
        q = lambda v, p: sorted(v)[min(len(v) - 1, int(p * len(v)))]
        row = {"label": a.label, "model": " ".join(model), "image": a.image, "width": w, "height": h,
               "clicks": a.clicks, "multimask": a.multimask, "format": a.format, "embed_ms": round(e["embed_ms"], 1),
               "median_server_ms": round(statistics.median(server), 1), "p90_server_ms": round(q(server, 0.9), 1),
               "median_decode_ms": round(statistics.median(decode), 1),
               "median_encode_ms": round(statistics.median(encode), 1),
               "median_decode_cpu_ms": round(statistics.median(dcpu), 1),
               "median_encode_cpu_ms": round(statistics.median(ecpu), 1),
               "median_roundtrip_ms": round(statistics.median(rtt), 1), "p90_roundtrip_ms": round(q(rtt, 0.9), 1)}
        print(json.dumps(row))
        if a.csv:
            new = not os.path.exists(a.csv)
            with open(a.csv, "a", newline="") as f:
                wr = csv.DictWriter(f, fieldnames=list(row))
                if new:
                    wr.writeheader()
                wr.writerow(row)
    finally:
        srv.terminate()
        srv.wait(timeout=30)


if __name__ == "__main__":
    main()
