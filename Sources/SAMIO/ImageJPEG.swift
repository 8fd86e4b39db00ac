// JPEG decoding through libjpeg(-turbo) with Pillow's settings, as in Pillow's JpegImagePlugin.py and
// src/libImaging/JpegDecode.c (Pillow 13.0.0; JpegDecode.c read at commit 0d684f40): 1 component → "L",
// 3 → "RGB" (libjpeg's YCbCr→RGB), 4 → "CMYK" decoded as JCS_CMYK and inverted ("CMYK;I", Adobe polarity).
// libjpeg defaults are kept (JDCT_ISLOW, fancy upsampling, no scaling); EXIF orientation is ignored.

import CJPEG

enum JPEGDecoder {
    static func decode(_ data: [UInt8], path: String) throws -> PILImage {
        var info = sam_jpeg_info()
        var message = [CChar](repeating: 0, count: 256)
        // Header first, so the size can be checked before any pixel buffer exists.
        let rc = data.withUnsafeBufferPointer { buf in
            sam_jpeg_decode(buf.baseAddress, buf.count, &info, nil, 0, Int32(JCS_UNKNOWN.rawValue),
                            Int64(ImageLimits.maxPixels), &message)
        }
        if rc != 0 { throw error(path, message) }
        let width = Int(info.width), height = Int(info.height)
        try ImageLimits.check(path, width: width, height: height)

        let mode: PILImage.Mode
        let space: J_COLOR_SPACE
        let channels: Int
        switch info.components {
        case 1: mode = .l; space = JCS_GRAYSCALE; channels = 1
        case 3: mode = .rgb; space = JCS_RGB; channels = 3
        case 4: mode = .cmyk; space = JCS_CMYK; channels = 4
        default:
            throw ImageError.unsupportedVariant(path, "JPEG with \(info.components) components (Pillow reads 1, 3 or 4)")
        }
        let count = width * height * channels
        var status: Int32 = 0
        var samples = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            status = data.withUnsafeBufferPointer { buf in
                sam_jpeg_decode(buf.baseAddress, buf.count, &info, out.baseAddress, count, Int32(space.rawValue),
                                Int64(ImageLimits.maxPixels), &message)
            }
            if status == 0 {
                initialized = count
            } else {
                initialized = 0
            }
        }
        switch status {
        case 0: break
        case 3: throw ImageError.tooLarge(path, width: width, height: height)
        case 2: throw ImageError.corrupt(path, "libjpeg output size differs from the header's \(width)x\(height)x\(channels)")
        default: throw error(path, message)
        }
        if mode == .cmyk {
            // Pillow's "CMYK;I" raw mode: Adobe CMYK JPEGs store inverted samples.
            for i in 0..<samples.count { samples[i] = ~samples[i] }
        }
        return PILImage(width: width, height: height, mode: mode, samples: samples)
    }

    private static func error(_ path: String, _ message: [CChar]) -> ImageError {
        let text = String(cString: message)
        if text.contains("Premature end") {
            return .truncated(path, "libjpeg: \(text)")
        }
        if text.contains("Unsupported") {
            return .unsupportedVariant(path, "libjpeg: \(text)")
        }
        return .corrupt(path, "libjpeg: \(text.isEmpty ? "unknown error" : text)")
    }
}
