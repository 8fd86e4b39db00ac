// Hiera, SAM 2's image trunk: 7×7 stride-4 patch embedding, interpolated + window-tiled position embedding,
// multi-scale blocks with windowed (or global) attention and query pooling at each stage's first block.
// ref: sam2/modeling/backbones/hieradet.py@1.1.0 (Hiera, MultiScaleBlock, MultiScaleAttention, do_pool),
// sam2/modeling/backbones/utils.py@1.1.0 (PatchEmbed, window_partition, window_unpartition)
import SAMTensor

/// `MultiScaleAttention(dim, dim_out, heads, q_pool)`: qkv → (q max-pooled 2×2 when the block pools) →
/// softmax(q kᵀ/√d) v per head → proj. Works on B×H×W×C (windows or the whole grid).
public final class MultiScaleAttention {
    public let name: String
    public let dimOut: Int, heads: Int, qStride: Int?
    public let qkv: Linear, proj: Linear

    init(_ w: WeightStore, _ name: String, dim: Int, dimOut: Int, heads: Int, qStride: Int?) {
        self.name = name
        self.dimOut = dimOut; self.heads = heads; self.qStride = qStride
        qkv = Linear(w, "\(name).qkv", dim, 3 * dimOut)
        proj = Linear(w, "\(name).proj", dimOut, dimOut)
    }

    /// The attention between the projections: qkv B×H×W×3C (per token: q, k, v, each heads × d) → B×H'×W'×C,
    /// H' = H / stride when the queries are pooled.
    func attend(qkv t: Tensor) -> Tensor {
        let b = t.shape[0], h = t.shape[1], wd = t.shape[2], c = dimOut, n = h * wd
        let s = qStride ?? 1, oh = h / s, ow = wd / s, nq = oh * ow
        return Tensor(shape: [b, oh, ow, c]) { o in
            t.data.withUnsafeBufferPointer { tp in
                let base = tp.baseAddress!
                if s == 1 {
                    scaledDotProductAttention(q: base, qRow: 3 * c, qBatch: n * 3 * c, k: base + c, kRow: 3 * c, kBatch: n * 3 * c,
                                              v: base + 2 * c, vRow: 3 * c, vBatch: n * 3 * c,
                                              out: o.baseAddress!, outRow: c, outBatch: nq * c,
                                              batch: b, queries: nq, keys: n, heads: heads, headDim: c / heads)
                    return
                }
                // q = max-pool of the queries over s×s (do_pool on q reshaped B×H×W×C)
                var pooled = [Float](repeating: 0, count: b * nq * c)
                pooled.withUnsafeMutableBufferPointer { pp in
                    // the b grids (windows) of h rows as one grid of b·h rows when h is a multiple of s (no pooling
                    // cell spans two of them); the queries read in place from qkv
                    if h % s == 0 {
                        maxPoolNHWC(base, rows: b * h, cols: wd, channels: c, stride: 3 * c, kernel: s, into: pp.baseAddress!)
                    } else {
                        for bi in 0..<b {
                            maxPoolNHWC(base + bi * n * 3 * c, rows: h, cols: wd, channels: c, stride: 3 * c, kernel: s,
                                        into: pp.baseAddress! + bi * nq * c)
                        }
                    }
                    scaledDotProductAttention(q: pp.baseAddress!, qRow: c, qBatch: nq * c, k: base + c, kRow: 3 * c, kBatch: n * 3 * c,
                                              v: base + 2 * c, vRow: 3 * c, vBatch: n * 3 * c,
                                              out: o.baseAddress!, outRow: c, outBatch: nq * c,
                                              batch: b, queries: nq, keys: n, heads: heads, headDim: c / heads)
                }
            }
        }
    }
}

/// `MultiScaleBlock`: x + attn(norm1(x)) (the shortcut projected and pooled when the width changes), then
/// x + mlp(norm2(x)). Tokens are B×H×W×C.
public final class MultiScaleBlock {
    public let name: String
    public let spec: SAM2Config.BlockSpec
    public let qStride: Int
    public let norm1: LayerNorm, attn: MultiScaleAttention, norm2: LayerNorm, mlp: MLPBlock
    /// `<name>.proj`: Linear(dim, dim_out) for the shortcut, when the width changes.
    public let proj: Linear?

    init(_ w: WeightStore, _ name: String, spec: SAM2Config.BlockSpec, qStride: Int, mlpRatio: Double) {
        self.name = name
        self.spec = spec
        self.qStride = qStride
        norm1 = LayerNorm(w, "\(name).norm1", spec.dim, eps: 1e-6)
        attn = MultiScaleAttention(w, "\(name).attn", dim: spec.dim, dimOut: spec.dimOut, heads: spec.heads,
                                   qStride: spec.pooled ? qStride : nil)
        norm2 = LayerNorm(w, "\(name).norm2", spec.dimOut, eps: 1e-6)
        mlp = MLPBlock(w, "\(name).mlp", embeddingDim: spec.dimOut, mlpDim: Int(Double(spec.dimOut) * mlpRatio), act: .gelu, keys: .sam2)
        proj = spec.dim != spec.dimOut ? Linear(w, "\(name).proj", spec.dim, spec.dimOut) : nil
    }

    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        let b = x.shape[0], h = x.shape[1], wd = x.shape[2]
        let s = spec.pooled ? qStride : 1
        if rec == nil && spec.window > 0 && spec.window % s == 0 && h % s == 0 && wd % s == 0 {
            return banded(x)
        }
        let xn = Profiler.measure("encoder: layer norms") { norm1(x, rec) }
        var shortcut = x
        if let proj {
            let p = Profiler.measure("encoder: qkv + proj") { proj(xn, rec) }
            shortcut = spec.pooled ? maxPool(p, kernel: s) : p
            // the block's `pool` module (shared with the attention's q_pool) first runs here, NCHW
            if spec.pooled { rec.record("\(name).pool", permute(shortcut, [0, 3, 1, 2])) }
        }
        let oh = h / s, ow = wd / s, c = spec.dimOut
        // qkv of the real tokens; a window's padding tokens are zeros after norm1, so their qkv is the bias
        let qkvAll = Profiler.measure("encoder: qkv + proj") { attn.qkv.callAsFunction(xn, nil) }
        var y: Tensor
        let ws = spec.window
        if ws > 0 {
            let (windows, padded) = Profiler.measure("encoder: window partition") {
                windowPartition(qkvAll, windowSize: ws, padRow: attn.qkv.bias?.data ?? [Float](repeating: 0, count: 3 * c))
            }
            rec.record(attn.qkv.name, windows)
            let a = Profiler.measure("encoder: windowed attention") { attn.attend(qkv: windows) }
            let ws2 = ws / s
            // after pooling the windows are ws/s wide over the pooled grid, padded to a multiple of that
            let padded2 = ((oh + ws2 - 1) / ws2 * ws2, (ow + ws2 - 1) / ws2 * ws2)
            precondition(padded2.0 == padded.h / s && padded2.1 == padded.w / s, "Hiera: pooled windows do not tile the grid")
            if let rec, rec.wants(attn.proj.name) || rec.wants(attn.name) {
                // the reference projects every window, padding included
                let pw = attn.proj(a, rec)
                rec.record(attn.name, pw)
                y = windowUnpartition(pw, windowSize: ws2, padded: padded2, original: (oh, ow))
            } else {
                let un = Profiler.measure("encoder: window partition") {
                    windowUnpartition(a, windowSize: ws2, padded: padded2, original: (oh, ow))
                }
                y = Profiler.measure("encoder: qkv + proj") { attn.proj(un, nil) }
            }
        } else {
            rec.record(attn.qkv.name, qkvAll)
            let a = Profiler.measure("encoder: global attention") { attn.attend(qkv: qkvAll) }
            y = Profiler.measure("encoder: qkv + proj") { attn.proj(a, rec) }
            rec.record(attn.name, y)
        }
        rec.record("\(name).drop_path", y)
        y.add(shortcut)
        let n2 = Profiler.measure("encoder: layer norms") { norm2(y, rec) }
        var out = Profiler.measure("encoder: MLP") { mlp(n2, rec) }
        out.add(y)
        precondition(out.shape == [b, oh, ow, c])
        rec.record(name, out)
        return out
    }
}

extension MultiScaleBlock {
    /// The block without a recorder, one row of windows at a time: a windowed block mixes tokens only inside a
    /// window, and the norms, projections, pooling and MLP are per token (pooling per s×s cell, which a row of
    /// windows holds whole when the window is a multiple of s), so each band of `window` token rows goes through
    /// the whole block on its own — the same operations on the same values as the whole grid at once, with a working
    /// set of one band (a 256-wide band of 8 rows is 2048 tokens) instead of the grid's qkv and MLP activations
    /// (113 MB and 151 MB for sam2.1_hiera_l's first stage).
    func banded(_ x: Tensor) -> Tensor {
        let b = x.shape[0], h = x.shape[1], wd = x.shape[2], c = spec.dim, co = spec.dimOut
        let s = spec.pooled ? qStride : 1, ws = spec.window, ws2 = ws / s
        let ow = wd / s, oh = h / s
        let pw = (wd + ws - 1) / ws * ws
        let padRow = attn.qkv.bias?.data ?? [Float](repeating: 0, count: 3 * co)
        var out = Tensor(shape: [b, oh, ow, co]) { _ in }
        // bands of whole window rows, at least 2048 tokens each (products large enough for the cores, a working set
        // that keeps sam2.1_hiera_l's peak where the whole 64² grid of its third stage would raise it by 110 MB)
        let band = ws * max(1, (2048 + ws * wd - 1) / (ws * wd))
        for bi in 0..<b {
            for y0 in stride(from: 0, to: h, by: band) {
                let r = min(band, h - y0)
                let start = ((bi * h) + y0) * wd * c
                let band = Tensor(shape: [1, r, wd, c], data: Array(x.data[start..<(start + r * wd * c)]))
                let xn = Profiler.measure("encoder: layer norms") { norm1(band, nil) }
                var shortcut = band
                if let proj {
                    let p = Profiler.measure("encoder: qkv + proj") { proj(xn, nil) }
                    shortcut = s > 1 ? maxPool(p, kernel: s) : p
                }
                let q = Profiler.measure("encoder: qkv + proj") { attn.qkv.callAsFunction(xn, nil) }
                // the band's windows: its r rows padded to ws (and the columns to a multiple of ws) with the bias
                let (windows, _) = Profiler.measure("encoder: window partition") {
                    windowPartition(q, windowSize: ws, padRow: padRow)
                }
                let a = Profiler.measure("encoder: windowed attention") { attn.attend(qkv: windows) }
                let un = Profiler.measure("encoder: window partition") {
                    windowUnpartition(a, windowSize: ws2, padded: ((r + ws - 1) / ws * ws2, pw / s), original: (r / s, ow))
                }
                var y = Profiler.measure("encoder: qkv + proj") { attn.proj(un, nil) }
                y.add(shortcut)
                let n2 = Profiler.measure("encoder: layer norms") { norm2(y, nil) }
                var m = Profiler.measure("encoder: MLP") { mlp(n2, nil) }
                m.add(y)
                let o = ((bi * oh) + y0 / s) * ow * co
                out.data.replaceSubrange(o..<(o + m.count), with: m.data)
            }
        }
        return out
    }
}

/// `Hiera`: the trunk of SAM 2's image encoder. Returns the output of every stage (channels-last B×H×W×C, highest
/// resolution first); the recorder gets them as the reference returns them, B×C×H×W, as `<name>:i`.
public final class Hiera {
    public let name: String
    public let config: SAM2Config
    /// `<name>.patch_embed.proj`: Conv2d(3, C, 7, stride 4, padding 3).
    public let patchEmbed: Conv2d
    /// `<name>.pos_embed` 1×C×p×p and `<name>.pos_embed_window` 1×C×w×w.
    public let posEmbed: Tensor, posEmbedWindow: Tensor
    public let blocks: [MultiScaleBlock]
    private var cachedPos: (grid: Int, value: Tensor)?

    public init(_ w: WeightStore, _ name: String = "image_encoder.trunk", config c: SAM2Config) {
        self.name = name
        config = c
        patchEmbed = Conv2d(w, "\(name).patch_embed.proj", 3, c.embedDim, kernel: 7, stride: 4, padding: 3, asMatrix: true)
        posEmbed = w.take("\(name).pos_embed", [1, c.embedDim, c.windowPosEmbedBkgSize, c.windowPosEmbedBkgSize])
        posEmbedWindow = w.take("\(name).pos_embed_window", [1, c.embedDim, c.windowSpec[0], c.windowSpec[0]])
        blocks = c.blockSpecs.enumerated().map { i, spec in
            MultiScaleBlock(w, "\(name).blocks.\(i)", spec: spec, qStride: c.qStride, mlpRatio: c.mlpRatio)
        }
    }

    /// The bicubic resize's first pass, kept: each of pos_embed's p rows resized along x to the grid's width,
    /// channels-last (p × g × C; 7 × 256 × 144 floats for sam2.1_hiera_l instead of the 256 × 256 × 144 result).
    private var cachedRows: (grid: Int, rows: [Float], taps: [(idx: [Int], c: (Float, Float, Float, Float))])?

    /// `_get_pos_embed` added to the tokens: x (B×g×g×C) += pos_embed resized bicubically to g×g (align_corners
    /// False) + pos_embed_window tiled, row by row from the kept x-resized rows: the same sums in the same order as
    /// `F.interpolate(mode="bicubic")` (x first, then y; `cubicTaps`) and the tiling, without the g×g×C table.
    func addPositionEmbedding(to x: inout Tensor) {
        let c = config.embedDim, g = x.shape[1], p = posEmbed.shape[2], ws = posEmbedWindow.shape[2]
        precondition(x.shape[2] == g && x.shape[3] == c, "Hiera: position embedding for \(x.shape)")
        precondition(g % ws == 0, "Hiera: the window position embedding (\(ws)) does not tile the \(g)×\(g) grid")
        if cachedRows?.grid != g {
            // the x pass of each of pos_embed's p rows
            let rowsNCHW = interpolateBicubicRows(posEmbed, width: g)
            cachedRows = (g, permute(rowsNCHW, [0, 2, 3, 1]).data, cubicTaps(g, p))
        }
        let (_, rows, taps) = cachedRows!
        let win = permute(posEmbedWindow, [0, 2, 3, 1]).data   // ws × ws × C
        let batch = x.shape[0]
        x.data.withUnsafeMutableBufferPointer { xp in
            rows.withUnsafeBufferPointer { rp in
                for b in 0..<batch { for y in 0..<g {
                    let (iy, cy) = taps[y]
                    let r0 = rp.baseAddress! + iy[0] * g * c, r1 = rp.baseAddress! + iy[1] * g * c
                    let r2 = rp.baseAddress! + iy[2] * g * c, r3 = rp.baseAddress! + iy[3] * g * c
                    let dst = xp.baseAddress! + (b * g + y) * g * c
                    for xx in 0..<g {
                        let w0 = ((y % ws) * ws + xx % ws) * c
                        for ch in 0..<c {
                            let i = xx * c + ch
                            let v = r0[i] * cy.0 + r1[i] * cy.1 + r2[i] * cy.2 + r3[i] * cy.3
                            dst[i] += v + win[w0 + ch]
                        }
                    }
                } }
            }
        }
    }

    /// x: B×3×S×S → stage outputs, B×H×W×C each.
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> [Tensor] {
        // the convolution straight into the tokens' channels-last layout; the recorder gets `proj`'s output as the
        // reference has it, B×C×H×W
        var h = Profiler.measure("encoder: patch embedding") {
            conv2dToNHWC(x, weight: patchEmbed.weight, bias: patchEmbed.bias, stride: patchEmbed.stride, padding: patchEmbed.padding)
        }
        rec.record(patchEmbed.name, permute(h, [0, 3, 1, 2]))
        rec.record("\(name).patch_embed", h)
        addPositionEmbedding(to: &h)
        var outputs: [Tensor] = []
        let ends = Set(config.stageEnds)
        for (i, blk) in blocks.enumerated() {
            h = blk(h, rec)
            if ends.contains(i) {
                rec.record("\(name):\(outputs.count)", permute(h, [0, 3, 1, 2]))
                outputs.append(h)
            }
        }
        return outputs
    }
}
