// The kernels of EfficientViT-SAM's image encoder that SAM's other encoders do not need: the tanh-approximated GELU,
// a per-channel epilogue (BatchNorm's affine, the activation and the residual addition in one pass over a
// convolution's output), bicubic resizing of N×C×H×W, LiteMLA's ReLU linear (and quadratic) attention, and its
// convolutions on N×C×H×W by bands of output pixels with the epilogue applied to each band (im2col, or Winograd's
// F(2×2, 3×3) for wide 3×3 stride-1 ones, a FusedMBConv's 1×1 on the same band) and depthwise ones plane by plane.
// ref: efficientsam/models/nn/ops.py@1.0.0 (LiteMLA.relu_linear_att, relu_quadratic_att, UpSampleLayer),
// efficientsam/models/nn/act.py@1.0.0 (gelu = nn.GELU(approximate="tanh")), pytorch aten/src/ATen/native/UpSample.h
// and cpu/UpSampleKernel.cpp (bicubic, align_corners=False: taps and order of the sums)
import CSAMKernels
import Foundation

// MARK: - tanh GELU

/// √(2/π), the tanh GELU's factor (PyTorch's kBeta = M_SQRT2 · M_2_SQRTPI · 0.5).
private let geluTanhBeta: Float = 0.7978845608028654
private let geluTanhKappa: Float = 0.044715

/// `nn.GELU(approximate="tanh")`: ½x(1 + tanh(√(2/π)(x + 0.044715x³))), computed as x / (1 + e^(−2u)) with
/// u = √(2/π)(x + 0.044715x³), the same function without tanh's cancellation near −1 for negative x; 0 below −10.
@inline(__always)
public func geluTanhScalar(_ x: Float) -> Float {
    if x < -10 { return 0 }  // as the vector lanes (`sam_epilogue_row`)
    let u = geluTanhBeta * (x + geluTanhKappa * x * x * x)
    return x / (1 + expf(-2 * u))
}

/// tanh GELU of `count` values in place (`sam_epilogue_row`: the same function as `geluTanhScalar`, 16 lanes at a
/// time with Cephes' expf).
public func geluTanhInPlace(_ p: UnsafeMutablePointer<Float>, count n: Int) {
    sam_epilogue_row(p, n, 0, 1, 0, 1, nil)
}

/// tanh GELU of a tensor in place, spread over the cores.
public func geluTanh(_ t: inout Tensor) {
    let n = t.count
    t.data.withUnsafeMutableBufferPointer { p in
        let base = p.baseAddress!
        parallelChunks(n, minChunk: 32768) { r in geluTanhInPlace(base + r.lowerBound, count: r.count) }
    }
}

// MARK: - Per-channel epilogue

/// What follows a convolution in one pass over each output plane of N×C×H×W, in the reference's order:
/// y = x·scale[c] + shift[c] (an eval-mode BatchNorm's affine, when given), then the tanh GELU (when `gelu`),
/// then y + residual (a residual block's shortcut, when given, same shape as x).
public func channelEpilogue(_ x: inout Tensor, scale: [Float]?, shift: [Float]?, gelu: Bool, residual: Tensor?) {
    precondition(x.rank == 4, "channelEpilogue expects N×C×H×W, got \(x.shape)")
    let c = x.shape[1], planes = x.shape[0] * c, plane = x.shape[2] * x.shape[3]
    precondition((scale == nil) == (shift == nil) && (scale?.count ?? c) == c && (shift?.count ?? c) == c,
                 "channelEpilogue: \(scale?.count ?? -1) scales, \(shift?.count ?? -1) shifts for \(c) channels")
    if let residual { precondition(residual.shape == x.shape, "channelEpilogue: residual \(residual.shape) for \(x.shape)") }
    if scale == nil && !gelu && residual == nil { return }
    let res = residual?.data ?? []
    x.data.withUnsafeMutableBufferPointer { xp in
        res.withUnsafeBufferPointer { rp in
            // an empty array's buffer may still have a base address: only a residual's is read
            let base = xp.baseAddress!, rbase = residual == nil ? nil : rp.baseAddress
            // planes in chunks of whole planes, or rows of one plane when there are fewer planes than cores
            parallelChunks(planes * plane, minChunk: 32768) { range in
                var i = range.lowerBound
                while i < range.upperBound {
                    let pl = i / plane, end = min(range.upperBound, (pl + 1) * plane)
                    let ch = pl % c
                    sam_epilogue_row(base + i, end - i, scale == nil ? 0 : 1, scale?[ch] ?? 1, shift?[ch] ?? 0, gelu ? 1 : 0,
                                     rbase.map { $0 + i })
                    i = end
                }
            }
        }
    }
}

// MARK: - Bicubic resize

/// Bicubic resize of N×C×H×W to N×C×outH×outW, `F.interpolate(mode="bicubic", align_corners=False)` given a size:
/// PyTorch's taps (`cubicTaps`: A = −0.75, source (in/out)(i + ½) − ½, indices clamped to the border) and its
/// order of sums: each output is Σ_ky cy[ky] · (Σ_kx cx[kx] · x[iy(ky), ix(kx)]), both sums left to right.
/// Planes are spread over the cores; each plane's rows are resized along x once, then combined along y.
public func interpolateBicubic(_ x: Tensor, height outH: Int, width outW: Int) -> Tensor {
    precondition(x.rank == 4, "interpolateBicubic expects N×C×H×W, got \(x.shape)")
    let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
    let tx = cubicTaps(outW, w), ty = cubicTaps(outH, h)
    let xi = tx.flatMap(\.idx), yi = ty.flatMap(\.idx)
    let xc = tx.flatMap { [$0.c.0, $0.c.1, $0.c.2, $0.c.3] }, yc = ty.flatMap { [$0.c.0, $0.c.1, $0.c.2, $0.c.3] }
    return Tensor(shape: [x.shape[0], x.shape[1], outH, outW]) { out in
        x.data.withUnsafeBufferPointer { xp in
            parallelItems(planes) { pl in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: h * outW) { rb in
                    let rows = rb.baseAddress!, src = xp.baseAddress! + pl * h * w
                    for y in 0..<h {
                        let s = src + y * w, d = rows + y * outW
                        for ox in 0..<outW {
                            let k = 4 * ox
                            d[ox] = s[xi[k]] * xc[k] + s[xi[k + 1]] * xc[k + 1] + s[xi[k + 2]] * xc[k + 2] + s[xi[k + 3]] * xc[k + 3]
                        }
                    }
                    let dst = out.baseAddress! + pl * outH * outW
                    for oy in 0..<outH {
                        let k = 4 * oy
                        let r0 = rows + yi[k] * outW, r1 = rows + yi[k + 1] * outW
                        let r2 = rows + yi[k + 2] * outW, r3 = rows + yi[k + 3] * outW
                        let c0 = yc[k], c1 = yc[k + 1], c2 = yc[k + 2], c3 = yc[k + 3]
                        let d = dst + oy * outW
                        for ox in 0..<outW { d[ox] = r0[ox] * c0 + r1[ox] * c1 + r2[ox] * c2 + r3[ox] * c3 }
                    }
                }
            }
        }
    }
}

// MARK: - LiteMLA attention

/// LiteMLA's attention over B×(G·3d)×H×W (the concatenated multi-scale q, k, v: G groups of d query, d key and d
/// value channels, n = H·W positions) → B×(G·d)×H×W. ReLU on q and k (in place in `qkv`), then per group
///   linear (n > d, `relu_linear_att`): vk = [v; 1]·kᵀ ((d+1)×d), o = vk·q, out = o[:d] / (o[d] + eps);
///   quadratic (n ≤ d, `relu_quadratic_att`): a = kᵀq (n×n), a[:, j] /= (Σ_i a[i, j] + eps), out = v·a.
/// Groups are spread over the cores, each product single-threaded.
public func reluLinearAttention(_ qkv: inout Tensor, headDim d: Int, eps: Float) -> Tensor {
    precondition(qkv.rank == 4 && qkv.shape[1] % (3 * d) == 0, "reluLinearAttention: \(qkv.shape) is not groups of 3×\(d) channels")
    let b = qkv.shape[0], groups = qkv.shape[1] / (3 * d), n = qkv.shape[2] * qkv.shape[3]
    let linear = n > d
    return Tensor(shape: [b, groups * d, qkv.shape[2], qkv.shape[3]]) { out in
        qkv.data.withUnsafeMutableBufferPointer { qp in
            let base = qp.baseAddress!, obase = out.baseAddress!
            parallelItems(b * groups) { job in
                let q = base + job * 3 * d * n, k = q + d * n, v = k + d * n
                let o = obase + job * d * n
                for i in 0..<(2 * d * n) where q[i] < 0 { q[i] = 0 }
                if linear {
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: (d + 1) * d + n) { sb in
                        let vk = sb.baseAddress!, den = vk + (d + 1) * d
                        sgemm(transB: true, m: d, n: d, k: n, a: v, lda: n, b: k, ldb: n, c: vk, ldc: d)
                        // the padded row of ones: Σ_n k[j, n]
                        for j in 0..<d {
                            var s: Float = 0
                            let kr = k + j * n
                            for t in 0..<n { s += kr[t] }
                            vk[d * d + j] = s
                        }
                        sgemm(m: d, n: n, k: d, a: vk, lda: d, b: q, ldb: n, c: o, ldc: n)
                        sgemm(m: 1, n: n, k: d, a: vk + d * d, lda: d, b: q, ldb: n, c: den, ldc: n)
                        for t in 0..<n { den[t] += eps }
                        for i in 0..<d {
                            let row = o + i * n
                            for t in 0..<n { row[t] /= den[t] }
                        }
                    }
                } else {
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: n * n + n) { sb in
                        let a = sb.baseAddress!, den = a + n * n
                        sgemm(transA: true, m: n, n: n, k: d, a: k, lda: n, b: q, ldb: n, c: a, ldc: n)
                        for j in 0..<n { den[j] = 0 }
                        for i in 0..<n { for j in 0..<n { den[j] += a[i * n + j] } }
                        for i in 0..<n { for j in 0..<n { a[i * n + j] /= den[j] + eps } }
                        sgemm(m: d, n: n, k: n, a: v, lda: n, b: a, ldb: n, c: o, ldc: n)
                    }
                }
            }
        }
    }
}

// MARK: - Banded convolutions

/// One convolution of `convolutionBands` and what follows it: `weight` [OC, IC, KH, KW] (groups 1), `bias` [OC] or
/// nil, then the per-channel epilogue of `channelEpilogue` (BatchNorm's scale and shift, the tanh GELU).
public struct ConvolutionStep {
    public var weight: Tensor, bias: Tensor?
    public var stride: Int, padding: Int
    public var scale: [Float]?, shift: [Float]?
    public var gelu: Bool
    /// A 3×3 stride-1 padding-1 convolution computed by Winograd's F(2×2, 3×3): its weights transformed
    /// (`winogradWeights`, 16/9 of the weight) for the call and freed after it, so that the model holds each weight
    /// once (the transform is OC·IC·16 values, against the convolution's OC·IC·H·W/4·16 multiply-adds).
    public var winograd: Bool

    public init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, scale: [Float]?, shift: [Float]?, gelu: Bool,
                winograd: Bool = false) {
        self.weight = weight; self.bias = bias; self.stride = stride; self.padding = padding
        self.scale = scale; self.shift = shift; self.gelu = gelu; self.winograd = winograd
    }
}

/// `first` (any kernel and stride, zero padding) and its epilogue, then optionally `second` (a 1×1 convolution) and
/// its epilogue, then + `residual` (same shape as the output), on N×C×H×W — computed by bands of output pixels: per
/// band, the im2col rows of its pixels (none for a 1×1 stride-1 `first`: the input's own rows are the operand), a
/// product with the bias prefilled, the epilogue on each channel's run of the band, and `second`'s product on the band
/// while it is in cache. A FusedMBConv's expanded activation (up to 16× its input's channels) never exists whole, and
/// each band's working set stays in cache. Bands are spread over the cores, each product single-threaded. The same
/// operations on the same values as `conv2d` followed by `channelEpilogue` (the sums of each product in BLAS's order).
public func convolutionBands(_ x: Tensor, _ first: ConvolutionStep, then second: ConvolutionStep? = nil, residual: Tensor? = nil) -> Tensor {
    precondition(x.rank == 4 && first.weight.rank == 4 && first.weight.shape[1] == x.shape[1],
                 "convolutionBands: weight \(first.weight.shape) for input \(x.shape)")
    let n = x.shape[0], cin = x.shape[1], h = x.shape[2], w = x.shape[3]
    let m1 = first.weight.shape[0], kh = first.weight.shape[2], kw = first.weight.shape[3]
    let s = first.stride, pad = first.padding, kdim = cin * kh * kw
    let oh = (h + 2 * pad - kh) / s + 1, ow = (w + 2 * pad - kw) / s + 1, hw = oh * ow
    if let second {
        precondition(second.weight.rank == 4 && second.weight.shape[1] == m1 && second.weight.shape[2] == 1
                     && second.weight.shape[3] == 1 && second.stride == 1 && second.padding == 0,
                     "convolutionBands: the second convolution \(second.weight.shape) is not 1×1 over \(m1) channels")
    }
    let cout = second?.weight.shape[0] ?? m1
    if let residual { precondition(residual.shape == [n, cout, oh, ow], "convolutionBands: residual \(residual.shape)") }
    let direct = kh == 1 && kw == 1 && s == 1 && pad == 0
    if first.winograd {
        precondition(kh == 3 && kw == 3 && s == 1 && pad == 1,
                     "convolutionBands: Winograd for a \(kh)×\(kw) stride-\(s) padding-\(pad) convolution \(first.weight.shape)")
    }
    let u = first.winograd ? winogradWeights(first.weight) : Tensor(shape: [0])
    // A band's im2col rows and expanded activation in about 3 MB, but at least 256 pixels: each band's product packs
    // the whole weight again (9 MB for the XL neck's 3×3), which narrower bands pay for more often than the cache
    // saves (measured on xl0: 16-pixel minimum 5.4 s of CPU, 256-pixel 4.5 s). Whole multiples of 16 pixels, and at
    // least two bands, one per core. A lone 1×1 convolution over a grid of up to 4096 pixels (the attention stages')
    // is one band whose product splits its output channels over the cores: each core packs half the weight, where
    // two bands of pixels would each pack all of it.
    let perPixel = (direct ? 0 : kdim) + (second == nil ? 0 : m1)
    var band = max(256, min(4096, (786_432 / max(perPixel, 1)) / 16 * 16))
    band = min(band, max(16, ((hw + 1) / 2 + 15) / 16 * 16))
    if direct && second == nil && hw <= 4096 { band = hw }
    if first.winograd {
        // whole pairs of output rows (rows of 2×2 tiles), about 256 tiles: each of the 16 products packs its weight
        // (OC × IC) again per band, so the bands are as wide as for im2col's
        let tileCols = (ow + 1) / 2
        band = 2 * ow * max(1, min((oh + 1) / 2, 256 / tileCols))
    }
    let bands = (hw + band - 1) / band
    let res = residual?.data ?? []
    return Tensor(shape: [n, cout, oh, ow]) { out in
        x.data.withUnsafeBufferPointer { xp in
        first.weight.data.withUnsafeBufferPointer { w1p in
        (second?.weight.data ?? []).withUnsafeBufferPointer { w2p in
        res.withUnsafeBufferPointer { rp in
        u.data.withUnsafeBufferPointer { up in
            let src = xp.baseAddress!, obase = out.baseAddress!
            parallelItems(n * bands) { job in
                let b = job / bands, p0 = (job % bands) * band, np = min(band, hw - p0)
                let wino = first.winograd
                let colCount = direct || wino ? 0 : kdim * np, midCount = second == nil ? 0 : m1 * np
                withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, colCount + midCount)) { tb in
                    let col = tb.baseAddress!, mid = col + colCount
                    let image = src + b * cin * h * w
                    let outBand = obase + b * cout * hw + p0
                    let resBand = residual == nil ? nil : rp.baseAddress! + b * cout * hw + p0
                    // first product: into the band's expanded rows (ldc np), or straight into the output (ldc hw)
                    let (c1, ldc1) = second == nil ? (outBand, hw) : (mid, np)
                    if wino {
                        winogradBand(image, channels: cin, height: h, width: w, tileRows: (p0 / ow / 2)..<((p0 + np + 2 * ow - 1) / ow / 2),
                                     weights: up.baseAddress!, outChannels: m1, bias: first.bias, into: c1, ldc: ldc1)
                    } else {
                        var bOp = UnsafePointer(image + p0), ldb = hw
                        if !direct {
                            im2colBand(image, channels: cin, height: h, width: w, kernel: (kh, kw), stride: s, padding: pad,
                                       outWidth: ow, pixels: p0..<(p0 + np), into: col)
                            bOp = UnsafePointer(col)
                            ldb = np
                        }
                        product(first, m: m1, np: np, k: kdim, a: w1p.baseAddress!, b: bOp, ldb: ldb, c: c1, ldc: ldc1)
                    }
                    epilogue(first, m: m1, np: np, c: c1, ldc: ldc1, residual: second == nil ? resBand : nil, residualStride: hw)
                    if let second {
                        product(second, m: cout, np: np, k: m1, a: w2p.baseAddress!, b: mid, ldb: np, c: outBand, ldc: hw)
                        epilogue(second, m: cout, np: np, c: outBand, ldc: hw, residual: resBand, residualStride: hw)
                    }
                }
            }
        }}}}}
    }
}

/// C = step's weight · B, the bias prefilled.
@inline(__always)
private func product(_ step: ConvolutionStep, m: Int, np: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int) {
    if let bias = step.bias {
        for o in 0..<m { (c + o * ldc).update(repeating: bias.data[o], count: np) }
    }
    sgemm(m: m, n: np, k: k, a: a, lda: k, b: b, ldb: ldb, beta: step.bias == nil ? 0 : 1, c: c, ldc: ldc)
}

/// Each of C's m rows (np values, row stride ldc): the step's epilogue, then + its residual row.
@inline(__always)
private func epilogue(_ step: ConvolutionStep, m: Int, np: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                      residual: UnsafePointer<Float>?, residualStride: Int) {
    // (one thread inside a band job; split over the cores when the band is the whole grid)
    parallelChunks(m, minChunk: max(1, 32768 / np)) { rows in
        for o in rows {
            sam_epilogue_row(c + o * ldc, np, step.scale == nil ? 0 : 1, step.scale?[o] ?? 1, step.shift?[o] ?? 0,
                             step.gelu ? 1 : 0, residual.map { $0 + o * residualStride })
        }
    }
}

/// The im2col rows (c, ky, kx) of output pixels `pixels` (row-major over an output of width `outWidth`) of one image,
/// zeros outside it: row r holds, for each pixel, image[c, oy·stride − pad + ky, ox·stride − pad + kx].
private func im2colBand(_ image: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int, kernel: (Int, Int),
                        stride s: Int, padding pad: Int, outWidth ow: Int, pixels: Range<Int>, into col: UnsafeMutablePointer<Float>) {
    let (kh, kw) = kernel, np = pixels.count
    for c in 0..<channels {
        for ky in 0..<kh {
            for kx in 0..<kw {
                var dst = col + ((c * kh + ky) * kw + kx) * np
                var p = pixels.lowerBound
                while p < pixels.upperBound {
                    let oy = p / ow, ox0 = p % ow, run = min(ow - ox0, pixels.upperBound - p)
                    let iy = oy * s - pad + ky
                    if iy < 0 || iy >= h {
                        dst.update(repeating: 0, count: run)
                    } else {
                        let line = image + (c * h + iy) * w
                        // the run's columns inside the image: ox·s − pad + kx in 0..<w
                        let lo = min(run, max(0, (pad - kx - ox0 * s + s - 1) / s))
                        let right = w - 1 + pad - kx - ox0 * s  // negative: even the run's first column is past the edge
                        let hi = right < 0 ? lo : max(lo, min(run, right / s + 1))
                        if lo > 0 { dst.update(repeating: 0, count: lo) }
                        var ix = (ox0 + lo) * s - pad + kx
                        if s == 1 {
                            (dst + lo).update(from: line + ix, count: hi - lo)
                        } else {
                            for j in lo..<hi { dst[j] = line[ix]; ix += s }
                        }
                        if hi < run { (dst + hi).update(repeating: 0, count: run - hi) }
                    }
                    dst += run
                    p += run
                }
            }
        }
    }
}

// MARK: - Winograd F(2×2, 3×3)

/// The weights of a 3×3 convolution [OC, IC, 3, 3] transformed for Winograd's F(2×2, 3×3): U = G g Gᵀ per
/// (output, input) channel pair, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], stored [16, OC, IC] (element 4i + j of U first).
public func winogradWeights(_ weight: Tensor) -> Tensor {
    precondition(weight.rank == 4 && weight.shape[2] == 3 && weight.shape[3] == 3, "winogradWeights: \(weight.shape) is not OC×IC×3×3")
    let oc = weight.shape[0], ic = weight.shape[1]
    return Tensor(shape: [16, oc, ic]) { u in
        weight.data.withUnsafeBufferPointer { wp in
            parallelChunks(oc, minChunk: 16) { outs in
                sam_winograd_weights_f23(wp.baseAddress!, oc, ic, outs.lowerBound, outs.upperBound, u.baseAddress!)
            }
        }
    }
}

/// The 3×3 stride-1 padding-1 convolution of one image's output rows 2·tileRows.lowerBound ..< 2·tileRows.upperBound
/// (clipped to the image) by Winograd's F(2×2, 3×3): each 4×4 input patch d becomes V = Bᵀ d B, the 16 elements go
/// through 16 products U[ξ] · V[ξ] (`sgemm`, K = input channels), and each 4×4 result M gives the 2×2 outputs Aᵀ M A
/// (+ bias), written to `c` (OC rows of the band's pixels, row stride ldc). 2.25× fewer multiplications than im2col's
/// product; the transforms add and subtract only (and halve, in G), so the results differ from the direct sums by
/// float32 rounding.
/// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], Aᵀ = [1 1 1 0; 0 1 −1 −1].
private func winogradBand(_ image: UnsafePointer<Float>, channels cin: Int, height h: Int, width w: Int, tileRows: Range<Int>,
                          weights u: UnsafePointer<Float>, outChannels m: Int, bias: Tensor?,
                          into c: UnsafeMutablePointer<Float>, ldc: Int) {
    let tw = (w + 1) / 2, t = tileRows.count * tw
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * (cin + m) * t) { buf in
        let v = buf.baseAddress!, mm = v + 16 * cin * t
        // input transform: V[ξ][c][tile] (vectorised over 16 tiles; `sam_winograd_input_f23`)
        sam_winograd_input_f23(image, cin, h, w, tileRows.lowerBound, tileRows.count, v)
        for xi in 0..<16 {
            sgemm(m: m, n: t, k: cin, a: u + xi * m * cin, lda: cin, b: v + xi * cin * t, ldb: t, c: mm + xi * m * t, ldc: t)
        }
        // output transform: Y = Aᵀ M A, + bias
        let b = bias?.data ?? []
        b.withUnsafeBufferPointer { bp in
            sam_winograd_output_f23(mm, m, t, tileRows.lowerBound, tileRows.count, h, w, bias == nil ? nil : bp.baseAddress, c, ldc)
        }
    }
}

// MARK: - Depthwise convolution with its epilogue

/// A depthwise convolution (`nn.Conv2d(C, C, k, stride, padding, groups=C)`; the step's weight [C, 1, k, k], any
/// odd or even k, stride 1 or 2) followed by the step's epilogue and + `residual`, one plane at a time while it is in
/// cache, planes spread over the cores. Each output row is the bias, then + w[ky, kx] · input row for ky, kx in
/// order, as contiguous runs the optimiser vectorises: at stride 2 each input row is first split into its even and
/// odd columns.
public func depthwiseConvolution(_ x: Tensor, _ step: ConvolutionStep, residual: Tensor? = nil) -> Tensor {
    let weight = step.weight
    precondition(x.rank == 4 && weight.rank == 4 && weight.shape[0] == x.shape[1] && weight.shape[1] == 1 && weight.shape[2] == weight.shape[3],
                 "depthwiseConvolution: weight \(weight.shape) for input \(x.shape)")
    precondition(step.stride == 1 || step.stride == 2, "depthwiseConvolution: stride \(step.stride)")
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3], k = weight.shape[2]
    let s = step.stride, pad = step.padding
    let oh = (h + 2 * pad - k) / s + 1, ow = (w + 2 * pad - k) / s + 1
    if let residual { precondition(residual.shape == [n, c, oh, ow], "depthwiseConvolution: residual \(residual.shape)") }
    let res = residual?.data ?? []
    return Tensor(shape: [n, c, oh, ow]) { out in
        x.data.withUnsafeBufferPointer { xp in
        weight.data.withUnsafeBufferPointer { wp in
        res.withUnsafeBufferPointer { rp in
            parallelItems(n * c) { plane in
                let ch = plane % c, src = xp.baseAddress! + plane * h * w, dst = out.baseAddress! + plane * oh * ow
                let kern = wp.baseAddress! + ch * k * k, b0 = step.bias?.data[ch] ?? 0
                sam_depthwise_plane(src, h, w, kern, k, s, pad, b0, dst, oh, ow)
                let count = oh * ow
                sam_epilogue_row(dst, count, step.scale == nil ? 0 : 1, step.scale?[ch] ?? 1, step.shift?[ch] ?? 0,
                                 step.gelu ? 1 : 0, residual == nil ? nil : rp.baseAddress! + plane * count)
            }
        }}}
    }
}
