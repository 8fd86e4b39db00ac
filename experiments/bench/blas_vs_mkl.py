#!/usr/bin/env python3
"""OpenBLAS (what `sam` calls) vs Intel MKL (what PyTorch's wheels call) on the image encoder's matrix products.

  python3 experiments/bench/blas_vs_mkl.py [--model-type vit_b] [--reps 8]

The encoder's linear layers (qkv, proj, the MLP's two) are three quarters of its time on both sides, so the BLAS
behind each side sets most of the whole-encoder ratio. Each product X·Wᵀ of the given model's shapes (4096 tokens at
1024²) runs through OpenBLAS's cblas_sgemm (the system library, loaded with ctypes, its kernels as `sam` picks them)
and through torch.mm (MKL), alternating call by call so that the machine's changes of speed hit both; once on one
thread each, once on all cores — OpenBLAS both as `sam` splits a product (row bands, one single-threaded call per
core) and with its own threads, MKL with torch's threads. Prints GFLOP/s from the median time of each and MKL's
speed-up over the faster OpenBLAS.
"""
import argparse, ctypes, os, statistics, sys, time
from concurrent.futures import ThreadPoolExecutor

# the kernels `sam` picks on this CPU family; OpenBLAS's own pool sized to the cores for the threaded variant, its
# threads sleeping as soon as a call ends (their default busy-wait would slow the variants that run after it)
os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(os.cpu_count()))
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
import torch  # noqa: E402

DIMS = {"vit_b": 768, "vit_l": 1024, "vit_h": 1280}


def load_openblas():
    for name in ("libopenblas.so.0", "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        sys.exit("error: libopenblas.so.0 not found (apt-get install libopenblas-dev)")
    P, I, F = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
    lib.cblas_sgemm.argtypes = [I, I, I, I, I, I, F, P, I, P, I, F, P, I]
    lib.cblas_sgemm.restype = None
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-type", default="vit_b", choices=sorted(DIMS))
    ap.add_argument("--tokens", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=8)
    args = ap.parse_args()
    ob = load_openblas()
    cores = os.cpu_count()
    pool = ThreadPoolExecutor(cores)
    c, m = DIMS[args.model_type], args.tokens
    shapes = [("qkv", 3 * c, c), ("proj", c, c), ("MLP lin1", 4 * c, c), ("MLP lin2", c, 4 * c)]
    print(f"OpenBLAS kernels {ob.openblas_get_corename().decode()}, torch {torch.__version__} "
          f"(MKL: {torch.backends.mkl.is_available()}), {cores} cores, {args.model_type}, {m} tokens")
    print("| product | M×N×K | threads | OpenBLAS GFLOP/s (sam's split) | OpenBLAS (own threads) | MKL GFLOP/s | "
          "MKL speed-up |\n|---|---|---|---|---|---|---|")
    for name, n, k in shapes:
        x, w, out = torch.randn(m, k), torch.randn(n, k) * 0.05, torch.empty(m, n)

        def openblas(rows=range(m)):
            # row-major C = X Wᵀ: CblasRowMajor 101, CblasNoTrans 111, CblasTrans 112
            r0, rn = rows.start, len(rows)
            ob.cblas_sgemm(101, 111, 112, rn, n, k, 1.0, x.data_ptr() + 4 * r0 * k, k, w.data_ptr(), k, 0.0,
                           out.data_ptr() + 4 * r0 * n, n)

        def openblas_one():
            ob.openblas_set_num_threads(1)
            openblas()

        def openblas_split():
            ob.openblas_set_num_threads(1)
            step = (m + cores - 1) // cores
            list(pool.map(openblas, [range(i, min(m, i + step)) for i in range(0, m, step)]))

        def openblas_own():
            ob.openblas_set_num_threads(cores)
            openblas()
            ob.openblas_set_num_threads(1)

        def mkl():
            torch.mm(x, w.t(), out=out)

        for threads, calls in ((1, [openblas_one, mkl]), (cores, [openblas_split, openblas_own, mkl])):
            torch.set_num_threads(threads)
            for f in calls + calls:
                f()
            times = {f: [] for f in calls}
            for r in range(args.reps):
                for f in (calls if r % 2 == 0 else calls[::-1]):
                    t = time.perf_counter(); f(); times[f].append(time.perf_counter() - t)
            gf = 2 * m * n * k / 1e9
            rate = {f: gf / statistics.median(ts) for f, ts in times.items()}
            best = max(v for f, v in rate.items() if f is not mkl)
            own = f"{rate[openblas_own]:.1f}" if openblas_own in rate else "—"
            print(f"| {name} | {m}×{n}×{k} | {threads} | {rate[calls[0]]:.1f} | {own} | {rate[mkl]:.1f} | "
                  f"{rate[mkl] / best:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
