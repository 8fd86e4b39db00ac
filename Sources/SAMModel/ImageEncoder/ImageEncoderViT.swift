// The ViT image encoder: patch embedding + absolute position, blocks, neck.
// ref: segment_anything/modeling/image_encoder.py@dca509f (ImageEncoderViT)
// ref: segment_anything_hq/modeling/image_encoder.py@segment-anything-hq 0.3 (ImageEncoderViT: the same encoder,
//      returning `(x, interm_embeddings)`, the outputs of the global-attention blocks)
import SAMTensor

public final class ImageEncoderViT {
    public let name: String
    public let config: SAMConfig
    public let patchEmbed: PatchEmbed
    /// `<name>.pos_embed`: 1×grid×grid×C.
    public let posEmbed: Tensor
    public let blocks: [Block]
    /// `<name>.neck.0..3`: conv 1×1 (no bias) → LayerNorm2d → conv 3×3 pad 1 (no bias) → LayerNorm2d.
    public let neck0: Conv2d, neck1: LayerNorm2d, neck2: Conv2d, neck3: LayerNorm2d

    public init(_ w: WeightStore, _ name: String = "image_encoder", config c: SAMConfig) {
        self.name = name
        config = c
        patchEmbed = PatchEmbed(w, "\(name).patch_embed", patchSize: c.patchSize, embedDim: c.encoderEmbedDim)
        posEmbed = w.take("\(name).pos_embed", [1, c.gridSize, c.gridSize, c.encoderEmbedDim])
        blocks = (0..<c.encoderDepth).map { i in
            Block(w, "\(name).blocks.\(i)", dim: c.encoderEmbedDim, numHeads: c.encoderNumHeads, mlpDim: c.encoderMLPDim,
                  windowSize: c.encoderGlobalAttnIndexes.contains(i) ? 0 : c.windowSize, gridSize: c.gridSize)
        }
        neck0 = Conv2d(w, "\(name).neck.0", c.encoderEmbedDim, c.outChans, kernel: 1, bias: false, asMatrix: true)
        neck1 = LayerNorm2d(w, "\(name).neck.1", c.outChans)
        neck2 = Conv2d(w, "\(name).neck.2", c.outChans, c.outChans, kernel: 3, padding: 1, bias: false)
        neck3 = LayerNorm2d(w, "\(name).neck.3", c.outChans)
    }

    /// x: B×3×S×S (normalised, padded) → image embedding B×outChans×grid×grid.
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        encode(x, rec, hqOutputs: false).embedding
    }

    /// The image embedding (B×outChans×grid×grid) and the output of the first global-attention block (B×grid×grid×C,
    /// channels-last: HQ-SAM's `interm_embeddings[0]`; nil without global blocks). `hqOutputs`: the encoder's own
    /// output is recorded as HQ-SAM's encoder returns it, a tuple: `NAME:0` the embedding, `NAME:1:i` the output of
    /// the i-th global block, instead of `NAME`.
    public func encode(_ x: Tensor, _ rec: ActivationRecorder?, hqOutputs: Bool) -> (embedding: Tensor, interm: Tensor?) {
        var h = Profiler.measure("encoder: patch embedding") { patchEmbed(x, rec) }
        let per = posEmbed.count
        h.data.withUnsafeMutableBufferPointer { p in
            posEmbed.data.withUnsafeBufferPointer { pe in
                for b in 0..<h.shape[0] { for i in 0..<per { p[b * per + i] += pe[i] } }
            }
        }
        var interm: Tensor?
        var globalIndex = 0
        for blk in blocks {
            h = blk(h, rec)
            if blk.windowSize == 0 {
                if interm == nil { interm = h }
                if hqOutputs { rec.record("\(name):1:\(globalIndex)", h) }
                globalIndex += 1
            }
        }
        let y = Profiler.measure("encoder: neck") { () -> Tensor in
            // in the tokens' channels-last layout: the 1×1 convolution is a linear map over channels, LayerNorm2d a
            // norm over each pixel's channels (a row), the 3×3 convolution gathers runs of channels
            // (`conv2dNHWC`); one transposition to B×C×H×W at the end. The recorder gets each module's output as
            // the reference has it, channels first.
            let co = neck0.weight.shape[0]
            var y = linear(h, weight: neck0.weight.reshaped([co, neck0.weight.shape[1]]), bias: neck0.bias)
            rec.record(neck0.name, permute(y, [0, 3, 1, 2]))
            y = layerNorm(y, weight: neck1.weight, bias: neck1.bias, eps: neck1.eps)
            rec.record(neck1.name, permute(y, [0, 3, 1, 2]))
            y = conv2dNHWC(y, weight: neck2.weight, bias: neck2.bias, padding: neck2.padding)
            rec.record(neck2.name, permute(y, [0, 3, 1, 2]))
            y = layerNorm(y, weight: neck3.weight, bias: neck3.bias, eps: neck3.eps)
            let out = permute(y, [0, 3, 1, 2])
            rec.record(neck3.name, out)
            return out
        }
        rec.record("\(name).neck", y)
        rec.record(hqOutputs ? "\(name):0" : name, y)
        return (y, interm)
    }
}
