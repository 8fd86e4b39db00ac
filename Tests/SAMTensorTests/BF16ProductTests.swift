// The bf16 products (oneDNN): rounding, every operand layout against fp32 products of the rounded operands, and the
// mode switch. A bf16 product of bf16 operands with fp32 accumulation is exact per term (8-bit × 8-bit significands
// fit float32's 24), so it equals cblas_sgemm on the rounded operands up to the order of the float32 sums.
import CSAMKernels
@testable import SAMTensor
import XCTest

final class BF16ProductTests: XCTestCase {
    /// bf16 products need AVX-512 (oneDNN has none below it): a test of them is skipped, with the reason, elsewhere.
    func requireBF16() throws {
        try XCTSkipUnless(Precision.bf16Supported, "this CPU has no bf16 matrix product in oneDNN (it needs AVX-512)")
    }

    func bits(_ f: Float) -> UInt16 {
        var out: UInt16 = 0
        var x = f
        sam_f32_to_bf16(&x, 1, 1, 1, &out)
        return out
    }

    func testRoundingIsNearestEvenAsPyTorch() {
        XCTAssertEqual(bits(1.0), 0x3F80)
        XCTAssertEqual(bits(-2.0), 0xC000)
        // halfway cases go to the even significand: 0x3F80_8000 → 0x3F80, 0x3F81_8000 → 0x3F82
        XCTAssertEqual(bits(Float(bitPattern: 0x3F80_8000)), 0x3F80)
        XCTAssertEqual(bits(Float(bitPattern: 0x3F81_8000)), 0x3F82)
        XCTAssertEqual(bits(Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertEqual(bits(Float(bitPattern: 0x3F80_7FFF)), 0x3F80)
        XCTAssertEqual(bits(.infinity), 0x7F80)
        XCTAssertEqual(bits(Float(bitPattern: 0x7F7F_FFFF)), 0x7F80)   // the largest float rounds up to infinity
        XCTAssertTrue(Float(bitPattern: UInt32(bits(.nan)) << 16).isNaN)
        let t = Tensor(shape: [3], data: [1.0, 3.14159274, -1e-3]).convertedToBF16()
        XCTAssertTrue(t.data.isEmpty)
        XCTAssertEqual(t.count, 3)
        XCTAssertEqual(t.floatValues, [1.0, 3.140625, -0.00099945068])
    }

    /// float32 values rounded to bf16 and back.
    func rounded(_ x: [Float]) -> [Float] { Tensor(shape: [x.count], data: x).convertedToBF16().floatValues }

    func random(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in rng.nextFloat() * 2 - 1 }
    }

    /// Every layout (A and B transposed or not, leading dimensions wider than the rows, alpha, beta) in bf16 against
    /// fp32 products of the rounded operands; sizes that run whole and ones split into bands over the cores.
    func testProductsEqualFP32OnRoundedOperands() throws {
        try requireBF16()
        for (m, n, k) in [(7, 5, 3), (33, 70, 65), (300, 257, 96), (64, 1024, 200)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    for (alpha, beta) in [(Float(1), Float(0)), (0.125, 1), (2, 0.5)] {
                        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
                        let a = random((transA ? k : m) * lda, seed: 1), b = random((transB ? n : k) * ldb, seed: 2)
                        let c0 = random(m * ldc, seed: 3)
                        var got = c0, want = c0
                        let ra = rounded(a), rb = rounded(b)
                        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                              ldb: ldb, beta: beta, c: &got, ldc: ldc, precision: .bf16)
                        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: ra, lda: lda, b: rb,
                              ldb: ldb, beta: beta, c: &want, ldc: ldc, precision: .fp32)
                        var worst: Float = 0
                        for i in 0..<m { for j in 0..<n {
                            worst = max(worst, abs(got[i * ldc + j] - want[i * ldc + j]) / (1 + abs(want[i * ldc + j])))
                        } }
                        XCTAssertLessThan(worst, 1e-5, "m\(m) n\(n) k\(k) tA \(transA) tB \(transB) α \(alpha) β \(beta)")
                        // the padding columns of C are left alone
                        for i in 0..<m { for j in n..<ldc { XCTAssertEqual(got[i * ldc + j], c0[i * ldc + j]) } }
                    }
                }
            }
        }
    }

    /// The bf16 product does round: against the float32 product of the unrounded operands it drifts by about
    /// bf16's half-ulp (2⁻⁹) over √k terms, far above float32's rounding.
    func testBF16DiffersFromFP32AsBF16Should() throws {
        try requireBF16()
        let m = 64, n = 64, k = 256
        let a = random(m * k, seed: 4), b = random(k * n, seed: 5)
        var c16 = [Float](repeating: 0, count: m * n), c32 = c16
        sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c16, ldc: n, precision: .bf16)
        sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c32, ldc: n, precision: .fp32)
        let num = zip(c16, c32).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +)
        let den = c32.map { Double($0) * Double($0) }.reduce(0, +)
        let rel = (num / den).squareRoot()
        XCTAssertGreaterThan(rel, 5e-4)
        XCTAssertLessThan(rel, 1e-2)
    }

    /// A linear layer's bias in bf16 is oneDNN's matmul bias (no fill of C first): each output is the product of the
    /// rounded operands plus the bias, for shapes split into bands of rows (m ≥ n), of columns (the bias offset with
    /// its band), run whole, and for a bf16 operand A (the MLP's second product).
    func testLinearBiasIsAddedOnceInEveryBand() throws {
        try requireBF16()
        for (rows, inF, outF) in [(5, 7, 3), (300, 96, 40), (40, 96, 300), (1, 64, 1024)] {
            let x = random(rows * inF, seed: 11), w = random(outF * inF, seed: 12)
            let bias = random(outF, seed: 13).map { $0 * 100 }
            let got = linear(Tensor(shape: [rows, inF], data: x), weight: Tensor(shape: [outF, inF], data: w).convertedToBF16(),
                             bias: Tensor(shape: [outF], data: bias))
            let rx = rounded(x), rw = rounded(w)
            var worst = 0.0
            for i in 0..<rows {
                for o in 0..<outF {
                    var acc = 0.0
                    for j in 0..<inF { acc += Double(rx[i * inF + j]) * Double(rw[o * inF + j]) }
                    let want = acc + Double(bias[o])
                    worst = max(worst, abs(Double(got.data[i * outF + o]) - want) / (1 + abs(want)))
                }
            }
            XCTAssertLessThan(worst, 1e-6, "rows \(rows) in \(inF) out \(outF)")
        }
        // the second product of the bf16 MLP takes its hidden layer as bf16 and adds lin2's bias the same way
        let x = Tensor(shape: [70, 32], data: random(70 * 32, seed: 14))
        let w1 = Tensor(shape: [128, 32], data: random(128 * 32, seed: 15)), b1 = Tensor(shape: [128], data: random(128, seed: 16))
        let w2 = Tensor(shape: [32, 128], data: random(32 * 128, seed: 17)), b2 = Tensor(shape: [32], data: random(32, seed: 18).map { $0 * 50 })
        let fused = Precision.with(.bf16) { linearGELULinearBF16(x, w1: w1, b1: b1, w2: w2, b2: b2) }
        let plain = Precision.with(.bf16) { linear(linearGELU(x, weight: w1, bias: b1), weight: w2, bias: b2) }
        XCTAssertEqual(fused.data, plain.data)
        // more rows than one block of the float32 hidden layer (4096): two blocks, the same values
        let tall = Tensor(shape: [4100, 32], data: random(4100 * 32, seed: 19))
        let fusedTall = Precision.with(.bf16) { linearGELULinearBF16(tall, w1: w1, b1: b1, w2: w2, b2: b2) }
        let plainTall = Precision.with(.bf16) { linear(linearGELU(tall, weight: w1, bias: b1), weight: w2, bias: b2) }
        XCTAssertEqual(fusedTall.data, plainTall.data)
    }

    /// The bf16 windowed attention read straight from the qkv grid (`windowedAttentionDecomposedRelPosBF16`, the
    /// encoder's inference path) against what the recorded path runs: `windowPartition` with the pad row, the
    /// keys-major attention in bf16 mode, `windowUnpartition`. A 10×13 grid in windows of 4 (padded on both axes,
    /// edge windows of 2×4, 4×1 and 2×1 real tokens), 3 heads of 8, two batch items, a pad row that is not zero.
    /// Same rounded operands, same float32 steps; only the products' shapes (the padding queries are skipped) differ.
    func testWindowedAttentionFromGridEqualsPartitionedPath() throws {
        try requireBF16()
        let b = 2, h = 10, w = 13, ws = 4, heads = 3, hd = 8, c = heads * hd
        let qkv = Tensor(shape: [b, h, w, 3 * c], data: random(b * h * w * 3 * c, seed: 21).map { $0 * 3 })
        let pad = random(3 * c, seed: 22)
        let rph = Tensor(shape: [2 * ws - 1, hd], data: random((2 * ws - 1) * hd, seed: 23))
        let rpw = Tensor(shape: [2 * ws - 1, hd], data: random((2 * ws - 1) * hd, seed: 24))
        let fused = Precision.with(.bf16) {
            windowedAttentionDecomposedRelPosBF16(qkv: qkv, windowSize: ws, padRow: pad, heads: heads, relPosH: rph, relPosW: rpw)
        }
        let reference = Precision.with(.bf16) { () -> Tensor in
            let (windows, padded) = windowPartition(qkv, windowSize: ws, padRow: pad)
            let a = attentionDecomposedRelPos(qkv: windows, batch: windows.shape[0], height: ws, width: ws, heads: heads,
                                              relPosH: rph, relPosW: rpw)
            return windowUnpartition(a.reshaped([windows.shape[0], ws, ws, c]), windowSize: ws, padded: padded, original: (h, w))
        }
        XCTAssertEqual(fused.shape, [b, h, w, c])
        var worst: Float = 0
        for (x, y) in zip(fused.data, reference.data) { worst = max(worst, abs(x - y) / (1 + abs(y))) }
        XCTAssertLessThan(worst, 2e-6)
        // and it is bf16: against the fp32 path it moves by far more than float32 rounding
        let fp32 = { () -> Tensor in
            let (windows, padded) = windowPartition(qkv, windowSize: ws, padRow: pad)
            let a = attentionDecomposedRelPos(qkv: windows, batch: windows.shape[0], height: ws, width: ws, heads: heads,
                                              relPosH: rph, relPosW: rpw)
            return windowUnpartition(a.reshaped([windows.shape[0], ws, ws, c]), windowSize: ws, padded: padded, original: (h, w))
        }()
        XCTAssertGreaterThan(zip(fused.data, fp32.data).map { abs($0 - $1) }.max()!, 1e-4)
    }

    /// A weight held as bf16 gives the same linear layer as a float32 weight in bf16 mode (both round the same
    /// values and run the same products), and the mode is restored after `Precision.with`.
    func testBF16WeightEqualsModeAndModeIsScoped() throws {
        try requireBF16()
        let x = Tensor(shape: [50, 96], data: random(50 * 96, seed: 6))
        let w = Tensor(shape: [40, 96], data: random(40 * 96, seed: 7))
        let bias = Tensor(shape: [40], data: random(40, seed: 8))
        XCTAssertEqual(Precision.products, .fp32)
        let inMode = Precision.with(.bf16) { () -> Tensor in
            XCTAssertEqual(Precision.products, .bf16)
            return linear(x, weight: w, bias: bias)
        }
        XCTAssertEqual(Precision.products, .fp32)
        let held = linear(x, weight: w.convertedToBF16(), bias: bias)
        XCTAssertEqual(inMode.data, held.data)
        XCTAssertEqual(linearGELU(x, weight: w.convertedToBF16(), bias: bias).data,
                       Precision.with(.bf16) { linearGELU(x, weight: w, bias: bias) }.data)
        XCTAssertNotEqual(linear(x, weight: w, bias: bias).data, held.data)
        // a reshaped bf16 weight stays bf16
        XCTAssertEqual(w.convertedToBF16().reshaped([40, 96, 1, 1]).bf16, w.convertedToBF16().bf16)
    }

    func testKernelIsNamed() throws {
        try requireBF16()
        XCTAssertFalse(Precision.bf16Kernel(m: 64, n: 64, k: 64).isEmpty)
    }
}
