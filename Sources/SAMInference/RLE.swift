// Run-length encoding of binary masks, in the two forms Meta's generator returns: the uncompressed RLE of
// `mask_to_rle_pytorch` and pycocotools' compressed counts string (`coco_encode_rle` → `frPyObjects`).
// ref: segment_anything/utils/amg.py@dca509f (mask_to_rle_pytorch, rle_to_mask, area_from_rle, coco_encode_rle)
// ref: cocodataset/cocoapi PythonAPI/common/maskApi.c (rleToString, rleFrString)

/// An uncompressed RLE as pycocotools reads it: `size` is [h, w]; `counts` alternate zero runs and one runs over the
/// mask in column-major (Fortran) order, starting with a zero run (0 when the first pixel is set).
public struct RLE: Equatable, Sendable {
    public var height: Int
    public var width: Int
    public var counts: [Int]

    public init(height: Int, width: Int, counts: [Int]) {
        self.height = height; self.width = width; self.counts = counts
    }

    /// Encodes an H×W row-major mask (non-zero = set), as `mask_to_rle_pytorch` does for one mask.
    public init<C: RandomAccessCollection>(mask: C, height h: Int, width w: Int) where C.Element == UInt8, C.Index == Int {
        precondition(mask.count == h * w, "RLE: mask has \(mask.count) pixels, expected \(h)×\(w)")
        height = h; width = w
        var counts: [Int] = []
        var current = false
        var run = 0
        let base = mask.startIndex
        for x in 0..<w {
            var i = base + x
            for _ in 0..<h {
                let v = mask[i] != 0
                if v != current { counts.append(run); run = 0; current = v }
                run += 1
                i += w
            }
        }
        counts.append(run)
        self.counts = counts
    }

    /// The mask pixels: H×W row-major, 1 inside, 0 outside (`rle_to_mask`).
    public func decode() -> [UInt8] {
        // Runs past H·W (a corrupt or foreign RLE) are cut at the end of the mask, negative ones read as empty:
        // pycocotools' rleDecode writes past its buffer there.
        let n = height * width
        var out = [UInt8](repeating: 0, count: n)
        var idx = 0
        var parity: UInt8 = 0
        for c in counts {
            if idx >= n { break }
            let end = c > 0 ? min(n, idx + c) : idx
            if parity == 1 {
                for k in idx..<end { out[(k % height) * width + k / height] = 1 }
            }
            idx = end
            parity ^= 1
        }
        return out
    }

    /// Number of set pixels (`area_from_rle`: the sum of the odd-indexed counts).
    public var area: Int {
        var s = 0
        var i = 1
        while i < counts.count { s += counts[i]; i += 2 }
        return s
    }

    /// pycocotools' compressed counts string (`rleToString` in maskApi.c): each count, minus the count two places
    /// earlier from the fourth on, is written as a little-endian sequence of 5-bit groups, each a character
    /// `48 + group`, with bit 0x20 set while more groups follow and bit 0x10 the sign of the last group.
    public var cocoString: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(counts.count * 2)
        for i in 0..<counts.count {
            // maskApi.c stores counts as uint (32-bit) and reads them back into a long
            var x = Int(UInt32(truncatingIfNeeded: counts[i]))
            if i > 2 { x -= Int(UInt32(truncatingIfNeeded: counts[i - 2])) }
            var more = true
            while more {
                var c = UInt8(truncatingIfNeeded: x & 0x1f)
                x >>= 5  // arithmetic shift, as C's >> on a negative long
                more = (c & 0x10) != 0 ? x != -1 : x != 0
                if more { c |= 0x20 }
                bytes.append(c + 48)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Decodes pycocotools' counts string (`rleFrString`). Returns nil for a character outside '0'…'o', a string
    /// that ends inside a count, a count of more than 32 bits, or counts that do not add up to height × width (which
    /// `rleFrString` does not check and `rleDecode` then overruns).
    public init?(cocoString s: String, height: Int, width: Int) {
        self.height = height; self.width = width
        var counts: [Int] = []
        let bytes = Array(s.utf8)
        var p = 0
        while p < bytes.count {
            var x = 0, k = 0
            var more = true
            while more {
                // 7 groups of 5 bits hold any 32-bit count (difference) with its sign
                guard p < bytes.count, bytes[p] >= 48, bytes[p] < 48 + 64, k < 7 else { return nil }
                let c = Int(bytes[p]) - 48
                x |= (c & 0x1f) << (5 * k)
                more = (c & 0x20) != 0
                p += 1; k += 1
                if !more && (c & 0x10) != 0 { x |= -1 << (5 * k) }
            }
            if counts.count > 2 { x = x &+ counts[counts.count - 2] }
            counts.append(Int(UInt32(truncatingIfNeeded: x)))
        }
        var total = 0
        for c in counts {
            total += c
            if total > height * width { return nil }
        }
        if total != height * width { return nil }
        self.counts = counts
    }
}
