// The decoder's cross-attentions for one prompt with the image-side projections folded into the few prompt tokens.
// ref: segment_anything/modeling/transformer.py@dca509f (Attention.forward)
//
// A prompt has T tokens (7 for one point or one box) and the image 4096; the reference projects all 4096 image
// tokens to the internal width (k_proj and v_proj when the tokens attend to the image, q_proj and out_proj when the
// image attends to the tokens), 4096 × 256 × 128 multiply-adds each. The attention only ever combines those
// projections linearly with the T tokens of each of the H heads, so the same numbers follow from moving each weight
// matrix to the token side:
//   tokens → image:  q_h · (W_k,h x_j + b_k,h) = (q_h W_k,h) · x_j + q_h · b_k,h
//                    Σ_j p_j (W_v,h y_j + b_v,h) = W_v,h (Σ_j p_j y_j) + b_v,h Σ_j p_j
//   image → tokens:  (W_q,h x_i + b_q,h) · k_h = x_i · (W_q,h^T k_h) + b_q,h · k_h
//                    W_o (concat_h Σ_t p_ht v_ht) + b_o = Σ_h Σ_t p_ht (W_o,h v_ht) + b_o
// so each 4096-row product is replaced by one of H·T rows (56 instead of 128 output columns: 2.3× fewer FLOPs) when
// H·T is below the internal width. The sums are the reference's, in another order: results agree to float32
// rounding (checked against the reference form in `FastPathTests` and against Meta's predictor).
import SAMTensor

extension DecoderAttention {
    /// Whether folding pays for `tokens` prompt tokens: H·T rows against the internal width.
    public func foldingPays(tokens: Int) -> Bool { numHeads * tokens < qProj.weight.shape[0] }

    /// Whether a forward with these (1×T×C) prompt tokens takes the folded path: one prompt, no recorder (the dumps
    /// name the projections' outputs), and folding pays.
    func folds(tokens: Tensor, _ rec: ActivationRecorder?) -> Bool {
        rec == nil && tokens.shape[0] == 1 && foldingPays(tokens: tokens.shape[1])
    }

    /// For each head h, the T tokens' projected slices (tokens: T × c, head h in columns h·hd..<(h+1)·hd) times that
    /// head's rows of a projection weight (c × C, row-major: [out, in] of a Linear to the internal width c):
    /// into[(h, t), :] = tokens[t, h] · W[h] (H·T × C), and dots[(h, t)] = tokens[t, h] · bias[h].
    func foldProjection(tokens: UnsafePointer<Float>, count t: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        into: UnsafeMutablePointer<Float>, dots: UnsafeMutablePointer<Float>) {
        let c = qProj.weight.shape[0], d = qProj.weight.shape[1], hd = c / numHeads
        for h in 0..<numHeads {
            sgemm(m: t, n: d, k: hd, a: tokens + h * hd, lda: c, b: weight + h * hd * d, ldb: d, c: into + h * t * d, ldc: d)
            for i in 0..<t {
                var acc: Float = 0
                for e in 0..<hd { acc += tokens[i * c + h * hd + e] * bias[h * hd + e] }
                dots[h * t + i] = acc
            }
        }
    }

    /// Tokens attending to the image, `self(q: queries, k: keysPlusPE, v: values)` for one prompt, with k_proj and
    /// v_proj folded into the queries. queries 1×T×C; keysPlusPE, values 1×N×C. Returns 1×T×C (after out_proj).
    public func tokensToImageFolded(queries: Tensor, keysPlusPE x: Tensor, values y: Tensor) -> Tensor {
        precondition(queries.shape[0] == 1 && x.shape == y.shape && x.shape[0] == 1, "folded attention: one prompt")
        let t = queries.shape[1], n = x.shape[1], d = x.shape[2]
        let c = qProj.weight.shape[0], heads = numHeads, hd = c / heads, ht = heads * t
        let div = Float(Double(hd).squareRoot())
        let qp = qProj(queries, nil)                                                   // T×c
        let out = Tensor(shape: [1, t, c]) { o in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: ht * d + ht * n + ht * d + 2 * ht) { buf in
                let a = buf.baseAddress!, s = a + ht * d, z = s + ht * n, beta = z + ht * d, sigma = beta + ht
                qp.data.withUnsafeBufferPointer { qb in
                kProj.weight.data.withUnsafeBufferPointer { wk in kProj.bias!.data.withUnsafeBufferPointer { bk in
                vProj.weight.data.withUnsafeBufferPointer { wv in vProj.bias!.data.withUnsafeBufferPointer { bv in
                x.data.withUnsafeBufferPointer { xb in y.data.withUnsafeBufferPointer { yb in
                    // A_h = q_h W_k,h (T×C); β = q_h · b_k,h
                    foldProjection(tokens: qb.baseAddress!, count: t, weight: wk.baseAddress!, bias: bk.baseAddress!,
                                   into: a, dots: beta)
                    // scores (H·T × N) = A xᵀ + β, then softmax of score / √hd along each row
                    for r in 0..<ht { (s + r * n).update(repeating: beta[r], count: n) }
                    sgemm(transB: true, m: ht, n: n, k: d, a: a, lda: d, b: xb.baseAddress!, ldb: d, beta: 1, c: s, ldc: n)
                    parallelChunks(ht, minChunk: 8) { rows in
                        for r in rows {
                            softmaxRow(s + r * n, count: n, dividingBy: div)
                            var acc: Float = 0
                            for j in 0..<n { acc += s[r * n + j] }
                            sigma[r] = acc
                        }
                    }
                    // Z = P y (H·T × C); out_h = Z_h W_v,hᵀ + b_v,h Σ_j p_j
                    sgemm(m: ht, n: d, k: n, a: s, lda: n, b: yb.baseAddress!, ldb: d, c: z, ldc: d)
                    for h in 0..<heads {
                        sgemm(transB: true, m: t, n: hd, k: d, a: z + h * t * d, lda: d, b: wv.baseAddress! + h * hd * d,
                              ldb: d, c: o.baseAddress! + h * hd, ldc: c)
                        for i in 0..<t { for e in 0..<hd { o[i * c + h * hd + e] += bv[h * hd + e] * sigma[h * t + i] } }
                    }
                }}}}}}}
            }
        }
        return outProj(out, nil)
    }

    /// The image attending to the tokens, `self(q: imagePlusPE, k: keys, v: values)` for one prompt, with q_proj
    /// folded into the keys and out_proj into the values. imagePlusPE 1×N×C (unused when `projectedQueries`, the
    /// image's q_proj computed once for every prompt, is given: 1×N×c); keys, values 1×T×C. Returns 1×N×C.
    public func imageToTokensFolded(imagePlusPE x: Tensor?, projectedQueries: Tensor?, keys: Tensor, values: Tensor) -> Tensor {
        let t = keys.shape[1], d = keys.shape[2]
        let c = qProj.weight.shape[0], heads = numHeads, hd = c / heads, ht = heads * t
        let n = projectedQueries?.shape[1] ?? x!.shape[1]
        let div = Float(Double(hd).squareRoot())
        let kp = kProj(keys, nil), vp = vProj(values, nil)                                    // T×c each
        return Tensor(shape: [1, n, d]) { o in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: ht * n + 2 * ht * d + ht) { buf in
                let st = buf.baseAddress!, bt = st + ht * n, vpr = bt + ht * d, gamma = vpr + ht * d
                kp.data.withUnsafeBufferPointer { kb in vp.data.withUnsafeBufferPointer { vb in
                qProj.weight.data.withUnsafeBufferPointer { wq in qProj.bias!.data.withUnsafeBufferPointer { bq in
                outProj.weight.data.withUnsafeBufferPointer { wo in outProj.bias!.data.withUnsafeBufferPointer { bo in
                    let k0 = kb.baseAddress!
                    // scores, keys-major: Sᵀ (H·T × N)
                    if let projectedQueries {
                        projectedQueries.data.withUnsafeBufferPointer { qb in
                            for h in 0..<heads {
                                sgemm(transB: true, m: t, n: n, k: hd, a: k0 + h * hd, lda: c, b: qb.baseAddress! + h * hd,
                                      ldb: c, c: st + h * t * n, ldc: n)
                            }
                        }
                    } else {
                        // Bᵀ_h = k_h W_q,h (T×C); γ = k_h · b_q,h; Sᵀ = Bᵀ xᵀ + γ
                        foldProjection(tokens: k0, count: t, weight: wq.baseAddress!, bias: bq.baseAddress!, into: bt,
                                       dots: gamma)
                        for r in 0..<ht { (st + r * n).update(repeating: gamma[r], count: n) }
                        x!.data.withUnsafeBufferPointer { xb in
                            sgemm(transB: true, m: ht, n: n, k: d, a: bt, lda: d, b: xb.baseAddress!, ldb: d, beta: 1,
                                  c: st, ldc: n)
                        }
                    }
                    // softmax over each head's T keys, down the columns of its T rows
                    parallelItems(heads) { h in softmaxColumns(st + h * t * n, rows: t, cols: n, dividingBy: div) }
                    // V'_h = v_h W_o,hᵀ (T×C); out = Pᵀ V' + b_o
                    for h in 0..<heads {
                        sgemm(transB: true, m: t, n: d, k: hd, a: vb.baseAddress! + h * hd, lda: c, b: wo.baseAddress! + h * hd,
                              ldb: c, c: vpr + h * t * d, ldc: d)
                    }
                    for i in 0..<n { (o.baseAddress! + i * d).update(from: bo.baseAddress!, count: d) }
                    sgemm(transA: true, m: n, n: d, k: ht, a: st, lda: n, b: vpr, ldb: d, beta: 1, c: o.baseAddress!, ldc: d)
                }}}}}}
            }
        }
    }
}
