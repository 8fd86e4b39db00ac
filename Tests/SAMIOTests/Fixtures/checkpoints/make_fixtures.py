#!/usr/bin/env python3
"""Generates the small checkpoint / HDF5 fixtures of SAMIOTests and `expected.json`, the exact values they hold.

Run from anywhere:  python3 Tests/SAMIOTests/Fixtures/checkpoints/make_fixtures.py
Needs torch, safetensors, h5py, numpy. Values in expected.json are the stored values widened to float64
(exact for float32/float16/bfloat16), so the Swift tests compare bit for bit.

Files:
  tiny_module_fp32.pth    torch.save(model.state_dict())  (OrderedDict with _metadata, BUILD opcode), float32
  tiny_module_fp16.pth    the same module after .half()
  views.pth               plain dict of non-contiguous views sharing storages (transpose, slices, offsets,
                          steps, stride-0 expand), a 0-d scalar, an empty tensor, bfloat16 and float16 views
  views_proto4.pth        the same dict with pickle_protocol=4 (FRAME, STACK_GLOBAL, MEMOIZE, SHORT_BINUNICODE)
  views_zip64.pth         views.pth's entries in a zip with zip64 end records and zip64 extra fields (central + local)
  tensors.safetensors     safetensors.torch.save_file with F32, F16, BF16 and __metadata__
  bad_*.pth / bad_*.safetensors   malformed inputs, each refused with a specific IOError (see the Swift tests)
  h5py_fixture.h5         h5py-written datasets (int64, uint8, gzip float32, float64, int32, bool) and attributes
"""
import io
import json
import os
import struct
import zipfile
import zlib

import h5py
import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
MARKER = "/tmp/samio_forbidden_global_marker"  # would be created if a reader executed the forbidden pickle


def out(name):
    return os.path.join(HERE, name)


def describe(d):
    """names in order + shape/dtype/values (float64 lists, exact) of a dict of tensors."""
    res = {"names": list(d.keys()), "tensors": {}}
    for k, t in d.items():
        res["tensors"][k] = {
            "shape": list(t.shape),
            "dtype": str(t.dtype).replace("torch.", ""),
            "values": t.detach().double().reshape(-1).tolist(),
        }
    return res


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.norm = nn.LayerNorm(3)
        self.blocks = nn.ModuleList([nn.Linear(3, 2), nn.Linear(2, 2, bias=False)])


def pickle_str(s):
    """BINUNICODE: 4-byte little-endian length, UTF-8 bytes."""
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def handmade_zip(path, top, pkl, storages=None):
    """A torch-like zip (stored entries) with a hand-built data.pkl and raw storages."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{top}/data.pkl", pkl)
        z.writestr(f"{top}/byteorder", "little")
        for key, data in (storages or {}).items():
            z.writestr(f"{top}/data/{key}", data)
        z.writestr(f"{top}/version", "3\n")


def write_zip64(path, entries):
    """A stored zip with every size/offset saturated and carried by zip64 extra fields, plus the zip64 end records
    (what torch's writer emits for archives over 4 GB, here for a small one)."""
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        n = name.encode()
        crc = zlib.crc32(data)
        offset = len(out)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(n), len(local_extra))
        out += n + local_extra + data
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(n), len(extra), 0, 0, 0, 0, 0xFFFFFFFF)
        central += n + extra
    cd_offset = len(out)
    out += central
    z64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    open(path, "wb").write(bytes(out))


def tensor_pickle(numel, offset, size, stride, key="0"):
    """{'w': _rebuild_tensor_v2(FloatStorage key numel, offset, size, stride, False, OrderedDict())} by hand."""
    p = b"\x80\x02}" + pickle_str("w")
    p += b"ctorch._utils\n_rebuild_tensor_v2\n("
    p += b"(" + pickle_str("storage") + b"ctorch\nFloatStorage\n" + pickle_str(key) + pickle_str("cpu")
    p += b"J" + struct.pack("<i", numel) + b"tQ"
    p += b"J" + struct.pack("<i", offset)
    p += b"(" + b"".join(b"J" + struct.pack("<i", v) for v in size) + b"t"
    p += b"(" + b"".join(b"J" + struct.pack("<i", v) for v in stride) + b"t"
    p += b"\x89ccollections\nOrderedDict\n)RtRs."
    return p


def main():
    torch.manual_seed(0)
    expected = {}

    # 1. state_dict of a module, fp32 and fp16.
    m = Tiny()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p))
    sd = m.state_dict()
    torch.save(sd, out("tiny_module_fp32.pth"))
    expected["tiny_module_fp32.pth"] = describe(sd)
    sd16 = m.half().state_dict()
    torch.save(sd16, out("tiny_module_fp16.pth"))
    expected["tiny_module_fp16.pth"] = describe(sd16)

    # 2. Views sharing storages.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.25 - 1.0
    h = torch.randn(3, 4).half()
    cube = torch.randn(3, 4, 5)
    views = {
        "base": base,
        "transposed": base.t(),
        "column_slice": base[:, 1:4],
        "offset_view": base.reshape(-1)[7:19].view(3, 4),
        "stepped": base[::2, ::3],
        "expanded": torch.tensor([1.5, -2.0, 3.25]).expand(2, 3),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "bf16": torch.randn(5).bfloat16(),
        "fp16_transposed": h.t(),
        "fp16_row": h[1],
        "permuted_3d": cube.permute(2, 0, 1)[1:, :, ::2],
    }
    assert not views["transposed"].is_contiguous() and views["expanded"].stride() == (0, 1)
    torch.save(views, out("views.pth"))
    expected["views.pth"] = describe(views)
    torch.save(views, out("views_proto4.pth"), pickle_protocol=4)
    expected["views_proto4.pth"] = describe(views)

    # The same archive rewritten with zip64 records and extra fields everywhere.
    with zipfile.ZipFile(out("views.pth")) as z:
        write_zip64(out("views_zip64.pth"), [(i.filename, z.read(i.filename)) for i in z.infolist()])
    assert all(torch.equal(a, b) for a, b in zip(torch.load(out("views_zip64.pth")).values(), views.values()))
    expected["views_zip64.pth"] = describe(views)

    # 3. safetensors.
    from safetensors.torch import save_file
    st = {
        "weight": torch.randn(3, 4),
        "half": torch.randn(2, 3).half(),
        "brain": torch.randn(4).bfloat16(),
        "scalar": torch.tensor(-0.75),
    }
    save_file(st, out("tensors.safetensors"), metadata={"format": "pt"})
    raw = open(out("tensors.safetensors"), "rb").read()
    header = json.loads(raw[8: 8 + struct.unpack("<Q", raw[:8])[0]])
    order = sorted(st, key=lambda k: (header[k]["data_offsets"][0], k))  # the Swift reader's file order
    expected["tensors.safetensors"] = describe({k: st[k] for k in order})

    # 4. Bad files.
    good = open(out("tiny_module_fp32.pth"), "rb").read()
    open(out("bad_truncated.pth"), "wb").write(good[: len(good) // 2])
    # Central directory: break the first central header's signature.
    cd = good.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<I", good[cd + 16: cd + 20])[0]
    assert good[cd_offset: cd_offset + 4] == b"PK\x01\x02"
    bad = bytearray(good)
    bad[cd_offset: cd_offset + 2] = b"XX"
    open(out("bad_central_directory.pth"), "wb").write(bytes(bad))
    # A storage entry whose central sizes claim far more bytes than the file has.
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        info = next(i for i in z.infolist() if i.filename.endswith("/data/0"))
    p = cd_offset
    while True:
        name_len, extra_len, comment_len = struct.unpack("<HHH", good[p + 28: p + 34])
        if good[p + 46: p + 46 + name_len].decode() == info.filename:
            break
        p += 46 + name_len + extra_len + comment_len
    bad = bytearray(good)
    bad[p + 20: p + 28] = struct.pack("<II", 0x7FFFFFF0, 0x7FFFFFF0)
    open(out("bad_oversized_entry.pth"), "wb").write(bytes(bad))
    # Compressed entries.
    with zipfile.ZipFile(io.BytesIO(good)) as zin, zipfile.ZipFile(out("bad_deflated.pth"), "w", zipfile.ZIP_DEFLATED) as zout:
        for i in zin.infolist():
            zout.writestr(i.filename, zin.read(i.filename))
    # A pickle that would run os.system (posix.system on Linux) if unpickled by pickle.load: GLOBAL + REDUCE.
    evil = b"\x80\x02cposix\nsystem\nq\x00" + pickle_str(f"touch {MARKER}") + b"\x85q\x01Rq\x02."
    handmade_zip(out("bad_forbidden_global.pth"), "evil", evil)
    # The same idea through protocol 4's STACK_GLOBAL: builtins.eval.
    def short(s):  # SHORT_BINUNICODE + MEMOIZE
        return b"\x8c" + bytes([len(s)]) + s.encode() + b"\x94"
    body = short("builtins") + short("eval") + b"\x93\x94" + short("print('pwned')") + b"\x85\x94R\x94."
    evil4 = b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body
    handmade_zip(out("bad_forbidden_stack_global.pth"), "evil4", evil4)
    # Top level not a dict of tensors.
    torch.save([torch.ones(2)], out("bad_not_a_dict.pth"))
    # SAM 2's layout: the state dict under "model" is read (the file name predates that; it stays for its bytes)
    torch.save({"model": {"w": torch.ones(2)}}, out("bad_nested_dict.pth"))
    # a training file: "model" plus entries that are not tensors, which are not read
    torch.save({"model": {"w": torch.ones(2)}, "epoch": 3, "optimizer": {"lr": 0.1}}, out("model_with_extras.pth"))
    # EfficientViT-SAM's optional wrapper
    torch.save({"state_dict": {"w": torch.ones(2)}, "epoch": 3}, out("state_dict_wrapped.pth"))
    # a nested dict under another name is not a state dict
    torch.save({"state": {"w": torch.ones(2)}}, out("bad_nested_other.pth"))
    # A view reaching past its storage (4 floats; size 10).
    handmade_zip(out("bad_view_out_of_range.pth"), "hand", tensor_pickle(4, 0, [10], [1]),
                 {"0": struct.pack("<4f", 1, 2, 3, 4)})
    # A storage declaring more elements than its entry's bytes.
    handmade_zip(out("bad_storage_short.pth"), "hand", tensor_pickle(100, 0, [4], [1]),
                 {"0": struct.pack("<4f", 1, 2, 3, 4)})
    # A hand-made good one: offset 1, size (2,2), stride (1,2) over [1..6] -> [[2,4],[3,5]].
    handmade_zip(out("handmade_strided.pth"), "hand", tensor_pickle(6, 1, [2, 2], [1, 2]),
                 {"0": struct.pack("<6f", 1, 2, 3, 4, 5, 6)})
    # A pickle cut inside a string.
    handmade_zip(out("bad_pickle_truncated.pth"), "hand", b"\x80\x02}X\xe8\x03\x00\x00abc")
    # safetensors with an unsupported (uint8) tensor, and with offsets past the data; int64 tensors, exact in float32
    # and beyond it.
    def raw_safetensors(path, header, data):
        h = json.dumps(header).encode()
        open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)
    raw_safetensors(out("bad_dtype.safetensors"),
                    {"ok": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                     "labels": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}}, b"\0" * 8)
    raw_safetensors(out("int64.safetensors"),
                    {"idx": {"dtype": "I64", "shape": [2, 2], "data_offsets": [0, 32]}},
                    struct.pack("<4q", 0, 1, -3, 1 << 24))
    raw_safetensors(out("bad_int64_range.safetensors"),
                    {"n": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}}, struct.pack("<2q", 5, (1 << 24) + 1))
    # int64 tensors in a .pth: BatchNorm's num_batches_tracked, an index table, and a count float32 cannot hold
    torch.save({"bn.weight": torch.tensor([1.5, -2.0]), "bn.num_batches_tracked": torch.tensor(7),
                "attn.attention_bias_idxs": torch.tensor([[0, 1], [2, -3]])}, out("int64.pth"))
    torch.save({"n": torch.tensor(2 ** 40)}, out("bad_int64_range.pth"))
    raw_safetensors(out("bad_offsets.safetensors"),
                    {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8)
    open(out("bad_header_length.safetensors"), "wb").write(struct.pack("<Q", 1 << 40) + b"{}")

    # 5. HDF5 written by h5py.
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((2, 3, 4)).astype(np.float32)
    with h5py.File(out("h5py_fixture.h5"), "w") as f:
        f.create_dataset("inputs/labels", data=np.array([-3, 0, 7, 2 ** 40], dtype=np.int64))
        f.create_dataset("inputs/image", data=np.arange(18, dtype=np.uint8).reshape(2, 3, 3) * 13)
        f.create_dataset("image_encoder.blocks.0", data=feats, compression="gzip", compression_opts=4)
        f.create_dataset("mask_decoder:0", data=np.array([0.1, -2.5, 1e-3], dtype=np.float64))
        f.create_dataset("counts_int32", data=np.array([[1, -2], [300, 4]], dtype=np.int32))
        f.create_dataset("mask_bool", data=np.array([[True, False], [False, True]]))
        f.attrs["model"] = "vit_tiny"
        f.attrs["fixed"] = np.bytes_(b"fixed-len")
        f.attrs["n_images"] = 42
        f.attrs["small"] = np.int8(-5)
        f.attrs["flag"] = np.bool_(True)
        f.attrs["u16"] = np.uint16(65535)
        f.attrs["ratio"] = 0.5
        f["inputs/image"].attrs["layout"] = "HWC"
        f["inputs"].attrs["count"] = np.int32(3)
    expected["h5py_fixture.h5"] = {
        "inputs/labels": [-3, 0, 7, 2 ** 40],
        "inputs/image": (np.arange(18, dtype=np.uint8) * 13).tolist(),
        "image_encoder.blocks.0": feats.astype(np.float64).reshape(-1).tolist(),
        "mask_decoder:0": np.array([0.1, -2.5, 1e-3], dtype=np.float64).astype(np.float32).astype(np.float64).tolist(),
    }

    with open(out("expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(out(n)) for n in os.listdir(HERE))
    print(f"wrote fixtures to {HERE}: {total} bytes")


if __name__ == "__main__":
    main()
