// Reads a safetensors file (8-byte little-endian header length, JSON header, raw little-endian data) into float32 tensors.
// ref: huggingface safetensors docs "Format" (https://github.com/huggingface/safetensors#format), safetensors/src/tensor.rs

import Foundation
import SAMTensor

/// safetensors: `u64 N` little-endian, then N bytes of JSON `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`,
/// then the data region, to which the offsets are relative. F32, F16, BF16 and I64 (exact in float32 only) are read; other dtypes throw `.unsupported`.
enum SafetensorsReader {
    /// Largest JSON header accepted (the reference implementation's own limit is 100 MB).
    static let maxHeaderBytes = 100_000_000

    static func read(_ file: MappedFile) throws -> TensorFile {
        let path = file.path
        guard file.count >= 8 else { throw IOError.truncated(path, "file of \(file.count) bytes is shorter than a safetensors header length") }
        let n64 = try file.u64(0, "safetensors header length")
        guard n64 <= UInt64(maxHeaderBytes) else {
            throw IOError.tooLarge(path, "safetensors header length \(n64) exceeds \(maxHeaderBytes) bytes (not a safetensors file?)")
        }
        let n = Int(n64)
        guard n <= file.count - 8 else {
            throw IOError.truncated(path, "safetensors header of \(n) bytes but the file has \(file.count - 8) after the length")
        }
        let headerBytes = try file.bytes(8, n, "safetensors header")
        guard n >= 2, headerBytes[0] == UInt8(ascii: "{") else {
            throw IOError.corrupt(path, "safetensors header does not start with '{' (neither a torch zip nor a safetensors file)")
        }
        let json: Any
        do {
            let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: headerBytes.baseAddress!), count: n, deallocator: .none)
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw IOError.corrupt(path, "safetensors header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw IOError.corrupt(path, "safetensors header is not a JSON object") }
        let dataStart = 8 + n
        let dataSize = file.count - dataStart

        struct Entry { var name: String; var dtype: StorageDType; var shape: [Int]; var begin: Int; var end: Int }
        var entries: [Entry] = []
        entries.reserveCapacity(header.count)
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any] else { throw IOError.corrupt(path, "safetensors entry '\(name)' is not an object") }
            guard let dt = info["dtype"] as? String else { throw IOError.corrupt(path, "safetensors entry '\(name)' has no dtype") }
            let dtype: StorageDType
            switch dt {
            case "F32": dtype = .float32
            case "F16": dtype = .float16
            case "BF16": dtype = .bfloat16
            case "I64": dtype = .int64
            default: throw IOError.unsupported(path, "tensor '\(name)' has dtype \(dt); only F32, F16, BF16 and I64 are read")
            }
            guard let shapeAny = info["shape"] as? [Any], shapeAny.count <= 16 else {
                throw IOError.corrupt(path, "safetensors entry '\(name)' has no shape list of rank ≤ 16")
            }
            let shape = try shapeAny.map { v -> Int in
                guard let d = v as? Int, d >= 0 else { throw IOError.corrupt(path, "tensor '\(name)' has a bad dimension \(v)") }
                return d
            }
            guard let offs = info["data_offsets"] as? [Any], offs.count == 2,
                  let begin = offs[0] as? Int, let end = offs[1] as? Int, begin >= 0, begin <= end else {
                throw IOError.corrupt(path, "tensor '\(name)' has no valid data_offsets [begin, end]")
            }
            guard end <= dataSize else {
                throw IOError.truncated(path, "tensor '\(name)' data_offsets [\(begin), \(end)] exceed the data region of \(dataSize) bytes")
            }
            guard let numel = SizeMath.product(shape), numel <= maxTensorElements else {
                throw IOError.tooLarge(path, "tensor '\(name)' of shape \(shape) has more than \(maxTensorElements) elements")
            }
            guard numel * dtype.size == end - begin else {
                throw IOError.corrupt(path, "tensor '\(name)' of shape \(shape) and dtype \(dt) needs \(numel * dtype.size) bytes but data_offsets span \(end - begin)")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        entries.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }

        var out = TensorFile()
        out.names.reserveCapacity(entries.count)
        for e in entries {
            let bytes = try file.bytes(dataStart + e.begin, e.end - e.begin, "data of tensor '\(e.name)'")
            let numel = (e.end - e.begin) / e.dtype.size
            let t: Tensor
            if numel == 0 {
                t = Tensor(shape: e.shape, data: [])
            } else {
                var bad: Int?
                t = Tensor(shape: e.shape) { dst in bad = e.dtype.convert(bytes.baseAddress!, count: numel, into: dst.baseAddress!) }
                if let i = bad { throw badValue(path: path, key: e.name, dtype: e.dtype, index: i, shape: e.shape, value: t.data[i]) }
            }
            file.release(bytes)
            out.names.append(e.name)
            out.tensors[e.name] = t
            out.sourceDTypes[e.name] = e.dtype.rawValue
        }
        return out
    }
}
