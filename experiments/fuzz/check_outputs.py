# Checks every file at a final name under the given folders the way a reader would: PNGs fully decoded, JSON parsed,
# HDF5 opened and every dataset read, CSVs with complete rows; a `sam segment` output folder must hold everything its
# result.json lists. Temporary names (".tmp-", ".partial") are counted, not checked: no reader takes them for complete.
# Prints "checked=N bad=M temporaries=K" and one line per bad file; exit status 1 when any is bad.
import csv, json, os, sys
import h5py
from PIL import Image

checked = bad = temps = 0
problems = []

def fail(path, why):
    global bad
    bad += 1
    problems.append(f"BAD {path}: {why}")

def check(path):
    global checked
    checked += 1
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".png":
            with Image.open(path) as im:
                im.load()
        elif ext == ".json":
            json.load(open(path))
        elif ext == ".h5":
            with h5py.File(path, "r") as f:
                f.visititems(lambda n, o: o[()] if isinstance(o, h5py.Dataset) else None)
        elif ext == ".csv":
            text = open(path).read()
            if text and not text.endswith("\n"):
                raise ValueError("last line unterminated")
            rows = list(csv.reader(text.splitlines()))
            if rows and any(len(r) != len(rows[0]) for r in rows):
                raise ValueError("rows of different lengths")
    except Exception as e:
        fail(path, f"{type(e).__name__}: {e}")

for root in sys.argv[1:]:
    for d, dirs, files in os.walk(root):
        if ".partial" in d or ".tmp-" in d:
            temps += len(files)
            continue
        if "result.json" in files:
            try:
                r = json.load(open(os.path.join(d, "result.json")))
                for m in r.get("masks", []):
                    if m.get("file") and m["file"] not in files:
                        fail(os.path.join(d, m["file"]), "listed in result.json but absent")
                for need in ("low_res_logits.h5", "overlay.png"):
                    if need not in files:
                        fail(os.path.join(d, need), "absent from a finished output folder")
            except Exception:
                pass
        for f in files:
            p = os.path.join(d, f)
            if ".tmp-" in f or ".partial" in f:
                temps += 1
            else:
                check(p)
print(f"checked={checked} bad={bad} temporaries={temps}")
for p in problems:
    print(p)
sys.exit(1 if bad else 0)
