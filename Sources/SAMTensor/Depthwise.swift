// Depthwise and grouped convolutions on N×C×H×W (`nn.Conv2d(..., groups=g)`): the grouped 1×1 is EfficientViT-SAM's
// LiteMLA aggregation; the depthwise one is the channels-first reference the encoders' own layouts are tested against
// (ConvolutionNHWC.swift, EfficientViTOps.swift).

/// Depthwise 2-D convolution (`nn.Conv2d(C, C·m, k, stride, padding, groups=C)`, m = multiplier, dilation 1) on
/// N×C×H×W input. weight: [C·m, 1, KH, KW]; bias: [C·m] or nil. Direct: each output plane is its input plane's
/// k×k window sums, accumulated in the kernel's row-major order after the bias (no product to hand to BLAS: one
/// input channel per output channel). Planes are spread over the cores.
public func depthwiseConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4 && weight.shape[1] == 1, "depthwiseConv2d: weight \(weight.shape) is not C·m×1×KH×KW")
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    let oc = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
    precondition(oc % c == 0, "depthwiseConv2d: \(oc) output channels for \(c) input channels")
    let mult = oc / c
    let oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1
    return Tensor(shape: [n, oc, oh, ow]) { out in
        x.data.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                let ob = out.baseAddress!, xb = xp.baseAddress!, wb = wp.baseAddress!
                parallelItems(n * oc) { i in
                    let b = i / oc, o = i % oc, ci = o / mult
                    let src = xb + (b * c + ci) * h * w, dst = ob + i * oh * ow, k = wb + o * kh * kw
                    let b0 = bias?.data[o] ?? 0
                    for oy in 0..<oh {
                        let line = dst + oy * ow
                        line.update(repeating: b0, count: ow)
                        for ky in 0..<kh {
                            let iy = oy * stride - padding + ky
                            if iy < 0 || iy >= h { continue }
                            let sline = src + iy * w
                            for kx in 0..<kw {
                                let wv = k[ky * kw + kx]
                                // output columns whose input column ox·stride − padding + kx is inside the image
                                let last = w - 1 + padding - kx   // ox·stride ≤ last
                                if last < 0 { continue }
                                let lo = max(0, (padding - kx + stride - 1) / stride)
                                let hi = min(ow, last / stride + 1)
                                if lo >= hi { continue }
                                var ix = lo * stride - padding + kx
                                for ox in lo..<hi { line[ox] += wv * sline[ix]; ix += stride }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Grouped 1×1 convolution (`nn.Conv2d(C, OC, 1, groups=g)`) on N×C×H×W: per group, a [OC/g × C/g] by
/// [C/g × H·W] product through `sgemm`. weight: [OC, C/g, 1, 1]; bias: [OC] or nil.
public func groupedConv1x1(_ x: Tensor, weight: Tensor, bias: Tensor?, groups g: Int) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4 && weight.shape[2] == 1 && weight.shape[3] == 1, "groupedConv1x1: weight \(weight.shape)")
    let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3], oc = weight.shape[0]
    precondition(c % g == 0 && oc % g == 0 && weight.shape[1] == c / g, "groupedConv1x1: weight \(weight.shape) for \(c) channels in \(g) groups")
    let ig = c / g, og = oc / g
    return Tensor(shape: [n, oc, x.shape[2], x.shape[3]]) { out in
        x.data.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                for b in 0..<n {
                    for grp in 0..<g {
                        let dst = out.baseAddress! + (b * oc + grp * og) * hw
                        if let bias {
                            for o in 0..<og { (dst + o * hw).update(repeating: bias.data[grp * og + o], count: hw) }
                        }
                        sgemm(m: og, n: hw, k: ig, a: wp.baseAddress! + grp * og * ig, lda: ig,
                              b: xp.baseAddress! + (b * c + grp * ig) * hw, ldb: hw, beta: bias == nil ? 0 : 1, c: dst, ldc: hw)
                    }
                }
            }
        }
    }
}
