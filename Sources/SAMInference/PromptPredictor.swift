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
}

extension PromptPredictor {
    /// One prompt (`predictBatch` of one).
    public func predictOne(_ prompt: Prompt, maskInput: Tensor? = nil, multimaskOutput: Bool = true) throws -> Prediction {
        try predictBatch([prompt], maskInputs: maskInput.map { [$0] }, multimaskOutput: multimaskOutput, nil)[0]
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
}

extension SAM2Predictor: PromptPredictor {
    public var lowResSize: Int { model.config.lowResSize }
    public func readMaskInput(path: String, index: Int?, image: RGBImage) throws -> Tensor {
        try MaskInput.read(path: path, index: index, image: image, imageSize: model.config.imageSize,
                           lowResSize: model.config.lowResSize, stretched: true)
    }
    public var imageIsSet: Bool { features != nil }
    public var modelName: String { model.config.presetName ?? "sam2.1 custom" }
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
