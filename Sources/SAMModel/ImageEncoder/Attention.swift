// Multi-head attention with decomposed relative position (windowed or global).
// ref: segment_anything/modeling/image_encoder.py@dca509f (Attention)
import SAMTensor

public final class Attention {
    public let name: String
    public let numHeads: Int
    /// `<name>.qkv`: Linear(dim, 3·dim).
    public let qkv: Linear
    /// `<name>.proj`: Linear(dim, dim).
    public let proj: Linear
    /// `<name>.rel_pos_h`, `<name>.rel_pos_w`: [2·size − 1, dim/heads].
    public let relPosH: Tensor, relPosW: Tensor

    public init(_ w: WeightStore, _ name: String, dim: Int, numHeads: Int, inputSize: Int) {
        self.name = name
        self.numHeads = numHeads
        qkv = Linear(w, "\(name).qkv", dim, 3 * dim)
        proj = Linear(w, "\(name).proj", dim, dim)
        relPosH = w.take("\(name).rel_pos_h", [2 * inputSize - 1, dim / numHeads])
        relPosW = w.take("\(name).rel_pos_w", [2 * inputSize - 1, dim / numHeads])
    }

    /// The attention between the projections: qkv B×H×W×3C (this block's `qkv` output) → B×H·W×C (`proj`'s input).
    public func attend(qkv q: Tensor) -> Tensor {
        attentionDecomposedRelPos(qkv: q, batch: q.shape[0], height: q.shape[1], width: q.shape[2], heads: numHeads,
                                  relPosH: relPosH, relPosW: relPosW)
    }

    /// x: B×H×W×C → B×H×W×C.
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        let b = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3]
        let q = Profiler.measure("encoder: qkv + proj") { qkv(x, rec) }
        let a = attentionDecomposedRelPos(qkv: q, batch: b, height: h, width: wd, heads: numHeads,
                                          relPosH: relPosH, relPosW: relPosW)
        let y = Profiler.measure("encoder: qkv + proj") { proj(a.reshaped([b, h, wd, c]), rec) }
        rec.record(name, y)
        return y
    }
}
