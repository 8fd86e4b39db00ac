// A restricted unpickler for torch.save's data.pkl: builds values, never calls anything; globals come from an allow-list.
// ref: cpython Lib/pickle.py + Lib/pickletools.py (protocols 2 and 4); pytorch torch/serialization.py (_save/_load), torch/_utils.py (_rebuild_tensor_v2)

/// A tensor storage referenced by a persistent id `('storage', <StorageType>, '<key>', '<location>', numel)`.
struct PickleStorage {
    var key: String
    var dtype: StorageDType
    var numel: Int
}

/// What `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...)` would build: a strided view.
struct PickleTensor {
    var storage: PickleStorage
    var offset: Int
    var shape: [Int]
    var strides: [Int]
}

/// A mutable list (pickle lists are shared through the memo, so they need reference semantics).
final class PickleList {
    var items: [PickleValue] = []
}

/// A mutable dict keeping insertion order; a repeated key keeps its first position and takes the new value, as in Python.
final class PickleDict {
    var keys: [PickleValue] = []
    var values: [PickleValue] = []
    private var stringIndex: [String: Int] = [:]

    func set(_ k: PickleValue, _ v: PickleValue) {
        if case .string(let s) = k {
            if let i = stringIndex[s] { values[i] = v; return }
            stringIndex[s] = keys.count
        }
        keys.append(k)
        values.append(v)
    }
}

/// The values a restricted unpickle can produce.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes(Int)  // only the length is kept: no allowed global consumes bytes
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(module: String, name: String)  // an allowed global, never called, only matched by name
    case storage(PickleStorage)
    case tensor(PickleTensor)

    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let m, let n): return "\(m).\(n)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// Reads a torch checkpoint pickle whose top level is a dict (plain or `OrderedDict`) of tensors.
///
/// Allowed globals: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `torch.FloatStorage`,
/// `torch.HalfStorage`, `torch.BFloat16Storage`, `torch.LongStorage`. Any other global throws `IOError.forbiddenGlobal` as soon as the
/// GLOBAL / STACK_GLOBAL opcode names it (other torch storage types throw `.unsupported`). Nothing is ever executed:
/// REDUCE only matches the two callables above by name and records what they would build.
struct PickleReader {
    /// Limits on what a pickle may build (the stack, the memo, the mark stack) so hostile input cannot exhaust memory.
    static let maxStack = 1 << 20
    static let maxMemo = 1 << 20
    static let maxMarks = 1 << 16

    let path: String
    private let bytes: UnsafeRawBufferPointer
    private var pos = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [UInt32: PickleValue] = [:]

    /// `path` names the file in errors; `bytes` is the pickle (e.g. `archive/data.pkl` in place in the mapping).
    init(path: String, bytes: UnsafeRawBufferPointer) {
        self.path = path
        self.bytes = bytes
    }

    /// Unpickles and returns the top-level dict's (name, tensor) pairs in insertion order.
    /// Throws `.corrupt` when the top level is not a dict of string keys to tensors, naming the offending key.
    static func readTensorDict(path: String, bytes: UnsafeRawBufferPointer) throws -> [(String, PickleTensor)] {
        var reader = PickleReader(path: path, bytes: bytes)
        let top = try reader.run()
        guard case .dict(var d) = top else {
            throw IOError.corrupt(path, "checkpoint pickle's top level is a \(top.kind), not a dict of tensors")
        }
        // SAM 2's layout, `torch.save({"model": state_dict})` (training files add "optimizer", "epoch", ...: the
        // state dict under "model" is what a model loads; the other entries are not read), and EfficientViT-SAM's
        // optional `{"state_dict": state_dict}`
        // ref: sam2/build_sam.py@1.1.0 (_load_checkpoint: torch.load(ckpt_path)["model"])
        // ref: efficientsam/models/utils/network.py@1.0.0 (load_state_dict_from_file: checkpoint["state_dict"])
        for wrapper in ["model", "state_dict"] {
            if let i = d.keys.firstIndex(where: { if case .string(wrapper) = $0 { return true } else { return false } }),
               case .dict(let inner) = d.values[i] {
                d = inner
                break
            }
        }
        var out: [(String, PickleTensor)] = []
        out.reserveCapacity(d.keys.count)
        for (k, v) in zip(d.keys, d.values) {
            guard case .string(let name) = k else {
                throw IOError.corrupt(path, "checkpoint dict has a key of type \(k.kind); expected str")
            }
            guard case .tensor(let t) = v else {
                throw IOError.corrupt(path, "checkpoint entry '\(name)' is a \(v.kind), not a tensor")
            }
            out.append((name, t))
        }
        return out
    }

    // MARK: - Reading primitives (every length checked against the remaining bytes)

    private var remaining: Int { bytes.count - pos }

    private mutating func take(_ n: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else {
            throw IOError.truncated(path, "pickle \(what()) needs \(n) bytes at offset \(pos) but \(remaining) remain")
        }
        let r = UnsafeRawBufferPointer(rebasing: bytes[pos ..< pos + n])
        pos += n
        return r
    }

    private mutating func u8(_ what: String) throws -> UInt8 { try take(1, what)[0] }

    private mutating func le(_ n: Int, _ what: String) throws -> UInt64 {
        let b = try take(n, what)
        var v: UInt64 = 0
        for i in stride(from: n - 1, through: 0, by: -1) { v = v << 8 | UInt64(b[i]) }
        return v
    }

    private mutating func utf8(_ n: Int, _ what: String) throws -> String {
        let b = try take(n, what)
        guard let s = String(validating: b, as: UTF8.self) else {
            throw IOError.corrupt(path, "pickle \(what) at offset \(pos - n) is not valid UTF-8")
        }
        return s
    }

    /// A newline-terminated ASCII line (GLOBAL's module and name), at most 256 bytes.
    private mutating func line(_ what: String) throws -> String {
        var end = pos
        while end < bytes.count, bytes[end] != 0x0A {
            end += 1
            if end - pos > 256 { throw IOError.corrupt(path, "pickle \(what) at offset \(pos) is longer than 256 bytes") }
        }
        guard end < bytes.count else { throw IOError.truncated(path, "pickle \(what) at offset \(pos) has no newline") }
        let s = try utf8(end - pos, what)
        pos += 1
        return s
    }

    // MARK: - Stack

    private mutating func push(_ v: PickleValue) throws {
        guard stack.count < Self.maxStack else { throw IOError.tooLarge(path, "pickle stack exceeds \(Self.maxStack) entries") }
        stack.append(v)
    }

    private mutating func pop(_ op: String) throws -> PickleValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else {
            throw IOError.corrupt(path, "pickle opcode \(op) at offset \(pos - 1) pops an empty stack")
        }
        return v
    }

    /// Pops everything above the last MARK, and the mark.
    private mutating func popMark(_ op: String) throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw IOError.corrupt(path, "pickle opcode \(op) at offset \(pos - 1) without a MARK") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func put(_ index: UInt32) throws {
        guard let top = stack.last else { throw IOError.corrupt(path, "pickle memo put on an empty stack at offset \(pos)") }
        if memo[index] == nil, memo.count >= Self.maxMemo { throw IOError.tooLarge(path, "pickle memo exceeds \(Self.maxMemo) entries") }
        memo[index] = top
    }

    private mutating func get(_ index: UInt32) throws {
        guard let v = memo[index] else { throw IOError.corrupt(path, "pickle memo get of unknown index \(index) at offset \(pos)") }
        try push(v)
    }

    // MARK: - Globals and reductions

    private func global(module: String, name: String) throws -> PickleValue {
        switch (module, name) {
        case ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
             ("torch", "FloatStorage"), ("torch", "HalfStorage"), ("torch", "BFloat16Storage"),
             ("torch", "LongStorage"):
            return .global(module: module, name: name)
        case ("torch", let n) where n.hasSuffix("Storage") && !n.contains("."):
            throw IOError.unsupported(path, "tensor storage type torch.\(n): only float32, float16, bfloat16 and int64 tensors are read")
        default:
            throw IOError.forbiddenGlobal(path, module: module, name: name)
        }
    }

    private func int(_ v: PickleValue, _ what: String) throws -> Int {
        guard case .int(let i) = v else { throw IOError.corrupt(path, "\(what) is a \(v.kind), expected int") }
        return i
    }

    private func intTuple(_ v: PickleValue, _ what: String) throws -> [Int] {
        guard case .tuple(let items) = v else { throw IOError.corrupt(path, "\(what) is a \(v.kind), expected a tuple of ints") }
        return try items.map { try int($0, what) }
    }

    private func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case .global(let module, let name) = callable, case .tuple(let a) = args else {
            throw IOError.corrupt(path, "pickle REDUCE of a \(callable.kind) with \(args.kind) arguments")
        }
        switch (module, name) {
        case ("collections", "OrderedDict"):
            guard a.isEmpty else { throw IOError.unsupported(path, "OrderedDict built from \(a.count) arguments") }
            return .dict(PickleDict())
        case ("torch._utils", "_rebuild_tensor_v2"):
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard a.count == 6 || a.count == 7 else {
                throw IOError.corrupt(path, "_rebuild_tensor_v2 called with \(a.count) arguments (expected 6 or 7)")
            }
            guard case .storage(let s) = a[0] else { throw IOError.corrupt(path, "_rebuild_tensor_v2's first argument is a \(a[0].kind), not a storage") }
            let t = PickleTensor(storage: s, offset: try int(a[1], "storage_offset"),
                                 shape: try intTuple(a[2], "tensor size"), strides: try intTuple(a[3], "tensor stride"))
            guard t.shape.count == t.strides.count else {
                throw IOError.corrupt(path, "tensor on storage '\(s.key)' has size \(t.shape) and stride \(t.strides) of different ranks")
            }
            return .tensor(t)
        default:
            throw IOError.corrupt(path, "pickle calls \(module).\(name), which is not callable")
        }
    }

    /// `('storage', <StorageType>, '<key>', '<location>', numel)` → a storage reference.
    private func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let t) = pid, t.count == 5, case .string("storage") = t[0] else {
            throw IOError.corrupt(path, "pickle persistent id is not ('storage', type, key, location, numel)")
        }
        guard case .global("torch", let typeName) = t[1] else { throw IOError.corrupt(path, "persistent id's storage type is a \(t[1].kind)") }
        let dtype: StorageDType
        switch typeName {
        case "FloatStorage": dtype = .float32
        case "HalfStorage": dtype = .float16
        case "BFloat16Storage": dtype = .bfloat16
        case "LongStorage": dtype = .int64
        default: throw IOError.corrupt(path, "persistent id names torch.\(typeName), which is not a storage type")
        }
        guard case .string(let key) = t[2], !key.isEmpty, key.count <= 64,
              key.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }) else {
            throw IOError.corrupt(path, "persistent id's storage key is not a short alphanumeric string")
        }
        let numel = try int(t[4], "storage '\(key)' numel")
        guard numel >= 0 else { throw IOError.corrupt(path, "storage '\(key)' has negative numel \(numel)") }
        return .storage(PickleStorage(key: key, dtype: dtype, numel: numel))
    }

    // MARK: - The opcode loop

    /// Runs until STOP and returns the top of the stack.
    mutating func run() throws -> PickleValue {
        while true {
            let opOffset = pos
            let op = try u8("opcode")
            switch op {
            case 0x80:  // PROTO
                let v = try u8("protocol")
                guard v <= 5 else { throw IOError.unsupported(path, "pickle protocol \(v)") }
            case 0x95:  // FRAME: a length hint only; the frame's contents follow inline
                let n = try le(8, "frame length")
                guard n <= UInt64(remaining) else { throw IOError.truncated(path, "pickle frame of \(n) bytes at offset \(opOffset) but \(remaining) remain") }
            case 0x63:  // GLOBAL
                let module = try line("GLOBAL module")
                let name = try line("GLOBAL name")
                try push(try global(module: module, name: name))
            case 0x93:  // STACK_GLOBAL
                let n = try pop("STACK_GLOBAL"), m = try pop("STACK_GLOBAL")
                guard case .string(let module) = m, case .string(let name) = n else {
                    throw IOError.corrupt(path, "STACK_GLOBAL at offset \(opOffset) on non-strings")
                }
                try push(try global(module: module, name: name))
            case 0x8C:  // SHORT_BINUNICODE
                let n = Int(try u8("string length"))
                try push(.string(try utf8(n, "string")))
            case 0x58:  // BINUNICODE
                let n = Int(try le(4, "string length"))
                try push(.string(try utf8(n, "string")))
            case 0x8D:  // BINUNICODE8
                let n = try le(8, "string length")
                guard n <= UInt64(remaining) else { throw IOError.truncated(path, "pickle string of \(n) bytes at offset \(opOffset) but \(remaining) remain") }
                try push(.string(try utf8(Int(n), "string")))
            case 0x43:  // SHORT_BINBYTES
                let n = Int(try u8("bytes length"))
                _ = try take(n, "bytes")
                try push(.bytes(n))
            case 0x42:  // BINBYTES
                let n = Int(try le(4, "bytes length"))
                _ = try take(n, "bytes")
                try push(.bytes(n))
            case 0x71: try put(UInt32(try u8("memo index")))  // BINPUT
            case 0x72: try put(UInt32(try le(4, "memo index")))  // LONG_BINPUT
            case 0x94:  // MEMOIZE
                guard memo.count < Int(UInt32.max) else { throw IOError.tooLarge(path, "pickle memo overflow") }
                try put(UInt32(memo.count))
            case 0x68: try get(UInt32(try u8("memo index")))  // BINGET
            case 0x6A: try get(UInt32(try le(4, "memo index")))  // LONG_BINGET
            case 0x29: try push(.tuple([]))  // EMPTY_TUPLE
            case 0x7D: try push(.dict(PickleDict()))  // EMPTY_DICT
            case 0x5D: try push(.list(PickleList()))  // EMPTY_LIST
            case 0x28:  // MARK
                guard marks.count < Self.maxMarks else { throw IOError.tooLarge(path, "pickle nests more than \(Self.maxMarks) MARKs") }
                marks.append(stack.count)
            case 0x74: try push(.tuple(try popMark("TUPLE")))  // TUPLE
            case 0x85:  // TUPLE1
                let a = try pop("TUPLE1")
                try push(.tuple([a]))
            case 0x86:  // TUPLE2
                let b = try pop("TUPLE2"), a = try pop("TUPLE2")
                try push(.tuple([a, b]))
            case 0x87:  // TUPLE3
                let c = try pop("TUPLE3"), b = try pop("TUPLE3"), a = try pop("TUPLE3")
                try push(.tuple([a, b, c]))
            case 0x4A:  // BININT (signed 32-bit)
                try push(.int(Int(Int32(bitPattern: UInt32(try le(4, "BININT"))))))
            case 0x4B: try push(.int(Int(try u8("BININT1"))))  // BININT1
            case 0x4D: try push(.int(Int(try le(2, "BININT2"))))  // BININT2
            case 0x8A:  // LONG1: little-endian two's complement of n bytes
                let n = Int(try u8("LONG1 length"))
                guard n <= 8 else { throw IOError.unsupported(path, "pickle integer of \(n) bytes at offset \(opOffset)") }
                if n == 0 { try push(.int(0)); break }
                var v = try le(n, "LONG1")
                if n < 8, v & (1 << (UInt64(n) * 8 - 1)) != 0 { v |= ~0 << (UInt64(n) * 8) }  // sign-extend
                try push(.int(Int(Int64(bitPattern: v))))
            case 0x47:  // BINFLOAT: big-endian double
                let b = try take(8, "BINFLOAT")
                var v: UInt64 = 0
                for i in 0..<8 { v = v << 8 | UInt64(b[i]) }
                try push(.float(Double(bitPattern: v)))
            case 0x4E: try push(.none)  // NONE
            case 0x88: try push(.bool(true))  // NEWTRUE
            case 0x89: try push(.bool(false))  // NEWFALSE
            case 0x51:  // BINPERSID
                let pid = try pop("BINPERSID")
                try push(try persistentLoad(pid))
            case 0x52:  // REDUCE
                let args = try pop("REDUCE"), callable = try pop("REDUCE")
                try push(try reduce(callable, args))
            case 0x73:  // SETITEM
                let v = try pop("SETITEM"), k = try pop("SETITEM")
                guard case .dict(let d) = stack.last, stack.count > (marks.last ?? 0) else {
                    throw IOError.corrupt(path, "SETITEM at offset \(opOffset) on a \(stack.last?.kind ?? "empty stack")")
                }
                d.set(k, v)
            case 0x75:  // SETITEMS
                let items = try popMark("SETITEMS")
                guard case .dict(let d) = stack.last, stack.count > (marks.last ?? 0) else {
                    throw IOError.corrupt(path, "SETITEMS at offset \(opOffset) on a \(stack.last?.kind ?? "empty stack")")
                }
                guard items.count % 2 == 0 else { throw IOError.corrupt(path, "SETITEMS at offset \(opOffset) with an odd number of items") }
                for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
            case 0x61:  // APPEND
                let v = try pop("APPEND")
                guard case .list(let l) = stack.last, stack.count > (marks.last ?? 0) else {
                    throw IOError.corrupt(path, "APPEND at offset \(opOffset) on a \(stack.last?.kind ?? "empty stack")")
                }
                l.items.append(v)
            case 0x65:  // APPENDS
                let items = try popMark("APPENDS")
                guard case .list(let l) = stack.last, stack.count > (marks.last ?? 0) else {
                    throw IOError.corrupt(path, "APPENDS at offset \(opOffset) on a \(stack.last?.kind ?? "empty stack")")
                }
                l.items.append(contentsOf: items)
            case 0x62:  // BUILD: only a dict's state (OrderedDict's `_metadata`) is accepted, and ignored
                let state = try pop("BUILD")
                guard let target = stack.last, stack.count > (marks.last ?? 0) else {
                    throw IOError.corrupt(path, "BUILD at offset \(opOffset) on an empty stack")
                }
                guard case .dict = target, case .dict = state else {
                    throw IOError.corrupt(path, "BUILD at offset \(opOffset) sets a \(state.kind) state on a \(target.kind)")
                }
            case 0x30: _ = try pop("POP")  // POP
            case 0x31: _ = try popMark("POP_MARK")  // POP_MARK
            case 0x32:  // DUP
                guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw IOError.corrupt(path, "DUP on an empty stack") }
                try push(top)
            case 0x2E:  // STOP
                guard stack.count == 1, marks.isEmpty else {
                    throw IOError.corrupt(path, "pickle STOP at offset \(opOffset) leaves \(stack.count) values and \(marks.count) marks (expected 1 and 0)")
                }
                return stack[0]
            default:
                throw IOError.unsupported(path, "pickle opcode 0x\(String(op, radix: 16)) at offset \(opOffset)")
            }
        }
    }
}
