"""What the reference scripts for segment_anything and sam2 share: every parameter randomised for test checkpoints
(make_checkpoint.py, make_checkpoint_sam2.py); the prompt options and their parsing, the forward hooks that write every
module's output under its path, and the HDF5 writer with its size limit and compression (dump.py, dump_sam2.py); the
ground-truth mask lookup and the prompts derived from it (compare_predictor.py, compare_predictor_sam2.py)."""

import argparse
import contextlib
import glob
import os
import re
import time

import h5py
import numpy as np
import torch

MIN_COMPRESS_BYTES = 16384
AUTOCAST = {"none": None, "bf16": torch.bfloat16}  # --autocast: the dtype of torch.autocast("cpu", dtype=...)


def autocast(mode):
    """The context the predictor runs in under --autocast `mode`: none → no context (plain float32, exactly as
    without the option), bf16 → torch.autocast("cpu", dtype=torch.bfloat16)."""
    if AUTOCAST[mode] is None:
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=AUTOCAST[mode])


def randomize(model, seed, norm_types):
    """Overwrites every parameter in registration order from torch.Generator(seed): the weights of `norm_types`
    modules with 1 + N(0, 0.1), everything else (their biases too) with N(0, 0.02). Returns how many norm affine
    parameters there are. Buffers are left to the caller."""
    gen = torch.Generator().manual_seed(seed)
    norm_params = set()
    for mname, mod in model.named_modules():
        if isinstance(mod, norm_types):
            for pname, _ in mod.named_parameters(recurse=False):
                norm_params.add(f"{mname}.{pname}" if mname else pname)
    with torch.no_grad():
        for name, p in model.named_parameters():  # registration order: deterministic
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if name in norm_params and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * noise)
            else:
                p.copy_(0.02 * noise)
    return len(norm_params)


def parse_floats(s, n):
    v = [float(x) for x in s.split(",")]
    if len(v) != n:
        raise argparse.ArgumentTypeError(f"expected {n} comma-separated numbers, got {s!r}")
    return v


def flatten(name, out):
    """[(dataset name, tensor)] for a module output: tensor, nested tuple/list of tensors; dicts and None skipped."""
    if torch.is_tensor(out):
        return [(name, out)]
    if isinstance(out, (tuple, list)):
        items = []
        for i, o in enumerate(out):
            items += flatten(f"{name}:{i}", o)
        return items
    return []  # None, a dict or a non-tensor


class Dumper:
    def __init__(self, h5, compression, max_bytes):
        self.h5 = h5
        self.compression = compression
        self.max_bytes = max_bytes
        self.calls = {}
        self.skipped = []
        self.t_write = 0.0
        self.dtypes = {}  # dataset name -> the tensor's dtype before the float32 conversion (autocast: bf16 or fp32)

    def write(self, path, array):
        # small datasets stay contiguous: a chunked dataset costs ~3 KB of HDF5 metadata, more than gzip saves
        kw = {}
        if self.compression and array.nbytes >= MIN_COMPRESS_BYTES:
            kw = dict(compression="gzip", compression_opts=4)
        self.h5.create_dataset(path, data=np.ascontiguousarray(array), **kw)

    def write_tensor(self, dname, t):
        """Writes a tensor as float32 unless it is over --max-bytes (then listed in `skipped`)."""
        self.dtypes[dname] = str(t.dtype).replace("torch.", "")
        if self.max_bytes is not None and t.numel() * 4 > self.max_bytes:
            self.skipped.append(dname)
            return
        self.write(dname, t.detach().float().cpu().contiguous().numpy())

    def dtype_summary(self):
        """'bfloat16: N, float32: M' over every tensor write_tensor saw (written or skipped), for the log."""
        counts = {}
        for d in self.dtypes.values():
            counts[d] = counts.get(d, 0) + 1
        return ", ".join(f"{d}: {n}" for d, n in sorted(counts.items()))

    def hook(self, name):
        def fn(module, inputs, output):
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.calls[name] > 1:
                return  # keep the first call
            t0 = time.time()
            for dname, t in flatten(name, output):
                self.write_tensor(dname, t)
            self.t_write += time.time() - t0
        return fn

    def hook_modules(self, model, modules_regex, predict_only, skip=lambda module: False):
        """Registers `hook` on every named module but the root (and those `skip` names), filtered by --modules and
        --predict-only (a tuple of paths, or None); returns the handles and the hooked names."""
        pattern = re.compile(modules_regex) if modules_regex else None
        handles, names = [], []
        for mname, mod in model.named_modules():
            if mname == "" or skip(mod):
                continue
            if pattern is not None and not pattern.search(mname):
                continue
            if predict_only is not None and mname not in predict_only:
                continue
            names.append(mname)
            handles.append(mod.register_forward_hook(self.hook(mname)))
        return handles, names

    def write_prompt_and_outputs(self, image, prompt, masks, iou, low_res):
        """/inputs/image and the prompt (point_coords, point_labels, box, mask_input, the multimask_output
        attribute), then /outputs/masks, iou_predictions and low_res_logits. Creates /inputs and /outputs."""
        inp = self.h5.create_group("inputs")
        self.write("inputs/image", image.astype(np.uint8))
        if prompt.point_coords is not None:
            self.write("inputs/point_coords", prompt.point_coords)
            self.write("inputs/point_labels", prompt.point_labels)
        if prompt.box is not None:
            self.write("inputs/box", prompt.box)
        if prompt.mask_input is not None:
            self.write("inputs/mask_input", prompt.mask_input[None])
        inp.attrs["multimask_output"] = int(prompt.multimask)
        self.h5.create_group("outputs")
        self.write("outputs/masks", masks.astype(np.uint8))
        self.write("outputs/iou_predictions", iou.astype(np.float32))
        self.write("outputs/low_res_logits", low_res.astype(np.float32))

    def write_run_attributes(self, names, multimask, predict_only, autocast="none"):
        """Root attributes every dump has: multimask_output, predict_only, multi_call_modules, skipped_modules,
        uncalled_modules; and `autocast` (e.g. "bf16") when the run was under --autocast other than none (absent
        otherwise, so a plain dump is as before). Returns (multi-call names, uncalled names)."""
        multi = [n for n in names if self.calls.get(n, 0) > 1]
        uncalled = [n for n in names if self.calls.get(n, 0) == 0]
        if autocast != "none":
            self.h5.attrs["autocast"] = autocast
        self.h5.attrs["multimask_output"] = int(multimask)
        self.h5.attrs["predict_only"] = int(predict_only)
        self.h5.attrs["multi_call_modules"] = ",".join(multi)
        self.h5.attrs["skipped_modules"] = ",".join(self.skipped)
        self.h5.attrs["uncalled_modules"] = ",".join(uncalled)
        return multi, uncalled


def add_prompt_arguments(ap):
    """The options of both dump scripts after the model's: image, prompt, module selection and output."""
    ap.add_argument("--image", required=True)
    ap.add_argument("--point", action="append", default=[], metavar="x,y,label",
                    help="original pixel coordinates; label 1 positive, 0 negative; repeatable")
    ap.add_argument("--box", metavar="x0,y0,x1,y1")
    ap.add_argument("--mask-input", help="an HDF5 file with (outputs/)low_res_logits, or 'random'")
    ap.add_argument("--mask-index", default="0", help="which of its masks: an index or 'best' (highest IoU)")
    ap.add_argument("--mask-seed", type=int, default=0, help="seed of --mask-input random (normal, std 4)")
    ap.add_argument("--single-mask", action="store_true", help="multimask_output=False")
    ap.add_argument("--modules", default=None, help="regex (re.search) on module paths; default all")
    ap.add_argument("--predict-only", action="store_true")
    ap.add_argument("--max-bytes", type=int, default=None)
    ap.add_argument("--gzip", action="store_true",
                    help=f"gzip level 4 on every dataset of at least {MIN_COMPRESS_BYTES} bytes")
    ap.add_argument("--autocast", choices=sorted(AUTOCAST), default="none",
                    help='run set_image and predict under torch.autocast("cpu", dtype=torch.bfloat16) (bf16); every '
                         'dataset is still stored as float32 and the root attribute autocast records it')
    ap.add_argument("--out", required=True)


class Prompt:
    """The prompt options parsed: point_coords N×2 float32, point_labels N int64, box 4 float32 (each or None),
    mask_input 1×m×m float32 or None, multimask."""

    def __init__(self, a, m):
        self.multimask = not a.single_mask
        points = [parse_floats(p, 3) for p in a.point]
        self.point_coords = np.array([p[:2] for p in points], dtype=np.float32).reshape(-1, 2) if points else None
        self.point_labels = np.array([int(p[2]) for p in points], dtype=np.int64) if points else None
        self.box = np.array(parse_floats(a.box, 4), dtype=np.float32) if a.box else None
        self.mask_input = None
        if a.mask_input == "random":
            rng = np.random.default_rng(a.mask_seed)
            self.mask_input = (4.0 * rng.standard_normal((1, m, m))).astype(np.float32)
        elif a.mask_input:
            with h5py.File(a.mask_input, "r") as f:
                key = "outputs/low_res_logits" if "outputs/low_res_logits" in f else "low_res_logits"
                logits = f[key][...]
                if a.mask_index == "best":
                    idx = int(np.argmax(f["outputs/iou_predictions"][...]))
                else:
                    idx = int(a.mask_index)
            self.mask_input = logits[idx][None].astype(np.float32)
            print(f"mask input: {a.mask_input}:{key}[{idx}]")
        if self.mask_input is not None and self.mask_input.shape != (1, m, m):
            raise SystemExit(f"mask input {self.mask_input.shape} should be (1, {m}, {m})")

    def run(self, predictor, image):
        """`predictor.set_image(image)`, then `predictor.predict` with this prompt (both packages' predictors take the
        same arguments): (masks, iou, low_res, seconds in set_image, seconds in predict)."""
        t0 = time.time()
        predictor.set_image(image)
        t_encode = time.time() - t0
        t0 = time.time()
        masks, iou, low_res = predictor.predict(point_coords=self.point_coords, point_labels=self.point_labels,
                                                box=self.box, mask_input=self.mask_input,
                                                multimask_output=self.multimask, return_logits=False)
        return masks, iou, low_res, t_encode, time.time() - t0


def find_mask(image_path):
    """The ground-truth mask beside `images/`: same stem, any extension (first match), or the stem plus one character
    (Berkeley's 189011a). Returns (boolean H x W object mask, path). Object: `> 0` for a 0/1 mask; for a palette (mode P)
    mask with instance ids 1..127 (DAVIS), the pixels of the smallest id (255 = void is left out); otherwise `>= 128`
    (so GrabCut's 128 = ignore counts as background)."""
    from PIL import Image

    d = os.path.join(os.path.dirname(os.path.dirname(image_path)), "masks")
    stem = os.path.splitext(os.path.basename(image_path))[0]
    hits = sorted(glob.glob(os.path.join(d, glob.escape(stem) + ".*"))) or \
        sorted(glob.glob(os.path.join(d, glob.escape(stem) + "?.*")))
    if not hits:
        raise SystemExit(f"{image_path}: no mask {d}/{stem}.*")
    im = Image.open(hits[0])
    a = np.array(im)
    if a.ndim == 3:
        a = a[..., 0]
    ids = [int(v) for v in np.unique(a) if 0 < v < 128]
    if a.max() <= 1:
        obj = a > 0
    elif im.mode == "P" and ids:
        obj = a == ids[0]
    else:
        obj = a >= 128
    return obj, hits[0]


def derive_prompts(obj):
    """p1, p2 (positive), n1 (negative), box from a boolean H x W mask (compare_predictor.py's docstring):
    p1 the object pixel farthest from the boundary (EDT of the mask padded by one background pixel, first maximum in
    row-major order); p2 the same maximum after zeroing a disc of radius max(3, 0.6 * EDT(p1)) around p1; n1 the
    background pixel farthest from the object (first maximum); box the tight inclusive box x0, y0, x1, y1."""
    from scipy import ndimage

    h, w = obj.shape
    pad = np.pad(obj, 1)
    d = ndimage.distance_transform_edt(pad)[1:-1, 1:-1]
    y1, x1 = np.unravel_index(int(np.argmax(d)), d.shape)
    r = max(3.0, 0.6 * float(d[y1, x1]))
    yy, xx = np.mgrid[0:h, 0:w]
    d2 = np.where((yy - y1) ** 2 + (xx - x1) ** 2 > r * r, d, 0)
    if d2.max() <= 0:
        d2 = d
    y2, x2 = np.unravel_index(int(np.argmax(d2)), d2.shape)
    db = ndimage.distance_transform_edt(~obj)
    yn, xn = np.unravel_index(int(np.argmax(db)), db.shape)
    ys, xs = np.nonzero(obj)
    box = [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]
    return (int(x1), int(y1)), (int(x2), int(y2)), (int(xn), int(yn)), box
