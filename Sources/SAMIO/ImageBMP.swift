// BMP decoding in Swift, a port of Pillow 13.0.0 src/PIL/BmpImagePlugin.py (BmpImageFile._bitmap, BmpRleDecoder)
// and the raw unpackers it selects: OS/2 (12-byte) and Windows v3–v5 headers, 1/4/8-bit palettes (gray-ramp
// palettes become "1"/"L" as Pillow does), RLE8/RLE4, 16-bit 5-5-5 and 5-6-5, 24-bit, 32-bit (BI_RGB and the
// bitfield layouts Pillow accepts; alpha dropped), bottom-up and top-down rows.

enum BMPDecoder {
    private static let rle8 = 1, rle4 = 2, bitfields = 3

    static func decode(_ d: [UInt8], path: String) throws -> PILImage {
        func u16(_ o: Int) -> Int { Int(d[o]) | Int(d[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func need(_ end: Int, _ what: String) throws {
            if end > d.count { throw ImageError.truncated(path, "BMP ends inside the \(what)") }
        }

        try need(18, "file header")
        var offset = u32(10)
        let headerSize = u32(14)
        try need(14 + headerSize, "bitmap header")
        let h = 18  // start of the header data after its size field
        var width: Int, height: Int, bits: Int, compression: Int, colors: Int, padding: Int
        var topDown = false
        var masks: [Int] = []
        var pos: Int  // file position after the header (and any bitfield masks), where Pillow reads the palette
        switch headerSize {
        case 12:
            width = u16(h); height = u16(h + 2); bits = u16(h + 6)
            compression = 0; colors = 0; padding = 3
            pos = 14 + headerSize
        case 40, 52, 56, 64, 108, 124:
            topDown = d[h + 7] == 0xFF
            width = u32(h)
            height = topDown ? (1 << 32) - u32(h + 4) : u32(h + 4)
            bits = u16(h + 10)
            compression = u32(h + 12)
            colors = u32(h + 28)
            padding = 4
            pos = 14 + headerSize
            if compression == bitfields {
                if headerSize - 4 >= 48 {
                    masks = [u32(h + 36), u32(h + 40), u32(h + 44), headerSize - 4 >= 52 ? u32(h + 48) : 0]
                } else {
                    try need(pos + 12, "bitfield masks")
                    masks = [u32(pos), u32(pos + 4), u32(pos + 8), 0]
                    pos += 12
                }
            }
        default:
            throw ImageError.unsupportedVariant(path, "BMP header of \(headerSize) bytes")
        }
        try ImageLimits.check(path, width: width, height: height)
        if width == 0 || height == 0 {
            throw ImageError.corrupt(path, "BMP header gives an empty image (\(width)x\(height))")
        }
        if colors == 0 { colors = 1 << min(bits, 32) }
        if offset == 14 + headerSize && bits <= 8 { offset += padding * colors }

        // Raw layout after Pillow's BIT2MODE and bitfield tables.
        enum Raw { case index(bits: Int), bgr15, bgr16, bytes(count: Int, r: Int, g: Int, b: Int) }
        var raw: Raw
        switch bits {
        case 1, 4, 8: raw = .index(bits: bits)
        case 16: raw = .bgr15
        case 24: raw = .bytes(count: 3, r: 2, g: 1, b: 0)
        case 32: raw = .bytes(count: 4, r: 2, g: 1, b: 0)
        default: throw ImageError.unsupportedVariant(path, "BMP pixel depth \(bits)")
        }
        var rle = false
        switch compression {
        case 0:
            break
        case bitfields:
            let rgba = masks, rgb = Array(masks.prefix(3))
            switch bits {
            case 32:
                // Byte positions (little-endian) of R, G, B for each layout Pillow's MASK_MODES accepts.
                let layouts: [([Int], (Int, Int, Int))] = [
                    ([0xFF0000, 0xFF00, 0xFF, 0x0], (2, 1, 0)),               // BGRX
                    ([0xFF00_0000, 0xFF0000, 0xFF00, 0x0], (3, 2, 1)),        // XBGR
                    ([0xFF00_0000, 0xFF00, 0xFF, 0x0], (3, 1, 0)),            // BGXR
                    ([0xFF00_0000, 0xFF0000, 0xFF00, 0xFF], (3, 2, 1)),       // ABGR
                    ([0xFF, 0xFF00, 0xFF0000, 0xFF00_0000], (0, 1, 2)),       // RGBA
                    ([0xFF0000, 0xFF00, 0xFF, 0xFF00_0000], (2, 1, 0)),       // BGRA
                    ([0xFF00_0000, 0xFF00, 0xFF, 0xFF0000], (3, 1, 0)),       // BGAR
                    ([0, 0, 0, 0], (2, 1, 0)),                                // BGRA
                ]
                guard let l = layouts.first(where: { $0.0 == rgba }) else {
                    throw ImageError.unsupportedVariant(path, "BMP bitfields layout \(hex(rgba)) for 32 bits")
                }
                raw = .bytes(count: 4, r: l.1.0, g: l.1.1, b: l.1.2)
            case 24 where rgb == [0xFF0000, 0xFF00, 0xFF]:
                break
            case 16 where rgb == [0xF800, 0x7E0, 0x1F]:
                raw = .bgr16
            case 16 where rgb == [0x7C00, 0x3E0, 0x1F]:
                raw = .bgr15
            default:
                throw ImageError.unsupportedVariant(path, "BMP bitfields layout \(hex(rgb)) for \(bits) bits")
            }
        case rle8 where bits == 8, rle4 where bits == 4:
            rle = true
        default:
            throw ImageError.unsupportedVariant(path, "BMP compression \(compression) with \(bits) bits per pixel")
        }

        // Palette: gray ramps make Pillow drop it ("1" for <= 2 colours, else "L").
        var mode: PILImage.Mode = .rgb
        if case .index = raw {
            guard colors > 0 && colors <= 256 else {
                throw ImageError.unsupportedVariant(path, "BMP palette of \(colors) colours")
            }
            try need(pos + padding * colors, "palette")
            let pal = Array(d[pos..<(pos + padding * colors)])
            let ramp = colors == 2 ? [0, 255] : Array(0..<colors)
            let gray = ramp.enumerated().allSatisfy { i, v in
                pal[i * padding] == v && pal[i * padding + 1] == v && pal[i * padding + 2] == v
            }
            if gray {
                mode = colors <= 2 ? .bilevel : .l
                // Pillow then reads the rows with raw mode "1" or "L" whatever the depth; only these pairs are sane.
                if !rle && !((mode == .bilevel && bits == 1) || (mode == .l && bits == 8)) {
                    throw ImageError.unsupportedVariant(
                        path, "\(bits)-bit BMP with a \(colors)-entry gray-ramp palette (Pillow misreads it)")
                }
            } else {
                var rgb = [UInt8]()
                rgb.reserveCapacity(colors * 3)
                for i in 0..<colors { rgb += [pal[i * padding + 2], pal[i * padding + 1], pal[i * padding]] }
                mode = .p(palette: PILImage.palette256(rgb))
            }
        }

        let n = width * height
        var samples: [UInt8]
        if rle {
            let indices = try decodeRLE(d, from: offset, width: width, height: height, rle4: compression == rle4,
                                        topDown: topDown, path: path)
            samples = mode == .bilevel ? indices.map { $0 != 0 ? 255 : 0 } : indices
        } else {
            let stride = ((width * bits + 31) >> 3) & ~3
            let rowBytes = (width * bits + 7) / 8
            if height > 0 && width > 0 { try need(offset + (height - 1) * stride + rowBytes, "pixel data") }
            let channels: Int
            if case .index = raw { channels = 1 } else { channels = 3 }
            samples = [UInt8](repeating: 0, count: n * channels)
            samples.withUnsafeMutableBufferPointer { out in
                d.withUnsafeBufferPointer { src in
                    for y in 0..<height {
                        let row = offset + (topDown ? y : height - 1 - y) * stride
                        let o = y * width * channels
                        switch raw {
                        case .index(let b):
                            let bilevel = mode == .bilevel
                            for x in 0..<width {
                                let v: UInt8
                                switch b {
                                case 1: v = (src[row + (x >> 3)] >> (7 - UInt8(x & 7))) & 1
                                case 4: v = (x & 1) == 0 ? src[row + (x >> 1)] >> 4 : src[row + (x >> 1)] & 0x0F
                                default: v = src[row + x]
                                }
                                out[o + x] = bilevel ? (v != 0 ? 255 : 0) : v
                            }
                        case .bgr15, .bgr16:
                            let is565: Bool
                            if case .bgr16 = raw { is565 = true } else { is565 = false }
                            for x in 0..<width {
                                let p = Int(src[row + 2 * x]) | Int(src[row + 2 * x + 1]) << 8
                                if is565 {
                                    out[o + 3 * x] = UInt8((p >> 11 & 31) * 255 / 31)
                                    out[o + 3 * x + 1] = UInt8((p >> 5 & 63) * 255 / 63)
                                } else {
                                    out[o + 3 * x] = UInt8((p >> 10 & 31) * 255 / 31)
                                    out[o + 3 * x + 1] = UInt8((p >> 5 & 31) * 255 / 31)
                                }
                                out[o + 3 * x + 2] = UInt8((p & 31) * 255 / 31)
                            }
                        case .bytes(let c, let r, let g, let b):
                            for x in 0..<width {
                                let p = row + c * x
                                out[o + 3 * x] = src[p + r]
                                out[o + 3 * x + 1] = src[p + g]
                                out[o + 3 * x + 2] = src[p + b]
                            }
                        }
                    }
                }
            }
        }
        return PILImage(width: width, height: height, mode: mode, samples: samples)
    }

    /// Pillow's `BmpRleDecoder.decode`: encoded runs, end of line (pad the row with zeros), end of bitmap, delta
    /// and absolute runs (word-aligned); rows come bottom-up unless the header says top-down. Pillow requires every pixel to be produced.
    private static func decodeRLE(_ d: [UInt8], from start: Int, width: Int, height: Int, rle4: Bool,
                                  topDown: Bool, path: String) throws -> [UInt8] {
        let dest = width * height
        var data = [UInt8]()
        data.reserveCapacity(dest)
        var p = start
        var x = 0
        while data.count < dest {
            guard p + 2 <= d.count else { break }
            var count = Int(d[p]); let byte = d[p + 1]
            p += 2
            if count != 0 {
                if x + count > width { count = max(0, width - x) }
                if rle4 {
                    for i in 0..<count { data.append(i % 2 == 0 ? byte >> 4 : byte & 0x0F) }
                } else {
                    data.append(contentsOf: repeatElement(byte, count: count))
                }
                x += count
            } else if byte == 0 {
                while data.count % width != 0 { data.append(0) }
                x = 0
            } else if byte == 1 {
                break
            } else if byte == 2 {
                guard p + 2 <= d.count else { break }
                let right = Int(d[p]), up = Int(d[p + 1])
                p += 2
                data.append(contentsOf: repeatElement(0, count: min(dest - data.count, right + up * width)))
                x = data.count % width
            } else {
                let dataCount = min(dest - data.count, Int(byte))
                let byteCount = rle4 ? (dataCount + 1) / 2 : dataCount
                let avail = min(byteCount, max(0, d.count - p))
                let chunk = d[p..<(p + avail)]
                p += avail
                if rle4 {
                    for (i, b) in chunk.enumerated() {
                        data.append(b >> 4)
                        if i * 2 + 1 < dataCount { data.append(b & 0x0F) }
                    }
                } else {
                    data.append(contentsOf: chunk)
                }
                if avail < byteCount || data.count == dest { break }
                x += Int(byte)
                if p % 2 != 0 { p += 1 }
            }
        }
        if data.count < dest {
            throw ImageError.truncated(path, "BMP RLE data gives \(data.count) of \(dest) pixels")
        }
        // Bottom-up (the usual case): the first decoded row is the last image row.
        var out = [UInt8](repeating: 0, count: dest)
        for y in 0..<height {
            let src = (topDown ? y : height - 1 - y) * width
            out[(y * width)..<((y + 1) * width)] = data[src..<(src + width)]
        }
        return out
    }

    private static func hex(_ m: [Int]) -> String {
        "(" + m.map { "0x" + String($0, radix: 16, uppercase: true) }.joined(separator: ", ") + ")"
    }
}
