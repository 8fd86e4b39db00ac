// The SVG figures parse as XML, carry their text as text, and draw each bar value × plot height tall.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import SAMEval

/// Collects the elements of an SVG: every <text>'s content and class, and the attributes of every element.
final class SVGCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [(text: String, cls: String)] = []
    private var inText = false, current = "", currentClass = ""

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append((name, attributes))
        if name == "text" { inText = true; current = ""; currentClass = attributes["class"] ?? "" }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { if inText { current += string } }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { texts.append((current, currentClass)); inText = false }
    }

    static func parse(_ svg: String) throws -> SVGCollector {
        let c = SVGCollector()
        let p = XMLParser(data: Data(svg.utf8))
        p.delegate = c
        guard p.parse() else { throw p.parserError ?? NSError(domain: "svg", code: 1) }
        return c
    }
}

final class PlotTests: XCTestCase {
    let series = [PlotSeries(name: "tiny", values: [0.4442, 0.4061, 0.5233, .nan]),
                  PlotSeries(name: "small <fp16> & co", values: [0.1426, 1.7, -0.2, 0.25])]
    let categories = ["box", "point", "point oracle", "box+point"]

    func testBarsTextAndHeights() throws {
        let w = 720.0, h = 400.0
        let fig = Plot.bars(title: "GrabCut: mIoU per prompt", categories: categories, series: series,
                            xTitle: "prompt", yTitle: "mIoU", width: w, height: h)
        let svg = try SVGCollector.parse(fig.svg)
        XCTAssertEqual(svg.elements.first?.name, "svg")
        XCTAssertEqual(svg.elements.first?.attributes["width"], "720")

        // Real, mixed-case text; the special characters come back unescaped after parsing.
        XCTAssertEqual(svg.texts.filter { $0.cls == "title" }.map(\.text), ["GrabCut: mIoU per prompt"])
        XCTAssertEqual(svg.texts.filter { $0.cls == "axis-title" }.map(\.text), ["mIoU", "prompt"])
        XCTAssertEqual(svg.texts.filter { $0.cls == "category" }.map(\.text), categories)
        XCTAssertEqual(svg.texts.filter { $0.cls == "legend-label" }.map(\.text), ["tiny", "small <fp16> & co"])
        XCTAssertEqual(svg.texts.filter { $0.cls == "tick" }.map(\.text), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        XCTAssertTrue(fig.svg.contains("small &lt;fp16&gt; &amp; co"))

        // 4 categories × 2 series, less the one NaN.
        let bars = svg.elements.filter { $0.name == "rect" && $0.attributes["class"] == "bar" }
        XCTAssertEqual(bars.count, 7)
        let a = Plot.area(width: w, height: h)
        let plotHeight = a.y1 - a.y0
        XCTAssertEqual(plotHeight, 270, accuracy: 1e-9)
        // Drawn in category order, series within a category: tiny box, small box, tiny point, small point, …
        let expected = [0.4442, 0.1426, 0.4061, 1.0, 0.5233, 0.0, 0.25]   // 1.7 and −0.2 clamped to 0…1
        for (bar, v) in zip(bars, expected) {
            let height = try XCTUnwrap(Double(bar.attributes["height"] ?? ""))
            let y = try XCTUnwrap(Double(bar.attributes["y"] ?? ""))
            XCTAssertEqual(height, v * plotHeight, accuracy: 0.006)          // printed with 2 decimals
            XCTAssertEqual(y + height, a.y1, accuracy: 0.011)                // standing on the x axis
        }
        // The first bar: 0.4442 × 270 = 119.934 → "119.93".
        XCTAssertEqual(bars[0].attributes["height"], "119.93")
        // Two series → two colours.
        XCTAssertEqual(Set(bars.compactMap { $0.attributes["fill"] }).count, 2)
    }

    func testBarsCSVHoldsThePlottedValues() {
        let fig = Plot.bars(title: "t", categories: categories, series: series, xTitle: "prompt")
        XCTAssertEqual(fig.csv, """
            prompt,tiny,small <fp16> & co
            box,0.444200,0.142600
            point,0.406100,1.700000
            point oracle,0.523300,-0.200000
            box+point,,0.250000

            """)
    }

    func testLinesMarkersAndAxisTitles() throws {
        let fig = Plot.lines(title: "GrabCut: mIoU after k clicks", xTitle: "number of clicks k",
                             series: [PlotSeries(name: "tiny", values: [0.4061, 0.4093, 0.3797]),
                                      PlotSeries(name: "small", values: [0.1649, 0.1004, 0.0759])],
                             yTitle: "mIoU", width: 720, height: 400)
        let svg = try SVGCollector.parse(fig.svg)
        XCTAssertEqual(svg.texts.filter { $0.cls == "axis-title" }.map(\.text), ["mIoU", "number of clicks k"])
        XCTAssertEqual(svg.texts.filter { $0.cls == "category" }.map(\.text), ["1", "2", "3"])
        let markers = svg.elements.filter { $0.name == "circle" }
        XCTAssertEqual(markers.count, 6)
        let a = Plot.area(width: 720, height: 400)
        let cy = try XCTUnwrap(Double(markers[1].attributes["cy"] ?? ""))
        XCTAssertEqual(a.y1 - cy, 0.4093 * (a.y1 - a.y0), accuracy: 0.006)
        XCTAssertEqual(svg.elements.filter { $0.name == "path" }.count, 2)
        XCTAssertTrue(fig.csv.hasPrefix("number of clicks k,tiny,small\n1,0.406100,0.164900\n"))
    }

    func testEscape() {
        XCTAssertEqual(Plot.escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;")
    }
}
