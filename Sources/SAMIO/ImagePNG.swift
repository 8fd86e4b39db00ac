// PNG decoding through libpng with Pillow's mode mapping (Pillow 13.0.0 PngImagePlugin.py `_MODES` and the raw
// unpackers of src/libImaging/Unpack.c): gray 1 → "1", gray 2/4 → "L" scaled by 0x55/0x11, gray 16 → "I;16",
// RGB(A)/gray+alpha 16 → high byte, palette → "P" (indices; entries past PLTE are black). tRNS is ignored, as
// convert("RGB") drops it.

import CPNG

enum PNGDecoder {
    static func decode(_ data: [UInt8], path: String) throws -> PILImage {
        var info = sam_png_info()
        var message = [CChar](repeating: 0, count: 256)
        let rc = data.withUnsafeBufferPointer { buf in
            sam_png_decode(buf.baseAddress, buf.count, &info, nil, 0, Int64(ImageLimits.maxPixels), &message)
        }
        if rc != 0 { throw error(path, message) }
        let width = Int(info.width), height = Int(info.height)
        try ImageLimits.check(path, width: width, height: height)

        let depth = Int(info.bit_depth), colorType = Int(info.color_type)
        let channels: Int
        switch colorType {
        case 0, 3: channels = 1
        case 2: channels = 3
        case 4: channels = 2
        case 6: channels = 4
        default: throw ImageError.corrupt(path, "PNG colour type \(colorType)")
        }
        let sampleBytes = depth == 16 ? 2 : 1
        let count = width * height * channels * sampleBytes
        // The filtered rows (a filter byte each) are deflated; deflate expands at most 1032:1 (a 258-byte match in
        // two bits), so a file too short to hold them even then is refused before its buffer is allocated.
        let filtered = height * ((width * channels * max(depth, 1) + 7) / 8 + 1)
        guard filtered / 1032 <= data.count else {
            throw ImageError.truncated(path, "PNG header says \(width)x\(height) (\(filtered) bytes of filtered rows), "
                + "more than the file's \(data.count) bytes can hold at deflate's maximum ratio of 1032:1")
        }
        var status: Int32 = 0
        let raw = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            status = data.withUnsafeBufferPointer { buf in
                sam_png_decode(buf.baseAddress, buf.count, &info, out.baseAddress, count, Int64(ImageLimits.maxPixels),
                               &message)
            }
            initialized = status == 0 ? count : 0
        }
        switch status {
        case 0: break
        case 3: throw ImageError.tooLarge(path, width: width, height: height)
        case 2: throw ImageError.corrupt(path, "libpng row size differs from the header's \(width)x\(height)")
        default: throw error(path, message)
        }

        let n = width * height
        func highBytes() -> [UInt8] {
            [UInt8](unsafeUninitializedCapacity: raw.count / 2) { out, c in
                for i in 0..<(raw.count / 2) { out[i] = raw[2 * i] }
                c = raw.count / 2
            }
        }
        switch (colorType, depth) {
        case (0, 1):
            return PILImage(width: width, height: height, mode: .bilevel, samples: raw.map { $0 != 0 ? 255 : 0 })
        case (0, 2):
            return PILImage(width: width, height: height, mode: .l, samples: raw.map { $0 &* 0x55 })
        case (0, 4):
            return PILImage(width: width, height: height, mode: .l, samples: raw.map { $0 &* 0x11 })
        case (0, 8):
            return PILImage(width: width, height: height, mode: .l, samples: raw)
        case (0, 16):
            let v = (0..<n).map { UInt16(raw[2 * $0]) << 8 | UInt16(raw[2 * $0 + 1]) }
            return PILImage(width: width, height: height, mode: .i16, samples16: v)
        case (2, 8):
            return PILImage(width: width, height: height, mode: .rgb, samples: raw)
        case (2, 16):
            return PILImage(width: width, height: height, mode: .rgb, samples: highBytes())
        case (3, _):
            let nPal = Int(info.num_palette)
            let triples = withUnsafeBytes(of: info.palette) { Array($0.prefix(nPal * 3)) }
            return PILImage(width: width, height: height, mode: .p(palette: PILImage.palette256(triples)), samples: raw)
        case (4, 8):
            return PILImage(width: width, height: height, mode: .la, samples: raw)
        case (4, 16):
            return PILImage(width: width, height: height, mode: .la, samples: highBytes())
        case (6, 8):
            return PILImage(width: width, height: height, mode: .rgba, samples: raw)
        case (6, 16):
            return PILImage(width: width, height: height, mode: .rgba, samples: highBytes())
        default:
            throw ImageError.unsupportedVariant(path, "PNG colour type \(colorType) with bit depth \(depth)")
        }
    }

    private static func error(_ path: String, _ message: [CChar]) -> ImageError {
        let text = String(cString: message)
        if text.contains("truncated") || text.contains("Not enough image data") {
            return .truncated(path, "libpng: \(text)")
        }
        return .corrupt(path, "libpng: \(text.isEmpty ? "unknown error" : text)")
    }
}
