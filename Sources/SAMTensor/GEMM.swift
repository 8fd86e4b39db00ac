// Matrix products, all through OpenBLAS's cblas_sgemm (fp32) or oneDNN's matmul (bf16); never a hand-written GEMM.
import CBLAS
import CSAMKernels
import Foundation
import Synchronization

/// How matrix products use the cores: OpenBLAS runs single-threaded and `sgemm` splits large products across
/// `workers` threads itself. OpenBLAS's own pool busy-waits between calls, and those spinning threads starve the
/// element-wise passes (softmax, norms, GELU) that run between products on the same two cores; one pool for
/// everything keeps both cores on useful work.
public enum BLASThreads {
    /// Threads used for one large product (the machine's cores).
    nonisolated(unsafe) public static var workers = ProcessInfo.processInfo.activeProcessorCount
    /// Products below this many FLOPs run on one thread.
    public static let splitThreshold = 8_000_000
    static let configured: Bool = { openblas_set_num_threads(1); return true }()
}

/// C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C, row-major, with explicit leading dimensions.
/// The one entry point to BLAS; every matrix product of the toolkit goes through here or `gemm`. Large products are
/// split into row (or column) bands computed concurrently, one single-threaded product per band. In bf16 mode
/// (`precision`, or `Precision.products` when nil) the operands are rounded to bf16 and oneDNN multiplies them.
@inline(__always)
public func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, precision: Precision? = nil) {
    if m == 0 || n == 0 { return }
    if (precision ?? Precision.products) == .bf16 {
        bf16gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: .f32(a), lda: lda, b: .f32(b),
                 ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    _ = BLASThreads.configured
    GEMMCounter.add(2 * m * n * k)
    let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
    productBands(transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc) { r0, rows, c0, cols in
        let aw = r0 == 0 ? a : (transA ? a + r0 : a + r0 * lda)
        let bw = c0 == 0 ? b : (transB ? b + c0 * ldb : b + c0)
        cblas_sgemm(CblasRowMajor, ta, tb, Int32(rows), Int32(cols), Int32(k), alpha, aw, Int32(lda), bw, Int32(ldb),
                    beta, c + r0 * ldc + c0, Int32(ldc))
    }
}

/// `sgemm` with operands that may be bf16 already (weights converted at load): a product with any bf16 operand, or
/// any product in bf16 mode, runs in bf16; two float32 operands in fp32 mode run through OpenBLAS.
@inline(__always)
public func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                 a: MatrixOperand, lda: Int, b: MatrixOperand, ldb: Int,
                 beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if !runsInBF16(a, b), case .f32(let ap) = a, case .f32(let bp) = b {
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: ap, lda: lda, b: bp, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
        return
    }
    if m == 0 || n == 0 { return }
    bf16gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
             beta: beta, c: c, ldc: ldc)
}

/// Whether `gemm` runs a product of these operands in bf16 (oneDNN): any bf16 operand, or bf16 mode.
@inline(__always)
func runsInBF16(_ a: MatrixOperand, _ b: MatrixOperand) -> Bool {
    if case .bf16 = a { return true }
    if case .bf16 = b { return true }
    return Precision.products == .bf16
}

/// Floating-point operations issued as bf16 products (2·m·n·k each), beside `GEMMCounter`'s fp32 ones.
public enum BF16Counter {
    static let counter = Atomic<Int>(0)
    public static var flops: Int { counter.load(ordering: .relaxed) }
}

private func bf16gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: MatrixOperand, lda: Int,
                      b: MatrixOperand, ldb: Int, bias: UnsafePointer<Float>? = nil, beta: Float,
                      c: UnsafeMutablePointer<Float>, ldc: Int) {
    GEMMCounter.add(2 * m * n * k)
    BF16Counter.counter.wrappingAdd(2 * m * n * k, ordering: .relaxed)
    let g = BF16GEMM.shared
    productBands(transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc) { r0, rows, c0, cols in
        let aw = r0 == 0 ? a : (transA ? a + r0 : a + r0 * lda)
        let bw = c0 == 0 ? b : (transB ? b + c0 * ldb : b + c0)
        g.run(transA: transA, transB: transB, m: rows, n: cols, k: k, alpha: alpha, a: aw, lda: lda, b: bw, ldb: ldb,
              bias: bias.map { $0 + c0 }, beta: beta, c: c + r0 * ldc + c0, ldc: ldc)
    }
}

/// How a product is split over the cores: one call for small products (or inside a serial section), bands of rows
/// (A's rows, C's rows) when m ≥ n, else bands of columns (B's columns, C's columns). `body(r0, rows, c0, cols)`.
@inline(__always)
func productBands(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int,
                  _ body: (Int, Int, Int, Int) -> Void) {
    let workers = BLASThreads.workers
    if workers <= 1 || 2 * m * n * k < BLASThreads.splitThreshold || SerialThread.isOn || (m < 2 * 16 && n < 2 * 64) {
        body(0, m, 0, n)
        return
    }
    if m >= n || n < 2 * 64 {
        let step = ((m + workers - 1) / workers + 7) / 8 * 8
        DispatchQueue.concurrentPerform(iterations: (m + step - 1) / step) { w in
            let r0 = w * step
            body(r0, min(step, m - r0), 0, n)
        }
    } else {
        let step = ((n + workers - 1) / workers + 15) / 16 * 16
        DispatchQueue.concurrentPerform(iterations: (n + step - 1) / step) { w in
            let c0 = w * step
            body(0, m, c0, min(step, n - c0))
        }
    }
}

/// A linear layer's sizes: in and out features, rows of x, and the output shape ([..., out]).
private func linearShapes(_ x: Tensor, _ weight: Tensor, _ caller: String) -> (Int, Int, Int, [Int]) {
    let inF = weight.shape[1], outF = weight.shape[0]
    precondition(x.shape.last == inF, "\(caller): input \(x.shape) does not end in \(inF)")
    var outShape = x.shape
    outShape[outShape.count - 1] = outF
    return (inF, outF, x.count / inF, outShape)
}

/// C starts as the bias in every row (the product then adds onto it, beta = 1), rows spread over the cores.
private func fillRows(_ o: UnsafeMutablePointer<Float>, rows: Int, with bias: Tensor) {
    let n = bias.count
    bias.data.withUnsafeBufferPointer { bp in
        parallelChunks(rows, minChunk: max(1, 16384 / n)) { r in
            for i in r { (o + i * n).update(from: bp.baseAddress!, count: n) }
        }
    }
}

/// `x @ weightᵀ + bias` over the last axis (PyTorch `nn.Linear`).
/// - x: [..., in]; weight: [out, in]; bias: [out] or nil. Returns [..., out].
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let (inF, outF, rows, outShape) = linearShapes(x, weight, "linear")
    return Tensor(shape: outShape) { out in
        x.data.withUnsafeBufferPointer { xp in
            linearProduct(.f32(xp.baseAddress!), rows: rows, inF: inF, weight: weight, bias: bias, into: out.baseAddress!)
        }
    }
}

/// out[rows × out] = a[rows × in] · weightᵀ + bias. fp32 (OpenBLAS): C starts as the bias in every row and the
/// product adds onto it; bf16 (oneDNN): the bias is the matmul's own, added to the float32 accumulator as C is
/// written (one pass over C instead of a fill, then a read and a write). Either way each value is the product's float
/// sum plus the bias, rounded once.
private func linearProduct(_ a: MatrixOperand, rows: Int, inF: Int, weight: Tensor, bias: Tensor?, into o: UnsafeMutablePointer<Float>) {
    let outF = weight.shape[0]
    weight.withMatrix { wp in
        if let bias, runsInBF16(a, wp), rows > 0 {
            bias.data.withUnsafeBufferPointer { bp in
                bf16gemm(transA: false, transB: true, m: rows, n: outF, k: inF, alpha: 1, a: a, lda: inF, b: wp, ldb: inF,
                         bias: bp.baseAddress!, beta: 0, c: o, ldc: outF)
            }
            return
        }
        if let bias { fillRows(o, rows: rows, with: bias) }
        gemm(transB: true, m: rows, n: outF, k: inF, a: a, lda: inF, b: wp, ldb: inF, beta: bias == nil ? 0 : 1, c: o, ldc: outF)
    }
}

/// GELU(`x @ weightᵀ + bias`), an MLP's first layer and its activation: the product into a fresh C (beta = 0), then
/// the bias and the GELU in one pass over it. The same values as `linear` then `gelu`: the product's float sum plus
/// the bias is one rounding either way.
public func linearGELU(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let (inF, outF, rows, outShape) = linearShapes(x, weight, "linearGELU")
    let b = bias?.data ?? [Float](repeating: 0, count: outF)
    return Tensor(shape: outShape) { out in
        x.data.withUnsafeBufferPointer { xp in
            weight.withMatrix { wp in
                gemm(transB: true, m: rows, n: outF, k: inF, a: .f32(xp.baseAddress!), lda: inF,
                     b: wp, ldb: inF, c: out.baseAddress!, ldc: outF)
            }
        }
        b.withUnsafeBufferPointer { bp in
            let o = out.baseAddress!
            parallelChunks(rows, minChunk: max(1, 16384 / outF)) { r in
                biasGELUInPlace(o + r.lowerBound * outF, rows: r.count, cols: outF, bias: bp.baseAddress!)
            }
        }
    }
}

/// linear(GELU(`x @ w1ᵀ + b1`), w2, b2) in bf16 mode: the hidden layer's bias and GELU in float32, written straight
/// to bf16 for the second product (one pass over the 4·C-wide hidden layer instead of three: the GELU's, then the
/// rounding of the second product's operand). The same values as `linear(linearGELU(…))` in bf16 mode, bit for bit.
/// (oneDNN's own bias + gelu_erf post-ops with a bf16 destination were measured slower on vit_h's 1280 → 5120 shape:
/// its accumulators go through a scratchpad of the whole band, 3.70 s against 3.54 s for the 32 MLPs on Zen 5.)
public func linearGELULinearBF16(_ x: Tensor, w1: Tensor, b1: Tensor?, w2: Tensor, b2: Tensor?) -> Tensor {
    let (inF, hidden, rows, _) = linearShapes(x, w1, "linearGELULinearBF16")
    precondition(w2.shape[1] == hidden, "linearGELULinearBF16: second weight \(w2.shape) for hidden width \(hidden)")
    let outF = w2.shape[0]
    var outShape = x.shape
    outShape[outShape.count - 1] = outF
    let h16 = UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, rows * hidden))
    defer { h16.deallocate() }
    // the float32 hidden layer exists a block of at most 4096 rows at a time (the ViT's whole grid; Hiera's first
    // stages have 16× and 4× as many tokens: sam2.1_hiera_t's first would hold 100 MB of float32 beside its bf16 copy)
    let block = min(max(rows, 1), 4096)
    let h = UnsafeMutablePointer<Float>.allocate(capacity: block * hidden)
    defer { h.deallocate() }
    let bias = b1?.data ?? [Float](repeating: 0, count: hidden)
    var r0 = 0
    while r0 < rows {
        let m = min(block, rows - r0)
        x.data.withUnsafeBufferPointer { xp in
            w1.withMatrix { wp in
                gemm(transB: true, m: m, n: hidden, k: inF, a: .f32(xp.baseAddress! + r0 * inF), lda: inF, b: wp, ldb: inF,
                     c: h, ldc: hidden)
            }
        }
        bias.withUnsafeBufferPointer { bp in
            parallelChunks(m, minChunk: max(1, 16384 / hidden)) { r in
                sam_bias_gelu_bf16(h + r.lowerBound * hidden, r.count, hidden, bp.baseAddress!, h16 + (r0 + r.lowerBound) * hidden)
            }
        }
        r0 += m
    }
    return Tensor(shape: outShape) { out in
        linearProduct(.bf16(h16), rows: rows, inF: hidden, weight: w2, bias: b2, into: out.baseAddress!)
    }
}

/// Batched matrix product over leading axes: a [..., M, K] @ b [..., K, N] (or bᵀ with `transB`: b [..., N, K]).
/// Both operands must have the same leading shape.
public func matmul(_ a: Tensor, _ b: Tensor, transB: Bool = false, precision: Precision? = nil) -> Tensor {
    let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1]
    let n = transB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
    let kb = transB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]
    precondition(k == kb, "matmul: inner dimensions \(a.shape) vs \(b.shape)")
    let batch = a.count / (m * k)
    precondition(b.count / (k * n) == batch, "matmul: batch dimensions \(a.shape) vs \(b.shape)")
    var shape = Array(a.shape.dropLast(2)); shape += [m, n]
    return Tensor(shape: shape) { out in
        a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                for i in 0..<batch {
                    sgemm(transB: transB, m: m, n: n, k: k, a: ap.baseAddress! + i * m * k, lda: k,
                          b: bp.baseAddress! + i * k * n, ldb: transB ? k : n, c: out.baseAddress! + i * m * n, ldc: n,
                          precision: precision)
                }
            }
        }
    }
}

/// Floating-point operations issued to BLAS (2·m·n·k per product), for benchmarks' GFLOP/s. Atomic: the prompts of a
/// decoder batch issue their products from several threads (`parallelItems`).
public enum GEMMCounter {
    static let counter = Atomic<Int>(0)
    public static var flops: Int { counter.load(ordering: .relaxed) }
    @inline(__always)
    static func add(_ n: Int) { counter.wrappingAdd(n, ordering: .relaxed) }
}
