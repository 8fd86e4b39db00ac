// Transformer block with windowed or global attention and a GELU MLP, pre-norm.
// ref: segment_anything/modeling/image_encoder.py@dca509f (Block)
import SAMTensor

public final class Block {
    public let name: String
    public let norm1: LayerNorm, attn: Attention, norm2: LayerNorm, mlp: MLPBlock
    /// 0 for global attention.
    public let windowSize: Int

    public init(_ w: WeightStore, _ name: String, dim: Int, numHeads: Int, mlpDim: Int, windowSize: Int, gridSize: Int) {
        self.name = name
        self.windowSize = windowSize
        norm1 = LayerNorm(w, "\(name).norm1", dim, eps: 1e-6)
        attn = Attention(w, "\(name).attn", dim: dim, numHeads: numHeads, inputSize: windowSize == 0 ? gridSize : windowSize)
        norm2 = LayerNorm(w, "\(name).norm2", dim, eps: 1e-6)
        mlp = MLPBlock(w, "\(name).mlp", embeddingDim: dim, mlpDim: mlpDim, act: .gelu)
    }

    /// x: B×H×W×C → B×H×W×C.
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        var h = Profiler.measure("encoder: layer norms") { norm1(x, rec) }
        if windowSize > 0 && rec == nil {
            // The reference pads the normed tokens with zeros into windows and projects every padded token (4900 rows
            // at 64×64 with 14×14 windows); qkv of a zero row is the bias, and proj's outputs at the padding are
            // dropped, so both projections run on the 4096 real tokens and the padding gets the bias (same values).
            let b = h.shape[0], gh = h.shape[1], gw = h.shape[2], c = h.shape[3]
            let q = Profiler.measure("encoder: qkv + proj") { attn.qkv(h, nil) }
            let (windows, padded) = Profiler.measure("encoder: window partition") {
                windowPartition(q, windowSize: windowSize, padRow: attn.qkv.bias?.data ?? [Float](repeating: 0, count: 3 * c))
            }
            let a = Profiler.measure("encoder: windowed attention") { attn.attend(qkv: windows) }
            let un = Profiler.measure("encoder: window partition") {
                windowUnpartition(a.reshaped([windows.shape[0], windowSize, windowSize, c]), windowSize: windowSize,
                                  padded: padded, original: (gh, gw))
            }
            h = Profiler.measure("encoder: qkv + proj") { attn.proj(un.reshaped([b, gh, gw, c]), nil) }
        } else if windowSize > 0 {
            let (windows, padded) = Profiler.measure("encoder: window partition") { windowPartition(h, windowSize: windowSize) }
            let a = Profiler.measure("encoder: windowed attention") { attn(windows, rec) }
            h = Profiler.measure("encoder: window partition") {
                windowUnpartition(a, windowSize: windowSize, padded: padded, original: (x.shape[1], x.shape[2]))
            }
        } else if rec == nil {
            let b = h.shape[0], gh = h.shape[1], gw = h.shape[2], c = h.shape[3]
            let q = Profiler.measure("encoder: qkv + proj") { attn.qkv(h, nil) }
            let a = Profiler.measure("encoder: global attention") { attn.attend(qkv: q) }
            h = Profiler.measure("encoder: qkv + proj") { attn.proj(a.reshaped([b, gh, gw, c]), nil) }
        } else {
            h = Profiler.measure("encoder: global attention") { attn(h, rec) }
        }
        h.add(x)
        let n2 = Profiler.measure("encoder: layer norms") { norm2(h, rec) }
        var y = Profiler.measure("encoder: MLP") { mlp(n2, rec) }
        y.add(h)
        rec.record(name, y)
        return y
    }
}
