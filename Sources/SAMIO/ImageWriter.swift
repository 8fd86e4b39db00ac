// Image writing: 8-bit PNG encoding through libpng (Sources/CPNG/shim.h `sam_png_encode`), written with AtomicFile
// (temporary file in the same directory, fsync, rename).

import CPNG
import Foundation

/// Writes images; every write goes to a temporary file in the destination's directory, renamed over the
/// destination only once complete (`AtomicFile`), so a reader never sees a half-written file.
public enum ImageWriter {
    /// Encodes an 8-bit image to PNG bytes (libpng, default filtering).
    /// - Parameters:
    ///   - channels: 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA).
    ///   - pixels: `height * width * channels` bytes, row-major.
    ///   - fast: zlib level 1 instead of libpng's default 6: about 3× faster on photographs (an overlay per prompt
    ///     in `sam segment`) for files about 5 % larger.
    /// - Throws: `ImageError.writeFailed` (with `path` "<memory>") for bad arguments or an encoder failure.
    public static func encodePNG(width: Int, height: Int, channels: Int, pixels: [UInt8], fast: Bool = false) throws -> [UInt8] {
        let memory = "<memory>"
        guard (1...4).contains(channels) else {
            throw ImageError.writeFailed(memory, "PNG needs 1, 2, 3 or 4 channels, got \(channels)")
        }
        guard width > 0, height > 0, width <= ImageLimits.maxSide, height <= ImageLimits.maxSide else {
            throw ImageError.writeFailed(memory, "bad PNG size \(width)x\(height)")
        }
        guard pixels.count == width * height * channels else {
            throw ImageError.writeFailed(memory, "\(width)x\(height)x\(channels) needs \(width * height * channels) bytes, "
                                         + "got \(pixels.count)")
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let rc = pixels.withUnsafeBufferPointer { buf in
            sam_png_encode(buf.baseAddress, UInt32(width), UInt32(height), Int32(channels), fast ? 1 : -1, &out, &size, &message)
        }
        guard rc == 0, let out else {
            throw ImageError.writeFailed(memory, "libpng: \(String(cString: message))")
        }
        defer { sam_png_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// Writes an 8-bit PNG atomically (temporary file in the same directory, then rename); creates the parent
    /// directory if needed.
    /// - Parameters:
    ///   - channels: 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA).
    ///   - pixels: `height * width * channels` bytes, row-major.
    /// - Throws: `ImageError.writeFailed` naming `path`.
    public static func writePNG(path: String, width: Int, height: Int, channels: Int, pixels: [UInt8], fast: Bool = false) throws {
        let bytes: [UInt8]
        do {
            bytes = try encodePNG(width: width, height: height, channels: channels, pixels: pixels, fast: fast)
        } catch ImageError.writeFailed(_, let detail) {
            throw ImageError.writeFailed(path, detail)
        }
        do {
            try AtomicFile.write(Data(bytes), to: path)
        } catch {
            throw ImageError.writeFailed(path, "\(error.localizedDescription)")
        }
    }
}
