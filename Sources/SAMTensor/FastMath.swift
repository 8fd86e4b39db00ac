// Vectorised exp and erf for float32, 8 lanes at a time: the element-wise work of softmax and GELU.
// exp: Cephes' expf (range reduction by ln 2 in two parts, degree-6 polynomial), within 2 ulp on the range used.
// erf: Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), the formula PyTorch's own vectorised CPU erf uses
// (ref: pytorch aten/src/ATen/cpu/vec/vec256/vec256_float.h, Vectorized<float>::erf).

public typealias Float8 = SIMD8<Float>

/// Lane-wise max and min as compare + blend. The standard library's `pointwiseMax`/`pointwiseMin` (and `clamped`,
/// built on them) follow IEEE maximum's NaN rules lane by lane and do not inline: a function call per vector, 8 % of a
/// decoder batch's time in a profile. A NaN in `a` stays NaN here.
@inline(__always)
public func maximum8(_ a: Float8, _ b: Float8) -> Float8 { a.replacing(with: b, where: a .< b) }

@inline(__always)
public func minimum8(_ a: Float8, _ b: Float8) -> Float8 { a.replacing(with: b, where: b .< a) }

@inline(__always)
public func exp8(_ v: Float8) -> Float8 {
    let x0 = minimum8(maximum8(v, Float8(repeating: -87.33654)), Float8(repeating: 88.72283))
    // n = round(x·log2 e) with the 1.5·2^23 trick: no Float→Int conversion (Swift's generic SIMD conversion is a
    // scalar loop); the integer sits in the low mantissa bits of t.
    let magic = Float8(repeating: 12582912)
    let t = x0 * 1.44269504088896341 + magic
    let fx = t - magic
    var x = x0 - fx * 0.693359375
    x = x + fx * 2.12194440e-4
    let z = x * x
    var y = Float8(repeating: 1.9875691500e-4)
    y = y * x + 1.3981999507e-3
    y = y * x + 8.3334519073e-3
    y = y * x + 4.1665795894e-2
    y = y * x + 1.6666665459e-1
    y = y * x + 5.0000001201e-1
    y = y * z + x + 1
    // 2^n through the exponent bits
    let n = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let pow2 = unsafeBitCast((n &+ 127) &<< 23, to: Float8.self)
    return y * pow2
}

@inline(__always)
public func erf8(_ x: Float8) -> Float8 {
    let a = x.replacing(with: -x, where: x .< 0)
    let t = Float8(repeating: 1) / (a * 0.3275911 + 1)
    var r = Float8(repeating: 1.061405429)
    r = r * t - 1.453152027
    r = r * t + 1.421413741
    r = r * t - 0.284496736
    r = r * t + 0.254829592
    let y = Float8(repeating: 1) - r * t * exp8(-(a * a))
    return Float8(repeating: 1).replacing(with: -1, where: x .< 0) * y
}

/// In-place exact-formula GELU, x · ½ · (1 + erf(x/√2)), 8 lanes at a time (scalar tail).
@inline(__always)
public func geluInPlace(_ p: UnsafeMutablePointer<Float>, count n: Int) {
    var i = 0
    let s = Float8(repeating: 0.70710678118654752440)
    while i + 8 <= n {
        let raw = UnsafeMutableRawPointer(p + i)
        let x = raw.loadUnaligned(as: Float8.self)
        let y = x * 0.5 * (erf8(x * s) + 1)
        raw.storeBytes(of: y, as: Float8.self)
        i += 8
    }
    while i < n { p[i] = geluScalar(p[i]); i += 1 }
}

/// Softmax of one row in place: max, exp(x − max) with the vector exp, sum, scale.
@inline(__always)
public func softmaxRow(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    var m = -Float.infinity
    var i = 0
    var mv = Float8(repeating: -.infinity)
    while i + 8 <= n { mv = maximum8(mv, UnsafeRawPointer(x + i).loadUnaligned(as: Float8.self)); i += 8 }
    m = mv.max()
    while i < n { m = max(m, x[i]); i += 1 }
    var sv = Float8(repeating: 0)
    let mm = Float8(repeating: m)
    i = 0
    while i + 8 <= n {
        let raw = UnsafeMutableRawPointer(x + i)
        let e = exp8(raw.loadUnaligned(as: Float8.self) - mm)
        raw.storeBytes(of: e, as: Float8.self)
        sv += e
        i += 8
    }
    var s = sv.sum()
    while i < n { let e = expf(x[i] - m); x[i] = e; s += e; i += 1 }
    let inv = 1 / s
    i = 0
    let iv = Float8(repeating: inv)
    while i + 8 <= n {
        let raw = UnsafeMutableRawPointer(x + i)
        raw.storeBytes(of: raw.loadUnaligned(as: Float8.self) * iv, as: Float8.self)
        i += 8
    }
    while i < n { x[i] *= inv; i += 1 }
}

import Foundation
