// The two-way transformer of the mask decoder: tokens attend to the image and the image to the tokens.
// ref: segment_anything/modeling/transformer.py@dca509f (TwoWayTransformer, TwoWayAttentionBlock, Attention)
import Foundation
import SAMTensor

/// Meta's decoder `Attention(embedding_dim, num_heads, downsample_rate)`: projections to an internal dim,
/// per-head softmax(q kᵀ / √d) v, output projection. Inputs are B×N×C.
public final class DecoderAttention {
    public let name: String
    public let numHeads: Int
    public let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear

    public init(_ w: WeightStore, _ name: String, embeddingDim: Int, numHeads: Int, downsampleRate: Int = 1) {
        self.name = name
        self.numHeads = numHeads
        let internalDim = embeddingDim / downsampleRate
        qProj = Linear(w, "\(name).q_proj", embeddingDim, internalDim)
        kProj = Linear(w, "\(name).k_proj", embeddingDim, internalDim)
        vProj = Linear(w, "\(name).v_proj", embeddingDim, internalDim)
        outProj = Linear(w, "\(name).out_proj", internalDim, embeddingDim)
    }

    public func callAsFunction(q: Tensor, k: Tensor, v: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        attend(qp: qProj(q, rec), kp: kProj(k, rec), vp: vProj(v, rec), rec)
    }

    /// The attention after the three input projections (given already projected, B×N×C/r each), and `out_proj`.
    /// Heads are independent and are spread over the cores, each head's products single-threaded. Scores are divided
    /// by √(C/r/heads) (a division, as in the reference) inside the softmax's first pass. Many queries over a few keys
    /// (the image attending to the prompt tokens) are computed keys-major, Sᵀ = K Qᵀ, so that the softmax runs down
    /// columns with the vector lanes along the 4096 queries instead of over rows of 5–10 keys.
    public func attend(qp: Tensor, kp: Tensor, vp: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        precondition(qp.shape[0] == kp.shape[0] && kp.shape == vp.shape, "attention: q \(qp.shape), k \(kp.shape), v \(vp.shape)")
        let b = qp.shape[0], nq = qp.shape[1], nk = kp.shape[1], c = qp.shape[2]
        let hd = c / numHeads, heads = numHeads
        let div = Float(Double(hd).squareRoot())
        let keysMajor = nq >= 64 && nk < 32
        let out = Tensor(shape: [b, nq, c]) { o in
            qp.data.withUnsafeBufferPointer { qb in kp.data.withUnsafeBufferPointer { kb in vp.data.withUnsafeBufferPointer { vb in
                let q0 = qb.baseAddress!, k0 = kb.baseAddress!, v0 = vb.baseAddress!, o0 = o.baseAddress!
                let head = { (job: Int) in
                    let bi = job / heads, h = job % heads
                    let qh = q0 + bi * nq * c + h * hd, kh = k0 + bi * nk * c + h * hd, vh = v0 + bi * nk * c + h * hd
                    let oh = o0 + bi * nq * c + h * hd
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: nq * nk) { sb in
                        let s = sb.baseAddress!
                        if keysMajor {
                            sgemm(transB: true, m: nk, n: nq, k: hd, a: kh, lda: c, b: qh, ldb: c, c: s, ldc: nq)
                            softmaxColumns(s, rows: nk, cols: nq, dividingBy: div)
                            sgemm(transA: true, m: nq, n: hd, k: nk, a: s, lda: nq, b: vh, ldb: c, c: oh, ldc: c)
                        } else {
                            sgemm(transB: true, m: nq, n: nk, k: hd, a: qh, lda: c, b: kh, ldb: c, c: s, ldc: nk)
                            for row in 0..<nq { softmaxRow(s + row * nk, count: nk, dividingBy: div) }
                            sgemm(m: nq, n: hd, k: nk, a: s, lda: nk, b: vh, ldb: c, c: oh, ldc: c)
                        }
                    }
                }
                // small attentions (the tokens' self-attention) are not worth a hand-off to another core
                if nq * nk * hd < 65536 { for job in 0..<(b * heads) { head(job) } } else { parallelItems(b * heads, head) }
            }}}
        }
        let y = outProj(out, rec)
        rec.record(name, y)
        return y
    }
}

/// One two-way block: token self-attention, token→image cross-attention, MLP, image→token cross-attention.
public final class TwoWayAttentionBlock {
    public let name: String
    public let selfAttn: DecoderAttention, norm1: LayerNorm
    public let crossAttnTokenToImage: DecoderAttention, norm2: LayerNorm
    public let mlp: MLPBlock, norm3: LayerNorm, norm4: LayerNorm
    public let crossAttnImageToToken: DecoderAttention
    /// Layer 0: no positional term and no residual on the self-attention.
    public let skipFirstLayerPE: Bool

    public init(_ w: WeightStore, _ name: String, embeddingDim d: Int, numHeads: Int, mlpDim: Int, skipFirstLayerPE: Bool,
                mlpKeys: MLPBlock.Keys = .v1, normEps: Float = 1e-5) {
        self.name = name
        self.skipFirstLayerPE = skipFirstLayerPE
        selfAttn = DecoderAttention(w, "\(name).self_attn", embeddingDim: d, numHeads: numHeads)
        norm1 = LayerNorm(w, "\(name).norm1", d, eps: normEps)
        crossAttnTokenToImage = DecoderAttention(w, "\(name).cross_attn_token_to_image", embeddingDim: d, numHeads: numHeads, downsampleRate: 2)
        norm2 = LayerNorm(w, "\(name).norm2", d, eps: normEps)
        mlp = MLPBlock(w, "\(name).mlp", embeddingDim: d, mlpDim: mlpDim, act: .relu, keys: mlpKeys)
        norm3 = LayerNorm(w, "\(name).norm3", d, eps: normEps)
        norm4 = LayerNorm(w, "\(name).norm4", d, eps: normEps)
        crossAttnImageToToken = DecoderAttention(w, "\(name).cross_attn_image_to_token", embeddingDim: d, numHeads: numHeads, downsampleRate: 2)
    }

    /// The three projections of this block that read only the image side (`keys`, `keyPE`): token→image k and v,
    /// image→token q. In layer 0 the keys are the image embedding itself, the same for every prompt of a batch
    /// without mask inputs, so a batch computes them once.
    public func imageProjections(keys: Tensor, keyPE: Tensor) -> ImageProjections {
        let k = keys + keyPE
        return ImageProjections(tokenToImageK: crossAttnTokenToImage.kProj(k, nil),
                                tokenToImageV: crossAttnTokenToImage.vProj(keys, nil),
                                imageToTokenQ: crossAttnImageToToken.qProj(k, nil))
    }

    /// `shared`: this block's `imageProjections` of exactly `kIn` and `keyPE`, computed earlier (same values, same
    /// operations as computing them here).
    public func callAsFunction(queries qIn: Tensor, keys kIn: Tensor, queryPE: Tensor, keyPE: Tensor,
                               shared: ImageProjections? = nil,
                               _ rec: ActivationRecorder?) -> (queries: Tensor, keys: Tensor) {
        // one prompt without a recorder: the cross-attentions with the image-side projections folded into the tokens
        // (`tokensToImageFolded`, `imageToTokensFolded`); layer 0's shared projections are used as they are
        let fold = crossAttnTokenToImage.folds(tokens: qIn, rec)
        var queries: Tensor
        if skipFirstLayerPE {
            queries = norm1(selfAttn(q: qIn, k: qIn, v: qIn, rec), rec)
        } else {
            let q = qIn + queryPE
            queries = norm1(qIn, plus: selfAttn(q: q, k: q, v: qIn, rec), rec)
        }
        var q = queries + queryPE
        // keys + key_pe: the reference forms it twice in a block from the same keys; once here
        let k = shared == nil ? kIn + keyPE : nil
        let tokenToImage: Tensor
        if let shared {
            tokenToImage = crossAttnTokenToImage.attend(qp: crossAttnTokenToImage.qProj(q, rec), kp: shared.tokenToImageK,
                                                        vp: shared.tokenToImageV, rec)
        } else if fold {
            tokenToImage = crossAttnTokenToImage.tokensToImageFolded(queries: q, keysPlusPE: k!, values: kIn)
        } else {
            tokenToImage = crossAttnTokenToImage(q: q, k: k!, v: kIn, rec)
        }
        queries = norm2(queries, plus: tokenToImage, rec)
        queries = norm3(queries, plus: mlp(queries, rec), rec)
        q = queries + queryPE
        let imageToToken: Tensor
        if fold {
            imageToToken = crossAttnImageToToken.imageToTokensFolded(imagePlusPE: k, projectedQueries: shared?.imageToTokenQ,
                                                                     keys: q, values: queries)
        } else if let shared {
            imageToToken = crossAttnImageToToken.attend(qp: shared.imageToTokenQ, kp: crossAttnImageToToken.kProj(q, rec),
                                                        vp: crossAttnImageToToken.vProj(queries, rec), rec)
        } else {
            imageToToken = crossAttnImageToToken(q: k!, k: q, v: queries, rec)
        }
        let keys = norm4(kIn, plus: imageToToken, rec)
        rec.record("\(name):0", queries)
        rec.record("\(name):1", keys)
        return (queries, keys)
    }
}

/// A block's projections of the image side (see `TwoWayAttentionBlock.imageProjections`), each B×hw×C/2.
public struct ImageProjections {
    public let tokenToImageK: Tensor, tokenToImageV: Tensor, imageToTokenQ: Tensor
}

public final class TwoWayTransformer {
    public let name: String
    public let layers: [TwoWayAttentionBlock]
    public let finalAttnTokenToImage: DecoderAttention
    public let normFinalAttn: LayerNorm

    /// `mlpKeys`: `.sam2` for SAM 2's copy of the transformer (ref: sam2/modeling/sam/transformer.py@1.1.0), the
    /// same computation with the block MLP's linears under `mlp.layers.0/1`.
    /// `normEps`: the LayerNorms' eps, 1e-5 as nn.LayerNorm's default; EfficientViT-SAM's builder sets 1e-6 on every
    /// nn.LayerNorm of the model, these included (ref: efficientsam/sam_model_zoo.py@1.0.0, set_norm_eps).
    public init(_ w: WeightStore, _ name: String, depth: Int, embeddingDim: Int, numHeads: Int, mlpDim: Int,
                mlpKeys: MLPBlock.Keys = .v1, normEps: Float = 1e-5) {
        self.name = name
        layers = (0..<depth).map {
            TwoWayAttentionBlock(w, "\(name).layers.\($0)", embeddingDim: embeddingDim, numHeads: numHeads, mlpDim: mlpDim,
                                 skipFirstLayerPE: $0 == 0, mlpKeys: mlpKeys, normEps: normEps)
        }
        finalAttnTokenToImage = DecoderAttention(w, "\(name).final_attn_token_to_image", embeddingDim: embeddingDim,
                                                 numHeads: numHeads, downsampleRate: 2)
        normFinalAttn = LayerNorm(w, "\(name).norm_final_attn", embeddingDim, eps: normEps)
    }

    /// image: B×C×h×w, imagePE: B×C×h×w, points: B×T×C → (queries B×T×C, keys B×hw×C).
    public func callAsFunction(image: Tensor, imagePE: Tensor, points: Tensor, _ rec: ActivationRecorder?) -> (Tensor, Tensor) {
        let b = image.shape[0], c = image.shape[1], hw = image.shape[2] * image.shape[3]
        let imageSeq = permute(image.reshaped([b, c, hw]), [0, 2, 1])
        let peSeq = permute(imagePE.reshaped([imagePE.shape[0], c, hw]), [0, 2, 1])
        return sequences(image: imageSeq, imagePE: peSeq, points: points, rec)
    }

    /// The same on token sequences: image and imagePE B×hw×C (the image already flattened and permuted), points
    /// B×T×C. `layer0`: the first block's `imageProjections` of `image` and `imagePE`, when computed beforehand.
    public func sequences(image imageSeq: Tensor, imagePE peSeq: Tensor, points: Tensor, layer0: ImageProjections? = nil,
                          _ rec: ActivationRecorder?) -> (Tensor, Tensor) {
        var queries = points, keys = imageSeq
        for (i, layer) in layers.enumerated() {
            (queries, keys) = layer(queries: queries, keys: keys, queryPE: points, keyPE: peSeq,
                                    shared: i == 0 ? layer0 : nil, rec)
        }
        let q = queries + points, k = keys + peSeq
        let final = finalAttnTokenToImage.folds(tokens: q, rec)
            ? finalAttnTokenToImage.tokensToImageFolded(queries: q, keysPlusPE: k, values: keys)
            : finalAttnTokenToImage(q: q, k: k, v: keys, rec)
        queries = normFinalAttn(queries, plus: final, rec)
        rec.record("\(name):0", queries)
        rec.record("\(name):1", keys)
        return (queries, keys)
    }
}
