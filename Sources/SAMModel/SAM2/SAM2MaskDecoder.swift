// SAM 2's mask decoder: v1's two-way transformer and hypernetwork heads plus an object-score token and head, the
// high-resolution features of the two finest FPN levels added in the upscaling, a sigmoid IoU head, and the choice
// of the single output by stability.
// ref: sam2/modeling/sam/mask_decoder.py@1.1.0 (MaskDecoder)
import Foundation
import SAMTensor

/// What the decoder returns for B prompts: masks B×K×4h×4w (logits), IoU predictions B×K, the SAM output tokens
/// (B×K'×C) and the object-score logits B×1.
public struct SAM2DecoderOutput {
    public var masks: Tensor, iou: Tensor, samTokens: Tensor, objectScores: Tensor
}

public final class SAM2MaskDecoder {
    public let name: String
    public let config: SAM2Config
    public let transformerDim: Int
    public let transformer: TwoWayTransformer
    public let iouToken: Tensor, maskTokens: Tensor
    /// `<name>.obj_score_token.weight` [1, C] when the model predicts object scores.
    public let objScoreToken: Tensor?
    public let up0: ConvTranspose2d, up1: LayerNorm2d, up2: Activation, up3: ConvTranspose2d, up4: Activation
    /// `<name>.conv_s0` (C → C/8) and `<name>.conv_s1` (C → C/4), 1×1, applied to FPN levels 0 and 1.
    public let convS0: Conv2d?, convS1: Conv2d?
    public let outputHypernetworksMLPs: [MLP]
    public let iouPredictionHead: MLP
    /// `<name>.pred_obj_score_head`: MLP(C, C, 1, 3) or Linear(C, 1).
    public let predObjScoreMLP: MLP?, predObjScoreLinear: Linear?
    /// `output_upscaling`'s weights regrouped for the pixel-major path (`upscaleMasks`).
    let upscaleWeights: UpscaleWeights

    public init(_ w: WeightStore, _ name: String = "sam_mask_decoder", config c: SAM2Config) {
        self.name = name
        config = c
        let d = c.dModel
        transformerDim = d
        transformer = TwoWayTransformer(w, "\(name).transformer", depth: c.decoderDepth, embeddingDim: d,
                                        numHeads: c.decoderNumHeads, mlpDim: c.decoderMLPDim, mlpKeys: .sam2)
        iouToken = w.take("\(name).iou_token.weight", [1, d])
        maskTokens = w.take("\(name).mask_tokens.weight", [c.numMaskTokens, d])
        objScoreToken = c.predObjScores ? w.take("\(name).obj_score_token.weight", [1, d]) : nil
        up0 = ConvTranspose2d(w, "\(name).output_upscaling.0", d, d / 4)
        up1 = LayerNorm2d(w, "\(name).output_upscaling.1", d / 4)
        up2 = Activation("\(name).output_upscaling.2", .gelu)
        up3 = ConvTranspose2d(w, "\(name).output_upscaling.3", d / 4, d / 8)
        up4 = Activation("\(name).output_upscaling.4", .gelu)
        convS0 = c.useHighResFeatures ? Conv2d(w, "\(name).conv_s0", d, d / 8, kernel: 1) : nil
        convS1 = c.useHighResFeatures ? Conv2d(w, "\(name).conv_s1", d, d / 4, kernel: 1) : nil
        outputHypernetworksMLPs = (0..<c.numMaskTokens).map {
            MLP(w, "\(name).output_hypernetworks_mlps.\($0)", inputDim: d, hiddenDim: d, outputDim: d / 8, numLayers: 3, recordsAct: true)
        }
        iouPredictionHead = MLP(w, "\(name).iou_prediction_head", inputDim: d, hiddenDim: c.iouHeadHiddenDim,
                                outputDim: c.numMaskTokens, numLayers: c.iouHeadDepth,
                                sigmoidOutput: c.iouPredictionUseSigmoid, recordsAct: true)
        upscaleWeights = UpscaleWeights(up0Weight: up0.weight, up0Bias: up0.bias, lnWeight: up1.weight, lnBias: up1.bias,
                                        eps: up1.eps, up3Weight: up3.weight, up3Bias: up3.bias)
        if c.predObjScores && c.predObjScoresMLP {
            predObjScoreMLP = MLP(w, "\(name).pred_obj_score_head", inputDim: d, hiddenDim: d, outputDim: 1, numLayers: 3, recordsAct: true)
            predObjScoreLinear = nil
        } else if c.predObjScores {
            predObjScoreMLP = nil
            predObjScoreLinear = Linear(w, "\(name).pred_obj_score_head", d, 1)
        } else {
            predObjScoreMLP = nil; predObjScoreLinear = nil
        }
    }

    /// Tokens before the prompts: [obj_score_token;] iou_token; mask_tokens.
    var outputTokens: Tensor { concat((objScoreToken.map { [$0] } ?? []) + [iouToken, maskTokens], axis: 0) }
    /// Index of the IoU token among the output tokens.
    var s: Int { objScoreToken == nil ? 0 : 1 }

    /// Full forward for B prompts against one image (`MaskDecoder.forward`): every mask token, then the selection
    /// (multimask: tokens 1…; else the stability choice when configured; else token 0).
    /// - imageEmbedding 1×C×h×w, imagePE 1×C×h×w, sparse B×T×C, dense B×C×h×w (nil: the no-mask plane `noMask`
    ///   1×C×h×w for every prompt), highRes: [1×C/8×4h×4w, 1×C/4×2h×2w] (conv_s0, conv_s1 outputs).
    public func callAsFunction(imageEmbedding: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor?,
                               noMask: @autoclosure () -> Tensor,
                               highRes: [Tensor], multimaskOutput: Bool, prepared: Prepared? = nil,
                               _ rec: ActivationRecorder?) -> SAM2DecoderOutput {
        let all = predictMasks(imageEmbedding: imageEmbedding, imagePE: imagePE, sparse: sparse, dense: dense, noMask: noMask(),
                               highRes: highRes, prepared: prepared, rec)
        let k = config.numMaskTokens
        var out = all
        if multimaskOutput {
            out.masks = slice(all.masks, axis: 1, 1..<k); out.iou = slice(all.iou, axis: 1, 1..<k)
        } else if config.dynamicMultimaskViaStability {
            (out.masks, out.iou) = dynamicMultimaskViaStability(all.masks, all.iou)
        } else {
            out.masks = slice(all.masks, axis: 1, 0..<1); out.iou = slice(all.iou, axis: 1, 0..<1)
        }
        // sam_tokens_out: the multimask tokens when multimask and use_multimask_token_for_obj_ptr, else token 0
        out.samTokens = slice(all.samTokens, axis: 1, multimaskOutput ? 1..<k : 0..<1)
        rec.record("\(name):0", out.masks)
        rec.record("\(name):1", out.iou)
        rec.record("\(name):2", out.samTokens)
        rec.record("\(name):3", out.objectScores)
        return out
    }

    /// `_get_stability_scores` of B×1×H×W logits: (#logits > δ) / (#logits > −δ), 1 where the union is empty.
    public func stabilityScores(_ logits: UnsafePointer<Float>, count n: Int) -> Float {
        let delta = config.stabilityDelta
        var inter = 0, union = 0
        for i in 0..<n {
            if logits[i] > delta { inter += 1 }
            if logits[i] > -delta { union += 1 }
        }
        return union > 0 ? Float(inter) / Float(union) : 1
    }

    /// `_dynamic_multimask_via_stability`: token 0's mask when its stability ≥ the threshold, else the multimask
    /// output with the highest IoU prediction (the first on ties, torch.argmax).
    func dynamicMultimaskViaStability(_ masks: Tensor, _ iou: Tensor) -> (Tensor, Tensor) {
        let b = masks.shape[0], k = masks.shape[1], plane = masks.shape[2] * masks.shape[3]
        var outM = Tensor(shape: [b, 1, masks.shape[2], masks.shape[3]]), outI = Tensor(shape: [b, 1])
        masks.data.withUnsafeBufferPointer { mp in
            for bi in 0..<b {
                var best = 1
                for j in 2..<k where iou.data[bi * k + j] > iou.data[bi * k + best] { best = j }
                let stable = stabilityScores(mp.baseAddress! + bi * k * plane, count: plane) >= config.stabilityThresh
                let pick = stable ? 0 : best
                outM.data.replaceSubrange((bi * plane)..<((bi + 1) * plane), with: mp[((bi * k + pick) * plane)..<((bi * k + pick + 1) * plane)])
                outI.data[bi] = iou.data[bi * k + pick]
            }
        }
        return (outM, outI)
    }

    /// Every mask token's output (`predict_masks`). With a recorder, the batch runs as one tensor as in the
    /// reference (the dumps name its intermediates); without, prompt by prompt over the cores, the first
    /// transformer block's image-side projections shared by the prompts without mask input.
    /// What the fast path reads of one image, the same for every prompt: the positional encoding as a sequence,
    /// `src` of prompts without mask input (embedding + no-mask plane) and the first block's image-side projections
    /// of it, and the high-resolution features channels-last. Made once per image (`prepare`) and reused.
    public final class Prepared: @unchecked Sendable {
        let peSeq: Tensor, sharedSeq: Tensor, layer0: ImageProjections?, highResNHWC: [Tensor]
        init(peSeq: Tensor, sharedSeq: Tensor, layer0: ImageProjections?, highResNHWC: [Tensor]) {
            self.peSeq = peSeq; self.sharedSeq = sharedSeq; self.layer0 = layer0; self.highResNHWC = highResNHWC
        }
    }

    /// `Prepared` of an image embedding (1×C×h×w) with its positional encoding, no-mask plane and high-res features.
    public func prepare(imageEmbedding: Tensor, imagePE: Tensor, noMask: Tensor, highRes: [Tensor]) -> Prepared {
        let d = transformerDim, h = imageEmbedding.shape[2], w = imageEmbedding.shape[3]
        let peSeq = permute(imagePE.reshaped([1, d, h * w]), [0, 2, 1])
        var src = noMask
        for i in 0..<imageEmbedding.count { src.data[i] += imageEmbedding.data[i] }
        let seq = permute(src.reshaped([1, d, h * w]), [0, 2, 1])
        return Prepared(peSeq: peSeq, sharedSeq: seq, layer0: transformer.layers.first?.imageProjections(keys: seq, keyPE: peSeq),
                        highResNHWC: config.useHighResFeatures ? highRes.map { permute($0, [0, 2, 3, 1]) } : [])
    }

    /// `noMask` is formed only where it is read: the recorded run without mask inputs, or `prepare` when no
    /// `prepared` image is given (a prompt on a prepared image allocates no 1×C×h×w plane).
    public func predictMasks(imageEmbedding: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor?,
                             noMask: @autoclosure () -> Tensor,
                             highRes: [Tensor], prepared: Prepared? = nil, _ rec: ActivationRecorder?) -> SAM2DecoderOutput {
        let b = sparse.shape[0], d = transformerDim, h = imageEmbedding.shape[2], w = imageEmbedding.shape[3]
        let ot = outputTokens
        let tokens = concat([Tensor(shape: [b, ot.shape[0], d], data: Array([[Float]](repeating: ot.data, count: b).joined())), sparse], axis: 1)
        func srcSequence(_ dense: Tensor) -> Tensor {
            // src = image embedding + dense, as B×hw×C
            var src = dense
            let per = imageEmbedding.count
            for bi in 0..<dense.shape[0] { for i in 0..<per { src.data[bi * per + i] += imageEmbedding.data[i] } }
            return permute(src.reshaped([dense.shape[0], d, h * w]), [0, 2, 1])
        }
        if rec != nil {
            let peSeq = permute(imagePE.reshaped([1, d, h * w]), [0, 2, 1])
            let denseAll = dense ?? Tensor(shape: [b, d, h, w], data: Array([[Float]](repeating: noMask().data, count: b).joined()))
            let src = srcSequence(denseAll)
            let pe = Tensor(shape: [b, h * w, d], data: Array([[Float]](repeating: peSeq.data, count: b).joined()))
            let (hs, keys) = transformer.sequences(image: src, imagePE: pe, points: tokens, rec)
            return heads(hs: hs, keys: keys, h: h, w: w, highRes: highRes, rec)
        }
        let image = prepared ?? prepare(imageEmbedding: imageEmbedding, imagePE: imagePE, noMask: noMask(), highRes: highRes)
        let peSeq = image.peSeq, highResNHWC = image.highResNHWC
        let shared: (seq: Tensor, layer0: ImageProjections?) = (image.sharedSeq, image.layer0)
        var parts = [SAM2DecoderOutput?](repeating: nil, count: b)
        parts.withUnsafeMutableBufferPointer { pp in
            let base = pp.baseAddress!
            parallelItems(b) { i in
                let (seq, layer0) = dense.map { (srcSequence(sliceFirst($0, i..<(i + 1))), nil) } ?? shared
                let (hs, keys) = transformer.sequences(image: seq, imagePE: peSeq, points: sliceFirst(tokens, i..<(i + 1)),
                                                       layer0: layer0, nil)
                base[i] = fastHeads(hs: hs, keys: keys, h: h, w: w, highResNHWC: highResNHWC)
            }
        }
        let ps = parts.map { $0! }
        return SAM2DecoderOutput(masks: concat(ps.map(\.masks), axis: 0), iou: concat(ps.map(\.iou), axis: 0),
                                 samTokens: concat(ps.map(\.samTokens), axis: 0), objectScores: concat(ps.map(\.objectScores), axis: 0))
    }

    /// Upscaling with the high-resolution features, hypernetworks, IoU and object-score heads on the transformer's
    /// outputs (hs B×T×C, keys B×hw×C).
    func heads(hs: Tensor, keys: Tensor, h: Int, w: Int, highRes: [Tensor], _ rec: ActivationRecorder?) -> SAM2DecoderOutput {
        let b = hs.shape[0], d = transformerDim, t = hs.shape[1], k = config.numMaskTokens, s = self.s
        let srcImage = permute(keys, [0, 2, 1]).reshaped([b, d, h, w])
        var up = up0(srcImage, rec)
        if config.useHighResFeatures { addBroadcast(&up, highRes[1]) }
        up = up1(up, rec); up = up2(up, rec)
        up = up3(up, rec)
        if config.useHighResFeatures { addBroadcast(&up, highRes[0]) }
        up = up4(up, rec)
        func token(_ j: Int) -> Tensor {
            Tensor(shape: [b, d]) { p in for bi in 0..<b { for c in 0..<d { p[bi * d + c] = hs.data[(bi * t + j) * d + c] } } }
        }
        let hyper = (0..<k).map { outputHypernetworksMLPs[$0](token(s + 1 + $0), rec).reshaped([b, 1, d / 8]) }
        let hyperIn = concat(hyper, axis: 1)
        let uc = up.shape[1], uh = up.shape[2], uw = up.shape[3]
        let masks = matmul(hyperIn, up.reshaped([b, uc, uh * uw])).reshaped([b, k, uh, uw])
        let iou = iouPredictionHead(token(s), rec)
        let obj: Tensor
        if let m = predObjScoreMLP { obj = m(token(0), rec) }
        else if let l = predObjScoreLinear { obj = l(token(0), rec) }
        else { obj = Tensor(shape: [b, 1], repeating: 10) }
        let maskTokensOut = Tensor(shape: [b, k, d]) { p in
            for bi in 0..<b { for j in 0..<k { for c in 0..<d { p[(bi * k + j) * d + c] = hs.data[(bi * t + s + 1 + j) * d + c] } } }
        }
        return SAM2DecoderOutput(masks: masks, iou: iou, samTokens: maskTokensOut, objectScores: obj)
    }

    /// `heads` for one prompt without a recorder: the upscaling, high-resolution features and mask product
    /// pixel-major (`upscaleMasks`, the same sums per pixel), the heads on the tokens as in `heads`.
    func fastHeads(hs: Tensor, keys: Tensor, h: Int, w: Int, highResNHWC: [Tensor]) -> SAM2DecoderOutput {
        let d = transformerDim, t = hs.shape[1], k = config.numMaskTokens, s = self.s, uc = upscaleWeights.out
        func token(_ j: Int) -> Tensor { Tensor(shape: [1, d], data: Array(hs.data[(j * d)..<((j + 1) * d)])) }
        var hyper = [Float](repeating: 0, count: k * uc)
        for i in 0..<k {
            let y = outputHypernetworksMLPs[i](token(s + 1 + i), nil)
            for j in 0..<uc { hyper[i * uc + j] = y.data[j] }
        }
        var masks = Tensor(shape: [1, k, 4 * h, 4 * w]) { _ in }
        masks.data.withUnsafeMutableBufferPointer { mp in
            hyper.withUnsafeBufferPointer { hp in
                keys.data.withUnsafeBufferPointer { kp in
                    let f1 = highResNHWC.count == 2 ? highResNHWC[1].data : nil, f0 = highResNHWC.count == 2 ? highResNHWC[0].data : nil
                    f1.withOptionalPointer { a1 in
                        f0.withOptionalPointer { a0 in
                            upscaleMasks(keys: kp.baseAddress!, height: h, width: w, weights: upscaleWeights, hyper: hp.baseAddress!,
                                         count: k, masks: mp.baseAddress!, addFirst: a1, addSecond: a0)
                        }
                    }
                }
            }
        }
        let iou = iouPredictionHead(token(s), nil)
        let obj: Tensor
        if let m = predObjScoreMLP { obj = m(token(0), nil) }
        else if let l = predObjScoreLinear { obj = l(token(0), nil) }
        else { obj = Tensor(shape: [1, 1], repeating: 10) }
        let maskTokensOut = Tensor(shape: [1, k, d], data: Array(hs.data[((s + 1) * d)..<((s + 1 + k) * d)]))
        precondition(t >= s + 1 + k)
        return SAM2DecoderOutput(masks: masks, iou: iou, samTokens: maskTokensOut, objectScores: obj)
    }

    /// x (B×C×H×W) += y (1×C×H×W) for every batch item.
    func addBroadcast(_ x: inout Tensor, _ y: Tensor) {
        let per = y.count
        precondition(x.count % per == 0 && Array(x.shape.dropFirst()) == Array(y.shape.dropFirst()),
                     "SAM 2 decoder: high-resolution features \(y.shape) for upscaled \(x.shape)")
        let items = x.count / per
        x.data.withUnsafeMutableBufferPointer { xp in
            y.data.withUnsafeBufferPointer { yp in
                for bi in 0..<items { for i in 0..<per { xp[bi * per + i] += yp[i] } }
            }
        }
    }
}

extension Optional where Wrapped == [Float] {
    /// `body` with a pointer to the array's elements, or nil.
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress!) }
        case .none: return body(nil)
        }
    }
}
