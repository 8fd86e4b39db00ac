// The mask decoder's output upscaling and mask product for one prompt, computed pixel-major; HQ-SAM's extra
// upscalings (compress_vit_feat, embedding_encoder) and its HQ mask (embedding_maskfeature and the HQ token's product).
// ref: segment_anything/modeling/mask_decoder.py@dca509f (output_upscaling, predict_masks)
// ref: segment_anything_hq/modeling/mask_decoder_hq.py@segment-anything-hq 0.3 (MaskDecoderHQ)
import CSAMKernels

/// The decoder's `output_upscaling` weights (ConvT 2×2 → LayerNorm2d → GELU → ConvT 2×2 → GELU), rearranged once
/// for `upscaleMasks`: each transposed convolution's weight [IC, OC, 2, 2] as IC × (a, b, OC), so that one product
/// gives, for every input pixel, the OC channels of each of its four output pixels as contiguous runs.
public struct UpscaleWeights: Sendable {
    public let inChannels: Int, mid: Int, out: Int
    let w0: [Float], b0: [Float], lnWeight: [Float], lnBias: [Float], eps: Float, w3: [Float], b3: [Float]

    /// up0: [d, c1, 2, 2] and [c1]; LayerNorm2d weight, bias [c1] and eps; up3: [c1, c2, 2, 2] and [c2].
    public init(up0Weight: Tensor, up0Bias: Tensor, lnWeight: Tensor, lnBias: Tensor, eps: Float,
                up3Weight: Tensor, up3Bias: Tensor) {
        func regroup(_ w: Tensor) -> [Float] {
            let ic = w.shape[0], oc = w.shape[1]
            var r = [Float](repeating: 0, count: w.count)
            for c in 0..<ic { for o in 0..<oc { for a in 0..<2 { for b in 0..<2 {
                r[c * 4 * oc + (a * 2 + b) * oc + o] = w.data[((c * oc + o) * 2 + a) * 2 + b]
            } } } }
            return r
        }
        guard up0Weight.rank == 4 && up3Weight.rank == 4 else {
            // a model built without values (WeightStore.shapesOnly, for parameter counts) never decodes
            inChannels = 0; mid = 0; out = 0; w0 = []; b0 = []; self.lnWeight = []; self.lnBias = []; self.eps = eps
            w3 = []; b3 = []
            return
        }
        inChannels = up0Weight.shape[0]; mid = up0Weight.shape[1]; out = up3Weight.shape[1]
        precondition(up3Weight.shape[0] == mid && up0Weight.shape[2...] == [2, 2] && up3Weight.shape[2...] == [2, 2],
                     "upscale weights \(up0Weight.shape), \(up3Weight.shape)")
        w0 = regroup(up0Weight); b0 = up0Bias.data; self.lnWeight = lnWeight.data; self.lnBias = lnBias.data
        self.eps = eps; w3 = regroup(up3Weight); b3 = up3Bias.data
    }
}

/// Masks of one prompt: `hyper` (k × c2, the hypernetwork outputs of the kept mask tokens) times the upscaled
/// embedding, written to `masks` (k planes of 4h × 4w). `keys`: the transformer's image tokens, h·w × d, row-major.
///
/// The reference upscales to channel planes (N×C×H×W) and multiplies hyper_in by the 32 × 65536 result. Here every
/// stage keeps pixels in rows with their channels contiguous: the first transposed convolution is one product
/// keys · W0 whose rows hold each input pixel's four output pixels; those runs are copied (with the bias) to the
/// 2h × 2w pixel rows, where LayerNorm2d is a row norm over the channels and GELU follows in place; the second
/// transposed convolution is the same product on bands of those rows, its bias and GELU applied to the band in
/// cache, and the band's mask values are one product hyper · bandᵀ, scattered to the k planes (k values per output
/// pixel instead of 32 channels). The same sums as the reference's convolutions, norm and product, in per-pixel order.
///
/// SAM 2 adds high-resolution features in the upscaling, `act1(ln1(dc1(src) + feat_s1))` and
/// `act2(dc2(·) + feat_s0)`: `addFirst` (2h × 2w × c1) and `addSecond` (4h × 4w × c2), channels-last, are added
/// after each transposed convolution's bias, in that order (ref: sam2/modeling/sam/mask_decoder.py@1.1.0).
///
/// `embedding` (4h × 4w × c2, channels-last): also keeps the upscaled embedding itself (HQ-SAM reads it again in
/// `hqMask`).
public func upscaleMasks(keys: UnsafePointer<Float>, height h: Int, width w: Int, weights u: UpscaleWeights,
                         hyper: UnsafePointer<Float>, count k: Int, masks: UnsafeMutablePointer<Float>,
                         addFirst: UnsafePointer<Float>? = nil, addSecond: UnsafePointer<Float>? = nil,
                         embedding: UnsafeMutablePointer<Float>? = nil) {
    let c2 = u.out, h2 = 4 * h, w2 = 4 * w, w1 = 2 * w
    upscaleBands(keys: keys, height: h, width: w, weights: u, finalGELU: true, addFirst: addFirst,
                 addSecond: addSecond) { r0, r1, y2 in
        let pix = (r1 - r0) * w1
        if let embedding { storeBand(y2, rows: r0..<r1, width: w, channels: c2, into: embedding) }
        guard k > 0 else { return }
        let mt = UnsafeMutablePointer<Float>.allocate(capacity: k * pix * 4)
        defer { mt.deallocate() }
        // mt[kk, p·4 + (a·2 + b)] = Σ_o hyper[kk, o] · y2[p, (a, b), o]
        sgemm(transB: true, m: k, n: pix * 4, k: c2, a: hyper, lda: c2, b: y2, ldb: c2, c: mt, ldc: pix * 4)
        for kk in 0..<k {
            let plane = masks + kk * h2 * w2, src = mt + kk * pix * 4
            for r in r0..<r1 {
                for a in 0..<2 {
                    let orow = plane + (2 * r + a) * w2, s = src + (r - r0) * w1 * 4 + a * 2
                    for j in 0..<w1 {
                        orow[2 * j] = s[j * 4]
                        orow[2 * j + 1] = s[j * 4 + 1]
                    }
                }
            }
        }
    }
}

/// The whole upscaled embedding of `keys` (h·w × d, channels-last) into `into` (4h × 4w × c2, channels-last):
/// ConvT 2×2 → LayerNorm2d → GELU → ConvT 2×2, and a final GELU when `finalGELU` (SAM's output_upscaling has one,
/// HQ-SAM's `embedding_encoder` and `compress_vit_feat` do not). `addSecond` (4h × 4w × c2) is added after the
/// second convolution's bias (HQ-SAM's sum embedding_encoder(·) + compress_vit_feat(·) in one pass).
public func upscaleEmbedding(keys: UnsafePointer<Float>, height h: Int, width w: Int, weights u: UpscaleWeights,
                             finalGELU: Bool, addSecond: UnsafePointer<Float>? = nil, into: UnsafeMutablePointer<Float>) {
    upscaleBands(keys: keys, height: h, width: w, weights: u, finalGELU: finalGELU, addFirst: nil,
                 addSecond: addSecond) { r0, r1, y2 in
        storeBand(y2, rows: r0..<r1, width: w, channels: u.out, into: into)
    }
}

/// Copies a band of the second convolution's output (rows `rows` of the 2h × 2w grid, each pixel's four
/// sub-pixels (a, b) of c channels in turn) to its pixels of the 4h × 4w × c image.
private func storeBand(_ y2: UnsafePointer<Float>, rows: Range<Int>, width w: Int, channels c: Int,
                       into dst: UnsafeMutablePointer<Float>) {
    let w1 = 2 * w, w2 = 4 * w
    for r in rows {
        for q in 0..<w1 {
            for a in 0..<2 {
                let src = y2 + (((r - rows.lowerBound) * w1 + q) * 4 + a * 2) * c
                (dst + ((2 * r + a) * w2 + 2 * q) * c).update(from: src, count: 2 * c)
            }
        }
    }
}

/// The two transposed convolutions of `upscaleMasks` and `upscaleEmbedding`: the first over the whole image into
/// 2h × 2w pixel rows (bias, `addFirst`, LayerNorm2d, GELU), the second by bands of `bandRows` rows of that grid
/// (~1 MB each, spread over the cores), each band's output (bias, `addSecond`, GELU when `finalGELU`) handed to
/// `band(r0, r1, y2)`: y2 holds, for each pixel of rows r0..<r1 of the 2h × 2w grid in turn, its four output pixels
/// (a, b) of c2 channels.
private func upscaleBands(keys: UnsafePointer<Float>, height h: Int, width w: Int, weights u: UpscaleWeights,
                          finalGELU: Bool, addFirst: UnsafePointer<Float>?, addSecond: UnsafePointer<Float>?,
                          _ band: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
    let d = u.inChannels, c1 = u.mid, c2 = u.out
    let h1 = 2 * h, w1 = 2 * w, w2 = 2 * w1
    let y1 = UnsafeMutablePointer<Float>.allocate(capacity: h * w * 4 * c1)
    let seq = UnsafeMutablePointer<Float>.allocate(capacity: h1 * w1 * c1)
    defer { y1.deallocate(); seq.deallocate() }
    u.w0.withUnsafeBufferPointer { w0 in
        sgemm(m: h * w, n: 4 * c1, k: d, a: keys, lda: d, b: w0.baseAddress!, ldb: 4 * c1, c: y1, ldc: 4 * c1)
    }
    u.b0.withUnsafeBufferPointer { b0p in u.lnWeight.withUnsafeBufferPointer { lw in u.lnBias.withUnsafeBufferPointer { lb in
        let b0 = b0p.baseAddress!
        parallelChunks(h, minChunk: 8) { rows in
            for i in rows {
                for j in 0..<w {
                    let src = y1 + (i * w + j) * 4 * c1
                    for a in 0..<2 { for b in 0..<2 {
                        let dst = seq + ((2 * i + a) * w1 + 2 * j + b) * c1, s = src + (a * 2 + b) * c1
                        for o in 0..<c1 { dst[o] = s[o] + b0[o] }
                        if let f = addFirst {
                            let fr = f + ((2 * i + a) * w1 + 2 * j + b) * c1
                            for o in 0..<c1 { dst[o] += fr[o] }
                        }
                        sam_layernorm_row(dst, nil, dst, c1, lw.baseAddress!, lb.baseAddress!, u.eps)
                    } }
                }
                sam_gelu(seq + 2 * i * w1 * c1, 2 * w1 * c1)
            }
        }
    }}}
    let bandRows = max(1, min(h1, (1 << 18) / max(1, w1 * 4 * c2)))
    let bands = (h1 + bandRows - 1) / bandRows
    u.w3.withUnsafeBufferPointer { w3p in u.b3.withUnsafeBufferPointer { b3p in
        let w3 = w3p.baseAddress!, b3 = b3p.baseAddress!
        parallelItems(bands) { bi in
            let r0 = bi * bandRows, r1 = min(h1, r0 + bandRows), pix = (r1 - r0) * w1
            let y2 = UnsafeMutablePointer<Float>.allocate(capacity: pix * 4 * c2)
            defer { y2.deallocate() }
            sgemm(m: pix, n: 4 * c2, k: c1, a: seq + r0 * w1 * c1, lda: c1, b: w3, ldb: 4 * c2, c: y2, ldc: 4 * c2)
            for p in 0..<(pix * 4) {
                let row = y2 + p * c2
                for o in 0..<c2 { row[o] += b3[o] }
                if let f = addSecond {
                    // sub-pixel (a, b) of band pixel p / 4 at (r0 + q / w1, q % w1) of the 2h × 2w grid
                    let q = p / 4, a = (p % 4) / 2, b = p % 2
                    let fr = f + ((2 * (r0 + q / w1) + a) * w2 + 2 * (q % w1) + b) * c2
                    for o in 0..<c2 { row[o] += fr[o] }
                }
            }
            if finalGELU { sam_gelu(y2, pix * 4 * c2) }
            band(r0, r1, y2)
        }
    }}
}

/// HQ-SAM's `embedding_maskfeature` weights (conv 3×3 pad 1 → LayerNorm2d → GELU → conv 3×3 pad 1, c2 → c1 → c2),
/// rearranged once for `hqMask`: the first convolution's weight [c1, c2, 3, 3] as c1 rows in (ky, kx, c) order (the
/// order of `hqMask`'s im2col rows); the second's [c2, c1, 3, 3] as c2 rows of (ky, kx, c) and its bias at the end
/// of each row, so that one product with the HQ token's hypernetwork output folds it (see `hqMask`).
public struct MaskFeatureWeights: Sendable {
    public let inChannels: Int, mid: Int
    let w0: [Float], b0: [Float], lnWeight: [Float], lnBias: [Float], eps: Float, w3: [Float]

    /// conv0: [c1, c2, 3, 3] and [c1]; LayerNorm2d weight, bias [c1] and eps; conv3: [c2, c1, 3, 3] and [c2].
    public init(conv0Weight: Tensor, conv0Bias: Tensor, lnWeight: Tensor, lnBias: Tensor, eps: Float,
                conv3Weight: Tensor, conv3Bias: Tensor) {
        /// [o, i, 3, 3] → o rows of (ky, kx, i), each followed by `extra[o]` when given.
        func regroup(_ w: Tensor, extra: Tensor?) -> [Float] {
            let oc = w.shape[0], ic = w.shape[1], row = 9 * ic + (extra == nil ? 0 : 1)
            var r = [Float](repeating: 0, count: oc * row)
            for o in 0..<oc {
                for i in 0..<ic { for t in 0..<9 { r[o * row + t * ic + i] = w.data[(o * ic + i) * 9 + t] } }
                if let extra { r[o * row + 9 * ic] = extra.data[o] }
            }
            return r
        }
        self.eps = eps
        guard conv0Weight.rank == 4 && conv3Weight.rank == 4 else {
            // a model built without values (WeightStore.shapesOnly, for parameter counts) never decodes
            inChannels = 0; mid = 0; w0 = []; b0 = []; self.lnWeight = []; self.lnBias = []; w3 = []
            return
        }
        mid = conv0Weight.shape[0]; inChannels = conv0Weight.shape[1]
        precondition(conv0Weight.shape[2...] == [3, 3] && conv3Weight.shape == [inChannels, mid, 3, 3],
                     "mask feature weights \(conv0Weight.shape), \(conv3Weight.shape)")
        w0 = regroup(conv0Weight, extra: nil); b0 = conv0Bias.data
        self.lnWeight = lnWeight.data; self.lnBias = lnBias.data
        w3 = regroup(conv3Weight, extra: conv3Bias)
    }
}

/// HQ-SAM's HQ mask of one prompt, `hf_mlp(token) · (embedding_maskfeature(upscaled) + features)`, into `mask`
/// (H × W; added to what is there when `accumulate`: the reference's masks_sam + masks_hq). `upscaled`: the SAM
/// upscaled embedding (H × W × c2, channels-last, `upscaleMasks`' `embedding`); `features`: the image's hq_features
/// (H × W × c2); `hyper`: the HQ token's hypernetwork output (c2).
///
/// The first convolution runs by bands of rows: each band's im2col rows (9·c2 values per pixel, zeros outside the
/// image) times the weight, bias prefilled, then LayerNorm2d as a row norm over each pixel's channels and GELU. The
/// second convolution is only ever read through the product with `hyper`, so that product is moved to its weights:
/// hyper · (Σ_tap W_tap · mid[p + tap] + b) = Σ_tap (hyperᵀ W_tap) · mid[p + tap] + hyper · b. With
/// v_tap = hyperᵀ W_tap (one 1 × c2 by c2 × (9·c1 + 1) product, the bias folded in the last column), each band's
/// t[p, tap] = v_tap · mid[p] is one product with 9 columns, and the mask is the 3×3 sum of t over each pixel's
/// neighbours, plus hyper · b and hyper · features[p]: 9·c1 multiply-adds per pixel instead of 9·c1·c2, the same
/// sums in another order (float32 rounding apart).
public func hqMask(upscaled: UnsafePointer<Float>, height hh: Int, width ww: Int, weights m: MaskFeatureWeights,
                   hyper: UnsafePointer<Float>, features: UnsafePointer<Float>, mask: UnsafeMutablePointer<Float>,
                   accumulate: Bool) {
    let c2 = m.inChannels, c1 = m.mid, kdim = 9 * c2, n = hh * ww, vn = 9 * c1 + 1
    let v = UnsafeMutablePointer<Float>.allocate(capacity: vn)
    let t = UnsafeMutablePointer<Float>.allocate(capacity: n * 9)
    let g = UnsafeMutablePointer<Float>.allocate(capacity: n)
    defer { v.deallocate(); t.deallocate(); g.deallocate() }
    // v[(tap, c)] = Σ_o hyper[o] · W3[o, c, tap]; v[9·c1] = Σ_o hyper[o] · b3[o]
    m.w3.withUnsafeBufferPointer { sgemm(m: 1, n: vn, k: c2, a: hyper, lda: c2, b: $0.baseAddress!, ldb: vn, c: v, ldc: vn) }
    // g[p] = features[p] · hyper
    sgemm(m: n, n: 1, k: c2, a: features, lda: c2, b: hyper, ldb: 1, c: g, ldc: 1)
    let bandRows = max(1, min(hh, (1 << 18) / max(1, ww * kdim)))
    let bands = (hh + bandRows - 1) / bandRows
    m.w0.withUnsafeBufferPointer { w0p in m.b0.withUnsafeBufferPointer { b0p in
    m.lnWeight.withUnsafeBufferPointer { lw in m.lnBias.withUnsafeBufferPointer { lb in
        let w0 = w0p.baseAddress!, b0 = b0p.baseAddress!
        parallelItems(bands) { bi in
            let r0 = bi * bandRows, r1 = min(hh, r0 + bandRows), pix = (r1 - r0) * ww
            let col = UnsafeMutablePointer<Float>.allocate(capacity: pix * kdim + pix * c1)
            defer { col.deallocate() }
            let mid = col + pix * kdim
            for p in 0..<pix {
                let y = r0 + p / ww, x = p % ww
                var dst = col + p * kdim
                for ky in 0..<3 {
                    let iy = y + ky - 1
                    for kx in 0..<3 {
                        let ix = x + kx - 1
                        if iy >= 0 && iy < hh && ix >= 0 && ix < ww {
                            dst.update(from: upscaled + (iy * ww + ix) * c2, count: c2)
                        } else {
                            dst.update(repeating: 0, count: c2)
                        }
                        dst += c2
                    }
                }
                (mid + p * c1).update(from: b0, count: c1)
            }
            sgemm(transB: true, m: pix, n: c1, k: kdim, a: col, lda: kdim, b: w0, ldb: kdim, beta: 1, c: mid, ldc: c1)
            for p in 0..<pix {
                sam_layernorm_row(mid + p * c1, nil, mid + p * c1, c1, lw.baseAddress!, lb.baseAddress!, m.eps)
            }
            sam_gelu(mid, pix * c1)
            // t[p, tap] = mid[p] · v_tap
            sgemm(transB: true, m: pix, n: 9, k: c1, a: mid, lda: c1, b: v, ldb: c1, c: t + r0 * ww * 9, ldc: 9)
        }
    }}}}
    let bias = v[9 * c1]
    parallelChunks(hh, minChunk: 16) { rows in
        for y in rows {
            for x in 0..<ww {
                var acc: Float = 0
                for ky in 0..<3 {
                    let iy = y + ky - 1
                    if iy < 0 || iy >= hh { continue }
                    for kx in 0..<3 {
                        let ix = x + kx - 1
                        if ix >= 0 && ix < ww { acc += t[(iy * ww + ix) * 9 + ky * 3 + kx] }
                    }
                }
                let value = acc + bias + g[y * ww + x]
                mask[y * ww + x] = accumulate ? mask[y * ww + x] + value : value
            }
        }
    }
}
