// Window partition and decomposed relative position, weight-free math of ViTDet/SAM's image encoder.
// ref: segment_anything/modeling/image_encoder.py@dca509f (window_partition, window_unpartition, get_rel_pos,
// add_decomposed_rel_pos)
import CSAMKernels

/// Splits B×H×W×C into non-overlapping ws×ws windows, zero-padding H and W up to multiples of ws (bottom/right).
/// Returns (B·nH·nW)×ws×ws×C windows in (b, row of windows, column of windows) order and the padded size (Hp, Wp).
/// `padRow` (C values), when given, fills the padding instead of zeros: the partition of a per-token linear map's
/// output then equals the map applied to the zero-padded partition, its padding being the map of a zero row (the bias).
public func windowPartition(_ x: Tensor, windowSize ws: Int, padRow: [Float]? = nil) -> (windows: Tensor, padded: (h: Int, w: Int)) {
    precondition(x.rank == 4, "windowPartition expects B×H×W×C, got \(x.shape)")
    let b = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    let hp = (h + ws - 1) / ws * ws, wp = (w + ws - 1) / ws * ws
    let nh = hp / ws, nw = wp / ws
    let out = Tensor(shape: [b * nh * nw, ws, ws, c]) { o in
        x.data.withUnsafeBufferPointer { xp in
            let s = xp.baseAddress!, o = o.baseAddress!
            // windows spread over the cores (a windowed block's qkv, 4900 × 2304 floats at 64×64, is copied here)
            parallelItems(b * nh * nw) { win in
                let bi = win / (nh * nw), wy = (win / nw) % nh, wx = win % nw
                for iy in 0..<ws {
                    let y = wy * ws + iy
                    for ix in 0..<ws {
                        let xx = wx * ws + ix
                        let dst = o + ((win * ws + iy) * ws + ix) * c
                        if y < h && xx < w { dst.update(from: s + ((bi * h + y) * w + xx) * c, count: c) }
                        else if let padRow { padRow.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: c) } }
                        else { dst.update(repeating: 0, count: c) }
                    }
                }
            }
        }
    }
    return (out, (hp, wp))
}

/// Inverse of `windowPartition`: (B·nH·nW)×ws×ws×C windows back to B×H×W×C, dropping the padding.
public func windowUnpartition(_ windows: Tensor, windowSize ws: Int, padded: (h: Int, w: Int), original: (h: Int, w: Int)) -> Tensor {
    let c = windows.shape[3]
    let nh = padded.h / ws, nw = padded.w / ws
    let b = windows.shape[0] / (nh * nw)
    let h = original.h, w = original.w
    return Tensor(shape: [b, h, w, c]) { o in
        windows.data.withUnsafeBufferPointer { wp in
            let src0 = wp.baseAddress!, o = o.baseAddress!
            parallelChunks(b * h, minChunk: 8) { rows in
                for r in rows {
                    let bi = r / h, y = r % h
                    for xx in 0..<w {
                        let win = (bi * nh + y / ws) * nw + xx / ws
                        let src = src0 + ((win * ws + y % ws) * ws + xx % ws) * c
                        (o + ((bi * h + y) * w + xx) * c).update(from: src, count: c)
                    }
                }
            }
        }
    }
}

/// Relative positional embeddings for query size `qSize` and key size `kSize` from a table [L, C]:
/// the table is linearly resized to 2·max(q, k) − 1 rows when its length differs, then gathered at
/// q·max(k/q, 1) − k·max(q/k, 1) + (k − 1)·max(q/k, 1). Returns [qSize, kSize, C].
public func getRelPos(qSize: Int, kSize: Int, relPos: Tensor) -> Tensor {
    let table = relPosTable(relPos, length: 2 * max(qSize, kSize) - 1)
    let c = relPos.shape[1]
    let qScale = max(Double(kSize) / Double(qSize), 1.0), kScale = max(Double(qSize) / Double(kSize), 1.0)
    return Tensor(shape: [qSize, kSize, c]) { o in
        for i in 0..<qSize {
            for j in 0..<kSize {
                // torch computes these coordinates in float32 and truncates with .long()
                let qc = Float(i) * Float(qScale), kc = Float(j) * Float(kScale)
                let idx = Int((qc - kc) + Float(kSize - 1) * Float(kScale))
                for ch in 0..<c { o[(i * kSize + j) * c + ch] = table.data[idx * c + ch] }
            }
        }
    }
}

/// A relative-position table [L, C] linearly resized to `length` rows (unchanged when it has them), as `get_rel_pos`
/// does first. For self-attention over `size` positions (length 2·size − 1) row y − ky + size − 1 is the one
/// `getRelPos` gathers at [y, ky].
public func relPosTable(_ relPos: Tensor, length: Int) -> Tensor {
    guard relPos.shape[0] != length else { return relPos }
    let c = relPos.shape[1]
    // F.interpolate(rel_pos.reshape(1, L, -1).permute(0, 2, 1), size=length, mode="linear")
    let t = permute(relPos.reshaped([1, relPos.shape[0], c]), [0, 2, 1])
    return permute(interpolateLinear(t, length: length).reshaped([c, length]), [1, 0])
}

/// Attentions over at most this many tokens (the ViT's windows) keep their scores keys-major in
/// `attentionDecomposedRelPos` (its `keysMajorUpTo` default; `encoderFLOPs(_:asIssued:)` counts with it too).
public let keysMajorMaxTokens = 512

/// Multi-head self-attention with decomposed relative position over an H×W token grid, for every batch item
/// (Meta's `Attention.forward` after the qkv projection, without the output projection).
/// - qkv: [B, H·W, 3·C] laid out as qkv(x).reshape(B, H·W, 3, heads, C/heads); relPosH: [Lh, C/heads]; relPosW: [Lw, C/heads].
/// - Returns [B, H·W, C] with heads concatenated in order (the input of `proj`).
/// Per head: A = (q·scale) kᵀ + rel_h + rel_w (rel terms from the unscaled q), softmax over keys, then A v.
/// The (batch item, head) pairs are spread over the cores (`parallelItems`), each computed on one thread with its
/// products single-threaded: a windowed block's 25 × heads small attentions kept one core idle when each product was
/// split on its own, and the global blocks' products of depth 64 run better whole than in halves. Queries go in blocks
/// of `queryBlock` rows, so only a block of the (H·W)² scores is live; the bias add and the softmax's max are one
/// pass per row, its exp and sum a second, and its 1/sum multiplies the query's hd outputs after the product with v
/// rather than its H·W weights before it (the same value up to float rounding, a pass over the block saved). Grids
/// of up to `keysMajorUpTo` tokens (the windows) keep their whole scores keys-major instead, so the vector lanes run
/// along the queries (`relPosExpColumns`), and read q, k, v in place in the qkv rows.
public func attentionDecomposedRelPos(qkv: Tensor, batch: Int, height: Int, width: Int, heads: Int,
                                      relPosH: Tensor?, relPosW: Tensor?, queryBlock: Int = 512,
                                      keysMajorUpTo: Int = keysMajorMaxTokens) -> Tensor {
    let n = height * width
    let c3 = qkv.shape.last!, c = c3 / 3, hd = c / heads
    let scale = Float(1.0 / Double(hd).squareRoot())
    let block = min(n, queryBlock)
    let withRel = relPosH != nil && relPosW != nil
    // small grids (the 14×14 windows): scores keys-major, vectorised along the queries (`relPosExpColumns`); a row of
    // 14 keys per relative-position step would leave the rows' vector lanes mostly idle
    let columns = withRel && n <= keysMajorUpTo
    let half = Precision.products == .bf16
    // keys-major: the 2·size − 1 table rows themselves (Rh[y, ky] = Th[y − ky + H − 1]); rows: the gathered
    // [H, H, hd] and [W, W, hd] that the per-row products take
    let rh = relPosH.map { columns ? relPosTable($0, length: 2 * height - 1) : getRelPos(qSize: height, kSize: height, relPos: $0) }
    let rw = relPosW.map { columns ? relPosTable($0, length: 2 * width - 1) : getRelPos(qSize: width, kSize: width, relPos: $0) }
    return Tensor(shape: [batch, n, c]) { out in
        qkv.data.withUnsafeBufferPointer { qp in
        (rh ?? Tensor(shape: [0])).data.withUnsafeBufferPointer { rhT in
        (rw ?? Tensor(shape: [0])).data.withUnsafeBufferPointer { rwT in
            let o = out.baseAddress!, qkvBase = qp.baseAddress!
            let rhp = rhT.baseAddress, rwp = rwT.baseAddress
            parallelItems(batch * heads) { job in
                let b = job / heads, hIdx = job % heads
                let base = qkvBase + b * n * c3
                let q = base + hIdx * hd, k = base + c + hIdx * hd, v = base + 2 * c + hIdx * hd
                if columns, let rhp, let rwp {
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: n * n + 3 * n * (height + width) + n)
                    defer { scratch.deallocate() }
                    let S = scratch, RHT = S + n * n, RWT = RHT + n * height, PH = RWT + n * width
                    let PW = PH + (2 * height - 1) * n, inv = PW + (2 * width - 1) * n
                    // the whole n×n scores at once, keys-major, straight from the qkv rows (no copies; the scale as
                    // the product's alpha): Sᵀ = scale · K qᵀ
                    sgemm(transB: true, m: n, n: n, k: hd, alpha: scale, a: k, lda: c3, b: q, ldb: c3, c: S, ldc: n)
                    // the relative terms transposed to match
                    relPosTermsKeysMajor(q: q, ldq: c3, hd: hd, queries: n, queryWidth: width, keyHeight: height, keyWidth: width,
                                         th: rhp, tw: rwp, ph: PH, pw: PW, into: RHT, RWT)
                    relPosExpColumns(S, height: height, width: width, queries: n, relHT: RHT, relWT: RWT, inv: inv)
                    let out = o + b * n * c + hIdx * hd
                    sgemm(transA: true, m: n, n: hd, k: n, a: S, lda: n, b: v, ldb: c3, c: out, ldc: c)
                    scaleRows(out, rows: n, cols: hd, stride: c, by: inv)
                    return
                }
                if half, withRel, let rhp, let rwp {
                    globalHeadBF16(q: q, k: k, v: v, c3: c3, n: n, hd: hd, height: height, width: width, scale: scale,
                                   rh: rhp, rw: rwp, out: o + b * n * c + hIdx * hd, ldo: c)
                    return
                }
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: block * n + 3 * n * hd + n * (height + width) + block)
                defer { scratch.deallocate() }
                let S = scratch, Q = scratch + block * n, K = Q + n * hd, V = K + n * hd, RH = V + n * hd, RW = RH + n * height
                let inv = RW + n * width
                // q * scale, as the reference scales before the product; k and v copied to contiguous n×hd matrices
                // (OpenBLAS packs them faster than rows strided by 3·C)
                for t in 0..<n {
                    for d in 0..<hd { Q[t * hd + d] = q[t * c3 + d] * scale }
                    (K + t * hd).update(from: k + t * c3, count: hd)
                    (V + t * hd).update(from: v + t * c3, count: hd)
                }
                if withRel, let rhp, let rwp {
                    relPosTerms(q: q, c3: c3, hd: hd, height: height, width: width, rh: rhp, rw: rwp, into: RH, RW)
                }
                var r0 = 0
                while r0 < n {
                    let rows = min(block, n - r0)
                    sgemm(transB: true, m: rows, n: n, k: hd, a: Q + r0 * hd, lda: hd, b: K, ldb: hd, c: S, ldc: n)
                    for i in 0..<rows {
                        let row = S + i * n, t = r0 + i
                        if withRel {
                            inv[i] = relPosExpRow(row, height: height, width: width, relH: RH + t * height, relW: RW + t * width)
                        } else {
                            softmaxRow(row, count: n)
                        }
                    }
                    let out = o + (b * n + r0) * c + hIdx * hd
                    sgemm(m: rows, n: hd, k: n, a: S, lda: n, b: V, ldb: hd, c: out, ldc: c)
                    // softmax's 1/sum applied to the hd outputs of each query instead of its n weights
                    if withRel { scaleRows(out, rows: rows, cols: hd, stride: c, by: inv) }
                    r0 += rows
                }
            }
        }}}
    }
}

/// One head of the global attention in bf16 mode (`attentionDecomposedRelPos`'s row path): q·scale, k and v rounded to
/// bf16 once, the scores of `bf16QueryBlock` queries at a time (bf16 product, float32 result), the relative-position
/// terms (float32 products) and the exp in float32, the exp values written straight to bf16 for the product with v,
/// and 1/sum applied to the outputs. Blocks small enough that a block's scores stay in the core's cache.
func globalHeadBF16(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, c3: Int, n: Int, hd: Int,
                    height: Int, width: Int, scale: Float, rh: UnsafePointer<Float>, rw: UnsafePointer<Float>,
                    out: UnsafeMutablePointer<Float>, ldo: Int) {
    let block = min(n, bf16QueryBlock)
    let f32 = UnsafeMutablePointer<Float>.allocate(capacity: block * n + n * hd + n * (height + width) + block)
    let h16 = UnsafeMutablePointer<UInt16>.allocate(capacity: block * n + 3 * n * hd)
    defer { f32.deallocate(); h16.deallocate() }
    let S = f32, Q = S + block * n, RH = Q + n * hd, RW = RH + n * height, inv = RW + n * width
    let S16 = h16, Q16 = S16 + block * n, K16 = Q16 + n * hd, V16 = K16 + n * hd
    for t in 0..<n { for d in 0..<hd { Q[t * hd + d] = q[t * c3 + d] * scale } }
    sam_f32_to_bf16(Q, n, hd, hd, Q16)
    sam_f32_to_bf16(k, n, hd, c3, K16)
    sam_f32_to_bf16(v, n, hd, c3, V16)
    relPosTerms(q: q, c3: c3, hd: hd, height: height, width: width, rh: rh, rw: rw, into: RH, RW)
    var r0 = 0
    while r0 < n {
        let rows = min(block, n - r0)
        gemm(transB: true, m: rows, n: n, k: hd, a: .bf16(Q16 + r0 * hd), lda: hd, b: .bf16(K16), ldb: hd, c: S, ldc: n)
        for i in 0..<rows {
            let t = r0 + i
            inv[i] = sam_relpos_exp_row_bf16(S + i * n, height, width, RH + t * height, RW + t * width, S16 + i * n)
        }
        let o = out + r0 * ldo
        gemm(m: rows, n: hd, k: n, a: .bf16(S16), lda: n, b: .bf16(V16), ldb: hd, c: o, ldc: ldo)
        scaleRows(o, rows: rows, cols: hd, stride: ldo, by: inv)
        r0 += rows
    }
}

/// The decomposed relative-position terms keys-major, for `nq` queries (float32 rows of q with stride ldq) laid out in
/// rows of `queryWidth` (query t at y = t / queryWidth, x = t % queryWidth) over a keyHeight × keyWidth key grid: one
/// float32 product per axis with the 2·size − 1 table rows th, tw (PH = Th qᵀ, PW = Tw qᵀ, into ph and pw), then
/// RHT[ky·nq + t] = PH[(y − ky + keyHeight − 1)·nq + t] = q[t] · Th[y − ky + keyHeight − 1] and RWT likewise along x.
func relPosTermsKeysMajor(q: UnsafePointer<Float>, ldq: Int, hd: Int, queries nq: Int, queryWidth: Int, keyHeight kh: Int,
                          keyWidth kw: Int, th: UnsafePointer<Float>, tw: UnsafePointer<Float>, ph: UnsafeMutablePointer<Float>,
                          pw: UnsafeMutablePointer<Float>, into rht: UnsafeMutablePointer<Float>, _ rwt: UnsafeMutablePointer<Float>) {
    sgemm(transB: true, m: 2 * kh - 1, n: nq, k: hd, a: th, lda: hd, b: q, ldb: ldq, c: ph, ldc: nq, precision: .fp32)
    sgemm(transB: true, m: 2 * kw - 1, n: nq, k: hd, a: tw, lda: hd, b: q, ldb: ldq, c: pw, ldc: nq, precision: .fp32)
    for t in 0..<nq {
        let y = t / queryWidth, x = t % queryWidth
        for ky in 0..<kh { rht[ky * nq + t] = ph[(y - ky + kh - 1) * nq + t] }
        for kx in 0..<kw { rwt[kx * nq + t] = pw[(x - kx + kw - 1) * nq + t] }
    }
}

/// Queries per block of `globalHeadBF16`: 128 × 4096 float32 scores (2 MB) and their bf16 copy.
let bf16QueryBlock = 128

/// The decomposed relative-position terms of one head on an H×W grid, float32 products in both precisions:
/// RH[y, x, ky] = Σ_d q[y, x, d] · Rh[y, ky, d] and RW[y, x, kx] = Σ_d q[y, x, d] · Rw[x, kx, d] (q rows strided by c3,
/// Rh: [H, H, hd], Rw: [W, W, hd] as `getRelPos` gathers them).
func relPosTerms(q: UnsafePointer<Float>, c3: Int, hd: Int, height: Int, width: Int, rh: UnsafePointer<Float>,
                 rw: UnsafePointer<Float>, into RH: UnsafeMutablePointer<Float>, _ RW: UnsafeMutablePointer<Float>) {
    for y in 0..<height {
        sgemm(transB: true, m: width, n: height, k: hd, a: q + y * width * c3, lda: c3,
              b: rh + y * height * hd, ldb: hd, c: RH + y * width * height, ldc: height, precision: .fp32)
    }
    for x in 0..<width {
        sgemm(transB: true, m: height, n: width, k: hd, a: q + x * c3, lda: width * c3,
              b: rw + x * width * hd, ldb: hd, c: RW + x * width, ldc: width * width, precision: .fp32)
    }
}

/// The windowed attention of the ViT's blocks in bf16 mode, straight from the unpartitioned qkv grid: for every ws×ws
/// window of a B×H×W grid (padded at the bottom/right to multiples of ws with `padRow`, the qkv of a zero token) and
/// every head, what `windowPartition` followed by `attentionDecomposedRelPos` (its keys-major path) and
/// `windowUnpartition` compute, for the real tokens only. Per (window, head) job: the window's k and v rows (all ws²
/// tokens, padding included, as keys) and its real queries gathered (row copies) and rounded to bf16 once per matrix,
/// the real queries' float32 rows kept for the relative-position terms (float32 products, as in every mode), Sᵀ = scale · K Qᵀ keys-major
/// over the real queries only, the relative terms and the exp down each column, Sᵀᵀ V, 1/sum, and the rows written to
/// their tokens of the output. The padding queries, whose outputs the reference drops, are not computed; the
/// partitioned copy of qkv (ws²-padded, 4900 rows for 64×64 tokens in 14×14 windows) and of the output never exist.
/// - qkv: [B, H, W, 3C] (q, k, v of each token, heads of hd = C / heads within each); relPosH, relPosW: [2·ws − 1, hd].
/// - Returns [B, H, W, C].
public func windowedAttentionDecomposedRelPosBF16(qkv: Tensor, windowSize ws: Int, padRow: [Float], heads: Int,
                                                  relPosH: Tensor, relPosW: Tensor) -> Tensor {
    precondition(qkv.rank == 4 && qkv.shape[3] % 3 == 0 && padRow.count == qkv.shape[3],
                 "windowedAttentionDecomposedRelPosBF16: qkv \(qkv.shape), pad row \(padRow.count)")
    let b = qkv.shape[0], h = qkv.shape[1], w = qkv.shape[2], c3 = qkv.shape[3], c = c3 / 3, hd = c / heads
    precondition(relPosH.shape == [2 * ws - 1, hd] && relPosW.shape == [2 * ws - 1, hd],
                 "windowedAttentionDecomposedRelPosBF16: tables \(relPosH.shape), \(relPosW.shape) for windows of \(ws), head dim \(hd)")
    let n = ws * ws, nh = (h + ws - 1) / ws, nw = (w + ws - 1) / ws, span = 2 * ws - 1
    let scale = Float(1.0 / Double(hd).squareRoot())
    return Tensor(shape: [b, h, w, c]) { out in
        qkv.data.withUnsafeBufferPointer { qp in
        padRow.withUnsafeBufferPointer { pp in
        relPosH.data.withUnsafeBufferPointer { rhp in
        relPosW.data.withUnsafeBufferPointer { rwp in
            let src = qp.baseAddress!, pad = pp.baseAddress!, ob = out.baseAddress!
            parallelItems(b * nh * nw * heads) { job in
                let head = job % heads, win = job / heads
                let bi = win / (nh * nw), wy = (win / nw) % nh, wx = win % nw
                let rows = min(ws, h - wy * ws), cols = min(ws, w - wx * ws), nq = rows * cols
                let floats = nq * hd + n * nq + 2 * ws * nq + 2 * span * nq + nq + nq * hd + 2 * n * hd
                withUnsafeTemporaryAllocation(of: Float.self, capacity: floats) { fb in
                withUnsafeTemporaryAllocation(of: UInt16.self, capacity: (2 * n + nq) * hd) { hb in
                    let QF = fb.baseAddress!, S = QF + nq * hd, RHT = S + n * nq, RWT = RHT + ws * nq
                    let PH = RWT + ws * nq, PW = PH + span * nq, inv = PW + span * nq, O = inv + nq
                    let KF = O + nq * hd, VF = KF + n * hd
                    let K16 = hb.baseAddress!, V16 = K16 + n * hd, Q16 = V16 + n * hd
                    // gathered in float32 (row copies), then rounded in one pass per matrix
                    for t in 0..<n {
                        let iy = t / ws, ix = t % ws
                        let real = iy < rows && ix < cols
                        let row = real ? src + ((bi * h + wy * ws + iy) * w + wx * ws + ix) * c3 : pad
                        (KF + t * hd).update(from: row + c + head * hd, count: hd)
                        (VF + t * hd).update(from: row + 2 * c + head * hd, count: hd)
                        if real { (QF + (iy * cols + ix) * hd).update(from: row + head * hd, count: hd) }
                    }
                    sam_f32_to_bf16(KF, n, hd, hd, K16)
                    sam_f32_to_bf16(VF, n, hd, hd, V16)
                    sam_f32_to_bf16(QF, nq, hd, hd, Q16)
                    // Sᵀ = scale · K qᵀ: keys-major, the real queries as columns
                    gemm(transB: true, m: n, n: nq, k: hd, alpha: scale, a: .bf16(K16), lda: hd, b: .bf16(Q16), ldb: hd, c: S, ldc: nq)
                    // the relative terms of the real queries (rows of `cols` in the window), keys-major
                    relPosTermsKeysMajor(q: QF, ldq: hd, hd: hd, queries: nq, queryWidth: cols, keyHeight: ws, keyWidth: ws,
                                         th: rhp.baseAddress!, tw: rwp.baseAddress!, ph: PH, pw: PW, into: RHT, RWT)
                    relPosExpColumns(S, height: ws, width: ws, queries: nq, relHT: RHT, relWT: RWT, inv: inv)
                    gemm(transA: true, m: nq, n: hd, k: n, a: .f32(S), lda: nq, b: .bf16(V16), ldb: hd, c: O, ldc: hd)
                    scaleRows(O, rows: nq, cols: hd, stride: hd, by: inv)
                    for t in 0..<nq {
                        let y = wy * ws + t / cols, x = wx * ws + t % cols
                        (ob + ((bi * h + y) * w + x) * c + head * hd).update(from: O + t * hd, count: hd)
                    }
                }}
            }
        }}}}
    }
}
