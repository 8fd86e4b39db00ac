// The precision axis of `sam ablate`: a bf16 run beside its float32 twin (same checkpoint), object by object.
import Foundation
import SAMIO
import SAMTensor

/// One data set × protocol of a reduced-precision run against its float32 twin.
public struct PrecisionComparison: Sendable {
    public var checkpoint: String, precision: Precision, dataset: String, protocolName: String
    /// Objects scored by both runs.
    public var objects: Int
    /// The compared column (`iou`, or `iou_N` of a click run) and its means.
    public var column: String
    public var meanFP32: Double, meanOther: Double
    /// Fraction of objects whose IoU moved by at most 0.01.
    public var within001: Double
    /// Median and minimum over objects of the mean per-prompt fraction of mask pixels equal to the fp32 masks'.
    public var medianAgreement: Double?, minAgreement: Double?
    /// NoC@85 / NoC@90 means of both runs (click protocols).
    public var noc: (fp32: (Double, Double), other: (Double, Double))?

    /// Whether the targets apply: box and point prompts (a click run follows each model's own errors, so its later
    /// prompts differ between the two runs; it is reported, with no target).
    public var hasTarget: Bool { protocolName == "box" || protocolName == "point" }

    /// The targets: mIoU within 0.005, ≥ 90 % of objects within 0.01 IoU, median agreement ≥ 99 % of pixels.
    public var passed: Bool {
        abs(meanOther - meanFP32) <= 0.005 && within001 >= 0.9 && (medianAgreement ?? 0) >= 0.99
    }
}

extension Ablation {
    static func writeAgreement(_ rows: [(id: String, values: [Double])], to path: String) throws {
        var s = "id,prompts,agreement_mean,agreement_min\n"
        for r in rows where !r.values.isEmpty {
            s += "\(csvField(r.id)),\(r.values.count)," + String(format: "%.8f,%.8f", mean(r.values), r.values.min()!) + "\n"
        }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.write(s, to: path)
    }

    /// id → mean agreement of an agreement CSV.
    static func readAgreement(_ path: String) -> [String: Double]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let f = csvSplit(String(line))
            if f.count == 4, let v = Double(f[2]) { out[f[0]] = v }
        }
        return out
    }

    /// Every reduced-precision checkpoint against its float32 twin, per data set and protocol.
    public static func precisionComparisons(_ c: AblationConfig, results: [String: [String: [ProtocolResult]]]) -> [PrecisionComparison] {
        var out: [PrecisionComparison] = []
        for ck in c.checkpoints {
            guard let twin = c.fp32Twin(of: ck) else { continue }
            for d in c.datasets {
                for r in results[ck.name]?[d.name] ?? [] {
                    guard let base = results[twin.name]?[d.name]?.first(where: { $0.evalProtocol == r.evalProtocol }) else { continue }
                    var column = "iou"
                    var clicks = false
                    if case .clicks(let n) = r.evalProtocol { column = "iou_\(n)"; clicks = true }
                    let baseIndex = Dictionary(zip(base.ids, base.column(column)), uniquingKeysWith: { a, _ in a })
                    var ours: [Double] = [], theirs: [Double] = []
                    for (id, v) in zip(r.ids, r.column(column)) { if let b = baseIndex[id] { ours.append(v); theirs.append(b) } }
                    guard !ours.isEmpty else { continue }
                    let within = Double(zip(ours, theirs).filter { abs($0 - $1) <= 0.01 }.count) / Double(ours.count)
                    let agree = readAgreement(c.agreementPath(checkpoint: ck.name, dataset: d.name, protocol: r.evalProtocol))
                    let values = agree.map { a in r.ids.compactMap { a[$0] }.sorted() } ?? []
                    var row = PrecisionComparison(checkpoint: twin.name, precision: ck.precision, dataset: d.name,
                                                  protocolName: r.evalProtocol.description, objects: ours.count, column: column,
                                                  meanFP32: mean(theirs), meanOther: mean(ours), within001: within,
                                                  medianAgreement: values.isEmpty ? nil : median(values), minAgreement: values.first)
                    if clicks {
                        row.noc = ((base.mean("noc85"), base.mean("noc90")), (r.mean("noc85"), r.mean("noc90")))
                    }
                    out.append(row)
                }
            }
        }
        return out
    }

    static func median(_ sorted: [Double]) -> Double {
        sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// mIoU of every single-prompt protocol in fp32 and in each reduced precision, side by side (`precision.svg`).
    static func precisionFigure(_ c: AblationConfig, results: [String: [String: [ProtocolResult]]], reportDir: String) throws -> String? {
        let pairs = c.checkpoints.compactMap { ck in c.fp32Twin(of: ck).map { ($0, ck) } }
        guard !pairs.isEmpty else { return nil }
        var cats: [(String, String, EvalProtocol)] = []
        for d in c.datasets { for p in d.protocols { if case .clicks = p { continue }; cats.append(("\(d.name) \(p)", d.name, p)) } }
        var series: [PlotSeries] = []
        for (base, other) in pairs {
            for ck in [base, other] {
                series.append(PlotSeries(name: ck.precision == .fp32 ? "\(ck.name) fp32" : ck.name, values: cats.map { _, d, p in
                    results[ck.name]?[d]?.first { $0.evalProtocol == p }?.mean("iou") ?? .nan
                }))
            }
        }
        let f = "precision"
        try Plot.write(Plot.bars(title: "mIoU in fp32 and bf16, same checkpoints and prompts", categories: cats.map(\.0), series: series,
                                 xTitle: "data set and prompt", yTitle: "mIoU", width: max(720, 70 * Double(cats.count))),
                       svg: (reportDir as NSString).appendingPathComponent(f + ".svg"), csv: figureCSV(c, f))
        return f + ".svg"
    }

    static func precisionSection(_ c: AblationConfig, results: [String: [String: [ProtocolResult]]], pictures: [String: String]) -> String {
        let rows = precisionComparisons(c, results: results)
        guard !rows.isEmpty else { return "" }
        var md = "## Precision: bf16 against fp32\n\n"
        md += "Each checkpoint evaluated twice on the same objects and prompts: float32 products (OpenBLAS) and bf16 products "
        md += "(`--precision bf16`, oneDNN: bf16 operands, float32 accumulation). The bf16 run also ran the float32 model on each of "
        md += "its prompts; *mask agreement* is the fraction of mask pixels (all masks returned) equal to the float32 masks', "
        md += "averaged over an object's prompts; its median and minimum over objects are shown. Targets: mIoU within 0.005, "
        md += "≥ 90 % of objects within 0.01 IoU, median mask agreement ≥ 99 %, for box and point prompts. Click runs compare the IoU "
        md += "after the last click and carry no target: each run places its clicks where its own masks are wrong, so after the "
        md += "first click the two runs answer different prompts (the agreement column still compares both models on the bf16 "
        md += "run's prompts).\n\n"
        md += "| checkpoint | data set | protocol | objects | mIoU fp32 | mIoU bf16 | Δ | within 0.01 IoU | mask agreement median / min | NoC@85 fp32 → bf16 | NoC@90 fp32 → bf16 | |\n"
        md += "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            md += "| \(r.checkpoint) | \(r.dataset) | \(r.protocolName) | \(r.objects) | "
            md += String(format: "%.4f | %.4f | %+.4f | %.1f %% | ", r.meanFP32, r.meanOther, r.meanOther - r.meanFP32, 100 * r.within001)
            md += (r.medianAgreement.map { String(format: "%.3f %% / %.3f %%", 100 * $0, 100 * (r.minAgreement ?? .nan)) } ?? "—") + " | "
            if let n = r.noc {
                md += String(format: "%.2f → %.2f | %.2f → %.2f", n.fp32.0, n.other.0, n.fp32.1, n.other.1)
            } else {
                md += "— | —"
            }
            md += " | " + (!r.hasTarget ? "(no target)" : r.passed ? "pass" : "**short**") + " |\n"
        }
        md += "\n"
        let targeted = rows.filter(\.hasTarget)
        md += "\(targeted.filter(\.passed).count) of \(targeted.count) box and point rows meet all three targets. Per-object IoUs: `\(c.csvDir)/<checkpoint>@bf16/`; agreement: "
        md += "`\(c.csvDir)/<checkpoint>@bf16/<dataset>_<protocol>_agreement.csv`.\n\n"
        if let f = pictures["precision"] {
            md += "![mIoU in fp32 and bf16](\(f))\n\nValues: `\(figureCSV(c, "precision"))`.\n\n"
        }
        return md
    }
}
