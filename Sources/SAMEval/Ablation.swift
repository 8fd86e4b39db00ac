// `sam ablate CONFIG`: checkpoints × data sets × protocols from a JSON file under experiments/ablations/, per-object
// CSVs under notebooks-data/, and one Markdown report with tables and plots under reports/.
import Foundation
import SAMIO
import SAMInference
import SAMModel
import SAMTensor

/// An ablation config (JSON). Relative paths are relative to the working directory.
///
/// ```json
/// {"name": "demo_checkpoints",
///  "checkpoints": [{"name": "tiny", "path": "../shared/checkpoints/sam_demo_tiny.pth"}],
///  "datasets": [{"name": "GrabCut", "path": "../shared/data/GrabCut", "ignore_value": 128,
///                "protocols": ["box", "point", "clicks:5"]},
///               {"name": "Berkeley", "path": "../shared/data/Berkeley", "rotate_mismatched": true}],
///  "protocols": ["box", "point", "center", "random", "box+point", "jbox"],
///  "seed": 0, "limit": null,
///  "csv_dir": "notebooks-data/eval/demo", "report": "reports/eval/README.md",
///  "reference_dir": "notebooks-data/eval/reference", "model_size": true, "notes": ["…"],
///  "ran_on": {"machine": "2-core Intel Xeon VM", "date": "2026-11-26"}}
/// ```
/// A data set's `protocols` replaces the global list for it; `instances` is binary|merged|separate.
/// Precision is an axis like the checkpoints: `"precisions": ["fp32", "bf16"]` evaluates every checkpoint in each
/// (a checkpoint's own `"precision"` fixes one); a bf16 run is named `<checkpoint>@bf16`, runs its float32 twin on
/// the same prompts beside it, and writes the two's mask agreement per object to
/// `csv_dir/<checkpoint>@bf16/<dataset>_<protocol>_agreement.csv`; the report gets a section comparing them.
/// CSVs: `csv_dir/<checkpoint>/<dataset>_<protocol>.csv` (`clicks:5` → `clicks5`); a CSV that exists is reused, a
/// journal is resumed. With `reference_dir` holding CSVs of the same layout (eval_reference.py), the report
/// compares every object with them. Figures: `<report dir>/<figure>.svg`, their values in `csv_dir/figures/<figure>.csv`.
/// `ran_on` (where and when the CSVs were evaluated) heads the report beside the command that regenerates it; the
/// report's text from the line `Ablation.keepMarker` on is written by hand and kept when the report is rewritten.
public struct AblationConfig: Sendable {
    public struct Checkpoint: Sendable {
        public var name: String; public var path: String
        /// The precision of its products; `base` is the checkpoint's own name (`name` without `@bf16`).
        public var precision: Precision = .fp32
        public var base: String = ""
    }
    public struct DatasetEntry: Sendable {
        public var name: String, path: String
        public var ignoreValue: UInt8?
        public var instances: InstanceMode
        public var rotateMismatched: Bool
        public var protocols: [EvalProtocol]
    }
    public var name: String
    public var checkpoints: [Checkpoint]
    public var datasets: [DatasetEntry]
    public var seed: UInt64
    public var limit: Int?
    public var csvDir: String
    public var report: String
    public var referenceDir: String?
    public var modelSize: Bool
    public var notes: [String]
    /// The config file this was loaded from (named in the report as the command that regenerates it).
    public var source: String = ""
    /// Machine and date of the evaluation the CSVs hold.
    public var machine: String?, runDate: String?
    /// Published scores to compare with: (checkpoint, dataset, protocol, column, value, source).
    public var anchors: [(checkpoint: String, dataset: String, protocolName: String, column: String, value: Double, source: String)] = []

    public static func load(path: String) throws -> AblationConfig {
        let root = try Dataset.readJSON(path)
        func bad(_ d: String) -> DatasetError { .badJSON(path, d) }
        func protocols(_ any: Any?) throws -> [EvalProtocol]? {
            guard let a = any as? [String] else { return nil }
            return try a.map { s in guard let p = EvalProtocol(s) else { throw bad("unknown protocol \(s); known: \(EvalProtocol.names)") }; return p }
        }
        guard let name = root["name"] as? String else { throw bad("needs \"name\"") }
        guard let cks = root["checkpoints"] as? [[String: Any]], !cks.isEmpty else { throw bad("needs a \"checkpoints\" list") }
        guard let dss = root["datasets"] as? [[String: Any]], !dss.isEmpty else { throw bad("needs a \"datasets\" list") }
        let global = try protocols(root["protocols"]) ?? [.box, .point]
        let limit = (root["limit"] as? NSNumber)?.intValue
        if let l = limit, l < 0 { throw bad("limit must be ≥ 0, not \(l)") }
        let precisions = try ((root["precisions"] as? [String]) ?? ["fp32"]).map { s -> Precision in
            guard let p = Precision(rawValue: s) else { throw bad("unknown precision \(s); known: fp32, bf16") }
            return p
        }
        let checkpoints = try cks.flatMap { c -> [Checkpoint] in
            guard let n = c["name"] as? String, let p = c["path"] as? String else { throw bad("a checkpoint needs name and path") }
            var own = precisions
            if let s = c["precision"] as? String {
                guard let one = Precision(rawValue: s) else { throw bad("unknown precision \(s) of checkpoint \(n); known: fp32, bf16") }
                own = [one]
            }
            return own.map { Checkpoint(name: $0 == .fp32 ? n : "\(n)@\($0)", path: p, precision: $0, base: n) }
        }
        let datasets = try dss.map { d -> DatasetEntry in
            guard let n = d["name"] as? String, let p = d["path"] as? String else { throw bad("a data set needs name and path") }
            let inst = (d["instances"] as? String) ?? "binary"
            guard let mode = InstanceMode(rawValue: inst) else { throw bad("instances must be binary, merged or separate") }
            let ignore = try (d["ignore_value"] as? NSNumber).map { v -> UInt8 in
                guard let u = UInt8(exactly: v.doubleValue) else { throw bad("ignore_value of \(n) must be an integer 0…255, not \(v)") }
                return u
            }
            return DatasetEntry(name: n, path: p, ignoreValue: ignore,
                                instances: mode, rotateMismatched: (d["rotate_mismatched"] as? Bool) ?? false,
                                protocols: try protocols(d["protocols"]) ?? global)
        }
        var cfg = AblationConfig(name: name, checkpoints: checkpoints, datasets: datasets,
                              seed: (root["seed"] as? NSNumber)?.uint64Value ?? 0, limit: limit,
                              csvDir: (root["csv_dir"] as? String) ?? "notebooks-data/eval/\(name)",
                              report: (root["report"] as? String) ?? "reports/eval/\(name)/README.md",
                              referenceDir: root["reference_dir"] as? String, modelSize: (root["model_size"] as? Bool) ?? true,
                              notes: (root["notes"] as? [String]) ?? [])
        cfg.source = path
        if let r = root["ran_on"] as? [String: Any] { cfg.machine = r["machine"] as? String; cfg.runDate = r["date"] as? String }
        for a in (root["anchors"] as? [[String: Any]]) ?? [] {
            guard let ck = a["checkpoint"] as? String, let ds = a["dataset"] as? String, let p = a["protocol"] as? String,
                  let v = (a["value"] as? NSNumber)?.doubleValue else { throw bad("an anchor needs checkpoint, dataset, protocol and value") }
            cfg.anchors.append((ck, ds, p, (a["column"] as? String) ?? "iou", v, (a["source"] as? String) ?? ""))
        }
        return cfg
    }

    public func csvPath(checkpoint: String, dataset: String, protocol p: EvalProtocol, root: String? = nil) -> String {
        ((root ?? csvDir) as NSString).appendingPathComponent("\(checkpoint)/\(dataset)_\(p.fileName).csv")
    }

    /// Per-object mask agreement of a reduced-precision run with its float32 twin.
    public func agreementPath(checkpoint: String, dataset: String, protocol p: EvalProtocol) -> String {
        (csvDir as NSString).appendingPathComponent("\(checkpoint)/\(dataset)_\(p.fileName)_agreement.csv")
    }

    /// The float32 checkpoint a reduced-precision one is compared with (same file), if the config evaluates it.
    public func fp32Twin(of ck: Checkpoint) -> Checkpoint? {
        ck.precision == .fp32 ? nil : checkpoints.first { $0.precision == .fp32 && $0.path == ck.path }
    }
}

/// Agreement of one column with the reference evaluation.
public struct ReferenceAgreement: Sendable {
    public var checkpoint: String, dataset: String, protocolName: String, column: String
    public var objects: Int
    /// Fraction of objects within 1e-3 (IoU columns) or identical (NoC columns).
    public var fraction: Double
    public var meanOurs: Double, meanReference: Double
    public var worst: Double
    public var passed: Bool
}

public enum Ablation {
    /// Runs what is missing, then writes the summary CSV, the model-size CSV, the plots and the report.
    /// With `reportOnly`, nothing is evaluated: CSVs that are missing show as "—" (and journals are left alone).
    public static func run(config c: AblationConfig, reportOnly: Bool = false, log: (String) -> Void,
                           progress: @escaping (EvalProgress) -> Void = { _ in }) throws -> String {
        var results: [String: [String: [ProtocolResult]]] = [:]    // checkpoint → dataset → results
        for ck in c.checkpoints {
            var predictor: (any PromptPredictor)?
            let twin = c.fp32Twin(of: ck)
            for d in c.datasets {
                let paths = d.protocols.map { c.csvPath(checkpoint: ck.name, dataset: d.name, protocol: $0) }
                let missing = zip(d.protocols, paths).filter { p, path in
                    !FileManager.default.fileExists(atPath: path)
                        || (twin != nil && !FileManager.default.fileExists(atPath: c.agreementPath(checkpoint: ck.name, dataset: d.name, protocol: p)))
                }
                if !missing.isEmpty && reportOnly {
                    log("\(ck.name) × \(d.name): not evaluated yet: \(missing.map { $0.0.description }.joined(separator: ", "))")
                } else if !missing.isEmpty {
                    if predictor == nil {
                        log("loading \(ck.path)" + (ck.precision == .fp32 ? "" : " (\(ck.precision))"))
                        if ck.precision == .bf16 { try Precision.checkBF16() }
                        let subject = try ModelLoader.load(checkpoint: ck.path, precision: ck.precision).makePredictor()
                        if twin != nil {
                            predictor = AgreementPredictor(subject: subject, baseline: try ModelLoader.load(checkpoint: ck.path).makePredictor())
                        } else {
                            predictor = subject
                        }
                    }
                    log("\(ck.name) × \(d.name): \(missing.map { $0.0.description }.joined(separator: ", "))")
                    let ds = try Dataset.open(path: d.path, ignoreValue: d.ignoreValue, instances: d.instances,
                                              rotateMismatched: d.rotateMismatched)
                    let desc = "sam ablate \(c.name) checkpoint=\(ck.name) dataset=\(d.name) ignore=\(d.ignoreValue.map(String.init) ?? "none") instances=\(d.instances.rawValue) rotate=\(d.rotateMismatched)"
                    if let pair = predictor as? AgreementPredictor {
                        // the agreement of each protocol's calls on each object, taken after it scored the object; the
                        // protocols are evaluated afresh (a resumed journal would leave objects without agreement)
                        for (_, path) in missing { try? FileManager.default.removeItem(atPath: path) }
                        var perObject = [[(id: String, values: [Double])]](repeating: [], count: missing.count)
                        _ = pair.takeLog()
                        _ = try Evaluation.run(predictor: pair, dataset: ds,
                                               options: EvalOptions(protocols: missing.map(\.0), outputs: missing.map(\.1), seed: c.seed,
                                                                    limit: c.limit, runDescription: desc),
                                               progress: progress, afterEach: { i, id in perObject[i].append((id, pair.takeLog())) })
                        for (i, (p, _)) in missing.enumerated() {
                            try writeAgreement(perObject[i], to: c.agreementPath(checkpoint: ck.name, dataset: d.name, protocol: p))
                        }
                    } else {
                        _ = try Evaluation.run(predictor: predictor!, dataset: ds,
                                               options: EvalOptions(protocols: missing.map(\.0), outputs: missing.map(\.1), seed: c.seed,
                                                                    limit: c.limit, runDescription: desc), progress: progress)
                    }
                }
                results[ck.name, default: [:]][d.name] = try zip(d.protocols, paths).compactMap { p, path in
                    FileManager.default.fileExists(atPath: path) ? try ProtocolResult.read(path: path, evalProtocol: p) : nil
                }
            }
        }
        var sizes: [ModelSizeRow] = []
        let sizesPath = (c.csvDir as NSString).appendingPathComponent("model_size.csv")
        if c.modelSize {
            for ck in c.checkpoints {
                log("model size: \(ck.name)")
                sizes.append(try ModelSize.measure(name: ck.name, checkpoint: ck.path, precision: ck.precision))
            }
            try writeSizes(sizes, to: sizesPath)
        } else if let earlier = readSizes(sizesPath) {
            log("model sizes from \(sizesPath)")
            sizes = earlier
        }
        let agreement = c.referenceDir.map { compareWithReference(c, results: results, referenceDir: $0) } ?? []
        try writeSummary(c, results: results, to: (c.csvDir as NSString).appendingPathComponent("summary.csv"))
        let reportDir = (c.report as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: reportDir, withIntermediateDirectories: true)
        var pictures: [String: String] = [:]
        for d in c.datasets {
            let single = d.protocols.filter { if case .clicks = $0 { return false }; return true }
            var cats: [String] = []
            for p in single { cats.append(p.description); if p == .point { cats.append("point oracle") } }
            let series = c.checkpoints.map { ck in
                PlotSeries(name: ck.name, values: single.flatMap { p -> [Double] in
                    guard let r = results[ck.name]?[d.name]?.first(where: { $0.evalProtocol == p }) else { return [.nan] }
                    return p == .point ? [r.mean("iou"), r.mean("iou_oracle")] : [r.mean("iou")]
                })
            }
            if !single.isEmpty {
                let f = "miou_\(d.name)"
                try Plot.write(Plot.bars(title: "\(d.name): mIoU per prompt", categories: cats, series: series,
                                         xTitle: "prompt", yTitle: "mIoU"),
                               svg: (reportDir as NSString).appendingPathComponent(f + ".svg"), csv: figureCSV(c, f))
                pictures["bars \(d.name)"] = f + ".svg"
            }
            for p in d.protocols { if case .clicks(let n) = p {
                let ls = c.checkpoints.map { ck in
                    PlotSeries(name: ck.name, values: (1...n).map { k in results[ck.name]?[d.name]?.first { $0.evalProtocol == p }?.mean("iou_\(k)") ?? .nan })
                }
                let f = "clicks_\(d.name)"
                try Plot.write(Plot.lines(title: "\(d.name): mIoU after k clicks", xTitle: "number of clicks k", series: ls, yTitle: "mIoU"),
                               svg: (reportDir as NSString).appendingPathComponent(f + ".svg"), csv: figureCSV(c, f))
                pictures["clicks \(d.name)"] = f + ".svg"
            } }
        }
        if let f = try precisionFigure(c, results: results, reportDir: reportDir) { pictures["precision"] = f }
        var md = markdown(c, results: results, sizes: sizes, agreement: agreement, pictures: pictures)
        md += precisionSection(c, results: results, pictures: pictures)
        if let old = try? String(contentsOfFile: c.report, encoding: .utf8), let r = old.range(of: keepMarker) {
            md += String(old[r.lowerBound...])
        }
        try AtomicFile.write(md, to: c.report)
        return c.report
    }

    /// The line from which a report's text is written by hand; `run` keeps it and everything after it.
    public static let keepMarker = "<!-- Written by hand below this line; sam ablate keeps it. -->"

    /// Where the values of figure `name` go: `csv_dir/figures/name.csv`.
    public static func figureCSV(_ c: AblationConfig, _ name: String) -> String {
        ((c.csvDir as NSString).appendingPathComponent("figures") as NSString).appendingPathComponent(name + ".csv")
    }

    static func compareWithReference(_ c: AblationConfig, results: [String: [String: [ProtocolResult]]], referenceDir: String) -> [ReferenceAgreement] {
        var out: [ReferenceAgreement] = []
        for ck in c.checkpoints { for d in c.datasets { for r in results[ck.name]?[d.name] ?? [] {
            let refPath = c.csvPath(checkpoint: ck.name, dataset: d.name, protocol: r.evalProtocol, root: referenceDir)
            guard let ref = try? ProtocolResult.read(path: refPath, evalProtocol: r.evalProtocol) else { continue }
            let refIndex = Dictionary(zip(ref.ids, ref.rows.indices), uniquingKeysWith: { a, _ in a })
            for (ci, col) in r.columns.enumerated() {
                guard let rc = ref.columns.firstIndex(of: col) else { continue }
                var ours: [Double] = [], theirs: [Double] = []
                for (i, id) in r.ids.enumerated() { if let j = refIndex[id] { ours.append(r.rows[i][ci]); theirs.append(ref.rows[j][rc]) } }
                guard !ours.isEmpty else { continue }
                let noc = col.hasPrefix("noc")
                let diffs = zip(ours, theirs).map { abs($0 - $1) }
                let good = diffs.filter { noc ? $0 == 0 : $0 <= 1e-3 }.count
                let frac = Double(good) / Double(ours.count)
                let mo = mean(ours), mr = mean(theirs)
                let complete = ours.count == r.ids.count && ours.count == ref.ids.count
                let pass = complete && (noc ? frac >= 0.98 : (frac >= 0.99 && abs(mo - mr) <= (col.hasPrefix("iou_") ? 0.005 : 0.002)))
                out.append(ReferenceAgreement(checkpoint: ck.name, dataset: d.name, protocolName: r.evalProtocol.description, column: col,
                                              objects: ours.count, fraction: frac, meanOurs: mo, meanReference: mr,
                                              worst: diffs.max() ?? 0, passed: pass))
            }
        } } }
        return out
    }

    static func writeSummary(_ c: AblationConfig, results: [String: [String: [ProtocolResult]]], to path: String) throws {
        var s = "checkpoint,dataset,protocol,metric,objects,value\n"
        for ck in c.checkpoints { for d in c.datasets { for r in results[ck.name]?[d.name] ?? [] {
            for col in r.columns {
                let metric = col == "iou" ? "miou" : (col == "iou_oracle" ? "miou_oracle" : (col.hasPrefix("iou_") ? "miou@" + col.dropFirst(4) : col))
                s += "\(csvField(ck.name)),\(csvField(d.name)),\(r.evalProtocol),\(metric),\(r.ids.count),\(String(format: "%.6f", r.mean(col)))\n"
            }
        } } }
        try AtomicFile.write(s, to: path)
    }

    /// The rows of an earlier `model_size.csv`, if it exists and parses.
    static func readSizes(_ path: String) -> [ModelSizeRow]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var rows: [ModelSizeRow] = []
        for line in text.split(separator: "\n").dropFirst() {
            let f = csvSplit(String(line))
            guard f.count == 12, let dim = Int(f[2]), let depth = Int(f[3]), let params = Int(f[6]),
                  let ga = Double(f[7]), let gm = Double(f[8]), let es = Double(f[9]), let ds = Double(f[10]), let pb = Int(f[11]) else { return nil }
            rows.append(ModelSizeRow(name: f[0], family: f[1], embedDim: dim, depth: depth, heads: f[4],
                                     globalBlocks: f[5].split(separator: ",").compactMap { Int($0) }, parameters: params,
                                     encoderGFLOP: ga, measuredEncoderGFLOP: gm, encoderSeconds: es, decoderSeconds: ds, peakBytes: pb))
        }
        return rows
    }

    static func writeSizes(_ rows: [ModelSizeRow], to path: String) throws {
        var s = "checkpoint,family,embed_dim,depth,heads,global_blocks,parameters,encoder_gflop_analytic,encoder_gflop_gemm,encoder_seconds,decoder_seconds,peak_bytes\n"
        for r in rows {
            s += "\(csvField(r.name)),\(csvField(r.family)),\(r.embedDim),\(r.depth),\(csvField(r.heads)),"
                + "\"\(r.globalBlocks.map(String.init).joined(separator: ","))\",\(r.parameters),"
                + String(format: "%.3f,%.3f,%.4f,%.4f,", r.encoderGFLOP, r.measuredEncoderGFLOP, r.encoderSeconds, r.decoderSeconds) + "\(r.peakBytes)\n"
        }
        try AtomicFile.write(s, to: path)
    }

    static func markdown(_ c: AblationConfig, results: [String: [String: [ProtocolResult]]], sizes: [ModelSizeRow],
                         agreement: [ReferenceAgreement], pictures: [String: String]) -> String {
        var md = "# Evaluation: \(c.name)\n\n"
        md += "Regenerate: `sam ablate \(c.source.isEmpty ? "CONFIG.json" : c.source)` (with `--report-only --no-model-size` it rebuilds "
        md += "this page and its figures from the CSVs without evaluating).\n"
        if c.machine != nil || c.runDate != nil {
            md += "Evaluated on: " + [c.machine, c.runDate].compactMap { $0 }.joined(separator: ", ") + ".\n"
        }
        md += "\n"
        md += "Written by `sam ablate` from its config; per-object rows in `\(c.csvDir)/<checkpoint>/<dataset>_<protocol>.csv`, "
        md += "means in `\(c.csvDir)/summary.csv`.\n\n"
        for n in c.notes { md += "- \(n)\n" }
        if !c.notes.isEmpty { md += "\n" }
        md += "Checkpoints: " + c.checkpoints.map { "`\($0.name)` (`\(($0.path as NSString).lastPathComponent)`)" }.joined(separator: ", ") + ". "
        md += "Seed \(c.seed)" + (c.limit.map { ", first \($0) objects of each set" } ?? "") + ".\n\n"
        md += "Data sets: " + c.datasets.map { d in
            var s = "\(d.name) (`\(d.path)`, masks \(d.instances.rawValue)"
            if let v = d.ignoreValue { s += ", \(v) ignored" }
            if d.rotateMismatched { s += ", transposed images turned 90° counter-clockwise" }
            return s + ")"
        }.joined(separator: "; ") + ".\n\n"
        md += "Protocols (`sam eval --help`): box = tight inclusive box, one mask; point = farthest from the boundary, top-1 by predicted IoU "
        md += "(oracle = best of three); center = centre of mass (farthest point if outside); random = seeded uniform object pixel; "
        md += "box+point = both, one mask; jbox = box sides moved by up to 10 % (seeded); clicks:N = RITM's click simulation "
        md += "(NoC capped at N).\n\n"
        for d in c.datasets {
            md += "## \(d.name)\n\n"
            let single = d.protocols.filter { if case .clicks = $0 { return false }; return true }
            if !single.isEmpty {
                md += "| protocol | " + c.checkpoints.map(\.name).joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: c.checkpoints.count) + "\n"
                for p in single {
                    md += "| \(p) | " + c.checkpoints.map { ck -> String in
                        guard let r = results[ck.name]?[d.name]?.first(where: { $0.evalProtocol == p }) else { return "—" }
                        return String(format: "%.4f", r.mean("iou")) + (p == .point ? String(format: " (oracle %.4f)", r.mean("iou_oracle")) : "")
                            + " n=\(r.ids.count)"
                    }.joined(separator: " | ") + " |\n"
                }
                md += "\n"
                if let f = pictures["bars \(d.name)"] {
                    md += "![mIoU per prompt on \(d.name)](\(f))\n\nValues: `\(figureCSV(c, "miou_\(d.name)"))`.\n\n"
                }
            }
            for p in d.protocols { if case .clicks(let n) = p {
                md += "Click simulation (\(p)): mIoU after k clicks, mean NoC@85 / NoC@90 (capped at \(n)).\n\n"
                md += "| checkpoint | " + (1...n).map { "k=\($0)" }.joined(separator: " | ") + " | NoC@85 | NoC@90 |\n|---|"
                md += String(repeating: "---|", count: n + 2) + "\n"
                for ck in c.checkpoints {
                    guard let r = results[ck.name]?[d.name]?.first(where: { $0.evalProtocol == p }) else { continue }
                    md += "| \(ck.name) | " + (1...n).map { String(format: "%.4f", r.mean("iou_\($0)")) }.joined(separator: " | ")
                    md += String(format: " | %.2f | %.2f |\n", r.mean("noc85"), r.mean("noc90"))
                }
                md += "\n"
                if let f = pictures["clicks \(d.name)"] {
                    md += "![mIoU after k clicks on \(d.name)](\(f))\n\nValues: `\(figureCSV(c, "clicks_\(d.name)"))`.\n\n"
                }
            } }
        }
        if !sizes.isEmpty {
            md += "## Model size\n\n"
            md += "Analytic encoder GFLOP (`encoderFLOPs`, multiply-add = 2) beside the FLOPs the encoder issued to BLAS; latency = median "
            md += "of 2 encoder passes after a warm-up on this machine (shared CPU: indicative only); peak = resident memory high-water "
            md += "mark while loading and running that checkpoint.\n\n"
            md += "| checkpoint | family | encoder (dim/depth/heads) | parameters | encoder GFLOP (analytic / BLAS) | encoder s | decoder s | peak MB |"
            md += " " + c.datasets.map { "\($0.name) box / point" }.joined(separator: " | ") + " |\n|---|---|---|---|---|---|---|---|"
            md += String(repeating: "---|", count: c.datasets.count) + "\n"
            for s in sizes {
                md += "| \(s.name) | \(s.family) | \(s.embedDim)/\(s.depth)/\(s.heads) | "
                md += String(format: "%.2f M | %.1f / %.1f | %.2f | %.3f | %.0f |", Double(s.parameters) / 1e6, s.encoderGFLOP,
                             s.measuredEncoderGFLOP, s.encoderSeconds, s.decoderSeconds, Double(s.peakBytes) / 1e6)
                md += " " + c.datasets.map { d -> String in
                    let rs = results[s.name]?[d.name] ?? []
                    let b = rs.first { $0.evalProtocol == .box }?.mean("iou"), p = rs.first { $0.evalProtocol == .point }?.mean("iou")
                    return [b, p].map { $0.map { String(format: "%.3f", $0) } ?? "—" }.joined(separator: " / ")
                }.joined(separator: " | ") + " |\n"
            }
            md += "\n"
            md += "Sizes of the presets (formula only; run `sam ablate` with their checkpoints for latency and scores): "
            let presets = SAMConfig.presets.map { ($0.key, $0.value.parameterCount, encoderFLOPs($0.value)) }
                + SAM2Config.presets.map { ($0.key, $0.value.parameterCount, encoderFLOPs($0.value)) }
            md += presets.sorted { $0.1 < $1.1 }.map { name, params, flops in
                String(format: "%@ %.1f M parameters, %.0f encoder GFLOP", name, Double(params) / 1e6, Double(flops) / 1e9)
            }.joined(separator: "; ") + ".\n\n"
        }
        if !c.anchors.isEmpty {
            md += "## Published scores\n\n| checkpoint | data set | protocol | column | published | this run | objects | difference | source |\n|---|---|---|---|---|---|---|---|---|\n"
            for a in c.anchors {
                let r = results[a.checkpoint]?[a.dataset]?.first { $0.evalProtocol.description == a.protocolName }
                let v = r.map { $0.mean(a.column) }
                md += "| \(a.checkpoint) | \(a.dataset) | \(a.protocolName) | \(a.column) | " + String(format: "%.3f", a.value) + " | "
                md += (v.map { String(format: "%.4f | %d | %+.4f", $0, r!.ids.count, $0 - a.value) } ?? "— | — | —") + " | \(a.source) |\n"
            }
            md += "\n"
        }
        if !agreement.isEmpty {
            md += "## Agreement with Meta's SamPredictor\n\n"
            md += "Every object compared with `experiments/reference/eval_reference.py` (Meta's `SamPredictor`, float32, CPU; RITM's clicker "
            md += "with cv2 for clicks). Pass: ≥ 99 % of objects within 1e-3 and means within 0.002 (0.005 for mIoU@k); NoC ≥ 98 % identical.\n\n"
            md += "| checkpoint | data set | protocol | column | objects | within 1e-3 / identical | mean (Swift) | mean (reference) | worst | |\n"
            md += "|---|---|---|---|---|---|---|---|---|---|\n"
            for a in agreement {
                md += "| \(a.checkpoint) | \(a.dataset) | \(a.protocolName) | \(a.column) | \(a.objects) | "
                md += String(format: "%.1f %% | %.4f | %.4f | %.1e | ", 100 * a.fraction, a.meanOurs, a.meanReference, a.worst) + (a.passed ? "pass" : "**fail**") + " |\n"
            }
            md += "\n"
        }
        return md
    }
}
