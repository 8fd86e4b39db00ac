// Linear and bilinear interpolation with align_corners=False, as PyTorch's CPU kernels compute them
// (ref: pytorch aten/src/ATen/native/UpSample.h area_pixel_compute_source_index, cpu/UpSampleKernel.cpp).

/// Source index and weights for output index `i` of a linear resampling from `inSize` to `outSize`
/// (align_corners=False, no explicit scale factor): src = (in/out)·(i + ½) − ½, clamped at 0.
@inline(__always)
func linearTaps(_ i: Int, inSize: Int, outSize: Int) -> (i0: Int, i1: Int, w0: Float, w1: Float) {
    let scale = Float(inSize) / Float(outSize)
    var src = scale * (Float(i) + 0.5) - 0.5
    if src < 0 { src = 0 }
    let i0 = min(Int(src), inSize - 1)
    let i1 = i0 + (i0 < inSize - 1 ? 1 : 0)
    let l1 = min(max(src - Float(i0), 0), 1)
    return (i0, i1, 1 - l1, l1)
}

/// Bilinear resize of an N×C×H×W tensor to N×C×outH×outW (PyTorch `F.interpolate(mode="bilinear",
/// align_corners=False)` given a size). Each output is h0·(w0·x00 + w1·x01) + h1·(w0·x10 + w1·x11), PyTorch's order.
public func interpolateBilinear(_ x: Tensor, height outH: Int, width outW: Int) -> Tensor {
    precondition(x.rank == 4, "interpolateBilinear expects N×C×H×W, got \(x.shape)")
    let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
    let ys = (0..<outH).map { linearTaps($0, inSize: h, outSize: outH) }
    let xs = (0..<outW).map { linearTaps($0, inSize: w, outSize: outW) }
    return Tensor(shape: [x.shape[0], x.shape[1], outH, outW]) { out in
        x.data.withUnsafeBufferPointer { xp in
            let o = out.baseAddress!, s = xp.baseAddress!
            parallelChunks(planes * outH, minChunk: 64) { r in
                for row in r {
                    let p = row / outH, oy = row % outH
                    let ty = ys[oy]
                    let r0 = s + (p * h + ty.i0) * w, r1 = s + (p * h + ty.i1) * w
                    let dst = o + (p * outH + oy) * outW
                    for ox in 0..<outW {
                        let tx = xs[ox]
                        dst[ox] = ty.w0 * (tx.w0 * r0[tx.i0] + tx.w1 * r0[tx.i1])
                                + ty.w1 * (tx.w0 * r1[tx.i0] + tx.w1 * r1[tx.i1])
                    }
                }
            }
        }
    }
}

/// Linear resize along the last axis of an N×C×L tensor to length `outL` (PyTorch `F.interpolate(mode="linear",
/// align_corners=False)` given a size).
public func interpolateLinear(_ x: Tensor, length outL: Int) -> Tensor {
    precondition(x.rank == 3, "interpolateLinear expects N×C×L, got \(x.shape)")
    let rows = x.shape[0] * x.shape[1], l = x.shape[2]
    let taps = (0..<outL).map { linearTaps($0, inSize: l, outSize: outL) }
    return Tensor(shape: [x.shape[0], x.shape[1], outL]) { out in
        for r in 0..<rows {
            for i in 0..<outL {
                let t = taps[i]
                out[r * outL + i] = t.w0 * x.data[r * l + t.i0] + t.w1 * x.data[r * l + t.i1]
            }
        }
    }
}
