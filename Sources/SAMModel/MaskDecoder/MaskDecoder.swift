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
    /// `output_upscaling`'s weights regrouped for the pixel-major path (`upscaleMasks`).
    let upscaleWeights: UpscaleWeights

    public init(_ w: WeightStore, _ name: String = "mask_decoder", config c: SAMConfig) {
        self.name = name
        let d = c.promptEmbedDim
        transformerDim = d
        numMaskTokens = c.numMaskTokens
        transformer = TwoWayTransformer(w, "\(name).transformer", depth: c.decoderDepth, embeddingDim: d,
                                        numHeads: c.decoderNumHeads, mlpDim: c.decoderMLPDim, normEps: c.decoderLayerNormEps)
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
        upscaleWeights = UpscaleWeights(up0Weight: up0.weight, up0Bias: up0.bias, lnWeight: up1.weight, lnBias: up1.bias,
                                        eps: up1.eps, up3Weight: up3.weight, up3Bias: up3.bias)
    }

    /// - imageEmbedding: 1×C×h×w (shared by every prompt); imagePE: 1×C×h×w; sparse: B×T×C; dense: B×C×h×w.
    /// - Returns masks B×K×4h×4w and IoU predictions B×K, K = 3 (outputs 1..3) with multimask, else 1 (output 0).
    public func callAsFunction(imageEmbedding: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor,
                               multimaskOutput: Bool, _ rec: ActivationRecorder?) -> (masks: Tensor, iou: Tensor) {
        let range = multimaskOutput ? 1..<numMaskTokens : 0..<1
        if rec == nil { return decodeSharingDense(imageEmbedding: imageEmbedding, imagePE: imagePE, sparse: sparse, dense: dense, outputs: range) }
        let (masks, iou) = predictMasks(imageEmbedding: imageEmbedding, imagePE: imagePE, sparse: sparse, dense: dense, rec)
        let m = slice(masks, axis: 1, range), i = slice(iou, axis: 1, range)
        rec.record("\(name):0", m)
        rec.record("\(name):1", i)
        return (m, i)
    }

    /// All mask tokens' masks B×numMaskTokens×4h×4w and IoU predictions B×numMaskTokens.
    ///
    /// Meta's code repeats the image embedding once per prompt and runs the batch as one tensor; that is what runs
    /// with a recorder (the dumps name every intermediate). Without one, the prompts go through `decode`.
    public func predictMasks(imageEmbedding: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor,
                             _ rec: ActivationRecorder?) -> (Tensor, Tensor) {
        let b = sparse.shape[0]
        precondition(dense.shape[0] == b, "mask decoder: dense embeddings for \(dense.shape[0]) prompts, sparse for \(b)")
        if rec == nil {
            return decodeSharingDense(imageEmbedding: imageEmbedding, imagePE: imagePE, sparse: sparse, dense: dense,
                                      outputs: 0..<numMaskTokens)
        }
        // src = repeat_interleave(image_embeddings, B) + dense; pos_src = repeat_interleave(image_pe, B)
        let src = addImageEmbedding(imageEmbedding, toDense: dense)
        let posSrc = Tensor(shape: [b] + Array(imagePE.shape.dropFirst()),
                            data: Array([[Float]](repeating: imagePE.data, count: b).joined()))
        let (hs, keys) = transformer(image: src, imagePE: posSrc, points: tokens(sparse), rec)
        return heads(hs: hs, keys: keys, h: imageEmbedding.shape[2], w: imageEmbedding.shape[3], rec)
    }

    /// `decode` for a batch given as tensors: when every prompt's dense plane is the same (no mask inputs:
    /// no_mask_embed broadcast), it is the image's shared plane.
    func decodeSharingDense(imageEmbedding: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor,
                            outputs: Range<Int>) -> (Tensor, Tensor) {
        let b = sparse.shape[0]
        precondition(dense.shape[0] == b, "mask decoder: dense embeddings for \(dense.shape[0]) prompts, sparse for \(b)")
        let shared = Self.denseIsShared(dense)
        let image = prepare(imageEmbedding: imageEmbedding, imagePE: imagePE, sharedDense: shared ? sliceFirst(dense, 0..<1) : nil)
        return decode(image, sparse: sparse, dense: shared ? nil : dense, outputs: outputs)
    }

    /// Whether every prompt's dense plane (B×C×h×w) is the first one's, bit for bit.
    static func denseIsShared(_ dense: Tensor) -> Bool {
        let b = dense.shape[0], per = dense.count / max(1, b)
        return dense.data.withUnsafeBufferPointer { p in
            (1..<b).allSatisfy { memcmp(p.baseAddress!, p.baseAddress! + $0 * per, per * MemoryLayout<Float>.size) == 0 }
        }
    }

    /// One image as the decoder reads it, prepared once and reused by every prompt decoded against it: the image
    /// embedding, its positional encoding as a token sequence, and — for prompts without a mask input, whose dense
    /// embedding is the same plane — the sum `src` as a sequence and the first block's image-side projections
    /// (`TwoWayAttentionBlock.imageProjections`), computed on first use.
    public final class Image: @unchecked Sendable {
        public let embedding: Tensor
        public let h: Int, w: Int
        let peSeq: Tensor
        let sharedDense: Tensor?
        unowned let decoder: MaskDecoder
        private let lock = NSLock()
        private var sharedState: (seq: Tensor, layer0: ImageProjections?)?

        init(decoder: MaskDecoder, embedding: Tensor, imagePE: Tensor, sharedDense: Tensor?) {
            precondition(embedding.rank == 4 && embedding.shape[0] == 1 && embedding.shape[1] == decoder.transformerDim,
                         "mask decoder: image embedding \(embedding.shape) is not 1×\(decoder.transformerDim)×h×w")
            precondition(imagePE.shape == embedding.shape, "mask decoder: image PE \(imagePE.shape) for embedding \(embedding.shape)")
            self.decoder = decoder
            self.embedding = embedding
            h = embedding.shape[2]; w = embedding.shape[3]
            peSeq = permute(imagePE.reshaped([1, decoder.transformerDim, h * w]), [0, 2, 1])
            self.sharedDense = sharedDense
        }

        /// `src` = embedding + dense plane, as a 1×hw×C sequence.
        func sequence(dense: Tensor) -> Tensor {
            permute(decoder.addImageEmbedding(embedding, toDense: dense).reshaped([1, decoder.transformerDim, h * w]), [0, 2, 1])
        }

        /// The shared `src` sequence and the first block's projections of it (prompts without mask input).
        func shared() -> (seq: Tensor, layer0: ImageProjections?) {
            lock.lock(); defer { lock.unlock() }
            if let s = sharedState { return s }
            guard let sharedDense else { preconditionFailure("mask decoder: no dense embedding for prompts without mask input") }
            let seq = sequence(dense: sharedDense)
            let s = (seq, decoder.transformer.layers.first?.imageProjections(keys: seq, keyPE: peSeq))
            sharedState = s
            return s
        }
    }

    /// Prepares an image embedding (1×C×h×w) with its dense positional encoding (1×C×h×w) for `decode`;
    /// `sharedDense` (1×C×h×w) is the dense embedding of prompts without a mask input (no_mask_embed broadcast).
    public func prepare(imageEmbedding: Tensor, imagePE: Tensor, sharedDense: Tensor?) -> Image {
        Image(decoder: self, embedding: imageEmbedding, imagePE: imagePE, sharedDense: sharedDense)
    }

    /// Masks B×K×4h×4w and IoU predictions B×K of mask tokens `outputs` (1..<4 with multimask, 0..<1 without) for
    /// B prompts: sparse B×T×C; dense B×C×h×w for prompts with mask inputs, nil for prompts without (the image's
    /// `sharedDense`). Prompt by prompt, the prompts spread over the cores (`parallelItems`), each with a working set
    /// of one prompt (about 4 MB at 64×64×256); one prompt alone uses both cores inside its kernels. Each prompt's
    /// values are the same operations on the same numbers whether it is decoded alone or in a batch.
    public func decode(_ image: Image, sparse: Tensor, dense: Tensor?, outputs: Range<Int>) -> (masks: Tensor, iou: Tensor) {
        let b = sparse.shape[0], h = image.h, w = image.w, d = transformerDim
        if let dense { precondition(dense.shape == [b, d, h, w], "mask decoder: dense \(dense.shape) for \(b) prompts") }
        let k = outputs.count, mh = 4 * h, mw = 4 * w, plane = k * mh * mw
        let allTokens = tokens(sparse)
        // every element is written below (each prompt's planes and scores)
        var masks = Tensor(shape: [b, k, mh, mw]) { _ in }, iou = Tensor(shape: [b, k]) { _ in }
        masks.data.withUnsafeMutableBufferPointer { mp in
            iou.data.withUnsafeMutableBufferPointer { ip in
                let mBase = mp.baseAddress!, iBase = ip.baseAddress!
                parallelItems(b) { i in
                    let (hs, keys) = transformPrompt(image, tokens: allTokens, dense: dense, index: i)
                    fastHeads(hs: hs, keys: keys, h: h, w: w, outputs: outputs, masks: mBase + i * plane, iou: iBase + i * k)
                }
            }
        }
        return (masks, iou)
    }

    /// The transformer's outputs (queries 1×T×C, keys 1×hw×C) for prompt `i` of `tokens` (B×T×C, `tokens(_:)`):
    /// dense B×C×h×w for prompts with mask inputs, nil for the image's shared plane.
    func transformPrompt(_ image: Image, tokens: Tensor, dense: Tensor?, index i: Int) -> (hs: Tensor, keys: Tensor) {
        let (seq, layer0) = dense.map { (image.sequence(dense: sliceFirst($0, i..<(i + 1))), nil) } ?? image.shared()
        return transformer.sequences(image: seq, imagePE: image.peSeq, points: sliceFirst(tokens, i..<(i + 1)),
                                     layer0: layer0, nil)
    }

    /// `heads` for one prompt without a recorder: only the masks of `outputs` are formed, straight into `masks`
    /// (K×4h×4w), by the pixel-major upscaling (`upscaleMasks`); their IoU predictions go to `iou`.
    func fastHeads(hs: Tensor, keys: Tensor, h: Int, w: Int, outputs: Range<Int>,
                   masks: UnsafeMutablePointer<Float>, iou: UnsafeMutablePointer<Float>) {
        let d = transformerDim, uc = upscaleWeights.out
        var hyper = [Float](repeating: 0, count: outputs.count * uc)
        for (r, i) in outputs.enumerated() {
            let tok = Tensor(shape: [1, d], data: Array(hs.data[((1 + i) * d)..<((2 + i) * d)]))
            let y = outputHypernetworksMLPs[i](tok, nil)
            for j in 0..<uc { hyper[r * uc + j] = y.data[j] }
        }
        hyper.withUnsafeBufferPointer { hp in
            keys.data.withUnsafeBufferPointer { kp in
                upscaleMasks(keys: kp.baseAddress!, height: h, width: w, weights: upscaleWeights, hyper: hp.baseAddress!,
                             count: outputs.count, masks: masks)
            }
        }
        let scores = iouPredictionHead(Tensor(shape: [1, d], data: Array(hs.data[0..<d])), nil)
        for (r, i) in outputs.enumerated() { iou[r] = scores.data[i] }
    }

    /// [iou_token; mask_tokens; extra] repeated for each prompt, then the prompt's sparse embeddings:
    /// B×(1+K+E+T)×C. `extra`: E×C output tokens after the mask tokens (HQ-SAM's hf_token).
    func tokens(_ sparse: Tensor, extra: Tensor? = nil) -> Tensor {
        let b = sparse.shape[0], d = transformerDim
        let outputTokens = concat([iouToken, maskTokens] + (extra.map { [$0] } ?? []), axis: 0)  // (1+K+E)×C
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

    /// Output upscaling, hypernetwork MLPs and IoU head on the transformer's outputs (hs B×T×C, keys B×hw×C).
    func heads(hs: Tensor, keys: Tensor, h: Int, w: Int, _ rec: ActivationRecorder?) -> (Tensor, Tensor) {
        let up = upscaled(keys: keys, h: h, w: w, rec)
        // hyper_in[b, i, :] = mlp_i(hs[b, 1 + i, :])
        let hyperIn = concat((0..<numMaskTokens).map { outputHypernetworksMLPs[$0](Self.token(hs, 1 + $0), rec) }
                                 .map { $0.reshaped([$0.shape[0], 1, $0.shape[1]]) }, axis: 1)   // B×K×C/8
        let masks = Self.maskProduct(hyperIn, up)
        let iou = iouPredictionHead(Self.token(hs, 0), rec)
        return (masks, iou)
    }

    /// `output_upscaling` of the transformer's image tokens (keys B×hw×C): B×C/8×4h×4w.
    func upscaled(keys: Tensor, h: Int, w: Int, _ rec: ActivationRecorder?) -> Tensor {
        let srcImage = permute(keys, [0, 2, 1]).reshaped([keys.shape[0], transformerDim, h, w])
        var up = up0(srcImage, rec); up = up1(up, rec); up = up2(up, rec); up = up3(up, rec); up = up4(up, rec)
        rec.record("\(name).output_upscaling", up)
        return up
    }

    /// Token `index` of every prompt, hs[:, index, :]: B×C.
    static func token(_ hs: Tensor, _ index: Int) -> Tensor {
        let b = hs.shape[0], t = hs.shape[1], d = hs.shape[2]
        return Tensor(shape: [b, d]) { p in
            for bi in 0..<b { for j in 0..<d { p[bi * d + j] = hs.data[(bi * t + index) * d + j] } }
        }
    }

    /// (hyper B×K×c) @ (embedding B×c×H×W viewed B×c×HW): masks B×K×H×W.
    static func maskProduct(_ hyperIn: Tensor, _ up: Tensor) -> Tensor {
        let b = up.shape[0], uc = up.shape[1], uh = up.shape[2], uw = up.shape[3]
        return matmul(hyperIn, up.reshaped([b, uc, uh * uw])).reshaped([b, hyperIn.shape[1], uh, uw])
    }
}
