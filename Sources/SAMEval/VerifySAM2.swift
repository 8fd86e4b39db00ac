// `sam verify` for SAM 2.1: the dump layout of experiments/reference/dump_sam2.py (module outputs under Meta's SAM 2
// attribute paths, `predictor/*` for the predictor's features, `outputs/object_score_logits`).
import Foundation
import SAMIO
import SAMInference
import SAMModel
import SAMTensor

extension Verifier {
    /// Which family wrote a dump, by its module names: "SAM 2" (`image_encoder.trunk.*`, `sam_mask_decoder.*`),
    /// "SAM v1" (`image_encoder.blocks.*`, `mask_decoder.*`), or nil (no module datasets).
    static func dumpFamily(_ names: [String]) -> String? {
        if names.contains(where: { $0.hasPrefix("image_encoder.trunk") || $0.hasPrefix("sam_mask_decoder") || $0.hasPrefix("sam_prompt_encoder") }) {
            return "SAM 2"
        }
        if names.contains(where: { $0.hasPrefix("image_encoder.blocks") || $0.hasPrefix("mask_decoder") || $0.hasPrefix("prompt_encoder") }) {
            return "SAM v1"
        }
        return nil
    }

    /// Throws when the dump was written by the other family than the model's.
    static func requireFamily(_ family: String, names: [String], dumpPath: String) throws {
        if let f = dumpFamily(names), f != family {
            throw InputError(dumpPath, "is a \(f) dump (its module names are \(f)'s) but the checkpoint is a \(family) model")
        }
    }

    /// Runs the SAM 2 predictor on the dump's image and prompt with a recorder limited to the dump's module names,
    /// compares every module output, the final outputs and the object-score logit; then runs the fast path (no
    /// recorder) from the same inputs and compares its features and outputs as `fast path: …` rows.
    public static func verify(sam2 model: SAM2Model, dumpPath: String, tolerance: Double = Tolerance.moduleRelL2,
                              strict: Bool = false, writeDump: String? = nil, checkpointName: String = "") throws -> VerifyReport {
        try verify(sam2: model, fastPathModel: model, dumpPath: dumpPath, tolerance: tolerance, strict: strict,
                   writeDump: writeDump, checkpointName: checkpointName)
    }

    static func verify(sam2 model: SAM2Model, fastPathModel: SAM2Model, dumpPath: String, tolerance: Double, strict: Bool,
                       writeDump: String?, checkpointName: String) throws -> VerifyReport {
        let f = try HDF5File.open(path: dumpPath)
        defer { try? f.close() }
        let names = try f.datasetNames()
        try requireFamily("SAM 2", names: names, dumpPath: dumpPath)
        let moduleNames = names.filter { !$0.hasPrefix("inputs/") && !$0.hasPrefix("outputs/") }
        let wanted = Set(moduleNames)
        if f.contains("inputs/box"), try f.readTensor("inputs/box").shape.count == 2 {
            return try verifyBatch(sam2: fastPathModel, file: f, tolerance: tolerance, strict: strict)
        }
        let c = try DumpCase(f)
        let objectScore = f.contains("outputs/object_score_logits") ? try f.readTensor("outputs/object_score_logits") : nil
        let rec = ActivationRecorder(filter: writeDump == nil ? { wanted.contains($0) } : nil)
        let predictor = SAM2Predictor(model: model)
        predictor.setImage(c.image, rec)
        let maskInput = c.maskInput.map { $0.reshaped([1, $0.shape[$0.rank - 2], $0.shape[$0.rank - 1]]) }
        let pred = try predictor.predict(c.prompt, maskInput: maskInput, multimaskOutput: c.multimask, rec)
        var report = VerifyReport(strict: strict)
        if let ref = c.inputImage, let ours = predictor.inputImage {
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

        let fast = SAM2Predictor(model: fastPathModel)
        fast.setImage(c.image)
        let fastPred = try fast.predict(c.prompt, maskInput: maskInput, multimaskOutput: c.multimask)
        if wanted.contains("predictor/image_embed"), let features = fast.features {
            report.rows.append(Comparison(name: "fast path: predictor/image_embed", ours: features.imageEmbed,
                                          reference: try f.readTensor("predictor/image_embed"), tolerance: tolerance))
        }
        report.rows += outputRows(fastPred, c, prefix: "fast path: ", tolerance: tolerance)
        if let objectScore { report.rows.append(objectScoreRow(fastPred, objectScore, prefix: "fast path: ")) }

        if let out = writeDump {
            let o = try HDF5File.create(path: out)
            try o.setAttribute("model_type", model.config.presetName ?? "sam2.1 custom")
            try o.setAttribute("checkpoint", checkpointName)
            try o.setAttribute("torch_version", "none (\(Toolkit.name))")
            try o.setAttribute("toolkit", Toolkit.nameAndVersion)
            try o.setAttribute("image", c.imageName)
            if let json = try? JSONEncoder().encode(model.config) { try o.setAttribute("model_config", String(decoding: json, as: UTF8.self)) }
            try o.setAttribute("multimask_output", c.multimask ? 1 : 0)
            try o.writeUInt8("inputs/image", shape: [c.image.height, c.image.width, 3], c.image.pixels)
            if let inp = predictor.inputImage { try o.write("inputs/input_image", inp) }
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
            try o.write("outputs/object_score_logits", Tensor(shape: [1, 1], data: [pred.objectScoreLogit ?? .nan]))
            try o.close()
        }
        return report
    }

    /// A batched prompt file (`inputs/box` N × 4, as experiments/reference/compare_predictor_sam2.py writes for
    /// `SAM2ImagePredictor.predict(box=N×4)`): the N boxes decoded in one batch by the path `segment --prompts`
    /// runs, compared with `outputs/masks` N×C×H×W, `iou_predictions` N×C, `low_res_logits` N×C×256×256 and
    /// `object_score_logits` N×1.
    static func verifyBatch(sam2 model: SAM2Model, file f: HDF5File, tolerance: Double, strict: Bool) throws -> VerifyReport {
        let img = try f.readUInt8("inputs/image")
        guard img.shape.count == 3, img.shape[2] == 3 else {
            throw IOError.corrupt(f.path, "inputs/image has shape \(img.shape), expected H×W×3")
        }
        let boxes = try f.readTensor("inputs/box")
        guard boxes.shape.count == 2, boxes.shape[1] == 4, boxes.shape[0] >= 1 else {
            throw IOError.corrupt(f.path, "inputs/box has shape \(boxes.shape), expected N×4")
        }
        let multimask = (f.intAttribute("multimask_output", on: "inputs") ?? f.intAttribute("multimask_output") ?? 1) != 0
        let prompts = (0..<boxes.shape[0]).map { i in
            Prompt(box: (boxes.data[4 * i], boxes.data[4 * i + 1], boxes.data[4 * i + 2], boxes.data[4 * i + 3]))
        }
        let p = SAM2Predictor(model: model)
        p.setImage(RGBImage(width: img.shape[1], height: img.shape[0], pixels: img.values))
        let preds = try p.predictBatch(prompts, multimaskOutput: multimask)
        let c = preds[0].maskCount, h = preds[0].height, w = preds[0].width
        var report = VerifyReport(strict: strict)
        if f.contains("outputs/masks") {
            let m = try f.readUInt8("outputs/masks")
            report.rows.append(maskRow("batch: outputs/masks", shape: [prompts.count, c, h, w], preds.flatMap(\.masks),
                                       referenceShape: m.shape, m.values))
        }
        func tensorRow(_ name: String, _ ours: Tensor, maxAbs: Bool) throws {
            guard f.contains(name) else { return }
            var row = Comparison(name: "batch: " + name, ours: ours, reference: try f.readTensor(name),
                                 tolerance: maxAbs ? Tolerance.iouMaxAbs : tolerance)
            if maxAbs {
                row.passed = row.shape == row.referenceShape && row.maxAbs <= Tolerance.iouMaxAbs
                row.note = "max-abs ≤ \(Tolerance.iouMaxAbs)"
            }
            report.rows.append(row)
        }
        try tensorRow("outputs/iou_predictions", Tensor(shape: [prompts.count, c], data: preds.flatMap(\.iouPredictions)), maxAbs: true)
        let l = preds[0].lowResLogits.shape[1]
        try tensorRow("outputs/low_res_logits", Tensor(shape: [prompts.count, c, l, l], data: preds.flatMap(\.lowResLogits.data)), maxAbs: false)
        try tensorRow("outputs/object_score_logits", Tensor(shape: [prompts.count, 1], data: preds.map { $0.objectScoreLogit ?? .nan }), maxAbs: true)
        return report
    }

    /// The object-score logit against the dump's, max-abs within the IoU tolerance.
    static func objectScoreRow(_ pred: Prediction, _ ref: Tensor, prefix: String) -> Comparison {
        var row = Comparison(name: prefix + "outputs/object_score_logits", ours: Tensor(shape: [1, 1], data: [pred.objectScoreLogit ?? .nan]),
                             reference: ref, tolerance: Tolerance.iouMaxAbs)
        row.passed = row.shape == row.referenceShape && row.maxAbs <= Tolerance.iouMaxAbs
        row.note = "max-abs ≤ \(Tolerance.iouMaxAbs)"
        return row
    }
}
