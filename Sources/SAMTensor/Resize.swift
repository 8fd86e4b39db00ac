// Pillow's separable resampling for 8-bit images with the BILINEAR filter (antialiased when downscaling), the
// resize SAM's `ResizeLongestSide.apply_image` performs through torchvision on a PIL image; and Meta's
// `ResizeLongestSide.get_preprocess_shape`. Ports Pillow 13.0.0 src/libImaging/Resample.c (from the pillow-13.0.0
// sdist: `precompute_coeffs`, `normalize_coeffs_8bpc`, `ImagingResampleHorizontal_8bpc`/`Vertical_8bpc`,
// `ImagingResampleInner` with its pass-order rule) and segment_anything/utils/transforms.py.

/// Pillow's `PRECISION_BITS` for 8-bit resampling: 32 - 8 - 2.
private let precisionBits = 22

/// One pass's filter taps: for output index `i`, input samples `bounds[2i] ..< bounds[2i] + bounds[2i+1]`
/// weighted by `weights[i * ksize ..< i * ksize + bounds[2i+1]]` (fixed point, `precisionBits` fractional bits).
private struct Taps {
    var ksize: Int
    var bounds: [Int]
    var weights: [Int32]
}

/// Pillow's `bilinear_filter`: the triangle `max(0, 1 - |x|)`.
@inline(__always)
private func bilinearFilter(_ x: Double) -> Double {
    let a = x < 0 ? -x : x
    return a < 1 ? 1 - a : 0
}

/// `precompute_coeffs` + `normalize_coeffs_8bpc` for the BILINEAR filter (support 1) over the whole input
/// (box `in0 = 0`, `in1 = inSize`): when downscaling the support widens by the scale (antialiasing), the centre of
/// output pixel `i` is `(i + 0.5) * scale`, taps outside the input are dropped and the rest renormalised, then each
/// weight becomes `(int)(±0.5 + w * 2^22)`.
private func precomputeTaps(inSize: Int, outSize: Int) -> Taps {
    let in0: Float = 0, in1 = Float(inSize)
    let scale = Double(in1 - in0) / Double(outSize)
    let filterscale = max(scale, 1.0)
    let support = 1.0 * filterscale
    let ksize = Int(support.rounded(.up)) * 2 + 1
    var bounds = [Int](repeating: 0, count: outSize * 2)
    var weights = [Int32](repeating: 0, count: outSize * ksize)
    var k = [Double](repeating: 0, count: ksize)
    for xx in 0..<outSize {
        let center = Double(in0) + (Double(xx) + 0.5) * scale
        var ww = 0.0
        let ss = 1.0 / filterscale
        var xmin = Int(center - support + 0.5)  // C's (int) truncates toward zero, as Int(_: Double) does
        if xmin < 0 { xmin = 0 }
        var xmax = Int(center + support + 0.5)
        if xmax > inSize { xmax = inSize }
        xmax -= xmin
        for x in 0..<max(xmax, 0) {
            let w = bilinearFilter((Double(x + xmin) - center + 0.5) * ss)
            k[x] = w
            ww += w
        }
        for x in 0..<max(xmax, 0) where ww != 0 {
            k[x] /= ww
        }
        for x in max(xmax, 0)..<ksize { k[x] = 0 }
        bounds[2 * xx] = xmin
        bounds[2 * xx + 1] = xmax
        for x in 0..<ksize {
            let v = k[x] * Double(1 << precisionBits)
            weights[xx * ksize + x] = Int32(v < 0 ? -0.5 + v : 0.5 + v)
        }
    }
    return Taps(ksize: ksize, bounds: bounds, weights: weights)
}

/// Pillow's `clip8`: the accumulator (which already holds the 2^21 rounding offset) shifted down by 22 bits and
/// clamped to 0...255.
@inline(__always)
private func clip8(_ acc: Int) -> UInt8 {
    let v = acc >> precisionBits
    return v < 0 ? 0 : (v > 255 ? 255 : UInt8(truncatingIfNeeded: v))
}

/// One horizontal pass (Pillow's `ImagingResampleHorizontal_8bpc`): output rows `0..<rows` read input rows
/// `offset..<offset + rows`.
private func resampleHorizontal(_ image: [UInt8], width: Int, rows: Int, offset: Int, channels: Int,
                                newWidth: Int, taps: Taps) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: rows * newWidth * channels) { out, count in
        image.withUnsafeBufferPointer { inp in
            taps.weights.withUnsafeBufferPointer { kk in
                for yy in 0..<rows {
                    let inRow = (yy + offset) * width * channels
                    let outRow = yy * newWidth * channels
                    for xx in 0..<newWidth {
                        let xmin = taps.bounds[2 * xx], xmax = taps.bounds[2 * xx + 1]
                        let k = xx * taps.ksize
                        for c in 0..<channels {
                            var ss = 1 << (precisionBits - 1)
                            var p = inRow + xmin * channels + c
                            for x in 0..<xmax {
                                ss += Int(inp[p]) * Int(kk[k + x])
                                p += channels
                            }
                            out[outRow + xx * channels + c] = clip8(ss)
                        }
                    }
                }
            }
        }
        count = rows * newWidth * channels
    }
}

/// One vertical pass (Pillow's `ImagingResampleVertical_8bpc`) with row bounds relative to `image`'s first row.
private func resampleVertical(_ image: [UInt8], width: Int, channels: Int, newHeight: Int, taps: Taps,
                              bounds: [Int]) -> [UInt8] {
    let rowLen = width * channels
    return [UInt8](unsafeUninitializedCapacity: newHeight * rowLen) { out, count in
        image.withUnsafeBufferPointer { inp in
            taps.weights.withUnsafeBufferPointer { kk in
                for yy in 0..<newHeight {
                    let ymin = bounds[2 * yy], ymax = bounds[2 * yy + 1]
                    let k = yy * taps.ksize
                    let outRow = yy * rowLen
                    for i in 0..<rowLen {
                        var ss = 1 << (precisionBits - 1)
                        var p = ymin * rowLen + i
                        for y in 0..<ymax {
                            ss += Int(inp[p]) * Int(kk[k + y])
                            p += rowLen
                        }
                        out[outRow + i] = clip8(ss)
                    }
                }
            }
        }
        count = newHeight * rowLen
    }
}

/// Resizes an 8-bit image exactly as Pillow 13.0.0's `Image.resize((newWidth, newHeight), Image.BILINEAR)` does
/// for modes "L" and "RGB" (and therefore as `torchvision.transforms.functional.resize` on a PIL image, which SAM's
/// `ResizeLongestSide.apply_image` uses). Two separable passes with fixed-point weights (22 fractional bits,
/// round half up, clipped to 0...255); a pass whose size is unchanged is skipped. Pass order follows
/// `ImagingResampleInner`: horizontal first (over only the input rows the vertical pass needs), unless the height
/// shrinks by more than twice as many pixels as the width does (`inH - outH > 0 && inH - outH > 2 * (inW - outW)`),
/// then vertical first. That rule is new in Pillow 13 (PR #9549); older Pillow always went horizontal first, so
/// for such shapes (very tall images shrunk) outputs of Pillow <= 12 can differ by 1 in some pixels.
/// Channels are resampled independently (Pillow premultiplies alpha for RGBA/LA first; this function does not,
/// so pass alpha-free images).
/// - Parameters:
///   - src: `height * width * channels` bytes, row-major, channels interleaved (H×W×C).
///   - channels: samples per pixel (1 for L, 3 for RGB).
/// - Returns: `newHeight * newWidth * channels` bytes, H×W×C.
public func resizeBilinearPIL(_ src: [UInt8], width: Int, height: Int, channels: Int,
                              newWidth: Int, newHeight: Int) -> [UInt8] {
    precondition(width > 0 && height > 0 && channels > 0 && newWidth > 0 && newHeight > 0,
                 "resizeBilinearPIL: sizes must be positive (\(width)x\(height)x\(channels) -> \(newWidth)x\(newHeight))")
    precondition(src.count == width * height * channels,
                 "resizeBilinearPIL: \(width)x\(height)x\(channels) needs \(width * height * channels) bytes, got \(src.count)")
    let needHorizontal = newWidth != width
    let needVertical = newHeight != height
    if !needHorizontal && !needVertical { return src }
    let horizontalFirst = !(height - newHeight > 0 && height - newHeight > (width - newWidth) * 2)

    let vert = needVertical || (needHorizontal && horizontalFirst)
        ? precomputeTaps(inSize: height, outSize: newHeight) : nil
    let horiz = needHorizontal ? precomputeTaps(inSize: width, outSize: newWidth) : nil

    if horizontalFirst {
        var image = src
        var vbounds = vert!.bounds
        if let horiz {
            // Only the input rows the vertical pass reads: bounds shift to the first of them.
            let yFirst = vbounds[0]
            let yLast = vbounds[newHeight * 2 - 2] + vbounds[newHeight * 2 - 1]
            for i in 0..<newHeight { vbounds[2 * i] -= yFirst }
            image = resampleHorizontal(src, width: width, rows: yLast - yFirst, offset: yFirst, channels: channels,
                                       newWidth: newWidth, taps: horiz)
        }
        if needVertical {
            image = resampleVertical(image, width: needHorizontal ? newWidth : width, channels: channels,
                                     newHeight: newHeight, taps: vert!, bounds: vbounds)
        }
        return image
    }
    // Vertical first (needVertical is always true here: the height shrinks).
    var image = resampleVertical(src, width: width, channels: channels, newHeight: newHeight, taps: vert!,
                                 bounds: vert!.bounds)
    if let horiz {
        image = resampleHorizontal(image, width: width, rows: newHeight, offset: 0, channels: channels,
                                   newWidth: newWidth, taps: horiz)
    }
    return image
}

/// Meta's `ResizeLongestSide.get_preprocess_shape(oldh, oldw, long_side_length)`: the size whose longest side is
/// `target`, computed in double precision as Python does: `scale = target * 1.0 / max(h, w)`,
/// `newh = int(h * scale + 0.5)`, `neww = int(w * scale + 0.5)`.
public func resizeLongestSideShape(height: Int, width: Int, target: Int) -> (height: Int, width: Int) {
    let scale = Double(target) * 1.0 / Double(max(height, width))
    let newh = Double(height) * scale
    let neww = Double(width) * scale
    return (Int(newh + 0.5), Int(neww + 0.5))
}
