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

    /// x: B×H×W×C → B×H×W×C (windows or the whole grid); the attention between the projections is timed as `stage`.
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?, stage: String) -> Tensor {
        let b = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3]
        let q = Profiler.measure("encoder: qkv + proj") { qkv(x, rec) }
        let a = Profiler.measure(stage) { attend(qkv: q) }
        let y = Profiler.measure("encoder: qkv + proj") { proj(a.reshaped([b, h, wd, c]), rec) }
        rec.record(name, y)
        return y
    }

    /// Windowed attention over a B×H×W×C token grid without a recorder: the reference pads the tokens with zeros into
    /// ws×ws windows and projects every padded token (4900 rows at 64×64 with 14×14 windows); qkv of a zero row is
    /// the bias, and proj's outputs at the padding are dropped, so here both projections run on the H·W real tokens
    /// and the padding of the partitioned qkv gets the bias (the same values).
    public func windowed(_ x: Tensor, windowSize ws: Int) -> Tensor {
        let b = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3]
        let q = Profiler.measure("encoder: qkv + proj") { qkv(x, nil) }
        let padRow = qkv.bias?.data ?? [Float](repeating: 0, count: 3 * c)
        if Precision.products == .bf16 && relPosH.shape[0] == 2 * ws - 1 && relPosW.shape[0] == 2 * ws - 1 {
            // bf16: the attention reads its windows from the grid and writes the real tokens back (no partitioned
            // copies, no padding queries)
            let a = Profiler.measure("encoder: windowed attention") {
                windowedAttentionDecomposedRelPosBF16(qkv: q, windowSize: ws, padRow: padRow, heads: numHeads,
                                                      relPosH: relPosH, relPosW: relPosW)
            }
            return Profiler.measure("encoder: qkv + proj") { proj(a, nil) }
        }
        let (windows, padded) = Profiler.measure("encoder: window partition") {
            windowPartition(q, windowSize: ws, padRow: padRow)
        }
        let a = Profiler.measure("encoder: windowed attention") { attend(qkv: windows) }
        let un = Profiler.measure("encoder: window partition") {
            windowUnpartition(a.reshaped([windows.shape[0], ws, ws, c]), windowSize: ws, padded: padded, original: (h, wd))
        }
        return Profiler.measure("encoder: qkv + proj") { proj(un.reshaped([b, h, wd, c]), nil) }
    }
}
