// Hostile checkpoints for tests: a safetensors writer that takes any shape (a scalar, an empty tensor) and any
// value (NaN, ±inf), and an in-place patch of a stored `.pth` zip entry (the readers check no CRC, as torch does not).
import Foundation
import SAMTensor

public enum CheckpointWriter {
    /// Writes `tensors` as a float32 safetensors file (keys sorted, header padded to 8 bytes), shapes as given:
    /// `Tensor(shape: [], data: [1])` is a scalar, as `torch.tensor(1.0)` saves.
    public static func writeSafetensors(_ tensors: [String: Tensor], to path: String) throws {
        var entries: [String] = []
        var payload = Data()
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            let start = payload.count
            for v in t.data { withUnsafeBytes(of: v.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
            let shape = t.shape.map(String.init).joined(separator: ",")
            entries.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(start),\(payload.count)]}")
        }
        var header = Data(("{" + entries.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(header)
        out.append(payload)
        try out.write(to: URL(fileURLWithPath: path))
    }

    /// The offset in `zip` of the first data byte of the stored entry whose name ends with `suffix` (e.g.
    /// "/data/0", a storage), found by its local header (signature, name length at +26, extra length at +28).
    public static func storedEntryOffset(in zip: Data, nameEndingWith suffix: String) -> Int? {
        let b = [UInt8](zip), sig: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
        var i = 0
        while i + 30 <= b.count {
            if b[i..<(i + 4)].elementsEqual(sig) {
                let n = Int(b[i + 26]) | Int(b[i + 27]) << 8, e = Int(b[i + 28]) | Int(b[i + 29]) << 8
                if i + 30 + n <= b.count, String(decoding: b[(i + 30)..<(i + 30 + n)], as: UTF8.self).hasSuffix(suffix) {
                    return i + 30 + n + e
                }
            }
            i += 1
        }
        return nil
    }
}
