// Predicts masks and their IoU from image and prompt embeddings.
// ref: segment_anything/modeling/mask_decoder.py@dca509f (MaskDecoder)
import Foundation
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
    ///
    /// Meta's code repeats the image embedding once per prompt and runs the batch as one tensor. Without a recorder,
    /// a batch of several prompts is decoded prompt by prompt instead, the prompts spread over the cores
    /// (`parallelItems`): the same operations on the same values for each prompt, with a working set of one prompt
    /// (about 4 MB at 64×64×256) rather than B of them. When no prompt has a mask input, every prompt's first block
    /// reads the same keys, and that block's three image-side projections are computed once for the batch.
    public func predictMasks(imageEmbedding: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor,
                             _ rec: ActivationRecorder?) -> (Tensor, Tensor) {
        let b = sparse.shape[0]
        precondition(dense.shape[0] == b, "mask decoder: dense embeddings for \(dense.shape[0]) prompts, sparse for \(b)")
        if rec == nil && b > 1 {
            return predictMasksPerPrompt(imageEmbedding: imageEmbedding, imagePE: imagePE, sparse: sparse, dense: dense)
        }
        // src = repeat_interleave(image_embeddings, B) + dense; pos_src = repeat_interleave(image_pe, B)
        let src = addImageEmbedding(imageEmbedding, toDense: dense)
        let posSrc = Tensor(shape: [b] + Array(imagePE.shape.dropFirst()),
                            data: Array([[Float]](repeating: imagePE.data, count: b).joined()))
        let (hs, keys) = transformer(image: src, imagePE: posSrc, points: tokens(sparse), rec)
        return heads(hs: hs, keys: keys, h: imageEmbedding.shape[2], w: imageEmbedding.shape[3], rec)
    }

    /// [iou_token; mask_tokens] repeated for each prompt, then the prompt's sparse embeddings: B×(1+K+T)×C.
    func tokens(_ sparse: Tensor) -> Tensor {
        let b = sparse.shape[0], d = transformerDim
        let outputTokens = concat([iouToken, maskTokens], axis: 0)           // (1+K)×C
        return concat([Tensor(shape: [b, outputTokens.shape[0], d],
                              data: Array([[Float]](repeating: outputTokens.data, count: b).joined())),
                       sparse], axis: 1)
    }

    /// image embedding (1×C×h×w, broadcast) + dense (B×C×h×w), Meta's `src`.
    func addImageEmbedding(_ imageEmbedding: Tensor, toDense dense: Tensor) -> Tensor {
        let per = imageEmbedding.count, b = dense.shape[0]
        var src = dense
        src.data.withUnsafeMutableBufferPointer { p in
            imageEmbedding.data.withUnsafeBufferPointer { e in
                parallelChunks(b * per) { r in for i in r { p[i] = e[i % per] + p[i] } }
            }
        }
        return src
    }

    func predictMasksPerPrompt(imageEmbedding: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor) -> (Tensor, Tensor) {
        let b = sparse.shape[0], d = transformerDim, h = imageEmbedding.shape[2], w = imageEmbedding.shape[3]
        let hw = h * w, per = imageEmbedding.count, k = numMaskTokens
        let peSeq = permute(imagePE.reshaped([1, d, hw]), [0, 2, 1])
        let allTokens = tokens(sparse)
        // Without mask inputs every dense plane is no_mask_embed broadcast: one src for the whole batch.
        let denseShared = dense.data.withUnsafeBufferPointer { p in
            (1..<b).allSatisfy { memcmp(p.baseAddress!, p.baseAddress! + $0 * per, per * MemoryLayout<Float>.size) == 0 }
        }
        var sharedSeq: Tensor?, layer0: ImageProjections?
        if denseShared {
            let src = addImageEmbedding(imageEmbedding, toDense: sliceFirst(dense, 0..<1))
            sharedSeq = permute(src.reshaped([1, d, hw]), [0, 2, 1])
            layer0 = transformer.layers.first?.imageProjections(keys: sharedSeq!, keyPE: peSeq)
        }
        let mh = 4 * h, mw = 4 * w, plane = k * mh * mw
        var masks = Tensor(shape: [b, k, mh, mw]), iou = Tensor(shape: [b, k])
        masks.data.withUnsafeMutableBufferPointer { mp in
            iou.data.withUnsafeMutableBufferPointer { ip in
                let mBase = mp.baseAddress!, iBase = ip.baseAddress!
                parallelItems(b) { i in
                    let seq = sharedSeq ?? permute(addImageEmbedding(imageEmbedding, toDense: sliceFirst(dense, i..<(i + 1)))
                                                       .reshaped([1, d, hw]), [0, 2, 1])
                    let (hs, keys) = transformer.sequences(image: seq, imagePE: peSeq, points: sliceFirst(allTokens, i..<(i + 1)),
                                                           layer0: layer0, nil)
                    let (m, io) = heads(hs: hs, keys: keys, h: h, w: w, nil)
                    m.data.withUnsafeBufferPointer { (mBase + i * plane).update(from: $0.baseAddress!, count: plane) }
                    io.data.withUnsafeBufferPointer { (iBase + i * k).update(from: $0.baseAddress!, count: k) }
                }
            }
        }
        return (masks, iou)
    }

    /// Output upscaling, hypernetwork MLPs and IoU head on the transformer's outputs (hs B×T×C, keys B×hw×C).
    func heads(hs: Tensor, keys: Tensor, h: Int, w: Int, _ rec: ActivationRecorder?) -> (Tensor, Tensor) {
        let b = hs.shape[0], d = transformerDim
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
