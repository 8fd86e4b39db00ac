// Patch embedding: conv patch×patch stride patch, then channels-last.
// ref: segment_anything/modeling/image_encoder.py@dca509f (PatchEmbed)
import SAMTensor

public final class PatchEmbed {
    public let name: String
    /// `<name>.proj`: Conv2d(3, embedDim, kernel = stride = patch).
    public let proj: Conv2d

    public init(_ w: WeightStore, _ name: String, patchSize: Int, embedDim: Int) {
        self.name = name
        proj = Conv2d(w, "\(name).proj", 3, embedDim, kernel: patchSize, stride: patchSize)
    }

    /// x: B×3×S×S → B×(S/p)×(S/p)×C.
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        let y = permute(proj(x, rec), [0, 2, 3, 1])
        rec.record(name, y)
        return y
    }
}
