// Windowed multi-head attention with a learned additive bias per head and query–key pair (LeViT / TinyViT), over a
// channels-last grid of qkv rows, the windows cut and padded on the fly.

/// For every ws×ws window of a B×H×W grid (H and W padded at the bottom/right to multiples of ws) and every head:
/// softmax(scale · q kᵀ + bias[head]) v over the window's ws² tokens, padding tokens included as keys.
/// - qkv: [B, H, W, heads·(2·keyDim + valueDim)], each token's features grouped by head, q (keyDim), k (keyDim),
///   v (valueDim) per head — `qkv.view(B, N, heads, -1).split([key_dim, key_dim, d], dim=3)`.
/// - padRow: the qkv row of a padding token (heads·(2·keyDim + valueDim) values).
/// - bias: [heads, ws², ws²], the bias of query i and key j of a window in row-major token order.
/// - Returns [B, H, W, heads·valueDim] (heads concatenated, `(attn @ v).transpose(1, 2).reshape(B, N, dh)`), the
///   real tokens only: a padding query's output is dropped by the window reverse, so it is neither computed nor
///   written (the padding tokens still take part as keys and values).
/// Each (window, head) is one job on one core (`parallelItems`): its real queries and all ws² keys and values
/// gathered into contiguous matrices, the scores prefilled with the bias and summed with the product (`sgemm`,
/// alpha = scale, beta = 1), a softmax per row, the product with v, and the rows scattered to the output.
public func windowAttentionWithBias(qkv: Tensor, heads: Int, keyDim kd: Int, valueDim d: Int, window ws: Int,
                                    padRow: [Float], bias: [Float], scale: Float) -> Tensor {
    precondition(qkv.rank == 4, "windowAttentionWithBias: qkv \(qkv.shape) is not B×H×W×C")
    let b = qkv.shape[0], h = qkv.shape[1], w = qkv.shape[2], per = 2 * kd + d, c3 = heads * per
    precondition(qkv.shape[3] == c3 && padRow.count == c3, "windowAttentionWithBias: qkv \(qkv.shape), pad row \(padRow.count), \(heads) heads of \(per)")
    let n = ws * ws
    precondition(ws >= 1 && bias.count == heads * n * n, "windowAttentionWithBias: bias of \(bias.count) values for \(heads) heads, window \(ws)")
    let nh = (h + ws - 1) / ws, nw = (w + ws - 1) / ws, co = heads * d
    return Tensor(shape: [b, h, w, co]) { out in
        qkv.data.withUnsafeBufferPointer { qp in
        padRow.withUnsafeBufferPointer { pp in
        bias.withUnsafeBufferPointer { bp in
            let src = qp.baseAddress!, pad = pp.baseAddress!, ob = out.baseAddress!, biasBase = bp.baseAddress!
            parallelItems(b * nh * nw * heads) { job in
                let head = job % heads, win = job / heads
                let bi = win / (nh * nw), wy = (win / nw) % nh, wx = win % nw
                // the window's real tokens (the queries whose output is kept): rows × cols at its top left
                let rows = min(ws, h - wy * ws), cols = min(ws, w - wx * ws), nq = rows * cols
                withUnsafeTemporaryAllocation(of: Float.self, capacity: nq * kd + n * (kd + d) + nq * n + nq * d) { scratch in
                    let Q = scratch.baseAddress!, K = Q + nq * kd, V = K + n * kd, S = V + n * d, O = S + nq * n
                    for t in 0..<n {
                        let iy = t / ws, ix = t % ws
                        let real = iy < rows && ix < cols
                        let row = (real ? src + ((bi * h + wy * ws + iy) * w + wx * ws + ix) * c3 : pad) + head * per
                        if real { (Q + (iy * cols + ix) * kd).update(from: row, count: kd) }
                        (K + t * kd).update(from: row + kd, count: kd)
                        (V + t * d).update(from: row + 2 * kd, count: d)
                    }
                    // the bias rows of the real queries
                    let biasHead = biasBase + head * n * n
                    for q in 0..<nq { (S + q * n).update(from: biasHead + ((q / cols) * ws + q % cols) * n, count: n) }
                    sgemm(transB: true, m: nq, n: n, k: kd, alpha: scale, a: Q, lda: kd, b: K, ldb: kd, beta: 1, c: S, ldc: n)
                    for i in 0..<nq { softmaxRow(S + i * n, count: n) }
                    sgemm(m: nq, n: d, k: n, a: S, lda: n, b: V, ldb: d, c: O, ldc: d)
                    for q in 0..<nq {
                        let y = wy * ws + q / cols, x = wx * ws + q % cols
                        (ob + ((bi * h + y) * w + x) * co + head * d).update(from: O + q * d, count: d)
                    }
                }
            }
        }}}
    }
}
