// Overlay pictures: masks in translucent colours, points as stars (green positive, red negative), the box as a green
// rectangle, and a caption in a built-in 5×7 bitmap font — the pictures researchers otherwise draw in a notebook.
import SAMIO

public struct Canvas {
    public var width: Int, height: Int
    /// H×W×3 RGB.
    public var pixels: [UInt8]

    public init(_ image: RGBImage) { width = image.width; height = image.height; pixels = image.pixels }

    public var image: RGBImage { RGBImage(width: width, height: height, pixels: pixels) }

    /// Blends `color` at `alpha` over the pixels where `mask` (H×W, non-zero inside) is set, and outlines the mask.
    public mutating func blend<C: Collection>(mask: C, color: (UInt8, UInt8, UInt8), alpha: Float = 0.5) where C.Element == UInt8 {
        let m = Array(mask)
        let c = [Float(color.0), Float(color.1), Float(color.2)]
        for y in 0..<height {
            for x in 0..<width where m[y * width + x] != 0 {
                let i = (y * width + x) * 3
                let edge = x == 0 || y == 0 || x == width - 1 || y == height - 1 || m[i / 3 - 1] == 0 || m[i / 3 + 1] == 0
                    || m[i / 3 - width] == 0 || m[i / 3 + width] == 0
                for k in 0..<3 {
                    let a: Float = edge ? 1 : alpha
                    pixels[i + k] = UInt8(max(0, min(255, (Float(pixels[i + k]) * (1 - a) + c[k] * a).rounded())))
                }
            }
        }
    }

    public mutating func set(_ x: Int, _ y: Int, _ color: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = color.0; pixels[i + 1] = color.1; pixels[i + 2] = color.2
    }

    public mutating func fillRect(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: (UInt8, UInt8, UInt8)) {
        // clipped to the image; nothing when the rectangle lies outside it (a caption below a small image's bottom)
        let xa = max(0, x0), xb = min(width - 1, x1), ya = max(0, y0), yb = min(height - 1, y1)
        guard xa <= xb, ya <= yb else { return }
        for y in ya...yb { for x in xa...xb { set(x, y, color) } }
    }

    /// A rectangle outline `thickness` pixels wide.
    public mutating func rectangle(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: (UInt8, UInt8, UInt8), thickness: Int = 2) {
        for t in 0..<thickness {
            for x in x0...max(x0, x1) { set(x, y0 + t, color); set(x, y1 - t, color) }
            for y in y0...max(y0, y1) { set(x0 + t, y, color); set(x1 - t, y, color) }
        }
    }

    /// A five-pointed star of outer radius `r` with a white rim, centred at (cx, cy).
    public mutating func star(_ cx: Float, _ cy: Float, radius r: Float, _ color: (UInt8, UInt8, UInt8)) {
        var pts: [(Float, Float)] = []
        for k in 0..<10 {
            let ang = -Float.pi / 2 + Float(k) * Float.pi / 5
            let rr = k % 2 == 0 ? r : r * 0.45
            pts.append((cx + rr * cosf(ang), cy + rr * sinf(ang)))
        }
        func inside(_ px: Float, _ py: Float, _ poly: [(Float, Float)]) -> Bool {
            var c = false
            var j = poly.count - 1
            for i in 0..<poly.count {
                let (xi, yi) = poly[i], (xj, yj) = poly[j]
                if (yi > py) != (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi { c.toggle() }
                j = i
            }
            return c
        }
        let rim = pts.map { (cx + ($0.0 - cx) * 1.25, cy + ($0.1 - cy) * 1.25) }
        let b = Int(r * 1.3) + 1
        for y in (Int(cy) - b)...(Int(cy) + b) {
            for x in (Int(cx) - b)...(Int(cx) + b) {
                let px = Float(x) + 0.5, py = Float(y) + 0.5
                if inside(px, py, pts) { set(x, y, color) } else if inside(px, py, rim) { set(x, y, (255, 255, 255)) }
            }
        }
    }

    /// Draws `text` (upper-cased; digits, A–Z, space and . : = - % / ( ) #) at (x, y) with a dark backing box.
    public mutating func text(_ text: String, x: Int, y: Int, scale: Int = 2, color: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        let chars = Array(text.uppercased())
        fillRect(x - 2, y - 2, x + chars.count * 6 * scale + 1, y + 7 * scale + 1, (0, 0, 0))
        for (n, ch) in chars.enumerated() {
            guard let rows = Font5x7.glyphs[ch] else { continue }
            for (ry, row) in rows.enumerated() {
                for rx in 0..<5 where (row >> (4 - rx)) & 1 == 1 {
                    for sy in 0..<scale { for sx in 0..<scale { set(x + (n * 6 + rx) * scale + sx, y + ry * scale + sy, color) } }
                }
            }
        }
    }
}

/// Colours for masks, in order (tab10).
public let maskPalette: [(UInt8, UInt8, UInt8)] = [(30, 144, 255), (255, 127, 14), (44, 160, 44), (214, 39, 40),
                                                    (148, 103, 189), (140, 86, 75), (227, 119, 194), (188, 189, 34)]

public enum Overlay {
    /// The image with one mask, the prompt drawn on it and a caption (e.g. "MASK 1  IOU 0.873").
    public static func draw(image: RGBImage, mask: ArraySlice<UInt8>?, prompt: Prompt, caption: String,
                            color: (UInt8, UInt8, UInt8) = maskPalette[0], groundTruth: [UInt8]? = nil) -> RGBImage {
        var c = Canvas(image)
        if let gt = groundTruth { c.blend(mask: gt, color: (255, 215, 0), alpha: 0.25) }
        if let mask { c.blend(mask: mask, color: color, alpha: 0.45) }
        let r = Float(max(6, min(image.width, image.height) / 40))
        if let b = prompt.box { c.rectangle(Int(b.x0), Int(b.y0), Int(b.x1), Int(b.y1), (0, 200, 0), thickness: max(2, Int(r / 4))) }
        for (p, l) in zip(prompt.points, prompt.labels) {
            c.star(p.x + 0.5, p.y + 0.5, radius: r, l == 1 ? (0, 200, 0) : (220, 0, 0))
        }
        let scale = max(1, min(image.width, image.height) / 240)
        c.text(caption, x: 6, y: 6, scale: scale)
        return c.image
    }
}

/// A 5×7 bitmap font; each glyph is 7 rows of 5 bits (most significant bit leftmost).
enum Font5x7 {
    static let glyphs: [Character: [UInt8]] = [
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        "A": [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], "B": [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        "C": [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], "D": [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], "F": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], "J": [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        "K": [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], "N": [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        "O": [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        "Q": [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        "S": [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        "U": [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        "W": [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], "X": [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        "Y": [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], "Z": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        " ": [0, 0, 0, 0, 0, 0, 0], ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        "=": [0, 0, 0x1F, 0, 0x1F, 0, 0], "-": [0, 0, 0, 0x1F, 0, 0, 0], "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        "/": [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0], "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08], "#": [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        "_": [0, 0, 0, 0, 0, 0, 0x1F], "+": [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
    ]
}

import Foundation
