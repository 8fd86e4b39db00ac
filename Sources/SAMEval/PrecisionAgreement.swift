// How far a reduced-precision model's masks are from its float32 twin's on the very same prompts: the predictor
// `sam ablate` evaluates a bf16 checkpoint with, which also runs the fp32 model on every call and logs the
// agreement of their masks, pixel by pixel.
import Foundation
import SAMIO
import SAMInference
import SAMModel
import SAMTensor

/// Runs `subject` (the model under evaluation, e.g. bf16) and `baseline` (the same checkpoint in fp32) on every
/// image and prompt; returns the subject's predictions, so the evaluation scores the subject exactly as alone, and
/// logs, per call, the fraction of mask pixels (all returned masks) on which the two agree.
public final class AgreementPredictor: PromptPredictor {
    public let subject: any PromptPredictor
    public let baseline: any PromptPredictor
    /// Agreement of each call since the last `takeLog()`.
    private var log: [Double] = []

    public init(subject: any PromptPredictor, baseline: any PromptPredictor) {
        self.subject = subject
        self.baseline = baseline
    }

    public var originalSize: (h: Int, w: Int) { subject.originalSize }
    public var lowResSize: Int { subject.lowResSize }
    public var imageIsSet: Bool { subject.imageIsSet }
    public var modelName: String { subject.modelName }
    public var imageState: PredictorImageState? { subject.imageState }

    public func setImage(_ image: RGBImage, _ rec: ActivationRecorder?) {
        subject.setImage(image, rec)
        baseline.setImage(image, nil)
    }

    public func validate(_ p: Prompt, maskInput: Tensor?) throws { try subject.validate(p, maskInput: maskInput) }

    public func readMaskInput(path: String, index: Int?, image: RGBImage) throws -> Tensor {
        try subject.readMaskInput(path: path, index: index, image: image)
    }

    public func predictBatch(_ prompts: [Prompt], maskInputs: [Tensor]?, multimaskOutput: Bool,
                             _ rec: ActivationRecorder?) throws -> [Prediction] {
        let ours = try subject.predictBatch(prompts, maskInputs: maskInputs, multimaskOutput: multimaskOutput, rec)
        let base = try baseline.predictBatch(prompts, maskInputs: maskInputs, multimaskOutput: multimaskOutput, nil)
        for (a, b) in zip(ours, base) { log.append(Self.agreement(a.masks, b.masks)) }
        return ours
    }

    public func restore(_ state: PredictorImageState) {
        subject.restore(state)
        baseline.restore(state)
    }

    /// The agreements logged since the last call, emptied.
    public func takeLog() -> [Double] {
        defer { log = [] }
        return log
    }

    /// Fraction of equal pixels (as masks: zero or not) of two mask stacks of one size.
    public static func agreement(_ a: [UInt8], _ b: [UInt8]) -> Double {
        precondition(a.count == b.count, "agreement of mask stacks of \(a.count) and \(b.count) pixels")
        guard !a.isEmpty else { return 1 }
        var same = 0
        for i in a.indices where (a[i] != 0) == (b[i] != 0) { same += 1 }
        return Double(same) / Double(a.count)
    }
}
