// `sam segment` and `sam embed`: prompts in, masks and pictures out; the embedding cache.
import ArgumentParser
import Foundation
import Synchronization
import SAMIO
import SAMInference
import SAMModel
import SAMTensor

/// Parses "x,y[,label]".
struct PointArg: ExpressibleByArgument {
    var x: Float, y: Float, label: Int
    init?(argument: String) {
        let p = argument.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        guard p.count == 2 || p.count == 3, let x = Float(p[0]), let y = Float(p[1]), x.isFinite, y.isFinite else { return nil }
        let l = p.count == 3 ? Int(p[2]) : 1
        guard let l, l == 0 || l == 1 else { return nil }
        self.x = x; self.y = y; label = l
    }
}

/// Parses "x0,y0,x1,y1".
struct BoxArg: ExpressibleByArgument {
    var v: [Float]
    init?(argument: String) {
        let p = argument.split(separator: ",").compactMap { Float(String($0).trimmingCharacters(in: .whitespaces)) }
        guard p.count == 4, p.allSatisfy(\.isFinite) else { return nil }
        v = p
    }
}

struct Segment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment an image from points, a box and/or a mask input; write masks, scores, logits and an overlay.",
        discussion: """
        Writes DIR/mask_<k>.png (binary, original size, in the order Meta's predict returns them), DIR/result.json \
        (iou_predictions; masks with file, area, bbox XYWH), DIR/low_res_logits.h5 (low_res_logits C×256×256, \
        iou_predictions C) and DIR/overlay.png. With --prompts, one such folder per prompt: DIR/<index>/.
        A binary PNG mask input becomes logits +10 inside / −10 outside on the 256×256 grid (see MaskInput.fromBinaryMask).
        """)

    @Option(help: "Checkpoint (.pth or .safetensors).") var checkpoint: String
    @Option(help: "Image (JPEG, PNG, BMP).") var image: String
    @Option(help: "Cached embedding from `sam embed` (skips the encoder; must match the checkpoint and image size).") var embedding: String?
    @Option(name: .customLong("point"), help: "Point x,y[,label] in original pixels; label 1 positive (default), 0 negative. Repeatable.")
    var points: [PointArg] = []
    @Option(help: "Box x0,y0,x1,y1 in original pixels.") var box: BoxArg?
    @Option(help: "Mask input: an earlier low_res_logits.h5, or a binary PNG of the image's size.") var maskInput: String?
    @Option(help: "Which mask of a low_res_logits.h5 to use (default: the highest predicted IoU).") var maskIndex: Int?
    @Flag(inversion: .prefixedNo, help: "Three masks (Meta's predict default) or, with --single-mask / --no-multimask, one.")
    var multimask = true
    @Flag(help: "Same as --no-multimask.") var singleMask = false
    @Option(help: "JSON list of prompts, decoded in batches against one embedding.") var prompts: String?
    @Option(help: "Output folder.") var out: String

    func validate() throws {
        if prompts == nil && points.isEmpty && box == nil && maskInput == nil {
            throw ValidationError("empty prompt: give --point, --box, --mask-input or --prompts")
        }
        if prompts != nil && (!points.isEmpty || box != nil) { throw ValidationError("--prompts cannot be combined with --point/--box") }
    }

    func run() throws {
        try runReportingErrors {
            let model = try SamLoader.load(checkpoint: checkpoint)
            let img = try ImageReader.readRGB(path: image)
            let predictor = SamPredictor(model: model)
            if let embedding {
                let e = try EmbeddingFile.read(path: embedding)
                guard e.checkpointFingerprint == model.fingerprint else {
                    throw PromptFileError.bad(embedding, "was computed with another checkpoint (fingerprint \(e.checkpointFingerprint), \(checkpoint) has \(model.fingerprint))")
                }
                guard e.originalSize == (img.height, img.width) else {
                    throw PromptFileError.bad(embedding, "belongs to a \(e.originalSize.w)×\(e.originalSize.h) image, \(image) is \(img.width)×\(img.height)")
                }
                let g = model.config.gridSize
                guard e.embedding.shape == [1, model.config.outChans, g, g] else {
                    throw PromptFileError.bad(embedding, "image_embedding has shape \(e.embedding.shape), expected \([1, model.config.outChans, g, g])")
                }
                predictor.setEmbedding(e.embedding, originalSize: e.originalSize, inputSize: e.inputSize)
            } else {
                predictor.setImage(img)
            }
            let mm = multimask && !singleMask
            var maskTensor: Tensor?
            if let maskInput {
                let l = model.config.lowResSize
                if maskInput.lowercased().hasSuffix(".png") {
                    let m = try ImageReader.readLabels(path: maskInput)
                    guard m.width == img.width, m.height == img.height else {
                        throw PromptFileError.bad(maskInput, "mask input is \(m.width)×\(m.height), the image \(img.width)×\(img.height)")
                    }
                    maskTensor = MaskInput.fromBinaryMask(m.values, width: m.width, height: m.height, imageSize: model.config.imageSize, lowRes: l)
                } else {
                    maskTensor = try MaskInput.fromLogitsFile(maskInput, index: maskIndex, expectedSize: l)
                }
            }
            let staging = out + ".partial-\(getpid())"
            try? FileManager.default.removeItem(atPath: staging)
            if let prompts {
                let specs = try PromptFile.read(path: prompts)
                let ps = try specs.enumerated().map { try $0.element.prompt(file: prompts, index: $0.offset) }
                for (i, p) in ps.enumerated() {
                    do { try predictor.validate(p, maskInput: maskTensor) } catch { throw PromptFileError.bad(prompts, "prompt \(i): \(error)") }
                }
                // batches: prompts with the same number of points, box or not, and multimask setting
                var groups: [String: [Int]] = [:]
                for (i, p) in ps.enumerated() {
                    groups["\(p.points.count)-\(p.box != nil)-\(specs[i].multimask ?? mm)", default: []].append(i)
                }
                for (_, idx) in groups.sorted(by: { $0.value[0] < $1.value[0] }) {
                    let m = specs[idx[0]].multimask ?? mm
                    let preds = try predictor.predictBatch(idx.map { ps[$0] }, maskInputs: maskTensor.map { t in idx.map { _ in t } }, multimaskOutput: m)
                    // each prompt's folder on its own, both cores encoding (the PNG overlays dominate); the first
                    // failure, in prompt order, is the one reported
                    let failures = Mutex([Int: Error]())
                    DispatchQueue.concurrentPerform(iterations: idx.count) { j in
                        do {
                            try SegmentOutput.write(preds[j], prompt: ps[idx[j]], multimask: m, image: img,
                                                    to: (staging as NSString).appendingPathComponent("\(idx[j])"))
                        } catch { failures.withLock { $0[j] = error } }
                    }
                    if let first = failures.withLock({ $0.min(by: { $0.key < $1.key }) }) { throw first.value }
                }
            } else {
                let p = Prompt(points: points.map { ($0.x, $0.y) }, labels: points.map(\.label),
                               box: box.map { ($0.v[0], $0.v[1], $0.v[2], $0.v[3]) })
                let pred = try predictor.predict(p, maskInput: maskTensor, multimaskOutput: mm)
                try SegmentOutput.write(pred, prompt: p, multimask: mm, image: img, to: staging)
            }
            // the finished folder replaces any earlier one in one step
            try AtomicFile.replaceDirectory(out, with: staging)
            print("wrote \(out)")
        }
    }
}

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Compute an image embedding once, for `sam segment --embedding`.")
    @Option(help: "Checkpoint.") var checkpoint: String
    @Option(help: "Image.") var image: String
    @Option(help: "Output HDF5 file.") var out: String

    func run() throws {
        try runReportingErrors {
            let model = try SamLoader.load(checkpoint: checkpoint)
            let img = try ImageReader.readRGB(path: image)
            let predictor = SamPredictor(model: model)
            predictor.setImage(img)
            try EmbeddingFile(embedding: predictor.features!, checkpointFingerprint: model.fingerprint,
                              originalSize: predictor.originalSize, inputSize: predictor.inputSize,
                              imageFile: (image as NSString).lastPathComponent).write(path: out)
            print("wrote \(out)")
        }
    }
}
