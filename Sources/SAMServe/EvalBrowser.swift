// The evaluation browser's data: every per-object CSV that `sam eval` writes under --reports, as rows sorted by IoU.
//
// Layout read (what `sam eval`/`sam ablate` write): …/<source>/<checkpoint>/<dataset>_<protocol>.csv with a header
// `id,iou,…` (one row per object) or, for click protocols, `id,iou_1,…,iou_N,noc85,noc90` (the last click's IoU is
// the object's IoU). Files without an `id` column and an IoU column (summaries, sizes) and `shards/` are skipped.
import Foundation

public struct EvalFile: Codable, Sendable, Equatable {
    /// Path under --reports.
    public var path: String
    /// Folder above the checkpoint's (e.g. `swift`, `reference`); empty when none.
    public var source: String
    public var checkpoint: String
    public var dataset: String
    public var protocol_: String
    public var objects: Int
    public var miou: Double

    enum CodingKeys: String, CodingKey { case path, source, checkpoint, dataset, protocol_ = "protocol", objects, miou }
}

public struct EvalRow: Codable, Sendable, Equatable {
    public var file: String
    public var source: String
    public var checkpoint: String
    public var dataset: String
    public var protocol_: String
    public var id: String
    public var iou: Double

    enum CodingKeys: String, CodingKey { case file, source, checkpoint, dataset, protocol_ = "protocol", id, iou }
}

public struct EvalListing: Codable, Sendable {
    public var files: [EvalFile]
    /// Rows of the files kept by the filters, lowest IoU first, at most `limit`.
    public var rows: [EvalRow]
    public var total_rows: Int
}

public enum EvalBrowser {
    /// Largest CSV read (bytes) and most files scanned.
    public static let maxFileBytes = 32 << 20
    public static let maxFiles = 5000

    /// Reads the per-object CSVs under `root`, keeps those matching the filters (nil or "" = any), rows sorted by IoU.
    public static func listing(root: SafeRoot, dataset: String?, checkpoint: String?, protocol_: String?, source: String?,
                               limit: Int) -> EvalListing {
        var files: [EvalFile] = [], rows: [EvalRow] = []
        for rel in root.list(extensions: ["csv"], limit: maxFiles) where !rel.split(separator: "/").contains("shards") {
            guard let full = try? root.file(rel),
                  let size = (try? FileManager.default.attributesOfItem(atPath: full))?[.size] as? Int, size <= maxFileBytes,
                  let text = try? String(contentsOfFile: full, encoding: .utf8),
                  let parsed = parse(text) else { continue }
            let comps = rel.split(separator: "/").map(String.init)
            let stem = ((comps.last ?? rel) as NSString).deletingPathExtension
            let cut = stem.lastIndex(of: "_")
            let dataset_ = cut.map { String(stem[..<$0]) } ?? stem
            let protocol__ = cut.map { String(stem[stem.index(after: $0)...]) } ?? ""
            let checkpoint_ = comps.count >= 2 ? comps[comps.count - 2] : ""
            let source_ = comps.count >= 3 ? comps[comps.count - 3] : ""
            let f = EvalFile(path: rel, source: source_, checkpoint: checkpoint_, dataset: dataset_, protocol_: protocol__,
                             objects: parsed.count, miou: parsed.isEmpty ? 0 : parsed.map(\.1).reduce(0, +) / Double(parsed.count))
            func ok(_ want: String?, _ have: String) -> Bool { want == nil || want!.isEmpty || want! == have }
            guard ok(dataset, f.dataset), ok(checkpoint, f.checkpoint), ok(protocol_, f.protocol_), ok(source, f.source) else { continue }
            files.append(f)
            rows += parsed.map { EvalRow(file: rel, source: f.source, checkpoint: f.checkpoint, dataset: f.dataset,
                                         protocol_: f.protocol_, id: $0.0, iou: $0.1) }
        }
        rows.sort { ($0.iou, $0.file, $0.id) < ($1.iou, $1.file, $1.id) }
        return EvalListing(files: files, rows: Array(rows.prefix(max(0, limit))), total_rows: rows.count)
    }

    /// (id, iou) per object, or nil when the header has no `id` or no IoU column.
    static func parse(_ text: String) -> [(String, Double)]? {
        var lines = text.split(whereSeparator: \.isNewline).makeIterator()
        guard let header = lines.next()?.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }),
              let idCol = header.firstIndex(of: "id") else { return nil }
        let iouCol: Int
        if let c = header.firstIndex(of: "iou") {
            iouCol = c
        } else if let c = header.lastIndex(where: { $0.hasPrefix("iou_") && Int($0.dropFirst(4)) != nil }) {
            iouCol = c
        } else { return nil }
        var out: [(String, Double)] = []
        while let line = lines.next() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count > max(idCol, iouCol), let v = Double(f[iouCol].trimmingCharacters(in: .whitespaces)), v.isFinite else { continue }
            out.append((String(f[idCol]), v))
        }
        return out
    }
}
