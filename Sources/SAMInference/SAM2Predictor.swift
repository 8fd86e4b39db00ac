// SAM 2's image predictor: set an image once, then prompt it with points, boxes and mask inputs.
// ref: sam2/sam2_image_predictor.py@1.1.0 (SAM2ImagePredictor), sam2/utils/transforms.py@1.1.0 (SAM2Transforms)
import Foundation
import SAMIO
import SAMModel
import SAMTensor

/// Meta's `SAM2ImagePredictor` with the default post-processing (no hole or sprinkle filling).
public final class SAM2Predictor {
    public let model: SAM2Model
    public private(set) var features: SAM2Features?
    public private(set) var originalSize: (h: Int, w: Int) = (0, 0)
    /// The preprocessed input of the encoder (1×3×1024×1024) of a recorded run, for verification.
    public private(set) var inputImage: Tensor?

    public init(model: SAM2Model) { self.model = model }

    /// The decoder's view of the current image (nil until its first prompt; dropped when the image changes).
    private var prepared: SAM2MaskDecoder.Prepared?
    private let lock = NSLock()

    /// `SAM2Transforms`: ToTensor (RGB / 255), resize to S×S (not aspect-preserving; torchvision's bilinear with
    /// antialias), Normalize with ImageNet's mean and std. Returns 1×3×S×S.
    public static func preprocess(_ image: RGBImage, size s: Int) -> Tensor {
        let h = image.height, w = image.width
        let chw = Tensor(shape: [1, 3, h, w]) { p in
            for c in 0..<3 { for i in 0..<(h * w) { p[c * h * w + i] = Float(image.pixels[i * 3 + c]) / 255 } }
        }
        let resized = (h == s && w == s) ? chw : interpolateBilinearAntialias(chw, height: s, width: s)
        return SAM2Model.normalize(resized: resized.data, size: s)
    }

    /// Preprocesses and runs the image encoder (`set_image`).
    public func setImage(_ image: RGBImage, _ rec: ActivationRecorder? = nil) {
        let input = Profiler.measure("preprocessing") { Self.preprocess(image, size: model.config.imageSize) }
        setPreprocessed(input, originalSize: (image.height, image.width), rec)
    }

    /// The input is kept (`inputImage`) only when a recorder runs, for verification: 12.6 MB otherwise held for
    /// nothing.
    public func setPreprocessed(_ input: Tensor, originalSize: (h: Int, w: Int), _ rec: ActivationRecorder? = nil) {
        inputImage = rec == nil ? nil : input
        prepared = nil
        self.originalSize = originalSize
        features = Precision.with(model.precision) { model.encode(input, rec) }
        rec.record("predictor/image_embed", features!.imageEmbed)
        for (i, f) in features!.highRes.enumerated() { rec.record("predictor/high_res_feats:\(i)", f) }
    }

    /// Uses cached features for an image of the given size.
    public func setFeatures(_ f: SAM2Features, originalSize: (h: Int, w: Int)) {
        features = f
        prepared = nil
        inputImage = nil
        self.originalSize = originalSize
    }

    /// Checks a prompt against the image before anything runs (the same rules as v1's predictor).
    public func validate(_ p: Prompt, maskInput: Tensor?) throws {
        guard features != nil else { throw PromptError.noImage }
        try Prompt.validate(p, maskInput: maskInput, originalSize: originalSize, lowResSize: model.config.lowResSize)
    }

    /// `transform_coords(normalize=True)`: x / w · S, y / h · S in float32; a box becomes its two corners labelled
    /// 2 and 3, placed before the points (`_predict`), and the padding point is always appended (boxes=None).
    func modelPrompt(_ p: Prompt) -> ModelPrompt {
        let s = Float(model.config.imageSize), w = Float(originalSize.w), h = Float(originalSize.h)
        var pts: [Float] = [], labels: [Int] = []
        if let b = p.box { pts += [b.x0 / w * s, b.y0 / h * s, b.x1 / w * s, b.y1 / h * s]; labels += [2, 3] }
        for (pt, l) in zip(p.points, p.labels) { pts += [pt.x / w * s, pt.y / h * s]; labels.append(l) }
        if labels.isEmpty { return ModelPrompt() }
        return ModelPrompt(points: Tensor(shape: [labels.count, 2], data: pts), labels: labels)
    }

    /// A batch of prompts against the one image (`_predict` with B prompts). Prompts of a batch must give the
    /// decoder the same number of tokens (points, plus two for a box).
    public func predictBatch(_ prompts: [Prompt], maskInputs: [Tensor]? = nil, multimaskOutput: Bool = true,
                             _ rec: ActivationRecorder? = nil) throws -> [Prediction] {
        guard !prompts.isEmpty else { return [] }
        try checkBatch(prompts, maskInputs: maskInputs) { $0.points.count + ($0.box != nil ? 2 : 0) }
        guard features != nil else { throw PromptError.noImage }
        let l = model.config.lowResSize
        let masks = maskInputs.map { ms in Tensor(shape: [ms.count, 1, l, l], data: ms.flatMap(\.data)) }
        let out = decodeLowRes(prompts, maskInputs: masks, multimaskOutput: multimaskOutput, rec)
        // masks: the unclamped low-res logits resized bilinearly to the image, > 0; the returned logits are clamped
        let c = out.masks.shape[1], h = originalSize.h, w = originalSize.w
        let up = Profiler.measure("mask postprocessing") { interpolateBilinear(out.masks, height: h, width: w) }
        let t = SAM2Model.maskThreshold
        return (0..<prompts.count).map { b in
            let bin = up.data[(b * c * h * w)..<((b + 1) * c * h * w)].map { $0 > t ? UInt8(1) : 0 }
            var low = Tensor(shape: [c, l, l], data: Array(out.masks.data[(b * c * l * l)..<((b + 1) * c * l * l)]))
            low.apply { min(max($0, -32), 32) }
            return Prediction(masks: bin, maskCount: c, height: h, width: w,
                              iouPredictions: Array(out.iou.data[(b * c)..<((b + 1) * c)]), lowResLogits: low,
                              objectScoreLogit: out.objectScores.data[b])
        }
    }

    /// The prompt encoder and mask decoder on prompts already checked (`_predict` without its upscaling): the
    /// unclamped low-res logits B×C×M×M, IoU predictions B×C and object-score logits. `maskInputs`: B×1×M×M or nil.
    /// Points and boxes in pixels of the image, normalised as `transform_coords(normalize=True)` does, without a bounds
    /// check (the automatic mask generator's explicit grids may reach the image's far side).
    public func decodeLowRes(_ prompts: [Prompt], maskInputs: Tensor?, multimaskOutput: Bool,
                             _ rec: ActivationRecorder? = nil) -> SAM2DecoderOutput {
        Precision.with(model.precision) { decodeLowResNow(prompts, maskInputs: maskInputs, multimaskOutput: multimaskOutput, rec) }
    }

    private func decodeLowResNow(_ prompts: [Prompt], maskInputs: Tensor?, multimaskOutput: Bool,
                                 _ rec: ActivationRecorder?) -> SAM2DecoderOutput {
        guard let features else { preconditionFailure("SAM2Predictor.decodeLowRes before setImage") }
        let pe = model.promptEncoder
        let (sparse, dense) = Profiler.measure("prompt encoder") { () -> (Tensor, Tensor?) in
            let sp = pe.sparseEmbeddings(prompts.map(modelPrompt))
            let de = maskInputs.map { pe.maskEmbeddings($0, rec) }
            rec.record("sam_prompt_encoder:0", sp)
            rec.record("sam_prompt_encoder:1", de ?? pe.noMaskDense(count: prompts.count))
            return (sp, de)
        }
        return Profiler.measure("mask decoder") {
            model.maskDecoder(imageEmbedding: features.imageEmbed, imagePE: pe.densePE(rec), sparse: sparse, dense: dense,
                              noMask: pe.noMaskDense(), highRes: features.highRes, multimaskOutput: multimaskOutput,
                              prepared: rec == nil ? preparedImage(features) : nil, rec)
        }
    }

    /// The current image as the decoder's fast path reads it (`SAM2MaskDecoder.Prepared`), made on its first prompt.
    func preparedImage(_ f: SAM2Features) -> SAM2MaskDecoder.Prepared {
        lock.lock(); defer { lock.unlock() }
        if let p = prepared { return p }
        let p = model.maskDecoder.prepare(imageEmbedding: f.imageEmbed, imagePE: model.promptEncoder.densePE(nil),
                                          noMask: model.promptEncoder.noMaskDense(), highRes: f.highRes)
        prepared = p
        return p
    }
}
