// Plots for the reports, drawn on the overlay Canvas (no plotting library): grouped bars and lines, y in 0…1.
import SAMIO
import SAMInference

/// One named series of values.
public struct PlotSeries: Sendable {
    public var name: String
    public var values: [Double]
    public init(name: String, values: [Double]) { self.name = name; self.values = values }
}

public enum Plot {
    static let white: (UInt8, UInt8, UInt8) = (255, 255, 255)
    static let grid: (UInt8, UInt8, UInt8) = (225, 225, 225)
    static let axis: (UInt8, UInt8, UInt8) = (60, 60, 60)
    static let left = 70, right = 20, top = 50, bottom = 70

    static func blank(_ w: Int, _ h: Int) -> Canvas {
        Canvas(RGBImage(width: w, height: h, pixels: [UInt8](repeating: 255, count: w * h * 3)))
    }

    /// Font-safe label (the 5×7 font has digits, A–Z, space and . : = - % / ( ) #).
    static func label(_ s: String) -> String { s.replacingOccurrences(of: "+", with: "/").replacingOccurrences(of: "_", with: " ") }

    /// Axes with horizontal grid lines at 0, 0.2, …, 1 and their labels; returns the plot area.
    static func frame(_ c: inout Canvas, title: String, yLabel: String) -> (x0: Int, y0: Int, x1: Int, y1: Int) {
        let x0 = left, x1 = c.width - right, y0 = top, y1 = c.height - bottom
        for k in 0...5 {
            let y = y1 - k * (y1 - y0) / 5
            for x in x0...x1 { c.set(x, y, grid) }
            c.text(String(format: "%.1f", Double(k) / 5), x: x0 - 38, y: y - 6)
        }
        for y in y0...y1 { c.set(x0, y, axis); c.set(x0 - 1, y, axis) }
        for x in x0...x1 { c.set(x, y1, axis); c.set(x, y1 + 1, axis) }
        c.text(label(title), x: x0, y: 12)
        c.text(label(yLabel), x: 6, y: 32, scale: 1)
        return (x0, y0, x1, y1)
    }

    static func legend(_ c: inout Canvas, _ series: [PlotSeries], x: Int, y: Int) {
        var xx = x
        for (i, s) in series.enumerated() {
            c.fillRect(xx, y, xx + 14, y + 14, maskPalette[i % maskPalette.count])
            c.text(label(s.name), x: xx + 20, y: y + 1)
            xx += 20 + label(s.name).count * 12 + 24
        }
    }

    /// Grouped bars: one group per category, one bar per series (values in 0…1).
    public static func bars(title: String, categories: [String], series: [PlotSeries], width: Int = 900, height: Int = 420) -> RGBImage {
        var c = blank(width, height)
        let a = frame(&c, title: title, yLabel: "MIOU")
        let groupW = (a.x1 - a.x0) / max(1, categories.count)
        let barW = max(4, (groupW - 16) / max(1, series.count))
        for (g, cat) in categories.enumerated() {
            let gx = a.x0 + g * groupW + 8
            for (s, ser) in series.enumerated() where g < ser.values.count && ser.values[g].isFinite {
                let v = min(1, max(0, ser.values[g]))
                let top = a.y1 - Int(v * Double(a.y1 - a.y0))
                c.fillRect(gx + s * barW, top, gx + (s + 1) * barW - 3, a.y1 - 1, maskPalette[s % maskPalette.count])
            }
            let l = label(cat)
            c.text(l, x: gx + max(0, (groupW - 16 - l.count * 6) / 2), y: a.y1 + 10, scale: 1)
        }
        legend(&c, series, x: a.x0, y: height - 30)
        return c.image
    }

    /// Lines through (k, value) for k = 1…n, one per series, with square markers.
    public static func lines(title: String, xLabel: String, series: [PlotSeries], width: Int = 900, height: Int = 420) -> RGBImage {
        var c = blank(width, height)
        let a = frame(&c, title: title, yLabel: "MIOU")
        let n = series.map(\.values.count).max() ?? 1
        func px(_ k: Int) -> Int { n <= 1 ? (a.x0 + a.x1) / 2 : a.x0 + 20 + k * (a.x1 - a.x0 - 40) / (n - 1) }
        func py(_ v: Double) -> Int { a.y1 - Int(min(1, max(0, v)) * Double(a.y1 - a.y0)) }
        for k in 0..<n { c.text("\(k + 1)", x: px(k) - 3, y: a.y1 + 10, scale: 1) }
        c.text(label(xLabel), x: (a.x0 + a.x1) / 2 - 30, y: a.y1 + 26, scale: 1)
        for (s, ser) in series.enumerated() {
            let col = maskPalette[s % maskPalette.count]
            for k in ser.values.indices where ser.values[k].isFinite {
                if k > 0 && ser.values[k - 1].isFinite {
                    line(&c, px(k - 1), py(ser.values[k - 1]), px(k), py(ser.values[k]), col)
                }
                c.fillRect(px(k) - 3, py(ser.values[k]) - 3, px(k) + 3, py(ser.values[k]) + 3, col)
            }
        }
        legend(&c, series, x: a.x0, y: height - 30)
        return c.image
    }

    /// A 2-pixel Bresenham line.
    static func line(_ c: inout Canvas, _ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ col: (UInt8, UInt8, UInt8)) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            c.set(x, y, col); c.set(x + 1, y, col); c.set(x, y + 1, col); c.set(x + 1, y + 1, col)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// Writes `image` as PNG.
    public static func write(_ image: RGBImage, to path: String) throws {
        try ImageWriter.writePNG(path: path, width: image.width, height: image.height, channels: 3, pixels: image.pixels)
    }
}
