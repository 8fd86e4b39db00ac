// Storage element types of checkpoints (float32, float16, bfloat16, int64) and their exact conversion to float32,
// contiguous or strided.

import SAMTensor

/// The element type of a tensor storage in a checkpoint. Little-endian on disk, as torch and safetensors write it.
enum StorageDType: String {
    case float32, float16, bfloat16
    /// torch.LongStorage: BatchNorm's `num_batches_tracked`, TinyViT's `attention_bias_idxs`. Held as float32, so a
    /// value is read only when float32 holds it exactly (|v| ≤ 2²⁴); any other is refused like a non-finite weight.
    case int64

    /// Bytes per element.
    var size: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        case .int64: return 8
        }
    }

    /// The largest integer magnitude float32 holds exactly, with every integer below it.
    static let exactIntegerLimit: Int64 = 1 << 24

    /// Widens `n` contiguous elements starting at `src` into `dst` (exact: every fp16 and bf16 value is a float32 value)
    /// and returns the index of the first element that is not finite (NaN, ±inf), nil when all are. The test rides on
    /// the conversion's one pass: an OR of "exponent bits all ones" per element, the index searched only when it is set.
    func convert(_ src: UnsafeRawPointer, count n: Int, into dst: UnsafeMutablePointer<Float>) -> Int? {
        var special: UInt32 = 0
        switch self {
        case .float32:
            for i in 0..<n {
                let b = UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                dst[i] = Float(bitPattern: b)
                special |= ((b & 0x7f80_0000) &+ 0x0080_0000) & 0x8000_0000  // exponent 0xFF carries into bit 31
            }
        case .float16:
            for i in 0..<n {
                let h = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                dst[i] = Float(Float16(bitPattern: h))
                special |= UInt32(((h & 0x7c00) &+ 0x0400) & 0x8000)  // exponent 0x1F carries into bit 15
            }
        case .bfloat16:
            for i in 0..<n {
                let bits = UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16
                dst[i] = Float(bitPattern: bits)
                special |= ((bits & 0x7f80_0000) &+ 0x0080_0000) & 0x8000_0000
            }
        case .int64:
            for i in 0..<n {
                let v = Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                guard v.magnitude <= UInt64(Self.exactIntegerLimit) else {
                    dst[i] = .infinity  // reported as not representable, at its index
                    for j in (i + 1)..<max(n, i + 1) { dst[j] = 0 }
                    return i
                }
                dst[i] = Float(v)
            }
            return nil
        }
        if special == 0 { return nil }
        return (0..<n).first { !dst[$0].isFinite }
    }

    /// Reads element `index` (in elements, not bytes) of the storage at `src`.
    @inline(__always)
    func element(_ src: UnsafeRawPointer, _ index: Int) -> Float {
        switch self {
        case .float32:
            return Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))
        case .float16:
            return Float(Float16(bitPattern: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))))
        case .bfloat16:
            return Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))) << 16)
        case .int64:
            let v = Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * index, as: Int64.self))
            return v.magnitude <= UInt64(Self.exactIntegerLimit) ? Float(v) : .infinity
        }
    }
}
