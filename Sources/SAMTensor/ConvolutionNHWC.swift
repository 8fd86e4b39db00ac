// Convolutions on channels-last tensors (TinyViT's patch embedding, MBConv, patch merging and local convolution run
// on the tokens' N×H×W×C layout): depthwise, the sums of `depthwiseConv2d`, and strided k×k through im2col + GEMM,
// without a transposition on either side.
import CSAMKernels

/// Depthwise 2-D convolution (`nn.Conv2d(C, C, k, stride, padding, groups=C)`, dilation 1) on channels-last input:
/// N×H×W×C → N×OH×OW×C. weight: [C, 1, KH, KW]; bias: [C] or nil. Each output pixel starts at the bias and adds its
/// taps in the kernel's row-major order (the order of `depthwiseConv2d`), 64 channels of a tap at once (runs of C
/// contiguous floats; `sam_depthwise_row_nhwc`, in C for the AVX-512 clone). `gelu`: the exact GELU applied to each output row while it is in cache (a
/// convolution followed by `nn.GELU()`). Output rows are spread over the cores.
public func depthwiseConv2dNHWC(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int,
                                gelu: Bool = false) -> Tensor {
    depthwiseConv2dNHWC(x, kernel: DepthwiseKernel(weight: weight, bias: bias, stride: stride, padding: padding), gelu: gelu)
}

/// `depthwiseConv2dNHWC` with the weights already laid out (`DepthwiseKernel`).
public func depthwiseConv2dNHWC(_ x: Tensor, kernel: DepthwiseKernel, gelu: Bool = false) -> Tensor {
    precondition(x.rank == 4 && kernel.channels == x.shape[3],
                 "depthwiseConv2dNHWC: \(kernel.channels) channels for channels-last input \(x.shape)")
    let n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    let (oh, ow) = kernel.outputSize(height: h, width: w)
    return Tensor(shape: [n, oh, ow, c]) { out in
        x.data.withUnsafeBufferPointer { xp in
            parallelChunks(n * oh, minChunk: max(1, 16384 / max(1, ow * c))) { rows in
                var r = rows.lowerBound
                while r < rows.upperBound {
                    // the rows of one image in this chunk
                    let b = r / oh, end = min(rows.upperBound, (b + 1) * oh)
                    kernel.rows((r - b * oh)..<(end - b * oh), of: xp.baseAddress! + b * h * w * c, rows: 0..<h, height: h,
                                width: w, into: out.baseAddress! + r * ow * c, gelu: gelu)
                    r = end
                }
            }
        }
    }
}

/// A depthwise convolution's weights laid out channels-last for `depthwiseConv2dNHWC` and for callers that run it
/// on bands of rows (a chain of convolutions kept in cache): taps[(ky·KW + kx)·C + ch] = weight[ch, 0, ky, kx].
public struct DepthwiseKernel: Sendable {
    public let channels: Int, kh: Int, kw: Int, stride: Int, padding: Int
    public let taps: [Float], bias: [Float]

    /// weight: [C, 1, KH, KW]; bias: [C] or nil (zeros).
    public init(weight: Tensor, bias: Tensor?, stride: Int, padding: Int) {
        precondition(weight.rank == 4 && weight.shape[1] == 1 && (bias == nil || bias!.count == weight.shape[0]),
                     "DepthwiseKernel: weight \(weight.shape), bias \(bias?.shape ?? [])")
        precondition(stride >= 1 && padding >= 0, "DepthwiseKernel: stride \(stride), padding \(padding)")
        let c = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
        channels = c; self.kh = kh; self.kw = kw; self.stride = stride; self.padding = padding
        var t = [Float](repeating: 0, count: kh * kw * c)
        for ch in 0..<c { for k in 0..<(kh * kw) { t[k * c + ch] = weight.data[ch * kh * kw + k] } }
        taps = t
        self.bias = bias?.data ?? [Float](repeating: 0, count: c)
    }

    /// The output grid of an H×W input.
    public func outputSize(height h: Int, width w: Int) -> (Int, Int) {
        let oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1
        precondition(oh >= 1 && ow >= 1, "depthwise convolution: kernel \(kh)×\(kw) larger than the padded \(h)×\(w) input")
        return (oh, ow)
    }

    /// The input rows output rows `out` read: those of the taps inside the image (the others are the zero padding).
    public func inputRows(for out: Range<Int>, height h: Int) -> Range<Int> {
        max(0, out.lowerBound * stride - padding)..<min(h, (out.upperBound - 1) * stride - padding + kh)
    }

    /// Output rows `out` of one H×W image, written one after the other at `dst`, from `src` holding the image's
    /// rows `rows` (row r at src + (r − rows.lowerBound)·W·C), which must cover `inputRows(for: out)`. On the
    /// calling thread.
    public func rows(_ out: Range<Int>, of src: UnsafePointer<Float>, rows: Range<Int>, height h: Int, width w: Int,
                     into dst: UnsafeMutablePointer<Float>, gelu: Bool) {
        let need = inputRows(for: out, height: h)
        precondition(need.isEmpty || (rows.lowerBound <= need.lowerBound && need.upperBound <= rows.upperBound),
                     "depthwise rows \(out) read input rows \(need), the buffer has \(rows)")
        let c = channels, (_, ow) = outputSize(height: h, width: w)
        taps.withUnsafeBufferPointer { tp in
            bias.withUnsafeBufferPointer { bp in
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: kh) { rp in
                    for oy in out {
                        // the input rows of the kernel's taps, nil for the padding
                        for ky in 0..<kh {
                            let iy = oy * stride - padding + ky
                            rp[ky] = iy < 0 || iy >= h ? nil : src + (iy - rows.lowerBound) * w * c
                        }
                        let line = dst + (oy - out.lowerBound) * ow * c
                        sam_depthwise_row_nhwc(rp.baseAddress!, w, c, tp.baseAddress!, bp.baseAddress!, kh, kw, stride, padding, ow, line)
                        if gelu { geluInPlace(line, count: ow * c) }
                    }
                }
            }
        }
    }
}

/// k×k convolution with any stride and zero padding on channels-last input: N×H×W×IC → N×OH×OW×OC (PyTorch
/// `nn.Conv2d`, groups 1, dilation 1). weight: [OC, IC, KH, KW]; bias: [OC] or nil. By bands of about 2048 output
/// pixels, one band per job on one core (`parallelItems`): the band's im2col (one row of KH·KW·IC inputs per output
/// pixel in (ky, kx, c) order, runs of IC contiguous channels, zeros outside the image) times the weight reordered to
/// [OC, KH, KW, IC] (`gemm`, the bias prefilled). The working set is a band, not the whole im2col matrix.
public func conv2dNHWC(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4 && weight.shape[1] == x.shape[3],
                 "conv2dNHWC: weight \(weight.shape) for channels-last input \(x.shape)")
    precondition(stride >= 1 && padding >= 0, "conv2dNHWC: stride \(stride), padding \(padding)")
    let n = x.shape[0], h = x.shape[1], w = x.shape[2], ic = x.shape[3]
    let oc = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3], kdim = kh * kw * ic
    let oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1
    precondition(oh >= 1 && ow >= 1, "conv2dNHWC: kernel \(kh)×\(kw) larger than the padded input \(x.shape)")
    let wr = permute(weight, [0, 2, 3, 1])  // [OC, KH, KW, IC]
    let bandRows = max(1, 2048 / ow), bands = (oh + bandRows - 1) / bandRows
    return Tensor(shape: [n, oh, ow, oc]) { out in
        x.data.withUnsafeBufferPointer { xp in
        wr.data.withUnsafeBufferPointer { wp in
            let xb = xp.baseAddress!, ob = out.baseAddress!
            parallelItems(n * bands) { job in
                let b = job / bands, oy0 = (job % bands) * bandRows, rows = min(bandRows, oh - oy0), pixels = rows * ow
                withUnsafeTemporaryAllocation(of: Float.self, capacity: pixels * kdim) { cb in
                    let col = cb.baseAddress!
                    for p in 0..<pixels {
                        let oy = oy0 + p / ow, ox = p % ow
                        var d = col + p * kdim
                        for ky in 0..<kh {
                            let iy = oy * stride - padding + ky
                            for kx in 0..<kw {
                                let ix = ox * stride - padding + kx
                                if iy >= 0 && iy < h && ix >= 0 && ix < w {
                                    d.update(from: xb + ((b * h + iy) * w + ix) * ic, count: ic)
                                } else {
                                    d.update(repeating: 0, count: ic)
                                }
                                d += ic
                            }
                        }
                    }
                    let dst = ob + (b * oh + oy0) * ow * oc
                    if let bias {
                        bias.data.withUnsafeBufferPointer { bp in
                            for p in 0..<pixels { (dst + p * oc).update(from: bp.baseAddress!, count: oc) }
                        }
                    }
                    sgemm(transB: true, m: pixels, n: oc, k: kdim, a: col, lda: kdim, b: wp.baseAddress!, ldb: kdim,
                          beta: bias == nil ? 0 : 1, c: dst, ldc: oc)
                }
            }
        }}
    }
}
