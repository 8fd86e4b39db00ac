// Resampling of feature maps that SAM 2's image encoder uses: bicubic interpolation (Hiera's position embedding),
// 2×2 max pooling (query pooling at stage changes) and nearest-neighbour doubling (the FPN's top-down path).
// ref: pytorch aten/src/ATen/native/UpSample.h (area_pixel_compute_source_index, get_cubic_upsample_coefficients,
// cubic_interp1d, upsample_get_value_bounded), cpu/UpSampleKernel.cpp, MaxPooling; nn.MaxPool2d(ceil_mode=False)

import CSAMKernels

/// PyTorch's cubic convolution weights (A = −0.75) for fraction t, in the kernel's float arithmetic.
@inline(__always)
func cubicCoefficients(_ t: Float) -> (Float, Float, Float, Float) {
    let a: Float = -0.75
    // cubic_convolution1(x) = ((A + 2)x − (A + 3))x² + 1; cubic_convolution2(x) = ((A x − 5A)x + 8A)x − 4A
    func c1(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
    func c2(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
    return (c2(t + 1), c1(t), c1(1 - t), c2(2 - t))
}

/// The taps of a bicubic resize from `inSize` to `n` (`F.interpolate(mode="bicubic", align_corners=False)` given a
/// size): source = (in/out)·(i + ½) − ½ without clamping, taps at floor(source) − 1 … + 2 clamped to the border,
/// with their weights, per output index.
public func cubicTaps(_ n: Int, _ inSize: Int) -> [(idx: [Int], c: (Float, Float, Float, Float))] {
    let scale = Float(inSize) / Float(n)
    return (0..<n).map { i in
        let src = scale * (Float(i) + 0.5) - 0.5
        let f = src.rounded(.down)
        let i0 = Int(f)
        let idx = (-1...2).map { min(max(i0 + $0, 0), inSize - 1) }
        return (idx, cubicCoefficients(src - f))
    }
}

/// The x pass of the bicubic resize alone: every row of N×C×H×W resized along x to `outW` (N×C×H×outW), each
/// output x0·c0 + x1·c1 + x2·c2 + x3·c3; the y pass then combines four such rows the same way (PyTorch's order).
public func interpolateBicubicRows(_ x: Tensor, width outW: Int) -> Tensor {
    precondition(x.rank == 4, "interpolateBicubicRows expects N×C×H×W, got \(x.shape)")
    let rows = x.shape[0] * x.shape[1] * x.shape[2], w = x.shape[3]
    let tx = cubicTaps(outW, w)
    return Tensor(shape: [x.shape[0], x.shape[1], x.shape[2], outW]) { o in
        for r in 0..<rows {
            for ox in 0..<outW {
                let (ix, cx) = tx[ox]
                let b = r * w
                o[r * outW + ox] = x.data[b + ix[0]] * cx.0 + x.data[b + ix[1]] * cx.1 + x.data[b + ix[2]] * cx.2 + x.data[b + ix[3]] * cx.3
            }
        }
    }
}

/// k×k max pooling with stride k (no padding, floor) of channels-last B×H×W×C values: `rows`×`cols` grids of
/// `channels` at `src`, token to token `stride` floats apart (`channels` for a plain grid; 3·channels for the queries
/// of a qkv tensor, read in place), into (rows/k)×(cols/k)×channels at `dst`. NaN propagates as in PyTorch. The
/// output rows are spread over the cores (`sam_maxpool_nhwc`).
public func maxPoolNHWC(_ src: UnsafePointer<Float>, rows h: Int, cols w: Int, channels c: Int, stride: Int? = nil,
                        kernel k: Int, into dst: UnsafeMutablePointer<Float>) {
    let oh = h / k, st = stride ?? c
    precondition(st >= c, "maxPoolNHWC: token stride \(st) below the \(c) channels")
    parallelChunks(oh, minChunk: max(1, 65536 / max(1, w * c))) { r in
        sam_maxpool_nhwc(src, h, w, c, st, k, r.lowerBound, r.upperBound, dst)
    }
}

/// `maxPoolNHWC` of a B×H×W×C tensor.
public func maxPool(_ x: Tensor, kernel k: Int) -> Tensor {
    precondition(x.rank == 4, "maxPool expects B×H×W×C, got \(x.shape)")
    let b = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    return Tensor(shape: [b, h / k, w / k, c]) { o in
        x.data.withUnsafeBufferPointer { xp in
            if h % k == 0 {
                // the b grids as one of b·h rows (no cell spans two)
                maxPoolNHWC(xp.baseAddress!, rows: b * h, cols: w, channels: c, kernel: k, into: o.baseAddress!)
            } else {
                for bi in 0..<b {
                    maxPoolNHWC(xp.baseAddress! + bi * h * w * c, rows: h, cols: w, channels: c, kernel: k,
                                into: o.baseAddress! + bi * (h / k) * (w / k) * c)
                }
            }
        }
    }
}

/// Nearest-neighbour doubling of N×C×H×W (`F.interpolate(scale_factor=2.0, mode="nearest")`): out[y][x] = in[y/2][x/2].
public func upsampleNearest2x(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "upsampleNearest2x expects N×C×H×W, got \(x.shape)")
    let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
    return Tensor(shape: [x.shape[0], x.shape[1], 2 * h, 2 * w]) { o in
        x.data.withUnsafeBufferPointer { xp in
            for p in 0..<planes {
                for y in 0..<(2 * h) {
                    let s = xp.baseAddress! + (p * h + y / 2) * w, d = o.baseAddress! + (p * 2 * h + y) * 2 * w
                    for xx in 0..<(2 * w) { d[xx] = s[xx / 2] }
                }
            }
        }
    }
}

/// Multi-head scaled dot-product attention, softmax(Q Kᵀ / √d) V for every batch item and head, on strided rows:
/// item b's query i, head h starts at `q + b·qBatch + i·qRow + h·d` (likewise k, v, out). Queries go in tiles of at
/// most 512 rows so that a tile's scores stay in cache; items, heads and tiles are spread over the cores, each
/// product single-threaded. The scores are divided by √d inside the softmax's first pass.
/// ref: torch.nn.functional.scaled_dot_product_attention (no mask, no dropout, default scale)
public func scaledDotProductAttention(q: UnsafePointer<Float>, qRow: Int, qBatch: Int,
                                      k: UnsafePointer<Float>, kRow: Int, kBatch: Int,
                                      v: UnsafePointer<Float>, vRow: Int, vBatch: Int,
                                      out: UnsafeMutablePointer<Float>, outRow: Int, outBatch: Int,
                                      batch: Int, queries nq: Int, keys nk: Int, heads: Int, headDim d: Int) {
    let tile = 512, tiles = (nq + tile - 1) / tile
    let div = Float(Double(d).squareRoot())
    let job = { (j: Int) in
        let t = j % tiles, h = (j / tiles) % heads, b = j / (tiles * heads)
        let q0 = t * tile, rows = min(tile, nq - q0)
        let qh = q + b * qBatch + q0 * qRow + h * d, kh = k + b * kBatch + h * d, vh = v + b * vBatch + h * d
        let oh = out + b * outBatch + q0 * outRow + h * d
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rows * nk) { sb in
            let s = sb.baseAddress!
            sgemm(transB: true, m: rows, n: nk, k: d, a: qh, lda: qRow, b: kh, ldb: kRow, c: s, ldc: nk)
            for r in 0..<rows { softmaxRow(s + r * nk, count: nk, dividingBy: div) }
            sgemm(m: rows, n: d, k: nk, a: s, lda: nk, b: vh, ldb: vRow, c: oh, ldc: outRow)
        }
    }
    parallelItems(batch * heads * tiles, job)
}
