// Predicts masks and their IoU from image and prompt embeddings.
// ref: segment_anything/modeling/mask_decoder.py@dca509f (MaskDecoder)
import SAMTensor

public final class MaskDecoder {
    public let name: String
    public let transformerDim: Int
    public let numMaskTokens: Int
    public let transformer: TwoWayTransformer
    /// `<name>.iou_token.weight` [1, C], `<name>.mask_tokens.weight` [numMaskTokens, C].
    public let iouToken: Tensor, maskTokens: Tensor
    /// `<name>.output_upscaling.0..4`: ConvT 2×2 → LayerNorm2d → GELU → ConvT 2×2 → GELU.
    public let up0: ConvTranspose2d, up1: LayerNorm2d, up2: Activation, up3: ConvTranspose2d, up4: Activation
    public let outputHypernetworksMLPs: [MLP]
    public let iouPredictionHead: MLP

    public init(_ w: WeightStore, _ name: String = "mask_decoder", config c: SAMConfig) {
        self.name = name
        let d = c.promptEmbedDim
        transformerDim = d
        numMaskTokens = c.numMaskTokens
        transformer = TwoWayTransformer(w, "\(name).transformer", depth: c.decoderDepth, embeddingDim: d,
                                        numHeads: c.decoderNumHeads, mlpDim: c.decoderMLPDim)
        iouToken = w.take("\(name).iou_token.weight", [1, d])
        maskTokens = w.take("\(name).mask_tokens.weight", [c.numMaskTokens, d])
        up0 = ConvTranspose2d(w, "\(name).output_upscaling.0", d, d / 4)
        up1 = LayerNorm2d(w, "\(name).output_upscaling.1", d / 4)
        up2 = Activation("\(name).output_upscaling.2", .gelu)
        up3 = ConvTranspose2d(w, "\(name).output_upscaling.3", d / 4, d / 8)
        up4 = Activation("\(name).output_upscaling.4", .gelu)
        outputHypernetworksMLPs = (0..<c.numMaskTokens).map {
            MLP(w, "\(name).output_hypernetworks_mlps.\($0)", inputDim: d, hiddenDim: d, outputDim: d / 8, numLayers: 3)
        }
        iouPredictionHead = MLP(w, "\(name).iou_prediction_head", inputDim: d, hiddenDim: c.iouHeadHiddenDim,
                                outputDim: c.numMaskTokens, numLayers: c.iouHeadDepth)
    }

    /// - imageEmbedding: 1×C×h×w (shared by every prompt); imagePE: 1×C×h×w; sparse: B×T×C; dense: B×C×h×w.
    /// - Returns masks B×K×4h×4w and IoU predictions B×K, K = 3 (outputs 1..3) with multimask, else 1 (output 0).
    public func callAsFunction(imageEmbedding: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor,
                               multimaskOutput: Bool, _ rec: ActivationRecorder?) -> (masks: Tensor, iou: Tensor) {
        let (masks, iou) = predictMasks(imageEmbedding: imageEmbedding, imagePE: imagePE, sparse: sparse, dense: dense, rec)
        let range = multimaskOutput ? 1..<numMaskTokens : 0..<1
        let m = slice(masks, axis: 1, range), i = slice(iou, axis: 1, range)
        rec.record("\(name):0", m)
        rec.record("\(name):1", i)
        return (m, i)
    }

    /// All mask tokens' masks B×numMaskTokens×4h×4w and IoU predictions B×numMaskTokens.
    public func predictMasks(imageEmbedding: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor,
                             _ rec: ActivationRecorder?) -> (Tensor, Tensor) {
        let b = sparse.shape[0], d = transformerDim
        let outputTokens = concat([iouToken, maskTokens], axis: 0)           // (1+K)×C
        let tokens = concat([Tensor(shape: [b, outputTokens.shape[0], d],
                                    data: Array([[Float]](repeating: outputTokens.data, count: b).joined())),
                             sparse], axis: 1)
        // src = repeat_interleave(image_embeddings, B) + dense; pos_src = repeat_interleave(image_pe, B)
        let per = imageEmbedding.count
        precondition(dense.shape[0] == b, "mask decoder: dense embeddings for \(dense.shape[0]) prompts, sparse for \(b)")
        var src = dense
        src.data.withUnsafeMutableBufferPointer { p in
            imageEmbedding.data.withUnsafeBufferPointer { e in
                parallelChunks(b * per) { r in for i in r { p[i] = e[i % per] + p[i] } }
            }
        }
        let posSrc = Tensor(shape: [b] + Array(imagePE.shape.dropFirst()),
                            data: Array([[Float]](repeating: imagePE.data, count: b).joined()))
        let (hs, keys) = transformer(image: src, imagePE: posSrc, points: tokens, rec)
        let h = imageEmbedding.shape[2], w = imageEmbedding.shape[3]
        let srcImage = permute(keys, [0, 2, 1]).reshaped([b, d, h, w])
        var up = up0(srcImage, rec); up = up1(up, rec); up = up2(up, rec); up = up3(up, rec); up = up4(up, rec)
        rec.record("\(name).output_upscaling", up)
        let t = hs.shape[1]
        // hyper_in[b, i, :] = mlp_i(hs[b, 1 + i, :])
        var hyper: [Tensor] = []
        for i in 0..<numMaskTokens {
            let tok = Tensor(shape: [b, d]) { p in
                for bi in 0..<b { for j in 0..<d { p[bi * d + j] = hs.data[(bi * t + 1 + i) * d + j] } }
            }
            hyper.append(outputHypernetworksMLPs[i](tok, rec).reshaped([b, 1, d / 8]))
        }
        let hyperIn = concat(hyper, axis: 1)                                   // B×K×C/8
        let uc = up.shape[1], uh = up.shape[2], uw = up.shape[3]
        let masks = matmul(hyperIn, up.reshaped([b, uc, uh * uw])).reshaped([b, numMaskTokens, uh, uw])
        let iouTok = Tensor(shape: [b, d]) { p in
            for bi in 0..<b { for j in 0..<d { p[bi * d + j] = hs.data[bi * t * d + j] } }
        }
        let iou = iouPredictionHead(iouTok, rec)
        return (masks, iou)
    }
}
