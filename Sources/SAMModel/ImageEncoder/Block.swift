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
            h = attn.windowed(h, windowSize: windowSize)
        } else if windowSize > 0 {
            let (windows, padded) = Profiler.measure("encoder: window partition") { windowPartition(h, windowSize: windowSize) }
            let a = attn(windows, rec, stage: "encoder: windowed attention")
            h = Profiler.measure("encoder: window partition") {
                windowUnpartition(a, windowSize: windowSize, padded: padded, original: (x.shape[1], x.shape[2]))
            }
        } else {
            h = attn(h, rec, stage: "encoder: global attention")
        }
        h.add(x)
        let n2 = Profiler.measure("encoder: layer norms") { norm2(h, rec) }
        var y = Profiler.measure("encoder: MLP") { mlp(n2, rec) }
        y.add(h)
        rec.record(name, y)
        return y
    }
}
