// The mask decoder's output upscaling and mask product for one prompt, computed pixel-major.
// ref: segment_anything/modeling/mask_decoder.py@dca509f (output_upscaling, predict_masks)
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
public func upscaleMasks(keys: UnsafePointer<Float>, height h: Int, width w: Int, weights u: UpscaleWeights,
                         hyper: UnsafePointer<Float>, count k: Int, masks: UnsafeMutablePointer<Float>,
                         addFirst: UnsafePointer<Float>? = nil, addSecond: UnsafePointer<Float>? = nil) {
    let d = u.inChannels, c1 = u.mid, c2 = u.out
    let h1 = 2 * h, w1 = 2 * w, h2 = 2 * h1, w2 = 2 * w1
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
    // second transposed convolution and the masks, in bands of `bandRows` rows of the 2h × 2w grid (~1 MB each)
    let bandRows = max(1, min(h1, (1 << 18) / max(1, w1 * 4 * c2)))
    let bands = (h1 + bandRows - 1) / bandRows
    u.w3.withUnsafeBufferPointer { w3p in u.b3.withUnsafeBufferPointer { b3p in
        let w3 = w3p.baseAddress!, b3 = b3p.baseAddress!
        parallelItems(bands) { band in
            let r0 = band * bandRows, r1 = min(h1, r0 + bandRows), pix = (r1 - r0) * w1
            let y2 = UnsafeMutablePointer<Float>.allocate(capacity: pix * 4 * c2 + k * pix * 4)
            defer { y2.deallocate() }
            let mt = y2 + pix * 4 * c2
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
            sam_gelu(y2, pix * 4 * c2)
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
    }}
}
