// The evaluation runner: objects of a data set × prompt protocols → one journaled CSV per protocol and a summary.
// One encoder pass per image serves every protocol; consecutive objects of one image share it.
import Foundation
import SAMIO
import SAMInference

/// What one `sam eval` run does.
public struct EvalOptions: Sendable {
    public var protocols: [EvalProtocol]
    /// The CSV of each protocol (same order).
    public var outputs: [String]
    public var seed: UInt64 = 0
    /// Only the first N objects (of the shard).
    public var limit: Int?
    /// Shard k of n (1-based).
    public var shard: (k: Int, n: Int)?
    /// Names the run in each journal's first line (checkpoint, data set, options), so that a journal is resumed only
    /// by the same run.
    public var runDescription: String

    public init(protocols: [EvalProtocol], outputs: [String], seed: UInt64 = 0, limit: Int? = nil,
                shard: (k: Int, n: Int)? = nil, runDescription: String) {
        self.protocols = protocols; self.outputs = outputs; self.seed = seed; self.limit = limit; self.shard = shard
        self.runDescription = runDescription
    }
}

/// The per-object results of one protocol and their means.
public struct ProtocolResult: Sendable {
    public var evalProtocol: EvalProtocol
    public var path: String
    public var columns: [String]
    public var ids: [String]
    /// rows[i][c] = value of column c for object ids[i].
    public var rows: [[Double]]

    public func column(_ name: String) -> [Double] {
        guard let c = columns.firstIndex(of: name) else { return [] }
        return rows.map { $0[c] }
    }

    public func mean(_ name: String) -> Double { SAMEval.mean(column(name)) }

    /// mIoU (top-1), and for `point` the oracle; for clicks mIoU@k for every k and mean NoC@85/90.
    public var summary: String {
        let n = ids.count
        switch evalProtocol {
        case .point:
            return String(format: "%@: %d objects, mIoU %.4f (oracle %.4f)", evalProtocol.description, n, mean("iou"), mean("iou_oracle"))
        case .clicks(let k):
            let at = (1...k).map { String(format: "%.4f", mean("iou_\($0)")) }.joined(separator: " ")
            return String(format: "%@: %d objects, mIoU@1..%d %@, NoC@85 %.2f, NoC@90 %.2f", evalProtocol.description, n, k, at,
                          mean("noc85"), mean("noc90"))
        default:
            return String(format: "%@: %d objects, mIoU %.4f", evalProtocol.description, n, mean("iou"))
        }
    }

    /// Reads a finished CSV written by `sam eval` (or the reference script).
    public static func read(path: String, evalProtocol: EvalProtocol) throws -> ProtocolResult {
        guard let data = FileManager.default.contents(atPath: path) else { throw JournalError.io(path, "cannot read") }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        guard let head = lines.first else { throw JournalError.io(path, "empty CSV") }
        let cols = Array(csvSplit(head).dropFirst())
        var ids: [String] = [], rows: [[Double]] = []
        for l in lines.dropFirst() {
            let f = csvSplit(l)
            guard f.count == cols.count + 1 else { throw JournalError.io(path, "row with \(f.count) fields, header has \(cols.count + 1)") }
            ids.append(f[0]); rows.append(f.dropFirst().map { Double($0) ?? .nan })
        }
        return ProtocolResult(evalProtocol: evalProtocol, path: path, columns: cols, ids: ids, rows: rows)
    }
}

/// Progress of a run: objects done (resumed ones included), total, the object just finished, and seconds per
/// object evaluated in this process (nil before the first).
public struct EvalProgress: Sendable {
    public var done: Int, total: Int
    public var resumed: Int
    public var lastId: String
    public var secondsPerObject: Double?
    public var etaSeconds: Double? { secondsPerObject.map { $0 * Double(total - done) } }
}

public enum Evaluation {
    /// The objects a run covers: the shard, then the limit.
    public static func objects(of dataset: Dataset, shard: (k: Int, n: Int)?, limit: Int?) -> [DatasetObject] {
        var objs = shard.map { dataset.shard($0.k, of: $0.n) } ?? dataset.objects
        if let l = limit, l < objs.count { objs = Array(objs[..<l]) }
        return objs
    }

    /// Runs every protocol on every object, resuming each protocol's journal, and returns the finished results.
    /// `afterEach(protocol index, object id)` runs after each protocol has scored an object (the precision
    /// ablation takes the mask agreement of those calls there).
    public static func run(predictor: any PromptPredictor, dataset: Dataset, options o: EvalOptions,
                           progress: (EvalProgress) -> Void = { _ in },
                           afterEach: (Int, String) throws -> Void = { _, _ in }) throws -> [ProtocolResult] {
        precondition(o.protocols.count == o.outputs.count)
        let objs = objects(of: dataset, shard: o.shard, limit: o.limit)
        let journals = try zip(o.protocols, o.outputs).map { p, path in
            try CSVJournal(path: path, columns: p.columns, runLine: "\(o.runDescription) prompt=\(p) seed=\(o.seed)")
        }
        let pending = objs.filter { ob in journals.contains { $0.done[ob.id] == nil } }
        let resumed = objs.count - pending.count
        var lastImageKey: String?
        let t0 = Date()
        var evaluated = 0
        progress(EvalProgress(done: resumed, total: objs.count, resumed: resumed, lastId: "", secondsPerObject: nil))
        for ob in pending {
            let (image, gt) = try dataset.load(ob)
            let key = "\(ob.imagePath)|\(image.width)x\(image.height)"
            if key != lastImageKey {
                predictor.setImage(image)
                lastImageKey = key
            }
            for (i, (p, j)) in zip(o.protocols, journals).enumerated() where j.done[ob.id] == nil {
                let values = try p.evaluate(predictor: predictor, truth: gt, id: ob.id, seed: o.seed)
                try j.append(id: ob.id, values: zip(values, p.columns).map { csvValue($0, column: $1) })
                try afterEach(i, ob.id)
            }
            evaluated += 1
            progress(EvalProgress(done: resumed + evaluated, total: objs.count, resumed: resumed, lastId: ob.id,
                                  secondsPerObject: Date().timeIntervalSince(t0) / Double(evaluated)))
        }
        let ids = objs.map(\.id)
        var results: [ProtocolResult] = []
        for (p, j) in zip(o.protocols, journals) {
            try j.finish(ids: ids)
            results.append(try ProtocolResult.read(path: j.path, evalProtocol: p))
        }
        return results
    }

    /// Concatenates shard CSVs (same header) into `out`, in the order given, refusing a doubled id.
    public static func merge(_ inputs: [String], into out: String) throws -> Int {
        var header: String?
        var seen = Set<String>()
        var text = ""
        for path in inputs {
            guard let data = FileManager.default.contents(atPath: path) else { throw JournalError.io(path, "cannot read") }
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
            guard let h = lines.first else { throw JournalError.io(path, "empty CSV") }
            if let header, header != h { throw JournalError.mismatch(path: path, expected: header, found: h) }
            if header == nil { header = h; text = h + "\n" }
            for l in lines.dropFirst() {
                let id = csvSplit(l)[0]
                if !seen.insert(id).inserted { throw JournalError.io(path, "object \(id) is also in an earlier shard") }
                text += l + "\n"
            }
        }
        try AtomicFile.write(text, to: out)
        return seen.count
    }
}

/// A one-line progress bar: `[#######.......]  35/50  70%  2.1 s/object  ETA 0:31`.
public func progressBar(_ p: EvalProgress, width: Int = 30) -> String {
    let frac = p.total == 0 ? 1 : Double(p.done) / Double(p.total)
    let filled = Int(frac * Double(width))
    var s = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    s += String(format: " %d/%d %3.0f%%", p.done, p.total, frac * 100)
    if let spo = p.secondsPerObject, let eta = p.etaSeconds {
        let e = Int(eta.rounded())
        s += String(format: "  %.2f s/object  ETA %d:%02d:%02d", spo, e / 3600, (e / 60) % 60, e % 60)
    }
    if p.resumed > 0 { s += "  (\(p.resumed) resumed)" }
    return s
}
