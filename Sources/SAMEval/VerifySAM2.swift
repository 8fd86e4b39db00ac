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
        if f.contains("inputs/box"), try f.readTensor("inputs/box").shape.count == 2 {
            return try verifyBatch(sam2: fastPathModel, file: f, tolerance: tolerance, strict: strict)
        }
        let c = try DumpCase(f)
        let predictor = SAM2Predictor(model: model)
        let (report, rec, pred) = try run(file: f, case: c, moduleNames: moduleNames, tolerance: tolerance, strict: strict,
                                          writeDump: writeDump, recorded: { rec, maskInput in
            predictor.setImage(c.image, rec)
            return (try predictor.predict(c.prompt, maskInput: maskInput, multimaskOutput: c.multimask, rec), predictor.inputImage)
        }, fast: { maskInput in
            let fast = SAM2Predictor(model: fastPathModel)
            fast.setImage(c.image)
            return (try fast.predict(c.prompt, maskInput: maskInput, multimaskOutput: c.multimask),
                    fast.features.map { ("predictor/image_embed", $0.imageEmbed) })
        })
        if let out = writeDump {
            try writeDumpFile(path: out, modelType: model.config.presetName ?? "sam2.1 custom",
                              config: try? JSONEncoder().encode(model.config), checkpointName: checkpointName, case: c,
                              inputImage: predictor.inputImage, recorder: rec, prediction: pred)
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
