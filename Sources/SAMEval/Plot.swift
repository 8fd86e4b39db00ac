// Figures for the reports as SVG (no plotting library): grouped bars and lines, y in 0…1, real text, axis titles with
// units, a legend. Each figure is written beside a CSV of the values it plots, so a notebook can redraw it.
import Foundation
import SAMIO

/// One named series of values.
public struct PlotSeries: Sendable {
    public var name: String
    public var values: [Double]
    public init(name: String, values: [Double]) { self.name = name; self.values = values }
}

/// A drawn figure: the SVG text and the table of the values it shows (first column the x category, one column per series).
public struct PlotFigure: Sendable {
    public var svg: String
    public var csv: String
}

public enum Plot {
    /// Margins around the plot area (SVG user units = px): room for tick labels and the y title on the left, the x
    /// labels, x title and legend below, the title above.
    public static let left = 70.0, right = 20.0, top = 40.0, bottom = 90.0
    /// Okabe–Ito colours (distinguishable with colour-blindness and in grey print).
    static let palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
    static let font = "font-family=\"Helvetica, Arial, sans-serif\""

    /// The plot area of a `width` × `height` figure: (x0, y0) top-left, (x1, y1) bottom-right.
    public static func area(width: Double, height: Double) -> (x0: Double, y0: Double, x1: Double, y1: Double) {
        (left, top, width - right, height - bottom)
    }

    /// `s` with XML's five special characters escaped, for text and attribute values.
    public static func escape(_ s: String) -> String {
        var o = ""
        for ch in s {
            switch ch {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&apos;"
            default: o.append(ch)
            }
        }
        return o
    }

    static func n(_ v: Double) -> String { String(format: "%.2f", v) }

    static func text(_ s: String, x: Double, y: Double, size: Int = 12, anchor: String = "start", extra: String = "") -> String {
        "<text x=\"\(n(x))\" y=\"\(n(y))\" font-size=\"\(size)\" text-anchor=\"\(anchor)\"\(extra)>\(escape(s))</text>\n"
    }

    /// SVG header, white background, title, horizontal grid at 0, 0.2, …, 1 with tick labels, the axes and the two
    /// axis titles.
    static func frame(width: Double, height: Double, title: String, xTitle: String, yTitle: String) -> String {
        let a = area(width: width, height: height)
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" \(font)>\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#ffffff\"/>\n"
        s += text(title, x: (a.x0 + a.x1) / 2, y: 22, size: 15, anchor: "middle", extra: " font-weight=\"bold\" class=\"title\"")
        for k in 0...5 {
            let y = a.y1 - Double(k) / 5 * (a.y1 - a.y0)
            s += "<line x1=\"\(n(a.x0))\" y1=\"\(n(y))\" x2=\"\(n(a.x1))\" y2=\"\(n(y))\" stroke=\"#dddddd\" stroke-width=\"1\"/>\n"
            s += text(String(format: "%.1f", Double(k) / 5), x: a.x0 - 6, y: y + 4, size: 11, anchor: "end", extra: " class=\"tick\"")
        }
        s += "<line x1=\"\(n(a.x0))\" y1=\"\(n(a.y0))\" x2=\"\(n(a.x0))\" y2=\"\(n(a.y1))\" stroke=\"#333333\" stroke-width=\"1.2\"/>\n"
        s += "<line x1=\"\(n(a.x0))\" y1=\"\(n(a.y1))\" x2=\"\(n(a.x1))\" y2=\"\(n(a.y1))\" stroke=\"#333333\" stroke-width=\"1.2\"/>\n"
        let ym = (a.y0 + a.y1) / 2
        s += text(yTitle, x: 18, y: ym, size: 13, anchor: "middle", extra: " transform=\"rotate(-90 18 \(n(ym)))\" class=\"axis-title\"")
        s += text(xTitle, x: (a.x0 + a.x1) / 2, y: a.y1 + 42, size: 13, anchor: "middle", extra: " class=\"axis-title\"")
        return s
    }

    /// A one-row legend under the x title: a colour swatch and the series' name for each series.
    static func legend(_ series: [PlotSeries], x: Double, y: Double) -> String {
        var s = "<g class=\"legend\">\n"
        var xx = x
        for (i, ser) in series.enumerated() {
            s += "<rect x=\"\(n(xx))\" y=\"\(n(y - 10))\" width=\"12\" height=\"12\" fill=\"\(palette[i % palette.count])\"/>\n"
            s += text(ser.name, x: xx + 17, y: y, size: 12, extra: " class=\"legend-label\"")
            xx += 17 + Double(ser.name.count) * 7.5 + 24
        }
        return s + "</g>\n"
    }

    static func table(header: String, rows: [String], series: [PlotSeries]) -> String {
        var c = ([header] + series.map(\.name)).map(csvField).joined(separator: ",") + "\n"
        for (i, r) in rows.enumerated() {
            c += ([csvField(r)] + series.map { i < $0.values.count && $0.values[i].isFinite ? String(format: "%.6f", $0.values[i]) : "" })
                .joined(separator: ",") + "\n"
        }
        return c
    }

    /// Grouped bars: one group per category, one bar per series; values are clamped to 0…1, a missing (non-finite)
    /// value draws no bar. A bar of value v is v × (plot-area height) tall, its base on the x axis.
    public static func bars(title: String, categories: [String], series: [PlotSeries], xTitle: String = "prompt",
                            yTitle: String = "mIoU", width: Double = 720, height: Double = 400) -> PlotFigure {
        let a = area(width: width, height: height)
        var s = frame(width: width, height: height, title: title, xTitle: xTitle, yTitle: yTitle)
        let groupW = (a.x1 - a.x0) / Double(max(1, categories.count))
        let pad = groupW * 0.15
        let barW = (groupW - 2 * pad) / Double(max(1, series.count))
        s += "<g class=\"bars\">\n"
        for (g, cat) in categories.enumerated() {
            let gx = a.x0 + Double(g) * groupW + pad
            for (k, ser) in series.enumerated() where g < ser.values.count && ser.values[g].isFinite {
                let h = min(1, max(0, ser.values[g])) * (a.y1 - a.y0)
                s += "<rect class=\"bar\" x=\"\(n(gx + Double(k) * barW))\" y=\"\(n(a.y1 - h))\" width=\"\(n(barW * 0.9))\" "
                s += "height=\"\(n(h))\" fill=\"\(palette[k % palette.count])\"><title>\(escape("\(ser.name), \(cat): \(String(format: "%.4f", ser.values[g]))"))</title></rect>\n"
            }
            s += text(cat, x: a.x0 + (Double(g) + 0.5) * groupW, y: a.y1 + 18, size: 12, anchor: "middle", extra: " class=\"category\"")
        }
        s += "</g>\n" + legend(series, x: a.x0, y: height - 16) + "</svg>\n"
        return PlotFigure(svg: s, csv: table(header: xTitle, rows: categories, series: series))
    }

    /// Lines through (k, value) for k = 1…n, one per series, with circle markers; x ticks at every k.
    public static func lines(title: String, xTitle: String, series: [PlotSeries], yTitle: String = "mIoU",
                             width: Double = 720, height: Double = 400) -> PlotFigure {
        let a = area(width: width, height: height)
        var s = frame(width: width, height: height, title: title, xTitle: xTitle, yTitle: yTitle)
        let count = series.map(\.values.count).max() ?? 1
        func px(_ k: Int) -> Double { count <= 1 ? (a.x0 + a.x1) / 2 : a.x0 + 30 + Double(k) * (a.x1 - a.x0 - 60) / Double(count - 1) }
        func py(_ v: Double) -> Double { a.y1 - min(1, max(0, v)) * (a.y1 - a.y0) }
        for k in 0..<count { s += text("\(k + 1)", x: px(k), y: a.y1 + 18, size: 12, anchor: "middle", extra: " class=\"category\"") }
        for (i, ser) in series.enumerated() {
            let col = palette[i % palette.count]
            var path = ""
            for k in ser.values.indices where ser.values[k].isFinite {
                path += (k > 0 && ser.values[k - 1].isFinite ? " L" : (path.isEmpty ? "M" : " M")) + "\(n(px(k))) \(n(py(ser.values[k])))"
            }
            s += "<g class=\"series\">\n<path d=\"\(path)\" fill=\"none\" stroke=\"\(col)\" stroke-width=\"2\"/>\n"
            for k in ser.values.indices where ser.values[k].isFinite {
                s += "<circle class=\"marker\" cx=\"\(n(px(k)))\" cy=\"\(n(py(ser.values[k])))\" r=\"3.5\" fill=\"\(col)\"><title>"
                s += escape("\(ser.name), \(k + 1): \(String(format: "%.4f", ser.values[k]))") + "</title></circle>\n"
            }
            s += "</g>\n"
        }
        s += legend(series, x: a.x0, y: height - 16) + "</svg>\n"
        return PlotFigure(svg: s, csv: table(header: xTitle, rows: (0..<count).map { "\($0 + 1)" }, series: series))
    }

    /// Writes the figure's SVG to `svgPath` and its values to `csvPath` (directories created), each atomically.
    public static func write(_ figure: PlotFigure, svg svgPath: String, csv csvPath: String) throws {
        for p in [svgPath, csvPath] {
            try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        try AtomicFile.write(figure.svg, to: svgPath)
        try AtomicFile.write(figure.csv, to: csvPath)
    }
}
