// The element-wise work of softmax and GELU: exp and erf over float32, in the C kernels of CSAMKernels
// (Sources/CSAMKernels/kernels.c), compiled for AVX-512, AVX2 and baseline x86-64 and picked by the loader, with
// bit-identical results whichever runs. exp: Cephes' expf (range reduction by ln 2 in two parts, degree-6
// polynomial), within 2 ulp on the range used. erf: Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), the formula
// PyTorch's own vectorised CPU erf uses (ref: pytorch aten/src/ATen/cpu/vec/vec256/vec256_float.h,
// Vectorized<float>::erf).
import CSAMKernels

/// The vector width (bits) of the element-wise kernels this CPU runs: 512, 256 or 128.
public var elementwiseKernelWidth: Int { Int(sam_kernels_width()) }

/// In-place exact-formula GELU, x · ½ · (1 + erf(x/√2)).
@inline(__always)
public func geluInPlace(_ p: UnsafeMutablePointer<Float>, count n: Int) { sam_gelu(p, n) }

/// Softmax of one row in place: max, exp(x − max), sum, times 1/sum.
@inline(__always)
public func softmaxRow(_ x: UnsafeMutablePointer<Float>, count n: Int) { sam_softmax_row(x, n) }

/// `softmaxRow` of x / divisor (the attention scores divided by √d, a division as in the reference, fused into the
/// softmax's first pass).
@inline(__always)
public func softmaxRow(_ x: UnsafeMutablePointer<Float>, count n: Int, dividingBy divisor: Float) {
    sam_softmax_row_div(x, n, divisor)
}

/// The global attention's row of scores plus decomposed relative position: row[ky·w + kx] += relH[ky], then
/// += relW[kx] (in that order, as the reference's broadcast sum), then `softmaxRow`.
@inline(__always)
public func relPosSoftmaxRow(_ row: UnsafeMutablePointer<Float>, height h: Int, width w: Int,
                             relH: UnsafePointer<Float>, relW: UnsafePointer<Float>) {
    sam_relpos_softmax_row(row, h, w, relH, relW)
}

/// Softmax down each column of a rows×cols matrix (row stride `cols`), of the values divided by `divisor`, in place:
/// the attention of many queries over a few keys, stored keys-major, so the vector lanes run along the queries.
/// Per column the same steps as `softmaxRow`: max, exp(x − max), the sum in row order, times 1/sum.
@inline(__always)
public func softmaxColumns(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, dividingBy divisor: Float) {
    sam_softmax_columns(x, rows, cols, divisor)
}
