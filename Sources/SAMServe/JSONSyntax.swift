// Where a request body stops being JSON: Foundation's parser on Linux says only "The operation could not be
// completed", so a malformed body is scanned again with the RFC 8259 grammar to name the line, the column, the byte
// offset, what was expected there and what was found.
// ref: RFC 8259 §2–§7 (JSON text, values, objects, arrays, numbers, strings)

/// The first syntax error of a JSON text.
struct JSONSyntaxError: Error, CustomStringConvertible, Equatable {
    /// 1-based line and column (column in bytes), 0-based byte offset.
    var line: Int, column: Int, offset: Int
    var expected: String
    var found: String

    var description: String { "line \(line), column \(column) (byte \(offset)): expected \(expected), found \(found)" }

    /// The first syntax error of `bytes`, nil when they are one valid JSON value (with white space around it).
    static func find(in bytes: [UInt8]) -> JSONSyntaxError? {
        var s = Scanner(b: bytes)
        do {
            s.space()
            try s.value(depth: 0)
            s.space()
            if s.i < bytes.count { throw s.fail("the end of the body after the top-level value") }
            return nil
        } catch let e as JSONSyntaxError {
            return e
        } catch {
            return nil
        }
    }

    private struct Scanner {
        let b: [UInt8]
        var i = 0
        /// Nesting beyond this is refused (a recursive descent must not exhaust the stack).
        static let maxDepth = 512

        func fail(_ expected: String) -> JSONSyntaxError {
            var line = 1, col = 1
            for c in b[..<min(i, b.count)] { if c == 0x0A { line += 1; col = 1 } else { col += 1 } }
            let found: String
            if i >= b.count { found = "the end of the body" }
            else if (0x21..<0x7F).contains(b[i]) { found = "'\(Character(UnicodeScalar(b[i])))'" }
            else { found = "byte 0x" + (b[i] < 16 ? "0" : "") + String(b[i], radix: 16) }
            return JSONSyntaxError(line: line, column: col, offset: i, expected: expected, found: found)
        }

        var peek: UInt8? { i < b.count ? b[i] : nil }

        mutating func space() { while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 } }

        mutating func expect(_ c: UInt8, _ what: String) throws {
            guard peek == c else { throw fail(what) }
            i += 1
        }

        mutating func value(depth: Int) throws {
            guard depth < Self.maxDepth else { throw fail("at most \(Self.maxDepth) nested arrays and objects") }
            switch peek ?? 0 {
            case UInt8(ascii: "{"):
                i += 1; space()
                if peek == UInt8(ascii: "}") { i += 1; return }
                while true {
                    guard peek == UInt8(ascii: "\"") else { throw fail("a member name (a string in double quotes)") }
                    try string()
                    space()
                    try expect(UInt8(ascii: ":"), "':' after the member name")
                    space()
                    try value(depth: depth + 1)
                    space()
                    if peek == UInt8(ascii: ",") { i += 1; space(); continue }
                    try expect(UInt8(ascii: "}"), "',' or '}' after an object member")
                    return
                }
            case UInt8(ascii: "["):
                i += 1; space()
                if peek == UInt8(ascii: "]") { i += 1; return }
                while true {
                    try value(depth: depth + 1)
                    space()
                    if peek == UInt8(ascii: ",") { i += 1; space(); continue }
                    try expect(UInt8(ascii: "]"), "',' or ']' after an array element")
                    return
                }
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw fail("a value (object, array, string, number, true, false or null)")
            }
        }

        mutating func literal(_ word: String) throws {
            for c in word.utf8 {
                guard peek == c else { throw fail("'\(word)'") }
                i += 1
            }
        }

        mutating func digits() throws {
            guard let c = peek, (0x30...0x39).contains(c) else { throw fail("a digit") }
            while let c = peek, (0x30...0x39).contains(c) { i += 1 }
        }

        mutating func number() throws {
            if peek == UInt8(ascii: "-") { i += 1 }
            if peek == UInt8(ascii: "0") { i += 1 } else { try digits() }
            if peek == UInt8(ascii: ".") { i += 1; try digits() }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                i += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
                try digits()
            }
        }

        mutating func string() throws {
            i += 1  // the opening quote
            while true {
                guard let c = peek else { throw fail("'\"' closing the string") }
                switch c {
                case UInt8(ascii: "\""): i += 1; return
                case UInt8(ascii: "\\"):
                    i += 1
                    guard let e = peek else { throw fail("an escape character after '\\'") }
                    if e == UInt8(ascii: "u") {
                        i += 1
                        for _ in 0..<4 {
                            guard let h = peek, (0x30...0x39).contains(h) || (0x41...0x46).contains(h) || (0x61...0x66).contains(h) else {
                                throw fail("4 hexadecimal digits after '\\u'")
                            }
                            i += 1
                        }
                    } else {
                        guard "\"\\/bfnrt".utf8.contains(e) else { throw fail("one of \" \\ / b f n r t u after '\\'") }
                        i += 1
                    }
                case 0..<0x20: throw fail("no control character inside a string (escape it)")
                default: i += 1
                }
            }
        }
    }
}
