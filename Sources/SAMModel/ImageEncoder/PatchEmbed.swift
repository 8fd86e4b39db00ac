// Patch embedding: conv patch×patch stride patch, then channels-last.
// ref: segment_anything/modeling/image_encoder.py@dca509f (PatchEmbed)
import SAMTensor

public final class PatchEmbed {
    public let name: String
    /// `<name>.proj`: Conv2d(3, embedDim, kernel = stride = patch).
    public let proj: Conv2d

    public init(_ w: WeightStore, _ name: String, patchSize: Int, embedDim: Int) {
        self.name = name
        proj = Conv2d(w, "\(name).proj", 3, embedDim, kernel: patchSize, stride: patchSize, asMatrix: true)
    }

    /// x: B×3×S×S → B×(S/p)×(S/p)×C, straight into the tokens' channels-last layout (`patchConv2dNHWC`); the
    /// recorder gets `proj`'s output as the reference has it, B×C×(S/p)×(S/p).
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        let y = patchConv2dNHWC(x, weight: proj.weight, bias: proj.bias, patch: proj.stride)
        rec.record(proj.name, permute(y, [0, 3, 1, 2]))
        rec.record(name, y)
        return y
    }
}
