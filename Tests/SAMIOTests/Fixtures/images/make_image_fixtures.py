#!/usr/bin/env python3
# Generates the image-decoder fixtures of Tests/SAMIOTests/ImageDecodeTests.swift: tiny PNG/JPEG/BMP files in
# every variant the Swift reader supports, with the pixels Pillow gives for them (the reference the Swift reader
# must equal), the bad files Pillow refuses, and SHA-256 digests of the real data sets in ../shared/data.
# Usage (from the package root): python3 Tests/SAMIOTests/Fixtures/images/make_image_fixtures.py
# Checked with Pillow 13.0.0 (bundled libjpeg-turbo 3.x, its own PNG decoder), numpy 2.x.
import hashlib
import io
import json
import os
import struct
import sys
import zlib

import warnings

import numpy as np
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = os.path.join(HERE, "variants")
BAD = os.path.join(HERE, "bad")
SHARED = os.path.normpath(os.path.join(HERE, "../../../../../shared/data"))


def sha(b):
    return hashlib.sha256(bytes(b)).hexdigest()


def pillow_rgb(path):
    with Image.open(path) as im:
        return im.mode, np.asarray(im.convert("RGB"), dtype=np.uint8)


def pillow_labels(path):
    """What ImageReader.readLabels must return: the values for L and P, convert("L") for every other mode."""
    with Image.open(path) as im:
        if im.mode in ("L", "P"):
            return np.asarray(im, dtype=np.uint8)
        return np.asarray(im.convert("L"), dtype=np.uint8)


# ---------------------------------------------------------------- hand-made PNG writer (all depths, filters, Adam7)
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def pack_row(row, depth):
    """row: 1-D sequence of samples (pixels × channels flattened)."""
    if depth == 8:
        return bytes(int(v) for v in row)
    if depth == 16:
        return b"".join(struct.pack(">H", int(v)) for v in row)
    per = 8 // depth
    out = bytearray()
    for i in range(0, len(row), per):
        b = 0
        for j in range(per):
            v = int(row[i + j]) if i + j < len(row) else 0
            b |= v << (8 - depth * (j + 1))
        out.append(b)
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp, start_filter):
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for y, r in enumerate(rows):
        ft = (start_filter + y) % 5
        f = bytearray()
        for i in range(len(r)):
            a = r[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ft]
            f.append((r[i] - pred) & 0xFF)
        out.append(ft)
        out += f
        prev = r
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def make_png(samples, depth, color_type, interlace=False, plte=None, trns=None, start_filter=0):
    """samples: H×W×C integer array of stored sample values."""
    h, w, c = samples.shape
    bpp = max(1, c * depth // 8)
    if interlace:
        raw = b""
        for (xs, ys, dx, dy) in ADAM7:
            sub = samples[ys::dy, xs::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            rows = [pack_row(sub[y].reshape(-1), depth) for y in range(sub.shape[0])]
            raw += filter_rows(rows, bpp, start_filter)
    else:
        rows = [pack_row(samples[y].reshape(-1), depth) for y in range(h)]
        raw = filter_rows(rows, bpp, start_filter)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if plte is not None:
        out += chunk(b"PLTE", bytes(int(v) for v in plte))
    if trns is not None:
        out += chunk(b"tRNS", bytes(int(v) for v in trns))
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# ---------------------------------------------------------------- hand-made BMP writer
def make_bmp(w, h, bits, rows_bytes, comp=0, palette=b"", colors=0, header=40, masks=None, top_down=False,
             raw_pixels=None):
    """rows_bytes: rows in image order (top first), each already padded; written bottom-up unless top_down.
    raw_pixels: pixel data written as-is (RLE)."""
    if raw_pixels is None:
        ordered = rows_bytes if top_down else rows_bytes[::-1]
        pix = b"".join(ordered)
    else:
        pix = raw_pixels
    if header == 12:
        hdr = struct.pack("<IHHHH", 12, w, h, 1, bits)
        extra = b""
    else:
        hdr = struct.pack("<IiiHHIIiiII", header, w, -h if top_down else h, 1, bits, comp, len(pix), 2835, 2835,
                          colors, 0)
        extra = b""
        if masks is not None:
            mb = b"".join(struct.pack("<I", m) for m in masks)
            if header >= 52:
                hdr += mb
            else:
                extra = mb[:12]
        hdr += b"\0" * (header - len(hdr))
    off = 14 + len(hdr) + len(extra) + len(palette)
    return b"BM" + struct.pack("<IHHI", off + len(pix), 0, 0, off) + hdr + extra + palette + pix


def pad4(b):
    return b + b"\0" * ((-len(b)) % 4)


def rle8_encode(idx):
    """Simple RLE8: runs, an absolute run per row segment, EOL per row, EOB; rows bottom-up."""
    out = bytearray()
    h, w = idx.shape
    for y in range(h - 1, -1, -1):
        row = list(idx[y])
        x = 0
        while x < w:
            run = 1
            while x + run < w and run < 255 and row[x + run] == row[x]:
                run += 1
            if run >= 3 or w - x < 3:
                out += bytes([run, row[x]])
                x += run
            else:
                n = min(w - x, 255)
                seg = row[x:x + n]
                out += bytes([0, n]) + bytes(seg)
                if n % 2:
                    out.append(0)
                x += n
        out += b"\x00\x00"
    out += b"\x00\x01"
    return bytes(out)


def rle4_encode(idx):
    out = bytearray()
    h, w = idx.shape
    for y in range(h - 1, -1, -1):
        row = list(idx[y])
        x = 0
        # alternate: an encoded run of a pixel pair, then an absolute run, to exercise both
        toggle = True
        while x < w:
            n = min(w - x, 6)
            if toggle or n < 3:
                a, b = row[x], row[x + 1] if x + 1 < w else 0
                out += bytes([n if n < 3 else 2, (a << 4) | b])
                x += n if n < 3 else 2
            else:
                seg = row[x:x + n]
                bs = bytearray()
                for i in range(0, n, 2):
                    bs.append((seg[i] << 4) | (seg[i + 1] if i + 1 < n else 0))
                out += bytes([0, n]) + bs
                if len(bs) % 2:
                    out.append(0)
                x += n
            toggle = not toggle
        out += b"\x00\x00"
    out += b"\x00\x01"
    return bytes(out)


def rng(seed):
    return np.random.default_rng(seed)


def smooth_rgb(w, h, seed):
    """A photo-like test card: gradients plus noise, so JPEG and resize see varied content."""
    r = rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 / max(1, w - 1), yy * 255 / max(1, h - 1), (xx + yy) * 127 / max(1, w + h - 2)], -1)
    img = img + r.normal(0, 25, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def main():
    warnings.simplefilter("ignore", UserWarning)  # Pillow warns that P+tRNS bytes are dropped by convert("RGB")
    os.makedirs(VARIANTS, exist_ok=True)
    os.makedirs(BAD, exist_ok=True)
    cases = []

    def add(name, data=None, save=None):
        path = os.path.join(VARIANTS, name)
        if data is not None:
            with open(path, "wb") as f:
                f.write(data)
        else:
            save(path)
        mode, rgb = pillow_rgb(path)
        labels = pillow_labels(path)
        h, w = rgb.shape[:2]
        case = {"file": name, "pillow_mode": mode, "width": w, "height": h,
                "rgb_sha256": sha(rgb.tobytes()), "labels_sha256": sha(labels.tobytes())}
        if rgb.size <= 300:  # the bytes themselves for the tiny ones, so a failure can show the first difference
            case["rgb_hex"] = rgb.tobytes().hex()
            case["labels_hex"] = labels.tobytes().hex()
        cases.append(case)

    r = rng(1)
    W, H = 13, 7
    # ---------------- PNG, hand-made: every legal depth/colour type, all five filters, Adam7
    for depth in (1, 2, 4, 8, 16):
        s = r.integers(0, 2 ** depth, (H, W, 1))
        if depth == 16:
            s[0, :6, 0] = [0, 1, 255, 256, 1000, 65535]  # I;16 → RGB clips at 255
        add(f"png_gray{depth}.png", make_png(s, depth, 0, start_filter=depth % 5))
        add(f"png_gray{depth}_adam7.png", make_png(s, depth, 0, interlace=True, start_filter=1))
    g = r.integers(0, 256, (H, W, 1))
    add("png_gray8_trns.png", make_png(g, 8, 0, trns=struct.pack(">H", int(g[0, 0, 0]))))
    for depth in (8, 16):
        s = r.integers(0, 2 ** depth, (H, W, 3))
        add(f"png_rgb{depth}.png", make_png(s, depth, 2, start_filter=2))
        add(f"png_rgb{depth}_adam7.png", make_png(s, depth, 2, interlace=True, start_filter=3))
        s = r.integers(0, 2 ** depth, (H, W, 2))
        add(f"png_la{depth}.png", make_png(s, depth, 4, start_filter=4))
        s = r.integers(0, 2 ** depth, (H, W, 4))
        add(f"png_rgba{depth}.png", make_png(s, depth, 6, start_filter=0))
        add(f"png_rgba{depth}_adam7.png", make_png(s, depth, 6, interlace=True, start_filter=2))
    s = r.integers(0, 256, (H, W, 3))
    add("png_rgb8_trns.png", make_png(s, 8, 2, trns=struct.pack(">HHH", *[int(v) for v in s[0, 0]])))
    for depth in (1, 2, 4, 8):
        n = 2 ** depth
        pal = r.integers(0, 256, n * 3)
        s = r.integers(0, n, (H, W, 1))
        add(f"png_pal{depth}.png", make_png(s, depth, 3, plte=pal, start_filter=depth % 5))
    pal = r.integers(0, 256, 256 * 3)
    s = r.integers(0, 256, (H, W, 1))
    add("png_pal8_trns.png", make_png(s, 8, 3, plte=pal, trns=r.integers(0, 256, 200)))
    add("png_pal8_adam7.png", make_png(s, 8, 3, plte=pal, interlace=True))
    # Indices past a short PLTE: Pillow shows them black (labels keep the index).
    s = r.integers(0, 16, (H, W, 1))
    add("png_pal4_short_plte.png", make_png(s, 4, 3, plte=r.integers(0, 256, 5 * 3)))
    # ---------------- PNG saved by Pillow (zlib levels, adaptive filters, its own chunk layout)
    rgb = smooth_rgb(31, 17, 2)
    add("png_pillow_rgb.png", save=lambda p: Image.fromarray(rgb).save(p, optimize=True))
    add("png_pillow_rgba.png", save=lambda p: Image.fromarray(rgb).convert("RGBA").save(p))
    add("png_pillow_L.png", save=lambda p: Image.fromarray(rgb).convert("L").save(p))
    add("png_pillow_1.png", save=lambda p: Image.fromarray(rgb).convert("1").save(p))
    add("png_pillow_P.png", save=lambda p: Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=37)
        .save(p, transparency=3))
    add("png_pillow_I16.png", save=lambda p: Image.fromarray(rgb[..., 0].astype(np.uint16) * 3).save(p))

    # ---------------- JPEG saved by Pillow (its libjpeg-turbo); the Swift side uses the system libjpeg-turbo
    rgb = smooth_rgb(37, 23, 3)
    for sub, tag in (("4:4:4", "444"), ("4:2:2", "422"), ("4:2:0", "420")):
        add(f"jpg_{tag}.jpg", save=lambda p, sub=sub: Image.fromarray(rgb).save(p, quality=87, subsampling=sub))
    add("jpg_420_progressive.jpg",
        save=lambda p: Image.fromarray(rgb).save(p, quality=80, subsampling="4:2:0", progressive=True))
    add("jpg_444_optimize_q100.jpg",
        save=lambda p: Image.fromarray(rgb).save(p, quality=100, subsampling="4:4:4", optimize=True))
    add("jpg_gray.jpg", save=lambda p: Image.fromarray(rgb).convert("L").save(p, quality=90))
    add("jpg_gray_progressive.jpg", save=lambda p: Image.fromarray(rgb).convert("L").save(p, progressive=True))
    add("jpg_cmyk.jpg", save=lambda p: Image.fromarray(rgb).convert("CMYK").save(p, quality=90))
    ex = Image.Exif()
    ex[0x0112] = 6  # orientation: rotate 90 CW — Image.open ignores it, so must we
    add("jpg_exif_orientation6.jpg", save=lambda p: Image.fromarray(rgb).save(p, exif=ex.tobytes()))
    big = smooth_rgb(67, 45, 4)
    add("jpg_420_67x45.jpg", save=lambda p: Image.fromarray(big).save(p, quality=75))

    # ---------------- BMP saved by Pillow
    rgb = smooth_rgb(11, 9, 5)
    add("bmp_pillow_rgb24.bmp", save=lambda p: Image.fromarray(rgb).save(p))
    add("bmp_pillow_L.bmp", save=lambda p: Image.fromarray(rgb).convert("L").save(p))
    add("bmp_pillow_1.bmp", save=lambda p: Image.fromarray(rgb).convert("1").save(p))
    add("bmp_pillow_P.bmp", save=lambda p: Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=50)
        .save(p))
    add("bmp_pillow_rgba32.bmp", save=lambda p: Image.fromarray(rgb).convert("RGBA").save(p))
    # ---------------- BMP, hand-made variants
    w, h = 11, 9
    px = r.integers(0, 256, (h, w, 3)).astype(np.uint8)
    rows24 = [pad4(px[y][:, ::-1].tobytes()) for y in range(h)]
    add("bmp_rgb24_topdown.bmp", make_bmp(w, h, 24, rows24, top_down=True))
    add("bmp_rgb24_v5header.bmp", make_bmp(w, h, 24, rows24, header=124))
    add("bmp_rgb24_os2.bmp", make_bmp(w, h, 24, rows24, header=12))
    rows32 = [np.concatenate([px[y][:, ::-1], r.integers(0, 256, (w, 1)).astype(np.uint8)], 1).tobytes()
              for y in range(h)]
    add("bmp_bgrx32.bmp", make_bmp(w, h, 32, rows32))
    add("bmp_bgra32_bitfields_v4.bmp",
        make_bmp(w, h, 32, rows32, comp=3, header=108, masks=[0xFF0000, 0xFF00, 0xFF, 0xFF000000]))
    rows32x = [np.concatenate([r.integers(0, 256, (w, 1)).astype(np.uint8), px[y][:, ::-1]], 1).tobytes()
               for y in range(h)]
    add("bmp_xbgr32_bitfields.bmp", make_bmp(w, h, 32, rows32x, comp=3, masks=[0xFF000000, 0xFF0000, 0xFF00]))
    p16 = r.integers(0, 65536, (h, w)).astype("<u2")
    rows16 = [pad4(p16[y].tobytes()) for y in range(h)]
    add("bmp_rgb555.bmp", make_bmp(w, h, 16, rows16))
    add("bmp_rgb565_bitfields.bmp", make_bmp(w, h, 16, rows16, comp=3, masks=[0xF800, 0x7E0, 0x1F]))
    add("bmp_rgb555_bitfields_v5.bmp", make_bmp(w, h, 16, rows16, comp=3, header=124,
                                                masks=[0x7C00, 0x3E0, 0x1F, 0]))

    def pal_bytes(n, pad=4, gray=False):
        cols = np.repeat(np.arange(n)[:, None], 3, 1) if gray else r.integers(0, 256, (n, 3))
        return b"".join(bytes([int(c[2]), int(c[1]), int(c[0])]) + b"\0" * (pad - 3) for c in cols)

    idx = r.integers(0, 16, (h, w))
    rows4 = [pad4(pack_row(idx[y], 4)) for y in range(h)]
    add("bmp_pal4.bmp", make_bmp(w, h, 4, rows4, palette=pal_bytes(16), colors=16))
    idx1 = r.integers(0, 2, (h, w))
    rows1 = [pad4(pack_row(idx1[y], 1)) for y in range(h)]
    add("bmp_pal1_color.bmp", make_bmp(w, h, 1, rows1, palette=pal_bytes(2), colors=2))
    idx8 = r.integers(0, 256, (h, w))
    rows8 = [pad4(bytes(int(v) for v in idx8[y])) for y in range(h)]
    add("bmp_pal8_short_palette.bmp", make_bmp(w, h, 8, rows8, palette=pal_bytes(100), colors=100))
    add("bmp_gray8_short_ramp.bmp", make_bmp(w, h, 8, rows8, palette=pal_bytes(100, gray=True), colors=100))
    add("bmp_pal8_os2.bmp", make_bmp(w, h, 8, rows8, palette=pal_bytes(256, pad=3), header=12))
    add("bmp_pal8_topdown.bmp", make_bmp(w, h, 8, rows8, palette=pal_bytes(256), colors=256, top_down=True))
    idxr = np.repeat(r.integers(0, 256, (h, 4)), [3, 1, 5, 2], axis=1)
    add("bmp_rle8.bmp", make_bmp(w, h, 8, None, comp=1, palette=pal_bytes(256), colors=256,
                                 raw_pixels=rle8_encode(idxr)))
    add("bmp_rle8_gray.bmp", make_bmp(w, h, 8, None, comp=1, palette=pal_bytes(256, gray=True), colors=256,
                                      raw_pixels=rle8_encode(idxr)))
    idx4 = r.integers(0, 16, (h, w))
    add("bmp_rle4.bmp", make_bmp(w, h, 4, None, comp=2, palette=pal_bytes(16), colors=16,
                                 raw_pixels=rle4_encode(idx4)))

    # ---------------- files Pillow refuses: the Swift reader must throw, naming the file
    bad = []

    def add_bad(name, data, kind):
        path = os.path.join(BAD, name)
        with open(path, "wb") as f:
            f.write(data)
        try:
            with Image.open(path) as im:
                im.load()
                im.convert("RGB")
            raise SystemExit(f"Pillow accepted {name}")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            bad.append({"file": name, "kind": kind, "pillow_error": f"{type(e).__name__}: {e}"})

    def read(n):
        with open(os.path.join(VARIANTS, n), "rb") as f:
            return f.read()

    jpg = read("jpg_420_67x45.jpg")
    add_bad("truncated.jpg", jpg[: len(jpg) // 2], "truncated")
    add_bad("truncated_progressive.jpg", read("jpg_420_progressive.jpg")[:300], "truncated")
    add_bad("corrupt_header.jpg", jpg[:2] + b"\xff\xc0\x00\x05garbage" + jpg[20:40], "corrupt")
    pngd = read("png_pillow_rgb.png")
    add_bad("truncated.png", pngd[: len(pngd) // 2], "truncated")
    add_bad("bad_ihdr_crc.png", pngd[:29] + bytes([pngd[29] ^ 0xFF]) + pngd[30:], "corrupt")
    huge = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    add_bad("huge_100000x100000.png", huge, "tooLarge")
    jhuge = bytearray(jpg)
    sof = jhuge.index(b"\xff\xc0")
    jhuge[sof + 5:sof + 9] = struct.pack(">HH", 65000, 65000)  # 4.2e9 pixels: over the decompression-bomb limit
    add_bad("huge_65000x65000.jpg", bytes(jhuge), "tooLarge")
    bmpd = read("bmp_pillow_rgb24.bmp")
    add_bad("truncated.bmp", bmpd[: len(bmpd) - 40], "truncated")
    bhuge = bytearray(bmpd)
    bhuge[18:26] = struct.pack("<ii", 60000, 60000)
    add_bad("huge_60000x60000.bmp", bytes(bhuge), "tooLarge")
    add_bad("not_an_image.png", b"hello, this is text, not a picture\n", "unknownFormat")

    manifest = {"pillow": PIL.__version__, "cases": cases, "bad": bad}
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    # ---------------- digests of the real data sets (skipped by the tests when ../shared is missing)
    if os.path.isdir(SHARED):
        lines = []
        for ds in sorted(os.listdir(SHARED)):
            for sub in ("images", "masks"):
                d = os.path.join(SHARED, ds, sub)
                if not os.path.isdir(d):
                    continue
                for fn in sorted(os.listdir(d)):
                    p = os.path.join(d, fn)
                    rel = f"{ds}/{sub}/{fn}"
                    if sub == "images":
                        _, a = pillow_rgb(p)
                        kind = "rgb"
                    else:
                        a = pillow_labels(p)
                        kind = "labels"
                    lines.append(f"{kind}\t{a.shape[1]}\t{a.shape[0]}\t{sha(a.tobytes())[:16]}\t{rel}")
        with open(os.path.join(HERE, "shared_data_digests.tsv"), "w") as f:
            f.write("# kind\twidth\theight\tsha256(Pillow pixels)[:16]\tpath under ../shared/data\n")
            f.write("\n".join(lines) + "\n")
    else:
        print("note: ../shared/data not found; shared_data_digests.tsv left as is", file=sys.stderr)
    print(f"{len(cases)} variants, {len(bad)} bad files")


if __name__ == "__main__":
    main()
