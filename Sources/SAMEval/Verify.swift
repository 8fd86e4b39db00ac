// `sam verify`: run the Swift model on a reference dump's inputs and compare every module output by name.
// Dump layout: experiments/reference/README.md (one float32 dataset per module output, named by Meta's module path).
import Foundation
import SAMIO
import SAMInference
import SAMModel
import SAMTensor

/// The outcome of a verification: rows in module order, names skipped, and the verdict.
public struct VerifyReport: Sendable {
    public var rows: [Comparison] = []
    /// Datasets of the dump that match no module of the Swift model.
    public var skipped: [String] = []
    public var strict = false

    public init(strict: Bool = false) { self.strict = strict }

    public var passed: Bool { rows.allSatisfy(\.passed) && (!strict || skipped.isEmpty) }
    public var worstRelL2: Double { rows.map(\.relL2).filter { !$0.isNaN }.max() ?? 0 }

    /// A Markdown table (name, shape, max-abs, rel-L2, cosine, worst index, tolerance, pass/fail).
    public func markdown(title: String) -> String {
        var s = "# \(title)\n\n| module | shape | max-abs | rel-L2 | cosine | worst at | tolerance | result |\n|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            s += "| `\(r.name)` | \(r.shape.map(String.init).joined(separator: "×")) | \(fmt(r.maxAbs)) | \(fmt(r.relL2)) | "
            s += "\(fmt(r.cosine, digits: 9)) | \(r.worstPosition) | \(fmt(r.tolerance)) | \(r.passed ? "pass" : "**FAIL**")\(r.note.isEmpty ? "" : " (\(r.note))") |\n"
        }
        s += "\n\(rows.filter(\.passed).count) of \(rows.count) passed; worst rel-L2 \(fmt(worstRelL2)).\n"
        if !skipped.isEmpty { s += "\nSkipped (no Swift module of that name\(strict ? ", an error with --strict" : "")): " + skipped.map { "`\($0)`" }.joined(separator: ", ") + "\n" }
        return s
    }

    /// CSV with the same columns.
    public func csv() -> String {
        var s = "module,shape,max_abs,rel_l2,cosine,worst_index,tolerance,passed,note\n"
        for r in rows {
            s += "\(r.name),\(r.shape.map(String.init).joined(separator: "x")),\(r.maxAbs),\(r.relL2),\(r.cosine),"
            s += "\(r.worstPosition.map(String.init).joined(separator: ":")),\(r.tolerance),\(r.passed ? 1 : 0),\(r.note)\n"
        }
        return s
    }

    /// A fixed-width table for the terminal.
    public func table() -> String {
        let w = max(24, rows.map(\.name.count).max() ?? 0)
        var s = "module".padding(toLength: w, withPad: " ", startingAt: 0) + "  shape                max-abs     rel-L2      cosine        result\n"
        for r in rows {
            let shape = r.shape.map(String.init).joined(separator: "×")
            s += r.name.padding(toLength: w, withPad: " ", startingAt: 0) + "  "
            s += shape.padding(toLength: 20, withPad: " ", startingAt: 0) + " "
            s += fmt(r.maxAbs).padding(toLength: 11, withPad: " ", startingAt: 0) + " "
            s += fmt(r.relL2).padding(toLength: 11, withPad: " ", startingAt: 0) + " "
            s += fmt(r.cosine, digits: 9).padding(toLength: 13, withPad: " ", startingAt: 0) + " "
            s += (r.passed ? "pass" : "FAIL") + (r.note.isEmpty ? "" : " (\(r.note))") + "\n"
        }
        s += "\(rows.filter(\.passed).count)/\(rows.count) passed, worst rel-L2 \(fmt(worstRelL2))"
        if !skipped.isEmpty { s += ", \(skipped.count) skipped: \(skipped.joined(separator: ", "))" }
        return s + "\n"
    }
}

func fmt(_ x: Double, digits: Int = 3) -> String {
    if x.isNaN { return "—" }
    if digits > 3 { return String(format: "%.\(digits)f", x) }
    return String(format: "%.\(digits)e", x)
}

/// The inputs and reference outputs a dump holds.
public struct DumpCase {
    public var image: RGBImage
    /// The image's file name (the dump's root attribute `image`), or "".
    public var imageName: String
    public var inputImage: Tensor?
    public var prompt: Prompt
    public var maskInput: Tensor?
    public var multimask: Bool
    public var masks: (shape: [Int], values: [UInt8])?
    public var iou: Tensor?
    public var lowRes: Tensor?
    /// HQ-SAM: the run's `hq_token_only` (root attribute; false when absent).
    public var hqTokenOnly: Bool

    /// Reads `inputs/…` and `outputs/…` of a dump.
    public init(_ f: HDF5File) throws {
        let img = try f.readUInt8("inputs/image")
        guard img.shape.count == 3, img.shape[2] == 3 else {
            throw IOError.corrupt(f.path, "inputs/image has shape \(img.shape), expected H×W×3")
        }
        image = RGBImage(width: img.shape[1], height: img.shape[0], pixels: img.values)
        imageName = f.stringAttribute("image") ?? ""
        inputImage = f.contains("inputs/input_image") ? try f.readTensor("inputs/input_image") : nil
        (prompt, maskInput, multimask) = try Self.readPrompt(f, group: "inputs")
        masks = f.contains("outputs/masks") ? try f.readUInt8("outputs/masks") : nil
        iou = f.contains("outputs/iou_predictions") ? try f.readTensor("outputs/iou_predictions") : nil
        lowRes = f.contains("outputs/low_res_logits") ? try f.readTensor("outputs/low_res_logits") : nil
        hqTokenOnly = (f.intAttribute("hq_token_only") ?? 0) != 0
    }

    /// The prompt a dump group holds: `GROUP/point_coords` N×2 with `GROUP/point_labels` N, `GROUP/box` 4,
    /// `GROUP/mask_input`, and the `multimask_output` attribute (on the group, else the root; default 1).
    public static func readPrompt(_ f: HDF5File, group g: String) throws -> (prompt: Prompt, maskInput: Tensor?, multimask: Bool) {
        var p = Prompt()
        if f.contains("\(g)/point_coords") {
            let pc = try f.readTensor("\(g)/point_coords")
            let labels = try f.readInt64("\(g)/point_labels")
            guard pc.shape.count == 2, pc.shape[1] == 2, labels.values.count == pc.shape[0] else {
                throw IOError.corrupt(f.path, "\(g)/point_coords \(pc.shape) and \(g)/point_labels \(labels.shape) do not match")
            }
            p.points = (0..<pc.shape[0]).map { (pc.data[2 * $0], pc.data[2 * $0 + 1]) }
            p.labels = labels.values.map { Int($0) }
        }
        if f.contains("\(g)/box") {
            let b = try f.readTensor("\(g)/box")
            guard b.count == 4 else { throw IOError.corrupt(f.path, "\(g)/box has \(b.count) values, expected 4") }
            p.box = (b.data[0], b.data[1], b.data[2], b.data[3])
        }
        let mask = f.contains("\(g)/mask_input") ? try f.readTensor("\(g)/mask_input") : nil
        let multimask = (f.intAttribute("multimask_output", on: g) ?? f.intAttribute("multimask_output") ?? 1) != 0
        return (p, mask, multimask)
    }
}

public enum Verifier {
    /// Runs `model` on the dump's image and prompt, recording only the module outputs the dump holds, and compares.
    /// Then runs the path `segment`, `eval` and `serve` run (no recorder: windowed attention without padding copies,
    /// the decoder's prepared image and folded cross-attentions, pixel-major upscaling) on the same inputs and
    /// compares its final outputs — image embedding, masks, IoU predictions, low-res logits — with the dump as rows
    /// of their own (`fast path: …`), with the same tolerances. With `writeDump`, every module output of the
    /// recorded run is also written in the same layout.
    public static func verify(model: Sam, dumpPath: String, tolerance: Double = Tolerance.moduleRelL2,
                              strict: Bool = false, writeDump: String? = nil, checkpointName: String = "") throws -> VerifyReport {
        try verify(model: model, fastPathModel: model, dumpPath: dumpPath, tolerance: tolerance, strict: strict,
                   writeDump: writeDump, checkpointName: checkpointName)
    }

    /// `verify` with the fast path run by `fastPathModel` (the tests give it a model whose fast path drifts).
    static func verify(model: Sam, fastPathModel: Sam, dumpPath: String, tolerance: Double, strict: Bool,
                       writeDump: String?, checkpointName: String) throws -> VerifyReport {
        let f = try HDF5File.open(path: dumpPath)
        defer { try? f.close() }
        let names = try f.datasetNames()
        try requireFamily("SAM v1", names: names, dumpPath: dumpPath)
        let moduleNames = names.filter { !$0.hasPrefix("inputs/") && !$0.hasPrefix("outputs/") }
        let c = try DumpCase(f)
        let predictor = SamPredictor(model: model)
        predictor.hqTokenOnly = c.hqTokenOnly
        // HQ-SAM's encoder returns (embedding, interm_embeddings): the embedding is its output 0
        let embeddingName = model.imageEncoder.name + (model.hqDecoder != nil ? ":0" : "")
        let (report, rec, pred) = try run(file: f, case: c, moduleNames: moduleNames, tolerance: tolerance, strict: strict,
                                          writeDump: writeDump, recorded: { rec, maskInput in
            predictor.setImage(c.image, rec)
            return (try predictor.predict(c.prompt, maskInput: maskInput, multimaskOutput: c.multimask, rec), predictor.inputImage)
        }, fast: { maskInput in
            // the path users run, from the same image and prompt
            let fast = SamPredictor(model: fastPathModel)
            fast.hqTokenOnly = c.hqTokenOnly
            fast.setImage(c.image)
            return (try fast.predict(c.prompt, maskInput: maskInput, multimaskOutput: c.multimask), fast.features.map { (embeddingName, $0) })
        })
        if let out = writeDump {
            try writeSwiftDump(path: out, recorder: rec, case: c, predictor: predictor, prediction: pred, model: model, checkpointName: checkpointName)
        }
        return report
    }

    /// The steps of a verification both families share: the recorded run (`recorded`, given the recorder and the
    /// mask input; returns the prediction and the preprocessed input), its input row, one row per module output the
    /// dump holds, the output rows; then the fast path (`fast`; returns its prediction and the image embedding under
    /// its dump name) and its rows. An `outputs/object_score_logits` dataset adds its rows for both.
    static func run(file f: HDF5File, case c: DumpCase, moduleNames: [String], tolerance: Double, strict: Bool, writeDump: String?,
                    recorded: (ActivationRecorder, Tensor?) throws -> (Prediction, Tensor?),
                    fast: (Tensor?) throws -> (Prediction, (name: String, tensor: Tensor)?)) throws
        -> (VerifyReport, ActivationRecorder, Prediction) {
        let wanted = Set(moduleNames)
        let rec = ActivationRecorder(filter: writeDump == nil ? { wanted.contains($0) } : nil)
        let maskInput = c.maskInput.map { $0.reshaped([1, $0.shape[$0.rank - 2], $0.shape[$0.rank - 1]]) }
        let objectScore = f.contains("outputs/object_score_logits") ? try f.readTensor("outputs/object_score_logits") : nil
        let (pred, input) = try recorded(rec, maskInput)
        var report = VerifyReport(strict: strict)
        if let ref = c.inputImage, let ours = input {
            var row = Comparison(name: "inputs/input_image", ours: ours, reference: ref, tolerance: Tolerance.inputMaxAbs)
            row.passed = row.shape == row.referenceShape && row.maxAbs <= Tolerance.inputMaxAbs
            row.note = "max-abs ≤ \(Tolerance.inputMaxAbs)"
            report.rows.append(row)
        }
        for name in rec.names where wanted.contains(name) {
            report.rows.append(Comparison(name: name, ours: rec.tensors[name]!, reference: try f.readTensor(name), tolerance: tolerance))
        }
        report.skipped = moduleNames.filter { rec.tensors[$0] == nil }
        report.rows += outputRows(pred, c, prefix: "", tolerance: tolerance)
        if let objectScore { report.rows.append(objectScoreRow(pred, objectScore, prefix: "")) }
        let (fastPred, embedding) = try fast(maskInput)
        if let (name, t) = embedding, wanted.contains(name) {
            report.rows.append(Comparison(name: "fast path: \(name)", ours: t, reference: try f.readTensor(name), tolerance: tolerance))
        }
        report.rows += outputRows(fastPred, c, prefix: "fast path: ", tolerance: tolerance)
        if let objectScore { report.rows.append(objectScoreRow(fastPred, objectScore, prefix: "fast path: ")) }
        return (report, rec, pred)
    }

    /// Rows comparing a prediction's masks (pixel agreement), IoU predictions (max-abs) and low-res logits (rel-L2)
    /// with the dump's `outputs/…`, named `<prefix>outputs/…`.
    static func outputRows(_ pred: Prediction, _ c: DumpCase, prefix: String, tolerance: Double) -> [Comparison] {
        var rows: [Comparison] = []
        if let m = c.masks {
            rows.append(maskRow(prefix + "outputs/masks", shape: [pred.maskCount, pred.height, pred.width], pred.masks,
                                referenceShape: m.shape, m.values))
        }
        if let iou = c.iou {
            var row = Comparison(name: prefix + "outputs/iou_predictions", ours: Tensor(shape: [pred.iouPredictions.count], data: pred.iouPredictions),
                                 reference: iou, tolerance: Tolerance.iouMaxAbs)
            row.passed = row.shape == row.referenceShape && row.maxAbs <= Tolerance.iouMaxAbs
            row.note = "max-abs ≤ \(Tolerance.iouMaxAbs)"
            rows.append(row)
        }
        if let lr = c.lowRes {
            rows.append(Comparison(name: prefix + "outputs/low_res_logits", ours: pred.lowResLogits, reference: lr, tolerance: tolerance))
        }
        return rows
    }

    /// Pixel agreement of two 0/1 mask stacks as a row: passes at ≥ `Tolerance.maskAgreement`; a shape mismatch fails.
    static func maskRow(_ name: String, shape: [Int], _ ours: [UInt8], referenceShape: [Int], _ reference: [UInt8]) -> Comparison {
        guard shape == referenceShape else {
            return Comparison(name: name, shape: shape, value: .nan, tolerance: 1 - Tolerance.maskAgreement,
                              passed: false, note: "shape mismatch: reference \(referenceShape)")
        }
        let agree = zip(ours, reference).reduce(0) { $0 + (($1.0 != 0) == ($1.1 != 0) ? 1 : 0) }
        let frac = Double(agree) / Double(max(reference.count, 1))
        return Comparison(name: name, shape: shape, value: 1 - frac, tolerance: 1 - Tolerance.maskAgreement,
                          passed: frac >= Tolerance.maskAgreement, note: String(format: "%.5f%% of pixels agree", frac * 100))
    }

    /// Writes a dump of the Swift run in the interchange layout.
    static func writeSwiftDump(path: String, recorder rec: ActivationRecorder, case c: DumpCase, predictor: SamPredictor,
                               prediction pred: Prediction, model: Sam, checkpointName: String) throws {
        try writeDumpFile(path: path, modelType: model.config.presetName ?? "custom",
                          config: try? JSONEncoder().encode(model.config), checkpointName: checkpointName, case: c,
                          inputImage: predictor.inputImage, recorder: rec, prediction: pred)
    }

    /// The interchange layout of either family: attributes, inputs, every recorded module output, the outputs (and
    /// the object-score logit when the prediction has one).
    static func writeDumpFile(path: String, modelType: String, config: Data?, checkpointName: String, case c: DumpCase,
                              inputImage: Tensor?, recorder rec: ActivationRecorder, prediction pred: Prediction) throws {
        let o = try HDF5File.create(path: path)
        try o.setAttribute("model_type", modelType)
        try o.setAttribute("checkpoint", checkpointName)
        try o.setAttribute("torch_version", "none (\(Toolkit.name))")
        try o.setAttribute("toolkit", Toolkit.nameAndVersion)
        try o.setAttribute("image", c.imageName)
        if let json = config { try o.setAttribute("model_config", String(decoding: json, as: UTF8.self)) }
        try o.setAttribute("multimask_output", c.multimask ? 1 : 0)
        try o.writeUInt8("inputs/image", shape: [c.image.height, c.image.width, 3], c.image.pixels)
        if let inp = inputImage { try o.write("inputs/input_image", inp) }
        if !c.prompt.points.isEmpty {
            try o.write("inputs/point_coords", Tensor(shape: [c.prompt.points.count, 2], data: c.prompt.points.flatMap { [$0.x, $0.y] }))
            try o.writeInt64("inputs/point_labels", shape: [c.prompt.labels.count], c.prompt.labels.map { Int64($0) })
        }
        if let b = c.prompt.box { try o.write("inputs/box", Tensor(shape: [4], data: [b.x0, b.y0, b.x1, b.y1])) }
        if let m = c.maskInput { try o.write("inputs/mask_input", m) }
        try o.setAttribute("multimask_output", c.multimask ? 1 : 0, on: "inputs")
        for name in rec.names { try o.write(name, rec.tensors[name]!) }
        try o.writeUInt8("outputs/masks", shape: [pred.maskCount, pred.height, pred.width], pred.masks)
        try o.write("outputs/iou_predictions", Tensor(shape: [pred.iouPredictions.count], data: pred.iouPredictions))
        try o.write("outputs/low_res_logits", pred.lowResLogits)
        if let s = pred.objectScoreLogit { try o.write("outputs/object_score_logits", Tensor(shape: [1, 1], data: [s])) }
        try o.close()
    }

    /// Compares two dumps dataset by dataset (`sam verify --dump A.h5 --against B.h5`), in A's order.
    public static func compareDumps(_ a: String, against b: String, tolerance: Double = Tolerance.moduleRelL2,
                                    strict: Bool = false) throws -> VerifyReport {
        let fa = try HDF5File.open(path: a), fb = try HDF5File.open(path: b)
        defer { try? fa.close(); try? fb.close() }
        var report = VerifyReport(strict: strict)
        let nb = Set(try fb.datasetNames())
        for name in try fa.datasetNames() where name != "inputs/point_labels" && name != "inputs/image" {
            guard nb.contains(name) else { report.skipped.append(name); continue }
            if name == "outputs/masks" {
                let ma = try fa.readUInt8(name), mb = try fb.readUInt8(name)
                report.rows.append(maskRow(name, shape: ma.shape, ma.values, referenceShape: mb.shape, mb.values))
                continue
            }
            report.rows.append(Comparison(name: name, ours: try fa.readTensor(name), reference: try fb.readTensor(name), tolerance: tolerance))
        }
        return report
    }
}
