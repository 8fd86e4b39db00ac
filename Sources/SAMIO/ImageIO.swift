// Image reading front end: RGBImage, ImageError, format sniffing, and Pillow's mode conversions (convert("RGB") and
// convert("L")) so that decoded pixels equal `PIL.Image.open(path).convert("RGB")` — the input of Meta's SAM scripts.
// Ports the conversions of Pillow src/libImaging/Convert.c (read at commit 01ced32f, Pillow 13.0.0 behaviour checked).

import Foundation

/// An 8-bit RGB image, `pixels` in H×W×3 row-major order (the layout of `np.asarray(pil_image)`).
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// `height * width * 3` bytes, row-major, channels R, G, B.
    public var pixels: [UInt8]

    /// An image of the given size; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "RGBImage \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// A failure reading or writing an image; every case carries the file's path first.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist or cannot be read.
    case notFound(String)
    /// The file's first bytes match none of the supported formats (PNG, JPEG, BMP).
    case unknownFormat(String)
    /// The file ends before the image data does (the decoder's message is the detail).
    case truncated(String, String)
    /// The file is damaged or inconsistent; the detail is libjpeg's or libpng's text or the BMP field at fault.
    case corrupt(String, String)
    /// The header claims a size beyond `ImageLimits`; nothing was allocated for it.
    case tooLarge(String, width: Int, height: Int)
    /// A valid file using a variant this reader does not implement (e.g. a BMP compression or bit depth).
    case unsupportedVariant(String, String)
    /// Writing failed (encoder error or file system error).
    case writeFailed(String, String)

    /// The path of the file at fault.
    public var path: String {
        switch self {
        case .notFound(let p), .unknownFormat(let p), .truncated(let p, _), .corrupt(let p, _),
             .tooLarge(let p, _, _), .unsupportedVariant(let p, _), .writeFailed(let p, _):
            return p
        }
    }

    /// A one-line message naming the file and what is wrong with it.
    public var description: String {
        switch self {
        case .notFound(let p):
            return "\(p): image file not found or not readable"
        case .unknownFormat(let p):
            return "\(p): unknown image format (not PNG, JPEG or BMP)"
        case .truncated(let p, let d):
            return "\(p): image file is truncated: \(d)"
        case .corrupt(let p, let d):
            return "\(p): corrupt image file: \(d)"
        case .tooLarge(let p, let w, let h):
            return "\(p): image of \(w)x\(h) pixels exceeds the limits (each side <= \(ImageLimits.maxSide), "
                + "width*height <= \(ImageLimits.maxPixels)\(ImageLimits.maxPixels == 178_956_970 ? ", Pillow's decompression-bomb error threshold" : ""))"
        case .unsupportedVariant(let p, let d):
            return "\(p): unsupported image variant: \(d)"
        case .writeFailed(let p, let d):
            return "\(p): cannot write image: \(d)"
        }
    }
}

/// Size limits checked on the header before any pixel buffer is allocated.
public enum ImageLimits {
    /// Largest accepted width or height.
    public static let maxSide = 65535
    /// Largest accepted width × height: `2 * PIL.Image.MAX_IMAGE_PIXELS` = 178_956_970, above which Pillow raises
    /// `DecompressionBombError`. Settable (before images are read) by a program that wants a stricter bound, as the
    /// fuzz harness does; the error message states the bound in force.
    nonisolated(unsafe) public static var maxPixels = 178_956_970

    static func check(_ path: String, width: Int, height: Int) throws {
        if width > maxSide || height > maxSide || width < 0 || height < 0 || width * height > maxPixels {
            throw ImageError.tooLarge(path, width: width, height: height)
        }
    }
}

/// A decoded image in Pillow's terms: the mode `Image.open` gives and the samples in Pillow's in-memory layout
/// (bands unpacked, CMYK already un-inverted as Pillow's "CMYK;I" raw mode does).
struct PILImage {
    enum Mode: Equatable {
        /// "1": one byte per pixel, 0 or 255.
        case bilevel
        /// "L": one byte per pixel.
        case l
        /// "LA": two bytes per pixel.
        case la
        /// "P": one index per pixel; `palette` holds 256 RGB triples, entries past the file's palette are black.
        case p(palette: [UInt8])
        /// "RGB": three bytes per pixel.
        case rgb
        /// "RGBA": four bytes per pixel.
        case rgba
        /// "CMYK": four bytes per pixel.
        case cmyk
        /// "I;16": one 16-bit value per pixel, held in `samples16`.
        case i16
    }

    var width: Int
    var height: Int
    var mode: Mode
    var samples: [UInt8] = []
    var samples16: [UInt16] = []

    /// Builds a 256-entry palette from `count` triples in `bytes` (RGB order), the rest black as Pillow shows them.
    static func palette256(_ rgbTriples: [UInt8]) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 768)
        for i in 0..<min(768, rgbTriples.count) { p[i] = rgbTriples[i] }
        return p
    }

    /// Pillow's `convert("RGB")`: alpha dropped (not composited), palettes looked up, I;16 clipped to 0...255,
    /// CMYK through `cmyk2rgb`.
    func toRGB() -> [UInt8] {
        let n = width * height
        switch mode {
        case .rgb:
            return samples
        case .bilevel, .l:
            return [UInt8](unsafeUninitializedCapacity: n * 3) { out, count in
                for i in 0..<n { let v = samples[i]; out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v }
                count = n * 3
            }
        case .la:
            return [UInt8](unsafeUninitializedCapacity: n * 3) { out, count in
                for i in 0..<n { let v = samples[2 * i]; out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v }
                count = n * 3
            }
        case .p(let palette):
            return [UInt8](unsafeUninitializedCapacity: n * 3) { out, count in
                for i in 0..<n {
                    let k = Int(samples[i]) * 3
                    out[3 * i] = palette[k]; out[3 * i + 1] = palette[k + 1]; out[3 * i + 2] = palette[k + 2]
                }
                count = n * 3
            }
        case .rgba:
            return [UInt8](unsafeUninitializedCapacity: n * 3) { out, count in
                for i in 0..<n {
                    out[3 * i] = samples[4 * i]; out[3 * i + 1] = samples[4 * i + 1]; out[3 * i + 2] = samples[4 * i + 2]
                }
                count = n * 3
            }
        case .cmyk:
            return [UInt8](unsafeUninitializedCapacity: n * 3) { out, count in
                for i in 0..<n {
                    let nk = 255 - Int(samples[4 * i + 3])
                    for c in 0..<3 {
                        out[3 * i + c] = clip8(nk - mulDiv255(Int(samples[4 * i + c]), nk))
                    }
                }
                count = n * 3
            }
        case .i16:
            return [UInt8](unsafeUninitializedCapacity: n * 3) { out, count in
                for i in 0..<n {
                    let v = UInt8(min(Int(samples16[i]), 255))
                    out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v
                }
                count = n * 3
            }
        }
    }

    /// The single-channel values Pillow gives for a label image: palette indices for "P", the values for "L",
    /// 0/255 for "1", the L band of "LA", I;16 clipped to 0...255, and `convert("L")` (ITU-R 601-2 luma with
    /// Pillow's 16-bit fixed-point rounding) for RGB, RGBA and CMYK.
    func toLabels() -> [UInt8] {
        let n = width * height
        switch mode {
        case .bilevel, .l, .p:
            return samples
        case .la:
            return (0..<n).map { samples[2 * $0] }
        case .i16:
            return samples16.map { UInt8(min(Int($0), 255)) }
        case .rgb:
            return (0..<n).map { luma(samples[3 * $0], samples[3 * $0 + 1], samples[3 * $0 + 2]) }
        case .rgba:
            return (0..<n).map { luma(samples[4 * $0], samples[4 * $0 + 1], samples[4 * $0 + 2]) }
        case .cmyk:
            let rgb = toRGB()
            return (0..<n).map { luma(rgb[3 * $0], rgb[3 * $0 + 1], rgb[3 * $0 + 2]) }
        }
    }
}

/// Pillow's `L24(rgb) >> 16`: `(R*19595 + G*38470 + B*7471 + 0x8000) >> 16` (Convert.c `rgb2l`).
@inline(__always)
func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
    let rr: Int = Int(r) * 19595
    let gg: Int = Int(g) * 38470
    let bb: Int = Int(b) * 7471
    return UInt8((rr + gg + bb + 0x8000) >> 16)
}

/// Pillow's `MULDIV255(a, b)`: `tmp = a*b + 128; ((tmp >> 8) + tmp) >> 8`.
@inline(__always)
func mulDiv255(_ a: Int, _ b: Int) -> Int {
    let t = a * b + 128
    return ((t >> 8) + t) >> 8
}

@inline(__always)
func clip8(_ v: Int) -> UInt8 { UInt8(max(0, min(255, v))) }

/// Reads PNG, JPEG and BMP files the way Meta's SAM scripts see them through Pillow.
public enum ImageReader {
    /// Decodes the image at `path` to 8-bit RGB with pixels equal to Pillow's `Image.open(path).convert("RGB")`:
    /// JPEG through libjpeg(-turbo) with Pillow's settings (islow IDCT, fancy upsampling; grayscale expanded;
    /// CMYK/YCCK with Adobe inversion), PNG through libpng (every bit depth and colour type; alpha dropped, not
    /// composited; 16-bit RGB(A) and gray+alpha keep the high byte; 16-bit gray is clipped to 0...255, as Pillow
    /// does), BMP (1/4/8-bit palette, RLE4/RLE8, 16/24/32-bit, bottom-up and top-down). No EXIF rotation.
    /// The format is found from the file's first bytes, not its extension.
    /// - Throws: `ImageError` naming the file.
    public static func readRGB(path: String) throws -> RGBImage {
        let img = try decode(path: path)
        return RGBImage(width: img.width, height: img.height, pixels: img.toRGB())
    }

    /// Decodes a single-channel label or mask image as Pillow sees its values (`np.asarray(Image.open(path))` for
    /// modes P and L, `convert("L")` otherwise): palette PNG/BMP → palette indices (DAVIS masks), gray → values,
    /// 1-bit → 0/255, gray+alpha → the gray band, 16-bit gray → clipped to 0...255, RGB/RGBA/CMYK → Pillow's
    /// ITU-R 601-2 luma `(R*19595 + G*38470 + B*7471 + 0x8000) >> 16`. `values` is `height * width`, row-major.
    /// - Throws: `ImageError` naming the file.
    public static func readLabels(path: String) throws -> (width: Int, height: Int, values: [UInt8]) {
        let img = try decode(path: path)
        return (img.width, img.height, img.toLabels())
    }

    /// Decodes an image already in memory (`path` is used in error messages only).
    static func decode(data: [UInt8], path: String) throws -> PILImage {
        if data.count >= 8 && data[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return try PNGDecoder.decode(data, path: path)
        }
        if data.count >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF {
            return try JPEGDecoder.decode(data, path: path)
        }
        if data.count >= 2 && data[0] == 0x42 && data[1] == 0x4D {
            return try BMPDecoder.decode(data, path: path)
        }
        throw ImageError.unknownFormat(path)
    }

    static func decode(path: String) throws -> PILImage {
        try decode(data: readFileBytes(path), path: path)
    }

    static func readFileBytes(_ path: String) throws -> [UInt8] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
              let d = FileManager.default.contents(atPath: path) else {
            throw ImageError.notFound(path)
        }
        return [UInt8](d)
    }
}
