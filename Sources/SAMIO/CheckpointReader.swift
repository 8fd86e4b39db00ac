// Reads named float tensors from a PyTorch .pth (zip + pickle) or a safetensors file, widening fp16/bf16 to float32.
// ref: pytorch torch/serialization.py (zip format written by torch.save, _use_new_zipfile_serialization=True)

import SAMTensor

/// The named tensors of a checkpoint, as stored: no key renaming, no shape checks against any model.
public struct TensorFile {
    /// Tensor names in file order (the pickle dict's insertion order for .pth; increasing data offset for safetensors).
    public var names: [String]
    /// Every tensor, widened to float32.
    public var tensors: [String: Tensor]
    /// The element type each tensor had on disk: "float32", "float16" or "bfloat16".
    public var sourceDTypes: [String: String]

    public init(names: [String] = [], tensors: [String: Tensor] = [:], sourceDTypes: [String: String] = [:]) {
        self.names = names
        self.tensors = tensors
        self.sourceDTypes = sourceDTypes
    }

    /// The tensor named `name`, if present.
    public subscript(name: String) -> Tensor? { tensors[name] }
}

/// Entry point for checkpoint files.
public enum CheckpointReader {
    /// Reads every tensor of the checkpoint at `path`, dispatching on its first bytes:
    /// `PK\x03\x04` → a PyTorch zip checkpoint (`torch.save` since 1.6, e.g. Meta's `sam_vit_b_01ec64.pth`);
    /// otherwise a safetensors file. The pre-1.6 torch format (a bare pickle) is refused with `.unsupported`.
    ///
    /// The file is memory-mapped and each storage is converted straight into its tensor's float array (one copy),
    /// its pages then dropped from the resident set (`MappedFile.release`): a load peaks at the weights, not twice.
    /// Throws `IOError` naming the file and the key, global or structure at fault; nothing in the file is executed.
    public static func read(path: String) throws -> TensorFile {
        let file = try MappedFile(path: path)
        guard file.count >= 4 else { throw IOError.truncated(path, "file of \(file.count) bytes is too short for a checkpoint") }
        let magic = try file.u32(0, "magic")
        if magic == 0x0403_4b50 {  // "PK\x03\x04"
            return try readPth(file)
        }
        // Legacy torch.save: PROTO 2, then LONG1 of 10 bytes (torch's magic number). As a safetensors header length
        // these bytes would announce 177 MB, beyond that format's limit, so the test cannot misfire.
        if magic == 0x0a8a_0280 {
            throw IOError.unsupported(path, "legacy (pre-1.6, non-zip) torch.save format; re-save with a recent torch")
        }
        try checkLooksLikeSafetensors(file)
        return try SafetensorsReader.read(file)
    }

    /// A file without the zip signature is read as safetensors only if its first 8 bytes announce a header within
    /// that format's limit that starts with '{'; anything else (a text file, an image, a bare pickle named .pth) is
    /// refused saying what the file is not and how it begins, instead of a header length made of its first letters.
    static func checkLooksLikeSafetensors(_ file: MappedFile) throws {
        guard file.count >= 8 else { return }  // SafetensorsReader says it is too short
        let shown = try file.bytes(0, min(file.count, 16), "first bytes")
        let start = shown.map { b -> String in
            (0x20..<0x7f).contains(b) && b != 0x22 && b != 0x5c ? String(UnicodeScalar(b)) : "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }.joined()
        let notZip = "neither a PyTorch zip checkpoint (no zip signature PK\\x03\\x04 at byte 0)"
        let n = try file.u64(0, "safetensors header length")
        if n > UInt64(SafetensorsReader.maxHeaderBytes) {
            throw IOError.notACheckpoint(file.path, "\(notZip) nor safetensors (its first 8 bytes, read as a header length, give \(n), "
                + "over that format's \(SafetensorsReader.maxHeaderBytes)-byte limit); the file begins \"\(start)\"")
        }
        if n >= 1, Int(n) <= file.count - 8, try file.u8(8, "safetensors header") != UInt8(ascii: "{") {
            throw IOError.notACheckpoint(file.path, "\(notZip) nor safetensors (the header after the 8-byte length does not "
                + "start with '{'); the file begins \"\(start)\"")
        }
    }

    /// A PyTorch zip checkpoint: `<top>/data.pkl` names the tensors, `<top>/data/<key>` holds each storage.
    static func readPth(_ file: MappedFile) throws -> TensorFile {
        let path = file.path
        let zip = try ZipArchive(file: file)
        // The top folder's name is arbitrary (`archive/`, the file's stem, ...): find `<top>/data.pkl`.
        let candidates = zip.entries.filter { e in
            guard e.name.hasSuffix("/data.pkl") else { return false }
            return e.name.utf8.filter { $0 == 0x2F }.count == 1
        }
        guard !candidates.isEmpty else { throw IOError.corrupt(path, "zip holds no '<folder>/data.pkl': not a torch.save checkpoint") }
        var pkl = candidates[0]
        if candidates.count > 1 {
            // torch reads the record of the archive's first entry's folder.
            let first = zip.entries[0].name.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
            guard let c = candidates.first(where: { $0.name == first + "/data.pkl" }) else {
                throw IOError.corrupt(path, "zip holds \(candidates.count) data.pkl records and none in the first entry's folder")
            }
            pkl = c
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))  // "<top>/"
        if let bo = zip.entry(named: prefix + "byteorder") {
            let b = try zip.data(of: bo)
            guard b.elementsEqual("little".utf8) else {
                throw IOError.unsupported(path, "storages are big-endian (\(prefix)byteorder); only little-endian checkpoints are read")
            }
        }
        let specs = try PickleReader.readTensorDict(path: path, bytes: try zip.data(of: pkl))

        var out = TensorFile()
        out.names.reserveCapacity(specs.count)
        var storages: [String: (UnsafeRawBufferPointer, StorageDType)] = [:]
        for (name, spec) in specs {
            let key = spec.storage.key
            let bytes: UnsafeRawBufferPointer
            if let (b, dt) = storages[key] {
                guard dt == spec.storage.dtype else {
                    throw IOError.corrupt(path, "storage '\(key)' is read as both \(dt.rawValue) and \(spec.storage.dtype.rawValue)")
                }
                bytes = b
            } else {
                guard let e = zip.entry(named: prefix + "data/" + key) else {
                    throw IOError.corrupt(path, "tensor '\(name)' refers to storage '\(prefix)data/\(key)', which the zip lacks")
                }
                bytes = try zip.data(of: e)
                storages[key] = (bytes, spec.storage.dtype)
            }
            let t = try materializeView(path: path, what: name, dtype: spec.storage.dtype, storage: bytes,
                                        storageNumel: spec.storage.numel, offset: spec.offset, shape: spec.shape,
                                        strides: spec.strides)
            file.release(bytes)
            out.names.append(name)
            out.tensors[name] = t
            out.sourceDTypes[name] = spec.storage.dtype.rawValue
        }
        return out
    }
}
