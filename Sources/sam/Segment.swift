// `sam segment` and `sam embed`: prompts in, masks and pictures out; the embedding cache.
import ArgumentParser
import Foundation
import SAMIO
import SAMInference
import SAMModel
import SAMTensor

/// "x,y[,label]" (`PromptSyntax.point`).
struct PointArg: ExpressibleByArgument {
    var x: Float, y: Float, label: Int
    init?(argument: String) {
        guard let p = PromptSyntax.point(argument) else { return nil }
        x = Float(p.x); y = Float(p.y); label = p.label
    }
}

/// "x0,y0,x1,y1" (`PromptSyntax.box`).
struct BoxArg: ExpressibleByArgument {
    var v: [Float]
    init?(argument: String) {
        guard let b = PromptSyntax.box(argument) else { return nil }
        v = b.map(Float.init)
    }
}

struct Segment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment an image from points, a box and/or a mask input; write masks, scores, logits and an overlay.",
        discussion: """
        Writes DIR/mask_<k>.png (binary, original size, in the order Meta's predict returns them), DIR/result.json \
        (iou_predictions; masks with file, area, bbox [x, y, w, h] where w and h are Meta's max − min, one less than \
        pycocotools' toBbox), DIR/low_res_logits.h5 (low_res_logits C×256×256, \
        iou_predictions C; SAM 2 adds object_score_logits 1×1, also in result.json as object_score_logit) and DIR/overlay.png. \
        A SAM 2.1 checkpoint runs SAM2ImagePredictor's pipeline: the image stretched to 1024×1024, a box given as two \
        corner points, masks resized from the 256×256 logits in one step. With --prompts, one such folder per prompt: DIR/<index>/.
        A binary PNG mask input becomes logits +10 inside / −10 outside on the 256×256 grid (see MaskInput.fromBinaryMask).
        """)

    @OptionGroup var model: ModelOptions
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
    @Option(help: "Output folder (replaced as a whole when the run succeeds; an existing file there is refused).") var out: String

    func validate() throws {
        try model.requireModel()
        if prompts == nil && points.isEmpty && box == nil && maskInput == nil {
            throw ValidationError("empty prompt: give --point, --box, --mask-input or --prompts")
        }
        if prompts != nil && (!points.isEmpty || box != nil) { throw ValidationError("--prompts cannot be combined with --point/--box") }
    }

    func run() throws {
        try runReportingErrors {
            let model = try self.model.loadAny()
            let img = try ImageReader.readRGB(path: image)
            let predictor = model.makePredictor()
            if let embedding {
                try EmbeddingFile.load(path: embedding, into: predictor, checkpoint: self.model.checkpoint ?? self.model.label, image: img, imagePath: image)
            } else {
                predictor.setImage(img)
            }
            let mm = multimask && !singleMask
            let maskTensor = try maskInput.map { try predictor.readMaskInput(path: $0, index: maskIndex, image: img) }
            try SegmentOutput.writeFolder(out) { staging in
                if let prompts {
                    let specs = try PromptFile.read(path: prompts)
                    let ps = try specs.enumerated().map { try $0.element.prompt(file: prompts, index: $0.offset) }
                    do {
                        try predictor.predictPrompts(ps, multimask: specs.map { $0.multimask ?? mm }, maskInput: maskTensor) { idx, preds in
                            try SegmentOutput.writeEach(preds, indices: idx, prompts: ps, multimask: specs[idx[0]].multimask ?? mm,
                                                        image: img, in: staging)
                        }
                    } catch let e as PromptListError { throw PromptFileError.bad(prompts, e.description) }
                } else {
                    let p = Prompt(points: points.map { ($0.x, $0.y) }, labels: points.map(\.label),
                                   box: box.map { ($0.v[0], $0.v[1], $0.v[2], $0.v[3]) })
                    let pred = try predictor.predict(p, maskInput: maskTensor, multimaskOutput: mm)
                    try SegmentOutput.write(pred, prompt: p, multimask: mm, image: img, to: staging)
                }
            }
            print("wrote \(out)")
        }
    }
}

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Compute an image embedding once, for `sam segment --embedding`.")
    @OptionGroup var model: ModelOptions
    @Option(help: "Image (JPEG, PNG, BMP).") var image: String
    @Option(help: "Output HDF5 file (image_embedding 1×C×g×g, with the checkpoint's fingerprint and the image's sizes; SAM 2 adds high_res_feats:0 and :1).") var out: String

    func validate() throws { try model.requireModel() }

    func run() throws {
        try runReportingErrors {
            let model = try self.model.loadAny()
            let img = try ImageReader.readRGB(path: image)
            let predictor = model.makePredictor()
            predictor.setImage(img)
            try EmbeddingFile.of(predictor, fingerprint: model.fingerprint, imageFile: (image as NSString).lastPathComponent)!
                .write(path: out)
            print("wrote \(out)")
        }
    }
}
