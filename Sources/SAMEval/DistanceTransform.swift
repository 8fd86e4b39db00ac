// Exact Euclidean distance transform (Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions", 2012),
// the transform the SAM paper's farthest-point protocol and RITM's click simulation take of a padded mask.

/// Squared Euclidean distance from every pixel to the nearest zero pixel of `mask` (H×W, non-zero = inside).
/// Pixels outside the mask get 0. Where the mask has no zero pixel, distances are to a virtual border of zeros
/// beyond the image — use `farthestPoint`, which pads by one background pixel as the protocols do.
public func squaredDistanceTransform(_ mask: [UInt8], width w: Int, height h: Int) -> [Double] {
    let inf = 1e20
    var f = [Double](repeating: 0, count: w * h)
    for i in 0..<(w * h) { f[i] = mask[i] != 0 ? inf : 0 }
    var tmpF = [Double](repeating: 0, count: max(w, h))
    var tmpD = [Double](repeating: 0, count: max(w, h))
    var v = [Int](repeating: 0, count: max(w, h))
    var z = [Double](repeating: 0, count: max(w, h) + 1)
    func dt1(_ n: Int) {
        var k = 0
        v[0] = 0; z[0] = -inf; z[1] = inf
        if n > 1 {
            for q in 1..<n {
                var s = ((tmpF[q] + Double(q * q)) - (tmpF[v[k]] + Double(v[k] * v[k]))) / Double(2 * q - 2 * v[k])
                while s <= z[k] {
                    k -= 1
                    s = ((tmpF[q] + Double(q * q)) - (tmpF[v[k]] + Double(v[k] * v[k]))) / Double(2 * q - 2 * v[k])
                }
                k += 1; v[k] = q; z[k] = s; z[k + 1] = inf
            }
        }
        k = 0
        for q in 0..<n {
            while z[k + 1] < Double(q) { k += 1 }
            let d = Double(q - v[k])
            tmpD[q] = d * d + tmpF[v[k]]
        }
    }
    for x in 0..<w {           // columns
        for y in 0..<h { tmpF[y] = f[y * w + x] }
        dt1(h)
        for y in 0..<h { f[y * w + x] = tmpD[y] }
    }
    for y in 0..<h {           // rows
        for x in 0..<w { tmpF[x] = f[y * w + x] }
        dt1(w)
        for x in 0..<w { f[y * w + x] = tmpD[x] }
    }
    return f
}

/// The pixel farthest from the region's boundary: the distance transform of the mask padded by one background pixel
/// on every side (then cropped back), first maximum in row-major order. `exclude` pixels (non-zero) are not chosen.
/// Returns nil for an empty region. Also returns the distance.
public func farthestPoint(_ mask: [UInt8], width w: Int, height h: Int, exclude: [UInt8]? = nil) -> (x: Int, y: Int, distance: Double)? {
    let pw = w + 2, ph = h + 2
    var padded = [UInt8](repeating: 0, count: pw * ph)
    for y in 0..<h { for x in 0..<w { padded[(y + 1) * pw + x + 1] = mask[y * w + x] != 0 ? 1 : 0 } }
    let d = squaredDistanceTransform(padded, width: pw, height: ph)
    var best = 0.0, bx = -1, by = -1
    for y in 0..<h {
        for x in 0..<w {
            if let exclude, exclude[y * w + x] != 0 { continue }
            let v = d[(y + 1) * pw + x + 1]
            if v > best { best = v; bx = x; by = y }
        }
    }
    return bx < 0 ? nil : (bx, by, best.squareRoot())
}
