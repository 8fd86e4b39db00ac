// HQ-SAM's mask decoder: SAM's decoder plus a high-quality output token whose mask reads a fusion of the image
// embedding, an early ViT feature and SAM's upscaled mask embedding.
// ref: segment_anything_hq/modeling/mask_decoder_hq.py@segment-anything-hq 0.3 (MaskDecoderHQ)
import Foundation
import SAMTensor

public final class MaskDecoderHQ {
    public let name: String
    /// SAM's decoder under the same keys (transformer, iou/mask tokens, output_upscaling, hypernetwork MLPs, IoU head).
    public let base: MaskDecoder
    /// Channels of the ViT feature (`interm_embeddings[0]`): the encoder's embed dim, 160 for Light HQ-SAM's TinyViT.
    public let vitDim: Int
    /// `<name>.hf_token.weight` [1, C]: the HQ output token, after SAM's mask tokens.
    public let hfToken: Tensor
    /// `<name>.hf_mlp`: the HQ token's hypernetwork MLP (C → C → C/8).
    public let hfMLP: MLP
    /// `<name>.compress_vit_feat.0..3`: ConvT 2×2 (vitDim → C) → LayerNorm2d → GELU → ConvT 2×2 (C → C/8).
    public let compress0: ConvTranspose2d, compress1: LayerNorm2d, compress2: Activation, compress3: ConvTranspose2d
    /// `<name>.embedding_encoder.0..3`: ConvT 2×2 (C → C/4) → LayerNorm2d → GELU → ConvT 2×2 (C/4 → C/8).
    public let encoder0: ConvTranspose2d, encoder1: LayerNorm2d, encoder2: Activation, encoder3: ConvTranspose2d
    /// `<name>.embedding_maskfeature.0..3`: conv 3×3 (C/8 → C/4) → LayerNorm2d → GELU → conv 3×3 (C/4 → C/8).
    public let maskFeature0: Conv2d, maskFeature1: LayerNorm2d, maskFeature2: Activation, maskFeature3: Conv2d
    /// The three stacks' weights regrouped for the pixel-major fast path.
    let compressWeights: UpscaleWeights, encoderWeights: UpscaleWeights, maskFeatureWeights: MaskFeatureWeights

    /// Keys under `name`: SAM's decoder keys plus the HQ ones; `vitDim`: channels of the interm feature.
    public init(_ w: WeightStore, _ name: String = "mask_decoder", config c: SAMConfig, vitDim: Int) {
        self.name = name
        self.vitDim = vitDim
        base = MaskDecoder(w, name, config: c)
        let d = c.promptEmbedDim
        hfToken = w.take("\(name).hf_token.weight", [1, d])
        hfMLP = MLP(w, "\(name).hf_mlp", inputDim: d, hiddenDim: d, outputDim: d / 8, numLayers: 3)
        compress0 = ConvTranspose2d(w, "\(name).compress_vit_feat.0", vitDim, d)
        compress1 = LayerNorm2d(w, "\(name).compress_vit_feat.1", d)
        compress2 = Activation("\(name).compress_vit_feat.2", .gelu)
        compress3 = ConvTranspose2d(w, "\(name).compress_vit_feat.3", d, d / 8)
        encoder0 = ConvTranspose2d(w, "\(name).embedding_encoder.0", d, d / 4)
        encoder1 = LayerNorm2d(w, "\(name).embedding_encoder.1", d / 4)
        encoder2 = Activation("\(name).embedding_encoder.2", .gelu)
        encoder3 = ConvTranspose2d(w, "\(name).embedding_encoder.3", d / 4, d / 8)
        maskFeature0 = Conv2d(w, "\(name).embedding_maskfeature.0", d / 8, d / 4, kernel: 3, padding: 1)
        maskFeature1 = LayerNorm2d(w, "\(name).embedding_maskfeature.1", d / 4)
        maskFeature2 = Activation("\(name).embedding_maskfeature.2", .gelu)
        maskFeature3 = Conv2d(w, "\(name).embedding_maskfeature.3", d / 4, d / 8, kernel: 3, padding: 1)
        compressWeights = UpscaleWeights(up0Weight: compress0.weight, up0Bias: compress0.bias, lnWeight: compress1.weight,
                                         lnBias: compress1.bias, eps: compress1.eps, up3Weight: compress3.weight,
                                         up3Bias: compress3.bias)
        encoderWeights = UpscaleWeights(up0Weight: encoder0.weight, up0Bias: encoder0.bias, lnWeight: encoder1.weight,
                                        lnBias: encoder1.bias, eps: encoder1.eps, up3Weight: encoder3.weight,
                                        up3Bias: encoder3.bias)
        maskFeatureWeights = MaskFeatureWeights(conv0Weight: maskFeature0.weight, conv0Bias: maskFeature0.bias!,
                                                lnWeight: maskFeature1.weight, lnBias: maskFeature1.bias,
                                                eps: maskFeature1.eps, conv3Weight: maskFeature3.weight,
                                                conv3Bias: maskFeature3.bias!)
    }

    /// Whether a checkpoint's tensors carry the HQ decoder (`mask_decoder.hf_token.weight`).
    public static func isHQ(_ tensors: [String: Tensor]) -> Bool { tensors["mask_decoder.hf_token.weight"] != nil }

    /// The reference forward. imageEmbedding 1×C×h×w, interm 1×h×w×vitDim (channels-last, HQ's
    /// `interm_embeddings[0]`), imagePE 1×C×h×w, sparse B×T×C, dense B×C×h×w.
    /// - Returns masks B×1×4h×4w and IoU B×1: with multimask, SAM's mask 1…3 of the highest predicted IoU and that
    ///   IoU; without, mask 0 and its IoU; the HQ mask added (`hqTokenOnly`: the HQ mask alone, the IoU still SAM's).
    /// With a recorder every module is recorded under its path and `NAME:0` / `NAME:1`; without one the prompts go
    /// through `prepare` and `decode`.
    public func callAsFunction(imageEmbedding: Tensor, interm: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor,
                               multimaskOutput: Bool, hqTokenOnly: Bool, _ rec: ActivationRecorder?) -> (masks: Tensor, iou: Tensor) {
        let b = sparse.shape[0]
        precondition(dense.shape[0] == b, "HQ mask decoder: dense embeddings for \(dense.shape[0]) prompts, sparse for \(b)")
        guard let rec else {
            let shared = MaskDecoder.denseIsShared(dense)
            let image = prepare(imageEmbedding: imageEmbedding, interm: interm, imagePE: imagePE,
                                sharedDense: shared ? sliceFirst(dense, 0..<1) : nil)
            return decode(image, sparse: sparse, dense: shared ? nil : dense, multimaskOutput: multimaskOutput,
                          hqTokenOnly: hqTokenOnly)
        }
        precondition(imageEmbedding.rank == 4 && imageEmbedding.shape[0] == 1, "HQ mask decoder: one image embedding, got \(imageEmbedding.shape)")
        let hq = hqFeatures(imageEmbedding: imageEmbedding, interm: interm, rec)
        let (masks, iouAll) = predictMasks(imageEmbedding: imageEmbedding, imagePE: imagePE, sparse: sparse, dense: dense,
                                           hqFeatures: hq, rec)
        // the output selection of MaskDecoderHQ.forward
        let k = base.numMaskTokens, plane = masks.shape[2] * masks.shape[3]
        var out = Tensor(shape: [b, 1, masks.shape[2], masks.shape[3]]) { _ in }
        var iou = Tensor(shape: [b, 1]) { _ in }
        for i in 0..<b {
            let chosen = multimaskOutput ? Self.best(iouAll.data[(i * k + 1)..<((i + 1) * k)]) + 1 : 0
            iou.data[i] = iouAll.data[i * k + chosen]
            let sam = (i * (k + 1) + chosen) * plane, hqMask = (i * (k + 1) + k) * plane
            for p in 0..<plane { out.data[i * plane + p] = hqTokenOnly ? masks.data[hqMask + p] : masks.data[sam + p] + masks.data[hqMask + p] }
        }
        rec.record("\(name):0", out)
        rec.record("\(name):1", iou)
        return (out, iou)
    }

    /// The offset of the largest score as torch.max(dim=1) picks it: the first of equal ones; a NaN counts as the
    /// largest (the first NaN).
    static func best(_ scores: ArraySlice<Float>) -> Int {
        var bi = scores.startIndex
        for j in scores.indices where !scores[bi].isNaN && (scores[j] > scores[bi] || scores[j].isNaN) { bi = j }
        return bi - scores.startIndex
    }

    /// hq_features = embedding_encoder(image embedding) + compress_vit_feat(interm permuted to 1×vitDim×h×w):
    /// 1×C/8×4h×4w, each module recorded.
    func hqFeatures(imageEmbedding: Tensor, interm: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        precondition(interm.rank == 4 && interm.shape == [1, imageEmbedding.shape[2], imageEmbedding.shape[3], vitDim],
                     "HQ mask decoder: ViT feature \(interm.shape) for embedding \(imageEmbedding.shape), \(vitDim) channels")
        var e = encoder0(imageEmbedding, rec); e = encoder1(e, rec); e = encoder2(e, rec); e = encoder3(e, rec)
        rec.record("\(name).embedding_encoder", e)
        var v = compress0(permute(interm, [0, 3, 1, 2]), rec); v = compress1(v, rec); v = compress2(v, rec)
        v = compress3(v, rec)
        rec.record("\(name).compress_vit_feat", v)
        return e + v
    }

    /// MaskDecoderHQ.predict_masks, as the reference batches it: masks B×(K+1)×4h×4w (SAM's K, then the HQ mask) and
    /// IoU predictions B×K.
    func predictMasks(imageEmbedding: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor, hqFeatures: Tensor,
                      _ rec: ActivationRecorder?) -> (Tensor, Tensor) {
        let b = sparse.shape[0]
        let src = base.addImageEmbedding(imageEmbedding, toDense: dense)
        let posSrc = Tensor(shape: [b] + Array(imagePE.shape.dropFirst()),
                            data: Array([[Float]](repeating: imagePE.data, count: b).joined()))
        let (hs, keys) = base.transformer(image: src, imagePE: posSrc, points: base.tokens(sparse, extra: hfToken), rec)
        let up = base.upscaled(keys: keys, h: imageEmbedding.shape[2], w: imageEmbedding.shape[3], rec)
        var f = maskFeature0(up, rec); f = maskFeature1(f, rec); f = maskFeature2(f, rec); f = maskFeature3(f, rec)
        rec.record("\(name).embedding_maskfeature", f)
        // upscaled_embedding_hq = embedding_maskfeature(up) + hq_features.repeat(b, 1, 1, 1)
        let per = hqFeatures.count
        f.data.withUnsafeMutableBufferPointer { p in
            hqFeatures.data.withUnsafeBufferPointer { q in for i in 0..<p.count { p[i] += q[i % per] } }
        }
        let k = base.numMaskTokens
        let hyper = (0..<k).map { base.outputHypernetworksMLPs[$0](MaskDecoder.token(hs, 1 + $0), rec) }
            .map { $0.reshaped([b, 1, $0.shape[1]]) }
        let hyperHQ = hfMLP(MaskDecoder.token(hs, 1 + k), rec)
        let masksSAM = MaskDecoder.maskProduct(concat(hyper, axis: 1), up)
        let masksHQ = MaskDecoder.maskProduct(hyperHQ.reshaped([b, 1, hyperHQ.shape[1]]), f)
        let iou = base.iouPredictionHead(MaskDecoder.token(hs, 0), rec)
        return (concat([masksSAM, masksHQ], axis: 1), iou)
    }

    /// One image as the HQ decoder reads it (see `MaskDecoder.Image`), plus its hq_features (embedding_encoder +
    /// compress_vit_feat, 4h × 4w × C/8 channels-last), computed once in `prepare`.
    public final class Image: Sendable {
        public let base: MaskDecoder.Image
        /// hq_features, 4h·4w × C/8, channels-last.
        let hqFeatures: Tensor

        init(base: MaskDecoder.Image, hqFeatures: Tensor) {
            self.base = base
            self.hqFeatures = hqFeatures
        }
    }

    /// Prepares an image for `decode`: imageEmbedding 1×C×h×w, interm 1×h×w×vitDim (channels-last), imagePE
    /// 1×C×h×w, `sharedDense` (1×C×h×w) the dense embedding of prompts without a mask input. The hq_features are
    /// computed here, pixel-major (`upscaleEmbedding`): the ViT feature is channels-last already; the two stacks'
    /// outputs are summed as the second one is written.
    public func prepare(imageEmbedding: Tensor, interm: Tensor, imagePE: Tensor, sharedDense: Tensor?) -> Image {
        let image = base.prepare(imageEmbedding: imageEmbedding, imagePE: imagePE, sharedDense: sharedDense)
        let h = image.h, w = image.w, d = base.transformerDim
        precondition(interm.shape == [1, h, w, vitDim],
                     "HQ mask decoder: ViT feature \(interm.shape) for a \(h)×\(w) embedding, \(vitDim) channels")
        let embeddingSeq = permute(imageEmbedding.reshaped([1, d, h * w]), [0, 2, 1])
        let c2 = encoderWeights.out
        let encoded = Tensor(shape: [4 * h, 4 * w, c2]) { p in
            embeddingSeq.data.withUnsafeBufferPointer { e in
                upscaleEmbedding(keys: e.baseAddress!, height: h, width: w, weights: encoderWeights, finalGELU: false,
                                 into: p.baseAddress!)
            }
        }
        let features = Tensor(shape: [4 * h, 4 * w, c2]) { p in
            interm.data.withUnsafeBufferPointer { v in encoded.data.withUnsafeBufferPointer { e in
                upscaleEmbedding(keys: v.baseAddress!, height: h, width: w, weights: compressWeights, finalGELU: false,
                                 addSecond: e.baseAddress!, into: p.baseAddress!)
            }}
        }
        return Image(base: image, hqFeatures: features)
    }

    /// Masks B×1×4h×4w and IoU B×1 (as `callAsFunction`) for B prompts: sparse B×T×C; dense B×C×h×w for prompts with
    /// mask inputs, nil for prompts without. Prompt by prompt (`MaskDecoder.decode`'s scheme): the transformer with
    /// the HQ token, the IoU head first, so that only the chosen SAM mask is formed (none with `hqTokenOnly`), SAM's
    /// upscaled embedding kept (`upscaleMasks`), then the HQ mask added (`hqMask`).
    public func decode(_ image: Image, sparse: Tensor, dense: Tensor?, multimaskOutput: Bool,
                       hqTokenOnly: Bool) -> (masks: Tensor, iou: Tensor) {
        let b = sparse.shape[0], h = image.base.h, w = image.base.w, d = base.transformerDim
        if let dense { precondition(dense.shape == [b, d, h, w], "HQ mask decoder: dense \(dense.shape) for \(b) prompts") }
        let mh = 4 * h, mw = 4 * w, plane = mh * mw, k = base.numMaskTokens, c2 = d / 8
        let allTokens = base.tokens(sparse, extra: hfToken)
        // every element is written below (each prompt's plane and score)
        var masks = Tensor(shape: [b, 1, mh, mw]) { _ in }, iou = Tensor(shape: [b, 1]) { _ in }
        masks.data.withUnsafeMutableBufferPointer { mp in
            iou.data.withUnsafeMutableBufferPointer { ip in
                image.hqFeatures.data.withUnsafeBufferPointer { fp in
                    let mBase = mp.baseAddress!, iBase = ip.baseAddress!, features = fp.baseAddress!
                    parallelItems(b) { i in
                        let (hs, keys) = base.transformPrompt(image.base, tokens: allTokens, dense: dense, index: i)
                        let scores = base.iouPredictionHead(MaskDecoder.token(hs, 0), nil)
                        let chosen = multimaskOutput ? Self.best(scores.data[1..<k]) + 1 : 0
                        iBase[i] = scores.data[chosen]
                        let mask = mBase + i * plane
                        let upscaled = UnsafeMutablePointer<Float>.allocate(capacity: plane * c2)
                        defer { upscaled.deallocate() }
                        keys.data.withUnsafeBufferPointer { kp in
                            if hqTokenOnly {
                                upscaleEmbedding(keys: kp.baseAddress!, height: h, width: w, weights: base.upscaleWeights,
                                                 finalGELU: true, into: upscaled)
                                return
                            }
                            let hyperSAM = base.outputHypernetworksMLPs[chosen](MaskDecoder.token(hs, 1 + chosen), nil)
                            hyperSAM.data.withUnsafeBufferPointer { hp in
                                upscaleMasks(keys: kp.baseAddress!, height: h, width: w, weights: base.upscaleWeights,
                                             hyper: hp.baseAddress!, count: 1, masks: mask, embedding: upscaled)
                            }
                        }
                        let hyperHQ = hfMLP(MaskDecoder.token(hs, 1 + k), nil).data
                        hyperHQ.withUnsafeBufferPointer { hp in
                            hqMask(upscaled: upscaled, height: mh, width: mw, weights: maskFeatureWeights,
                                   hyper: hp.baseAddress!, features: features, mask: mask, accumulate: !hqTokenOnly)
                        }
                    }
                }
            }
        }
        return (masks, iou)
    }
}
