// The convolutions SAM uses, as im2col + cblas_sgemm: on N×C×H×W tensors, and channels-last for the image encoder.

/// 2-D convolution (PyTorch `nn.Conv2d`, groups 1, dilation 1) on N×C×H×W input.
/// - weight: [OC, IC, KH, KW]; bias: [OC] or nil. Returns N×OC×OH×OW with OH = (H + 2·pad − KH) / stride + 1.
/// Any kernel, stride and padding; the prompt encoder's mask downscaling (2×2 stride 2, 1×1) runs here, while the
/// image encoder's patch embedding and neck use the channels-last forms below (`patchConv2dNHWC`, `conv2dNHWC`).
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4, "conv2d expects N×C×H×W input and OC×IC×KH×KW weight")
    let n = x.shape[0], ic = x.shape[1], h = x.shape[2], w = x.shape[3]
    let oc = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
    precondition(weight.shape[1] == ic, "conv2d: weight \(weight.shape) for input \(x.shape)")
    let oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1
    let kdim = ic * kh * kw, ohw = oh * ow
    let is1x1 = kh == 1 && kw == 1 && stride == 1 && padding == 0
    var col = [Float](repeating: 0, count: is1x1 ? 0 : kdim * ohw)
    return Tensor(shape: [n, oc, oh, ow]) { out in
        x.data.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                for b in 0..<n {
                    let src = xp.baseAddress! + b * ic * h * w
                    let dst = out.baseAddress! + b * oc * ohw
                    if let bias {
                        for o in 0..<oc { (dst + o * ohw).update(repeating: bias.data[o], count: ohw) }
                    }
                    if is1x1 {
                        sgemm(m: oc, n: ohw, k: ic, a: wp.baseAddress!, lda: kdim, b: src, ldb: ohw,
                              beta: bias == nil ? 0 : 1, c: dst, ldc: ohw)
                        continue
                    }
                    col.withUnsafeMutableBufferPointer { cp in
                        let colp = cp.baseAddress!
                        parallelChunks(kdim, minChunk: 8) { r in
                            for row in r {
                                let c = row / (kh * kw), ky = (row / kw) % kh, kx = row % kw
                                let crow = colp + row * ohw
                                for oy in 0..<oh {
                                    let iy = oy * stride - padding + ky
                                    let line = crow + oy * ow
                                    if iy < 0 || iy >= h { line.update(repeating: 0, count: ow); continue }
                                    let sline = src + (c * h + iy) * w
                                    for ox in 0..<ow {
                                        let ix = ox * stride - padding + kx
                                        line[ox] = (ix >= 0 && ix < w) ? sline[ix] : 0
                                    }
                                }
                            }
                        }
                        sgemm(m: oc, n: ohw, k: kdim, a: wp.baseAddress!, lda: kdim, b: colp, ldb: ohw,
                              beta: bias == nil ? 0 : 1, c: dst, ldc: ohw)
                    }
                }
            }
        }
    }
}

/// `conv2d` with the output channels-last (N×OH×OW×OC), computed by bands of output rows: each band's im2col
/// (one row of IC·KH·KW values per output pixel, the same order as `conv2d`'s) times the weight, the bias first in
/// C. The working set is one band (16 output rows) instead of the whole im2col matrix and an N×C×H×W copy to
/// transpose: SAM 2's 7×7 stride-4 patch embedding of a 1024² image would take 38 MB for im2col and 38 MB more
/// for the transposition at sam2.1_hiera_l's 144 channels.
public func conv2dToNHWC(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4, "conv2dToNHWC expects N×C×H×W input and OC×IC×KH×KW weight")
    let n = x.shape[0], ic = x.shape[1], h = x.shape[2], w = x.shape[3]
    let oc = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
    precondition(weight.shape[1] == ic, "conv2dToNHWC: weight \(weight.shape) for input \(x.shape)")
    let oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1
    let kdim = ic * kh * kw, bandRows = 16
    return Tensor(shape: [n, oh, ow, oc]) { out in
        x.data.withUnsafeBufferPointer { xp in
            weight.withMatrix { wp in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: bandRows * ow * kdim) { cb in
                    let col = cb.baseAddress!
                    for b in 0..<n {
                        let src = xp.baseAddress! + b * ic * h * w
                        for oy0 in Swift.stride(from: 0, to: oh, by: bandRows) {
                            let rows = min(bandRows, oh - oy0), pixels = rows * ow
                            parallelChunks(pixels, minChunk: 64) { r in
                                for p in r {
                                    let oy = oy0 + p / ow, ox = p % ow
                                    let crow = col + p * kdim
                                    for c in 0..<ic { for ky in 0..<kh {
                                        let iy = oy * stride - padding + ky
                                        let dst = crow + (c * kh + ky) * kw
                                        if iy < 0 || iy >= h { dst.update(repeating: 0, count: kw); continue }
                                        let sline = src + (c * h + iy) * w
                                        for kx in 0..<kw {
                                            let ix = ox * stride - padding + kx
                                            dst[kx] = (ix >= 0 && ix < w) ? sline[ix] : 0
                                        }
                                    } }
                                }
                            }
                            let dst = out.baseAddress! + (b * oh + oy0) * ow * oc
                            if let bias {
                                for p in 0..<pixels { bias.data.withUnsafeBufferPointer { (dst + p * oc).update(from: $0.baseAddress!, count: oc) } }
                            }
                            gemm(transB: true, m: pixels, n: oc, k: kdim, a: .f32(col), lda: kdim, b: wp, ldb: kdim,
                                 beta: bias == nil ? 0 : 1, c: dst, ldc: oc)
                        }
                    }
                }
            }
        }
    }
}

/// 2×2 stride-2 transposed convolution (PyTorch `nn.ConvTranspose2d(IC, OC, kernel_size=2, stride=2)`).
/// - x: N×IC×H×W; weight: [IC, OC, 2, 2]; bias: [OC]. Returns N×OC×2H×2W with
///   out[n, o, 2i+a, 2j+b] = bias[o] + Σ_c x[n, c, i, j] · weight[c, o, a, b].
public func convTranspose2x2(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4 && weight.shape[2] == 2 && weight.shape[3] == 2,
                 "convTranspose2x2 expects N×C×H×W input and IC×OC×2×2 weight")
    let n = x.shape[0], ic = x.shape[1], h = x.shape[2], w = x.shape[3], oc = weight.shape[1]
    precondition(weight.shape[0] == ic, "convTranspose2x2: weight \(weight.shape) for input \(x.shape)")
    let hw = h * w
    // Bands of input rows, each a product into a scratch of about 1 MB that stays in cache, then scattered (with the
    // bias) into the band's output rows; the bands are spread over the cores.
    let bandRows = max(1, min(h, (1 << 18) / max(1, oc * 4 * w)))
    let bands = (h + bandRows - 1) / bandRows
    return Tensor(shape: [n, oc, 2 * h, 2 * w]) { out in
        x.data.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                parallelItems(n * bands) { job in
                    let b = job / bands, i0 = (job % bands) * bandRows, i1 = min(h, i0 + bandRows)
                    let cols = (i1 - i0) * w
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: oc * 4 * cols) { tb in
                        let t = tb.baseAddress!
                        // t[(o,a,b), (i,j)] = Σ_c W[c, (o,a,b)] · x[c, (i,j)], i in the band
                        sgemm(transA: true, m: oc * 4, n: cols, k: ic, a: wp.baseAddress!, lda: oc * 4,
                              b: xp.baseAddress! + b * ic * hw + i0 * w, ldb: hw, c: t, ldc: cols)
                        let dst = out.baseAddress! + b * oc * 4 * hw
                        for o in 0..<oc {
                            let bo = bias?.data[o] ?? 0
                            for i in i0..<i1 {
                                for a in 0..<2 {
                                    let orow = dst + (o * 2 * h + 2 * i + a) * 2 * w
                                    for bb in 0..<2 {
                                        let srcp = t + ((o * 2 + a) * 2 + bb) * cols + (i - i0) * w
                                        for j in 0..<w { orow[2 * j + bb] = srcp[j] + bo }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An im2col matrix with one row per output pixel, [N, OH, OW, kdim]: `fill(src, b, oy, ox, row)` writes pixel
/// (b, oy, ox)'s kdim inputs from x's storage `src` into `row`; the output lines are spread over the cores.
private func pixelRows(_ x: Tensor, n: Int, oh: Int, ow: Int, kdim: Int,
                       _ fill: (UnsafePointer<Float>, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void) -> Tensor {
    Tensor(shape: [n, oh, ow, kdim]) { col in
        x.data.withUnsafeBufferPointer { xp in
            let src = xp.baseAddress!, dst = col.baseAddress!
            parallelChunks(n * oh, minChunk: 1) { r in
                for line in r {
                    for ox in 0..<ow { fill(src, line / oh, line % oh, ox, dst + (line * ow + ox) * kdim) }
                }
            }
        }
    }
}

/// A kernel = stride = `p` convolution without padding (the patch embedding's) with channels-last output:
/// N×C×H×W → N×(H/p)×(W/p)×OC. Each patch's C·p·p inputs are gathered into one row in the weight's (c, ky, kx) order,
/// runs of p contiguous pixels, and the rows go through one product with the weight (`linear`, bias prefilled): the
/// sums of `conv2d` without its strided gather and without the transposition to the tokens' layout after it.
public func patchConv2dNHWC(_ x: Tensor, weight: Tensor, bias: Tensor?, patch p: Int) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4 && weight.shape[1] == x.shape[1] && weight.shape[2] == p
                 && weight.shape[3] == p, "patchConv2dNHWC: weight \(weight.shape) for input \(x.shape), patch \(p)")
    let c = x.shape[1], h = x.shape[2], w = x.shape[3], oc = weight.shape[0], kdim = c * p * p
    let rows = pixelRows(x, n: x.shape[0], oh: h / p, ow: w / p, kdim: kdim) { src, b, oy, ox, row in
        for ch in 0..<c {
            for ky in 0..<p {
                (row + (ch * p + ky) * p).update(from: src + ((b * c + ch) * h + oy * p + ky) * w + ox * p, count: p)
            }
        }
    }
    return linear(rows, weight: weight.reshaped([oc, kdim]), bias: bias)
}

/// A stride-1 convolution with zero padding on channels-last input: N×H×W×IC → N×OH×OW×OC (the neck's 3×3). Each
/// output pixel's KH·KW·IC inputs are gathered into one row in (ky, kx, c) order, runs of IC contiguous channels
/// (zeros outside the image), and the rows go through one product with the weight reordered to [OC, KH, KW, IC].
public func conv2dNHWC(_ x: Tensor, weight: Tensor, bias: Tensor?, padding: Int) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4 && weight.shape[1] == x.shape[3],
                 "conv2dNHWC: weight \(weight.shape) for channels-last input \(x.shape)")
    let h = x.shape[1], w = x.shape[2], ic = x.shape[3]
    let oc = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3], kdim = kh * kw * ic
    let rows = pixelRows(x, n: x.shape[0], oh: h + 2 * padding - kh + 1, ow: w + 2 * padding - kw + 1,
                         kdim: kdim) { src, b, oy, ox, row in
        var d = row
        for ky in 0..<kh {
            let iy = oy - padding + ky
            for kx in 0..<kw {
                let ix = ox - padding + kx
                if iy >= 0 && iy < h && ix >= 0 && ix < w {
                    d.update(from: src + ((b * h + iy) * w + ix) * ic, count: ic)
                } else {
                    d.update(repeating: 0, count: ic)
                }
                d += ic
            }
        }
    }
    return linear(rows, weight: permute(weight, [0, 2, 3, 1]).reshaped([oc, kdim]), bias: bias)
}
