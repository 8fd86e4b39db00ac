// The element-wise work of softmax and GELU: exp and erf over float32, in the C kernels of CSAMKernels
// (Sources/CSAMKernels/kernels.c), compiled for AVX-512, AVX2 and baseline x86-64 and picked by the loader, with
// bit-identical results whichever runs. exp: Cephes' expf (range reduction by ln 2 in two parts, degree-6
// polynomial, its multiply-adds fused), within 2 ulp on the range used. erf: Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), the formula
// PyTorch's own vectorised CPU erf uses (ref: pytorch aten/src/ATen/cpu/vec/vec256/vec256_float.h,
// Vectorized<float>::erf).
import CSAMKernels

/// The vector width (bits) of the element-wise kernels this CPU runs: 512, 256 or 128.
public var elementwiseKernelWidth: Int { Int(sam_kernels_width()) }

/// In-place exact-formula GELU, x · ½ · (1 + erf(x/√2)).
@inline(__always)
public func geluInPlace(_ p: UnsafeMutablePointer<Float>, count n: Int) { sam_gelu(p, n) }

/// x[r·cols + j] = GELU(x[r·cols + j] + bias[j]) in place.
@inline(__always)
public func biasGELUInPlace(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>) {
    sam_bias_gelu(p, rows, cols, bias)
}

/// Softmax of one row in place: max, exp(x − max), sum, times 1/sum.
@inline(__always)
public func softmaxRow(_ x: UnsafeMutablePointer<Float>, count n: Int) { sam_softmax_row(x, n) }

/// `softmaxRow` of x / divisor (the attention scores divided by √d, a division as in the reference, fused into the
/// softmax's first pass).
@inline(__always)
public func softmaxRow(_ x: UnsafeMutablePointer<Float>, count n: Int, dividingBy divisor: Float) {
    sam_softmax_row_div(x, n, divisor)
}

/// The global attention's row of scores plus decomposed relative position, softmax without its last pass:
/// row[ky·w + kx] += relH[ky], then += relW[kx] (in that order, as the reference's broadcast sum), then exp(x − max)
/// in place; returns 1/sum, which the caller applies to the attention's output row (one multiply per output value
/// instead of one per key; `softmaxRow` of the summed row is each value times it).
@inline(__always)
public func relPosExpRow(_ row: UnsafeMutablePointer<Float>, height h: Int, width w: Int,
                         relH: UnsafePointer<Float>, relW: UnsafePointer<Float>) -> Float {
    sam_relpos_exp_row(row, h, w, relH, relW)
}

/// The relative-position bias and exp of attention scores stored keys-major (`st[key · queries + query]`, keys
/// h·w): the vector lanes run along the queries, so a window 14 keys wide vectorises as well as a 64-wide grid.
/// relHT: [h, queries], relWT: [w, queries] (the rel terms transposed); inv receives each query's 1/sum.
@inline(__always)
public func relPosExpColumns(_ st: UnsafeMutablePointer<Float>, height h: Int, width w: Int, queries: Int,
                             relHT: UnsafePointer<Float>, relWT: UnsafePointer<Float>, inv: UnsafeMutablePointer<Float>) {
    sam_relpos_exp_columns(st, h, w, queries, relHT, relWT, inv)
}

/// x[r·stride + j] *= factors[r] for r < rows, j < cols.
@inline(__always)
public func scaleRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, stride: Int, by factors: UnsafePointer<Float>) {
    sam_scale_rows(x, rows, cols, stride, factors)
}

/// Softmax down each column of a rows×cols matrix (row stride `cols`), of the values divided by `divisor`, in place:
/// the attention of many queries over a few keys, stored keys-major, so the vector lanes run along the queries.
/// Per column the same steps as `softmaxRow`: max, exp(x − max), the sum in row order, times 1/sum.
@inline(__always)
public func softmaxColumns(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, dividingBy divisor: Float) {
    sam_softmax_columns(x, rows, cols, divisor)
}
