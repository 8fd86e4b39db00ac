// What the commands need of a predictor, whichever family runs it: set an image, decode prompts.
import SAMIO
import SAMModel
import SAMTensor

/// A predictor of either family (`SamPredictor` for v1, `SAM2Predictor` for SAM 2.1): `segment`, `eval`, `ablate`
/// and `serve` run their prompts through this.
public protocol PromptPredictor: AnyObject {
    /// The current image's size (height, width).
    var originalSize: (h: Int, w: Int) { get }
    /// Side of the low-res logits and of a mask input (256 at 1024).
    var lowResSize: Int { get }
    /// Whether an image (or a cached embedding) is set.
    var imageIsSet: Bool { get }
    /// The family and size, for reports ("vit_b", "sam2.1_hiera_t", …).
    var modelName: String { get }
    func setImage(_ image: RGBImage, _ rec: ActivationRecorder?)
    /// Throws the `PromptError` a prompt would raise, before anything runs.
    func validate(_ p: Prompt, maskInput: Tensor?) throws
    /// A mask input read from a file (`MaskInput.read`) in this model's frame.
    func readMaskInput(path: String, index: Int?, image: RGBImage) throws -> Tensor
    func predictBatch(_ prompts: [Prompt], maskInputs: [Tensor]?, multimaskOutput: Bool, _ rec: ActivationRecorder?) throws -> [Prediction]
    /// The current image's features (nil before an image is set), to make current again with `restore`.
    var imageState: PredictorImageState? { get }
    func restore(_ state: PredictorImageState)
}

/// A predictor's current image as features (an embedding cache entry of `sam serve`).
public enum PredictorImageState {
    /// `interm`: HQ-SAM's early encoder feature (nil for the other v1 models).
    case v1(embedding: Tensor, originalSize: (h: Int, w: Int), inputSize: (h: Int, w: Int), interm: Tensor?)
    case sam2(SAM2Features, originalSize: (h: Int, w: Int))
}

extension PromptPredictor {
    /// One prompt (`predictBatch` of one; Meta's `predict`). `maskInput`: 1×M×M low-res logits from an earlier call.
    public func predict(_ prompt: Prompt, maskInput: Tensor? = nil, multimaskOutput: Bool = true,
                        _ rec: ActivationRecorder? = nil) throws -> Prediction {
        try predictBatch([prompt], maskInputs: maskInput.map { [$0] }, multimaskOutput: multimaskOutput, rec)[0]
    }

    /// Throws unless the prompts can share one decoder pass (`Prompt.checkBatch`, with this family's token count)
    /// and each is valid for the current image, before anything runs.
    func checkBatch(_ prompts: [Prompt], maskInputs: [Tensor]?, tokens: (Prompt) -> Int) throws {
        try Prompt.checkBatch(prompts, maskInputs: maskInputs, tokens: tokens)
        for (i, p) in prompts.enumerated() { try validate(p, maskInput: maskInputs?[i]) }
    }

    public func setImage(_ image: RGBImage) { setImage(image, nil) }
}

extension SamPredictor: PromptPredictor {
    public var lowResSize: Int { model.config.lowResSize }
    public func readMaskInput(path: String, index: Int?, image: RGBImage) throws -> Tensor {
        try MaskInput.read(path: path, index: index, image: image, config: model.config)
    }
    public var imageIsSet: Bool { features != nil }
    public var modelName: String { model.config.presetName ?? "custom" }
    public var imageState: PredictorImageState? {
        features.map { .v1(embedding: $0, originalSize: originalSize, inputSize: inputSize, interm: intermFeatures) }
    }
    public func restore(_ state: PredictorImageState) {
        guard case .v1(let e, let o, let i, let interm) = state else { preconditionFailure("a SAM 2 image state given to a v1 predictor") }
        setEmbedding(e, originalSize: o, inputSize: i, interm: interm)
    }
}

extension SAM2Predictor: PromptPredictor {
    public var lowResSize: Int { model.config.lowResSize }
    public func readMaskInput(path: String, index: Int?, image: RGBImage) throws -> Tensor {
        try MaskInput.read(path: path, index: index, image: image, imageSize: model.config.imageSize,
                           lowResSize: model.config.lowResSize, stretched: true)
    }
    public var imageIsSet: Bool { features != nil }
    public var modelName: String { model.config.presetName ?? "sam2.1 custom" }
    public var imageState: PredictorImageState? { features.map { .sam2($0, originalSize: originalSize) } }
    public func restore(_ state: PredictorImageState) {
        guard case .sam2(let f, let o) = state else { preconditionFailure("a v1 image state given to a SAM 2 predictor") }
        setFeatures(f, originalSize: o)
    }
}

extension AnyModel {
    /// A predictor for this model.
    public func makePredictor() -> any PromptPredictor {
        switch self {
        case .sam(let m): return SamPredictor(model: m)
        case .sam2(let m): return SAM2Predictor(model: m)
        }
    }
}
