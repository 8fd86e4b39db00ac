# Reads and writes PyTorch zip checkpoints (torch.save's format: <top>/data.pkl + <top>/data/<key> storages) with the
# standard library only, so that hostile checkpoints (a scalar weight, a NaN, a missing key) are made without torch.
# Loading never executes the pickle's globals: they are replaced by stand-ins that record their arguments.
# ref: pytorch torch/serialization.py (_save, _load), torch/_utils.py (_rebuild_tensor_v2)
import collections, io, pickle, struct, sys, types, zipfile

DTYPES = {"FloatStorage": ("f", 4), "HalfStorage": ("e", 2), "BFloat16Storage": (None, 2), "LongStorage": ("q", 8)}

# Stand-in modules so that pickle writes `torch._utils._rebuild_tensor_v2` and `torch.<X>Storage` by name.
_torch = types.ModuleType("torch")
_utils = types.ModuleType("torch._utils")
for name in DTYPES:
    setattr(_torch, name, type(name, (), {"__module__": "torch"}))


def _rebuild_tensor_v2(*args):  # never called by the writer; pickled by reference
    raise RuntimeError("stand-in")


_rebuild_tensor_v2.__module__ = "torch._utils"
_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
_torch._utils = _utils


class Tensor:
    """A tensor as stored: storage (dtype name, key, bytes), element offset, size and stride."""

    def __init__(self, dtype, key, data, offset, size, stride):
        self.dtype, self.key, self.data, self.offset = dtype, key, data, offset
        self.size, self.stride = tuple(size), tuple(stride)

    @staticmethod
    def contiguous(dtype, values, size):
        fmt, width = DTYPES[dtype]
        stride, acc = [], 1
        for d in reversed(size):
            stride.insert(0, acc)
            acc *= d
        return Tensor(dtype, None, struct.pack("<%d%s" % (len(values), fmt), *values), 0, size, stride)

    def numel(self):
        n = 1
        for d in self.size:
            n *= d
        return n


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, size, stride, *rest: ("tensor", storage, offset, size, stride)
        if module == "torch" and name in DTYPES:
            return name
        raise pickle.UnpicklingError("global %s.%s is not a tensor storage" % (module, name))

    def persistent_load(self, pid):
        _, dtype, key, _location, _numel = pid
        return (dtype, key)


def read(path):
    """{name: Tensor} of a torch.save'd state dict (insertion order kept)."""
    z = zipfile.ZipFile(path)
    pkl = next(n for n in z.namelist() if n.endswith("/data.pkl") and n.count("/") == 1)
    top = pkl[: -len("data.pkl")]
    raw = _Unpickler(io.BytesIO(z.read(pkl))).load()
    out = collections.OrderedDict()
    for name, (_, (dtype, key), offset, size, stride) in raw.items():
        out[name] = Tensor(dtype, key, z.read(top + "data/" + key), offset, size, stride)
    return out


class _Storage:
    def __init__(self, dtype, key, numel):
        self.dtype, self.key, self.numel = dtype, key, numel


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", getattr(_torch, obj.dtype), obj.key, "cpu", obj.numel)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            st = _Storage(obj.dtype, obj.key, len(obj.data) // DTYPES[obj.dtype][1])
            return _rebuild_tensor_v2, (st, obj.offset, obj.size, obj.stride, False, collections.OrderedDict())
        return NotImplemented


def write(tensors, path, top="archive"):
    """Writes {name: Tensor} as torch.save does (protocol 2, stored zip entries); storages keep their keys, tensors
    without one get a fresh key."""
    sys.modules.setdefault("torch", _torch)
    sys.modules.setdefault("torch._utils", _utils)
    storages, n = {}, 0
    for t in tensors.values():
        if t.key is None:
            while str(n) in storages:
                n += 1
            t.key = str(n)
        storages[t.key] = t.data
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(collections.OrderedDict(tensors))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(top + "/data.pkl", buf.getvalue())
        z.writestr(top + "/byteorder", b"little")
        for key, data in storages.items():
            z.writestr(top + "/data/" + key, data)
        z.writestr(top + "/version", b"3\n")


def read_safetensors(path):
    """{name: Tensor} of a float32/float16 safetensors file (the seeds the Swift test helper writes)."""
    import json
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    out = collections.OrderedDict()
    for name in sorted(k for k in header if k != "__metadata__"):
        e = header[name]
        dtype = {"F32": "FloatStorage", "F16": "HalfStorage"}[e["dtype"]]
        b, end = e["data_offsets"]
        t = Tensor(dtype, None, raw[8 + n + b : 8 + n + end], 0, e["shape"], [])
        stride, acc = [], 1
        for d in reversed(t.size):
            stride.insert(0, acc)
            acc *= d
        t.stride = tuple(stride)
        out[name] = t
    return out
