// A resumable CSV: rows are appended and flushed to `FILE.partial` as they are computed; a killed run restarts
// from it with no row lost or doubled; the finished CSV is written atomically and the journal removed.
import Foundation
import SAMIO

/// A journal that cannot be resumed, or an I/O failure, naming the file.
public enum JournalError: Error, CustomStringConvertible, Equatable {
    case mismatch(path: String, expected: String, found: String)
    case io(String, String)

    public var description: String {
        switch self {
        case .mismatch(let p, let e, let f):
            return "\(p) was written by another run (expected the line \"\(e)\", found \"\(f)\"): remove it to start afresh"
        case .io(let p, let d): return "\(p): \(d)"
        }
    }
}

/// RFC 4180 quoting where needed (a comma, a quote or a line break), as Python's `csv` module writes.
public func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
        ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// Splits one CSV line into fields (RFC 4180 quotes).
public func csvSplit(_ line: String) -> [String] {
    var fields: [String] = [], cur = "", quoted = false
    var it = Array(line).makeIterator()
    var pending: Character? = nil
    while let c = pending ?? it.next() {
        pending = nil
        if quoted {
            if c == "\"" {
                if let n = it.next() {
                    if n == "\"" { cur.append("\"") } else { quoted = false; pending = n }
                } else { quoted = false }
            } else { cur.append(c) }
        } else if c == "," { fields.append(cur); cur = "" } else if c == "\"" && cur.isEmpty { quoted = true } else { cur.append(c) }
    }
    fields.append(cur)
    return fields
}

/// Formats a row value: counts (`noc*`) as integers, everything else with 6 decimals.
public func csvValue(_ v: Double, column: String) -> String {
    if column.hasPrefix("noc") { return String(Int(v)) }
    return v.isNaN ? "nan" : String(format: "%.6f", v)
}

/// The journal of one CSV: `FILE.partial` holds a `# ` line naming the run, the header, and one line per finished
/// row, each flushed to disk before the next object starts.
public final class CSVJournal {
    public let path: String
    public var journalPath: String { path + ".partial" }
    public let header: String
    public let runLine: String
    /// Rows already in the journal, by id (the whole line).
    public private(set) var done: [String: String] = [:]
    private var handle: FileHandle

    /// Opens the journal of `path`, resuming it when it exists and was written by the same run (same `runLine` and
    /// header); a trailing line cut off by a kill is dropped.
    public init(path: String, columns: [String], runLine: String) throws {
        self.path = path
        header = (["id"] + columns).joined(separator: ",")
        self.runLine = "# " + runLine
        let jp = path + ".partial"
        let fm = FileManager.default
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        if let data = fm.contents(atPath: jp), !data.isEmpty {
            var text = String(decoding: data, as: UTF8.self)
            if !text.hasSuffix("\n"), let cut = text.lastIndex(of: "\n") {
                text = String(text[...cut])
            } else if !text.hasSuffix("\n") {
                text = ""
            }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
            if lines.count >= 1 && lines[0] != self.runLine {
                throw JournalError.mismatch(path: jp, expected: self.runLine, found: lines[0])
            }
            if lines.count >= 2 && lines[1] != header {
                throw JournalError.mismatch(path: jp, expected: header, found: lines[1])
            }
            for l in lines.dropFirst(2) where !l.isEmpty {
                let id = csvSplit(l)[0]
                if done[id] == nil { done[id] = l }
            }
            if lines.count < 2 { text = "" }
            // Rewrite without the cut-off tail (and the preamble when it was incomplete).
            let rewritten = text.isEmpty ? self.runLine + "\n" + header + "\n" : text
            guard fm.createFile(atPath: jp, contents: Data(rewritten.utf8)) else { throw JournalError.io(jp, "cannot write") }
        } else {
            guard fm.createFile(atPath: jp, contents: Data((self.runLine + "\n" + header + "\n").utf8)) else {
                throw JournalError.io(jp, "cannot create")
            }
        }
        guard let h = FileHandle(forWritingAtPath: jp) else { throw JournalError.io(jp, "cannot open for appending") }
        h.seekToEndOfFile()
        handle = h
    }

    /// Appends one row and flushes it to disk.
    public func append(id: String, values: [String]) throws {
        let line = ([csvField(id)] + values).joined(separator: ",")
        do {
            try handle.write(contentsOf: Data((line + "\n").utf8))
            try handle.synchronize()
        } catch { throw JournalError.io(journalPath, "\(error)") }
        done[id] = line
    }

    /// Writes `path` atomically with the header and the rows of `ids` in that order, then removes the journal.
    public func finish(ids: [String]) throws {
        try? handle.close()
        var out = header + "\n"
        for id in ids { if let l = done[id] { out += l + "\n" } }
        try AtomicFile.write(out, to: path)
        try? FileManager.default.removeItem(atPath: journalPath)
    }

    deinit { try? handle.close() }
}
