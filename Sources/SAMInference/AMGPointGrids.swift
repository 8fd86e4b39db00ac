// Reading explicit point grids (`point_grids`: one list of [x, y] in [0, 1] per crop layer) from JSON text.
// Numbers are parsed with Swift's correctly rounded Double(String), so a grid written by Python's json.dump reads back
// as the same float64 values Meta's generator would use (Foundation's JSON parser on Linux can be off by an ulp).
// ref: segment_anything/automatic_mask_generator.py@dca509f (point_grids)

public enum AMGPointGrids {
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var message: String
        public var description: String { message }
    }

    /// Parses `[[[x, y], …], …]`: a JSON list (one entry per crop layer) of lists of two-number lists.
    public static func parse(_ text: String) throws -> [[AMGPoint]] {
        var p = Parser(bytes: Array(text.utf8))
        let v = try p.value()
        p.skipSpace()
        guard p.i == p.bytes.count else { throw p.fail("unexpected text after the list") }
        guard case .list(let layers) = v else { throw ParseError(message: "expected a list of point grids ([[[x, y], …], …])") }
        return try layers.enumerated().map { (li, layer) in
            guard case .list(let pts) = layer else { throw ParseError(message: "grid \(li) is not a list of [x, y]") }
            return try pts.enumerated().map { (pi, pt) in
                guard case .list(let xy) = pt, xy.count == 2, case .number(let x) = xy[0], case .number(let y) = xy[1] else {
                    throw ParseError(message: "grid \(li), point \(pi) is not [x, y]")
                }
                return AMGPoint(x, y)
            }
        }
    }

    indirect enum Value { case number(Double), list([Value]) }

    struct Parser {
        let bytes: [UInt8]
        var i = 0

        func fail(_ m: String) -> ParseError { ParseError(message: "\(m) at byte \(i)") }

        mutating func skipSpace() { while i < bytes.count, [32, 9, 10, 13].contains(bytes[i]) { i += 1 } }

        mutating func value() throws -> Value {
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end") }
            if bytes[i] == UInt8(ascii: "[") {
                i += 1
                var items: [Value] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .list(items) }
                while true {
                    items.append(try value())
                    skipSpace()
                    guard i < bytes.count else { throw fail("unterminated list") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .list(items) }
                    throw fail("expected ',' or ']'")
                }
            }
            let start = i
            while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
            guard i > start, let d = Double(String(decoding: bytes[start..<i], as: UTF8.self)), d.isFinite else {
                throw fail("expected a number or a list")
            }
            return .number(d)
        }
    }
}
