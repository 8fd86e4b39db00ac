"""Compare two per-object evaluation CSVs (`sam eval` vs eval_reference.py, or any two runs) object by object.

  python compare_eval.py A.csv B.csv [--tol 1e-3] [--markdown]

For every column both files share: the fraction of objects whose values agree within --tol (IoU columns) or are
identical (noc* columns), the two means and their difference, and the worst object. Ids present in only one file
are listed. Exit status 0 when every IoU column has >= 99 % of objects within tol and means within 0.002, and every
noc column >= 98 % identical (issue 4's acceptance); 1 otherwise.
"""

import argparse
import csv
import sys


def read(path):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    head, body = rows[0], rows[1:]
    return head[1:], {r[0]: [float(v) for v in r[1:]] for r in body}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--markdown", action="store_true", help="one Markdown table row per column")
    a = ap.parse_args()
    ca, ra = read(a.a)
    cb, rb = read(a.b)
    ids = [i for i in ra if i in rb]
    only_a = [i for i in ra if i not in rb]
    only_b = [i for i in rb if i not in ra]
    if only_a or only_b:
        print(f"ids only in {a.a}: {only_a[:10]}{' …' if len(only_a) > 10 else ''}; only in {a.b}: {only_b[:10]}")
    ok = bool(ids) and not only_a and not only_b
    for c in [c for c in ca if c in cb]:
        ia, ib = ca.index(c), cb.index(c)
        va = [ra[i][ia] for i in ids]
        vb = [rb[i][ib] for i in ids]
        diffs = [abs(x - y) for x, y in zip(va, vb)]
        noc = c.startswith("noc")
        good = sum(1 for d in diffs if (d == 0 if noc else d <= a.tol))
        frac = good / len(ids)
        ma, mb = sum(va) / len(va), sum(vb) / len(vb)
        worst = max(range(len(ids)), key=lambda k: diffs[k])
        cond = frac >= 0.98 if noc else (frac >= 0.99 and abs(ma - mb) <= 0.002)
        ok = ok and cond
        what = "identical" if noc else f"within {a.tol:g}"
        if a.markdown:
            print(f"| {c} | {len(ids)} | {100 * frac:.1f} % | {ma:.4f} | {mb:.4f} | {ma - mb:+.5f} | {diffs[worst]:.2e} ({ids[worst]}) | {'pass' if cond else 'FAIL'} |")
        else:
            print(f"{c}: {len(ids)} objects, {100 * frac:.1f} % {what}; mean {ma:.4f} vs {mb:.4f} "
                  f"(diff {ma - mb:+.5f}); worst {diffs[worst]:.2e} at {ids[worst]}  {'pass' if cond else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
