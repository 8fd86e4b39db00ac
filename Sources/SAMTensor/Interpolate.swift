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
    interpolateBilinear(x, height: outH, width: outW, keepRows: outH, keepColumns: outW)
}

/// The top-left `keepRows`×`keepColumns` corner of the bilinear resize to outH×outW: the same values as resizing and
/// then slicing, without computing the rows and columns that the slice drops (SAM's postprocessing crops the
/// 1024×1024 upscaled logits to the resized image's size before the second resize). Each plane goes through
/// `upscaleCropResize` with a second resize that keeps the size (so its rows are the first resize's rows); planes and
/// halves of their rows are spread over the cores.
public func interpolateBilinear(_ x: Tensor, height outH: Int, width outW: Int, keepRows: Int, keepColumns: Int) -> Tensor {
    precondition(x.rank == 4, "interpolateBilinear expects N×C×H×W, got \(x.shape)")
    precondition(keepRows <= outH && keepColumns <= outW, "interpolateBilinear: keep \(keepRows)×\(keepColumns) of \(outH)×\(outW)")
    let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
    let kh = keepRows, kw = keepColumns, bands = 2
    return Tensor(shape: [x.shape[0], x.shape[1], kh, kw]) { out in
        x.data.withUnsafeBufferPointer { xp in
            let o = out.baseAddress!, src = xp.baseAddress!
            parallelItems(planes * bands) { job in
                let p = job / bands, band = job % bands
                upscaleCropResize(src + p * h * w, height: h, width: w, first: (outH, outW), keep: (kh, kw), final: (kh, kw),
                                  rows: (band * kh / bands)..<((band + 1) * kh / bands)) { oy, v in
                    (o + (p * kh + oy) * kw).update(from: v, count: kw)
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

/// SAM's mask postprocessing of one H×W plane, fused: the bilinear resize to `first` keeping its top-left `keep`
/// corner, then the bilinear resize of that to `final`, row by row. Each resize is separable in PyTorch's order: every
/// source row is first resampled along x, t = w0·x[a] + w1·x[b] (the inner brackets of h0·(w0·x00 + w1·x01) +
/// h1·(w0·x10 + w1·x11)), then each output row is h0·t[r0] + h1·t[r1] — the same operations on the same values as
/// the direct 4-tap form. `row(oy, values)` receives each output row
/// (final.w floats) in order. The same operations on the same values as the two calls, without their full-size
/// intermediates: only the few intermediate rows that an output row reads are formed, and they stay in cache. When the
/// second resize keeps the size, its taps are exactly 1 and 0 and the intermediate row is the output row.
/// `rows`: the output rows to produce (a band, so that both cores can share one plane).
public func upscaleCropResize(_ src: UnsafePointer<Float>, height h: Int, width w: Int, first: (h: Int, w: Int),
                              keep: (h: Int, w: Int), final: (h: Int, w: Int), rows: Range<Int>,
                              _ row: (Int, UnsafePointer<Float>) -> Void) {
    precondition(keep.h <= first.h && keep.w <= first.w, "upscaleCropResize: keep \(keep) of \(first)")
    if rows.isEmpty { return }
    let kh = keep.h, kw = keep.w, fw = final.w
    let identity = final.h == kh && final.w == kw
    let ys1 = (0..<kh).map { linearTaps($0, inSize: h, outSize: first.h) }
    let xs1 = (0..<kw).map { linearTaps($0, inSize: w, outSize: first.w) }
    let ys2 = identity ? [] : (0..<final.h).map { linearTaps($0, inSize: kh, outSize: final.h) }
    let xs2 = identity ? [] : (0..<fw).map { linearTaps($0, inSize: kw, outSize: fw) }
    // the intermediate rows this band reads, and the source rows those read
    let iLo = identity ? rows.lowerBound : ys2[rows.lowerBound].i0
    let iHi = identity ? rows.upperBound - 1 : ys2[rows.upperBound - 1].i1
    let sLo = ys1[iLo].i0, sHi = ys1[iHi].i1
    // x pass of the source rows sLo...sHi (t = w0·x[a] + w1·x[b], as interpolateBilinear)
    var tx = [Float](unsafeUninitializedCapacity: (sHi - sLo + 1) * kw) { _, n in n = (sHi - sLo + 1) * kw }
    var mid = [Float](unsafeUninitializedCapacity: kw) { _, n in n = kw }
    // two cached x-passed intermediate rows (final.w each), for the second resize
    var cache = [Float](unsafeUninitializedCapacity: 2 * fw) { _, n in n = 2 * fw }
    var outRow = [Float](unsafeUninitializedCapacity: fw) { _, n in n = fw }
    var cachedIndex = (-1, -1)
    tx.withUnsafeMutableBufferPointer { tp in mid.withUnsafeMutableBufferPointer { mp in
    cache.withUnsafeMutableBufferPointer { cp in outRow.withUnsafeMutableBufferPointer { op in
        let t = tp.baseAddress!, m = mp.baseAddress!, cacheBase = cp.baseAddress!, o = op.baseAddress!
        for sy in sLo...sHi {
            let s = src + sy * w, d = t + (sy - sLo) * kw
            for ox in 0..<kw { let x = xs1[ox]; d[ox] = x.w0 * s[x.i0] + x.w1 * s[x.i1] }
        }
        // intermediate row r: h0·t[r0] + h1·t[r1] (the first resize's y pass)
        func intermediate(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
            let y = ys1[r]
            let r0 = t + (y.i0 - sLo) * kw, r1 = t + (y.i1 - sLo) * kw
            let h0 = y.w0, h1 = y.w1
            for ox in 0..<kw { dst[ox] = h0 * r0[ox] + h1 * r1[ox] }
        }
        // intermediate row r, x-passed to final.w, in one of the two cache slots
        func xPassed(_ r: Int) -> UnsafeMutablePointer<Float> {
            if cachedIndex.0 == r { return cacheBase }
            if cachedIndex.1 == r { return cacheBase + fw }
            // replace the slot not holding the other row the caller may still need (rows arrive in order)
            let slot = cachedIndex.0 < cachedIndex.1 ? 0 : 1
            intermediate(r, into: m)
            let d = cacheBase + slot * fw
            for ox in 0..<fw { let x = xs2[ox]; d[ox] = x.w0 * m[x.i0] + x.w1 * m[x.i1] }
            if slot == 0 { cachedIndex.0 = r } else { cachedIndex.1 = r }
            return d
        }
        for oy in rows {
            if identity {
                intermediate(oy, into: o)
            } else {
                let y = ys2[oy]
                let a = xPassed(y.i0)
                let b = xPassed(y.i1)
                let g0 = y.w0, g1 = y.w1
                for ox in 0..<fw { o[ox] = g0 * a[ox] + g1 * b[ox] }
            }
            row(oy, UnsafePointer(o))
        }
    }}}}
}

/// The taps of PyTorch's antialiased linear resampling of one axis from `inSize` to `outSize` (triangle filter
/// widened by the scale when shrinking; exactly bilinear when growing): for output i, the first source index and its
/// normalised weights. Float32 arithmetic with the double-precision intermediates of the C++ source
/// (`(i + 0.5)` and `(j + xmin − center + 0.5)` are doubles there).
/// ref: torch aten/src/ATen/native/cpu/UpSampleKernel.cpp (`_compute_indices_min_size_weights_aa`, `aa_filter`),
/// as torch 2.15 runs it; checked against `F.interpolate(..., antialias=True)` in Tests/SAMTensorTests.
func antialiasTaps(inSize: Int, outSize: Int) -> [(first: Int, weights: [Float])] {
    let scale = Float(inSize) / Float(outSize)
    let support: Float = scale >= 1 ? Float(1.0 * Double(scale)) : 1
    let invscale: Float = scale >= 1 ? Float(1.0 / Double(scale)) : 1
    return (0..<outSize).map { i in
        let center = Float(Double(scale) * (Double(i) + 0.5))
        let xmin = max(Int(Double(center - support) + 0.5), 0)
        let xsize = min(Int(Double(center + support) + 0.5), inSize) - xmin
        var w = [Float](repeating: 0, count: max(xsize, 0))
        var total: Float = 0
        for j in 0..<max(xsize, 0) {
            let x = abs(Float((Double(Float(j + xmin) - center) + 0.5) * Double(invscale)))
            w[j] = x < 1 ? 1 - x : 0
            total += w[j]
        }
        if total != 0 { for j in w.indices { w[j] /= total } }
        return (xmin, w)
    }
}

/// PyTorch's `F.interpolate(x, size=(outH, outW), mode="bilinear", align_corners=False, antialias=True)` of an
/// N×C×H×W tensor (torchvision's `resize(..., antialias=True)` on tensors, SAM 2's `SAM2Transforms`): separable, the
/// width first, then the height; each output is w₀·x₀ + w₁·x₁ + … with fused multiply-adds after the first product.
/// Equal to PyTorch when growing; when shrinking, within 1 ulp of it (1.8e-7 on values in [0, 1]).
public func interpolateBilinearAntialias(_ x: Tensor, height outH: Int, width outW: Int) -> Tensor {
    precondition(x.rank == 4, "interpolateBilinearAntialias: expected N×C×H×W, got \(x.shape)")
    let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
    let tx = antialiasTaps(inSize: w, outSize: outW), ty = antialiasTaps(inSize: h, outSize: outH)
    return Tensor(shape: [x.shape[0], x.shape[1], outH, outW]) { out in
        x.data.withUnsafeBufferPointer { src in
            let s = src.baseAddress!, o = out.baseAddress!
            parallelItems(planes) { p in
                // the width pass into an H×outW plane, then the height pass into the output
                let tmp = UnsafeMutablePointer<Float>.allocate(capacity: h * outW)
                defer { tmp.deallocate() }
                let plane = s + p * h * w
                for r in 0..<h {
                    let row = plane + r * w, dst = tmp + r * outW
                    for (i, tap) in tx.enumerated() {
                        guard !tap.weights.isEmpty else { dst[i] = 0; continue }
                        var t = row[tap.first] * tap.weights[0]
                        for j in 1..<tap.weights.count { t = t.addingProduct(row[tap.first + j], tap.weights[j]) }
                        dst[i] = t
                    }
                }
                let op = o + p * outH * outW
                for (i, tap) in ty.enumerated() {
                    let dst = op + i * outW
                    guard !tap.weights.isEmpty else { dst.update(repeating: 0, count: outW); continue }
                    let w0 = tap.weights[0], r0 = tmp + tap.first * outW
                    for c in 0..<outW { dst[c] = r0[c] * w0 }
                    for j in 1..<tap.weights.count {
                        let wj = tap.weights[j], rj = tmp + (tap.first + j) * outW
                        for c in 0..<outW { dst[c] = dst[c].addingProduct(rj[c], wj) }
                    }
                }
            }
        }
    }
}
