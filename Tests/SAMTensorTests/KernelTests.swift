// Weight-free kernels against values PyTorch computed (torch 2.x; the generating expressions are quoted).
import SAMTensor
import SAMTestSupport
import XCTest

final class KernelTests: XCTestCase {
    /// get_rel_pos(4, 4, rp) with a 5-row table: the table is linearly resized to 7 rows first.
    /// torch.manual_seed(0); rp = torch.randn(5, 3); segment_anything...get_rel_pos(4, 4, rp)
    func testGetRelPosInterpolatesShortTable() {
        let rp = Tensor(shape: [5, 3], data: [1.540996, -0.293429, -2.178789, 0.568431, -1.084522, -1.398595, 0.403347, 0.838026,
                                              -0.719258, -0.403344, -0.596635, 0.182036, -0.856675, 1.100604, -1.071187])
        let expected = Tensor(shape: [4, 4, 3], data: [
            0.403347, 0.838026, -0.719258, 0.521264, -0.535223, -1.204499, 0.985245, -0.745482, -1.732964, 1.540996, -0.293429, -2.178789,
            -0.172861, -0.186732, -0.075476, 0.403347, 0.838026, -0.719258, 0.521264, -0.535223, -1.204499, 0.985245, -0.745482, -1.732964,
            -0.597628, 0.130753, -0.35506, -0.172861, -0.186732, -0.075476, 0.403347, 0.838026, -0.719258, 0.521264, -0.535223, -1.204499,
            -0.856675, 1.100604, -1.071187, -0.597628, 0.130753, -0.35506, -0.172861, -0.186732, -0.075476, 0.403347, 0.838026, -0.719258])
        assertClose(getRelPos(qSize: 4, kSize: 4, relPos: rp), expected, rtol: 2e-6, "get_rel_pos")
    }

    /// x = torch.arange(12.).reshape(1,1,3,4) ** 1.5; F.interpolate(x, size, mode="bilinear", align_corners=False)
    func testBilinearMatchesTorchUpAndDown() {
        let x = Tensor(shape: [1, 1, 3, 4], data: (0..<12).map { powf(Float($0), 1.5) })
        let up: [Float] = [0.0, 0.35714, 0.92857, 1.91421, 2.99755, 4.35054, 5.19615, 3.2, 3.86862, 4.93841, 6.32398, 7.78654, 9.47224,
                           10.5258, 8.0, 9.13584, 10.95317, 12.93864, 14.97003, 17.15479, 18.52026, 16.77645, 18.16777, 20.39388,
                           22.76229, 25.16997, 27.71019, 29.29783, 22.62742, 24.18905, 26.68767, 29.31139, 31.96992, 34.74712, 36.48287]
        assertClose(interpolateBilinear(x, height: 5, width: 7), Tensor(shape: [1, 1, 5, 7], data: up), rtol: 1e-6, "upscale")
        let down: [Float] = [2.25751, 4.67032, 8.07191, 19.64965, 25.2182, 31.2254]
        assertClose(interpolateBilinear(x, height: 2, width: 3), Tensor(shape: [1, 1, 2, 3], data: down), rtol: 1e-6, "downscale")
    }

    /// permute against index arithmetic: the blocked last-two-axes swap (sizes not multiples of its 32 tile, several
    /// matrices) and the general path.
    func testPermuteMatchesIndexArithmetic() {
        let shape = [3, 37, 70]
        let x = Tensor(shape: shape, data: (0..<(3 * 37 * 70)).map(Float.init))
        let t = permute(x, [0, 2, 1])
        XCTAssertEqual(t.shape, [3, 70, 37])
        var expected = [Float](repeating: 0, count: x.count)
        for b in 0..<3 { for i in 0..<37 { for j in 0..<70 { expected[(b * 70 + j) * 37 + i] = x.data[(b * 37 + i) * 70 + j] } } }
        XCTAssertEqual(t.data, expected)
        let g = permute(x, [2, 0, 1])
        XCTAssertEqual(g.shape, [70, 3, 37])
        for j in 0..<70 { for b in 0..<3 { for i in 0..<37 {
            XCTAssertEqual(g.data[(j * 3 + b) * 37 + i], x.data[(b * 37 + i) * 70 + j])
        } } }
    }

    /// The corner-only resize (SAM's postprocessing crop) gives exactly the sliced full resize, on two planes.
    func testBilinearKeptCornerEqualsSlicedResize() {
        let x = Tensor(shape: [1, 2, 6, 6], data: (0..<72).map { sinf(Float($0) * 0.37) * 3 })
        let full = interpolateBilinear(x, height: 16, width: 16)
        let corner = interpolateBilinear(x, height: 16, width: 16, keepRows: 11, keepColumns: 7)
        XCTAssertEqual(corner.shape, [1, 2, 11, 7])
        XCTAssertEqual(corner.data, slice(slice(full, axis: 2, 0..<11), axis: 3, 0..<7).data)
    }

    /// A 5×5 grid in windows of 3 is padded to 6×6 (4 windows); unpartition restores it exactly.
    /// The fused postprocessing resize (second resize row by row through two cached rows, any band of rows) gives the
    /// bits of the two resizes done one after the other: down, up, one side kept, and the size kept (identity taps).
    func testUpscaleCropResizeEqualsTwoResizes() {
        var rng = SplitMix64(seed: 11)
        let h = 9, w = 7
        let x = Tensor(shape: [1, 1, h, w], data: (0..<(h * w)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 97 })
        for (first, keep, final) in [((40, 40), (31, 25), (13, 11)), ((40, 40), (31, 25), (70, 52)), ((40, 40), (31, 25), (31, 60)),
                                     ((40, 40), (31, 25), (31, 25)), ((20, 30), (20, 30), (5, 3))] {
            let expected = interpolateBilinear(interpolateBilinear(x, height: first.0, width: first.1, keepRows: keep.0, keepColumns: keep.1),
                                               height: final.0, width: final.1)
            for bands in [1, 3] {
                var got = [Float](repeating: .nan, count: final.0 * final.1)
                x.data.withUnsafeBufferPointer { xp in
                    for band in 0..<bands {
                        upscaleCropResize(xp.baseAddress!, height: h, width: w, first: first, keep: keep, final: final,
                                          rows: (band * final.0 / bands)..<((band + 1) * final.0 / bands)) { oy, v in
                            for ox in 0..<final.1 { got[oy * final.1 + ox] = v[ox] }
                        }
                    }
                }
                XCTAssertEqual(got, expected.data, "first \(first) keep \(keep) final \(final), \(bands) bands")
            }
        }
    }

    /// 2×2 max pooling with NaN propagating and an odd row count (floored), as PyTorch pools.
    /// torch.manual_seed(0); x = torch.randn(2, 3, 5, 4); x[0, 1, 0, 1] = x[1, 2, 3, 3] = nan; F.max_pool2d(x, 2, 2),
    /// both channels-last
    func testMaxPoolMatchesTorchWithNaN() {
        let x = Tensor(shape: [2, 5, 4, 3], data: [
            -1.12584, 0.598839, -0.10231, -1.15236, .nan, 0.792444, -0.250579, -0.34136, -0.289668, -0.433879,
            1.853006, 0.052507, 0.84871, 0.750189, 0.52286, 0.692009, -0.585498, 2.302205, -0.316013, -0.173397,
            -1.468894, -2.115219, 0.183478, -1.586689, 0.322275, 1.389366, -0.67309, -1.263335, 1.586334, 0.872831,
            0.349983, 0.946298, 1.055357, 0.308134, -0.843677, 0.177844, 0.119842, -0.613583, -0.230335, 1.237658,
            0.031593, -0.391754, 1.116777, -0.492677, 0.543295, -0.247278, 0.248415, -0.395158, -1.352654, 0.439696,
            -0.446217, -1.695931, 0.112411, 0.744021, 0.566651, 0.640792, 1.52098, 0.793508, 0.441156, 3.410503,
            -1.531184, -0.093348, -2.613322, -1.234135, 0.68705, -1.696474, 1.819725, -0.838315, -0.228242,
            -0.551529, 0.000892, 0.279955, -0.569248, 0.841894, -0.701524, 0.919971, -0.400034, 1.036687, 1.110816,
            1.039462, -0.60367, 1.289874, 0.358153, -1.278765, -1.478174, -0.246001, 0.09295, 2.567233, 2.302516,
            -0.6661, -0.47312, -1.881689, 0.608047, 0.335551, -0.049727, -0.73002, -1.629326, -1.044979, 1.375038,
            -0.549744, -0.956501, 0.659631, -0.479834, 0.033532, 0.476557, -0.499682, 0.710087, .nan, -1.06698,
            1.645867, 0.180367, 1.11494, -1.360169, 0.108332, -0.140671, 0.344565, -0.754823, 0.805754, 0.519868,
            0.244319])
        let expected: [Float] = [
            0.84871, .nan, 2.302205, -0.250579, 1.853006, 0.052507, 1.237658, 1.586334, 0.872831, 1.116777, 0.946298,
            1.055357, 0.919971, 0.841894, 1.036687, 1.819725, 1.039462, 0.279955, 2.567233, 2.302516, 1.375038,
            0.335551, 0.710087, .nan]
        let y = maxPool(x, kernel: 2)
        XCTAssertEqual(y.shape, [2, 2, 2, 3])
        for (i, (a, e)) in zip(y.data, expected).enumerated() {
            XCTAssert(a == e || (a.isNaN && e.isNaN), "max pool [\(i)]: \(a) vs \(e)")
        }
    }

    /// The vector kernel against the definition (each cell's values in row-major order, replaced when greater or
    /// NaN) on queries read in place from a qkv layout (token stride 3·C), C = 37 (two 16-lane blocks and a tail),
    /// 3 grids of 6 rows pooled as one grid of 18 and, with 5 rows, one at a time.
    func testMaxPoolStridedQueriesMatchDefinition() {
        let c = 37, w = 6, k = 2
        var rng = SplitMix64(seed: 7)
        for h in [6, 5] {
            let b = 3
            var qkv = (0..<(b * h * w * 3 * c)).map { _ in rng.nextFloat() * 2 - 1 }
            for i in stride(from: 11, to: qkv.count, by: 97) { qkv[i] = .nan }
            var expected = [Float](repeating: 0, count: b * (h / k) * (w / k) * c)
            for bi in 0..<b { for oy in 0..<(h / k) { for ox in 0..<(w / k) { for j in 0..<c {
                var m = Float.nan, first = true
                for dy in 0..<k { for dx in 0..<k {
                    let v = qkv[((bi * h + oy * k + dy) * w + ox * k + dx) * 3 * c + j]
                    if first || v > m || v.isNaN { m = v }
                    first = false
                } }
                expected[((bi * (h / k) + oy) * (w / k) + ox) * c + j] = m
            } } } }
            var got = [Float](repeating: 0, count: expected.count)
            qkv.withUnsafeBufferPointer { q in
                got.withUnsafeMutableBufferPointer { o in
                    if h % k == 0 {
                        maxPoolNHWC(q.baseAddress!, rows: b * h, cols: w, channels: c, stride: 3 * c, kernel: k, into: o.baseAddress!)
                    } else {
                        for bi in 0..<b {
                            maxPoolNHWC(q.baseAddress! + bi * h * w * 3 * c, rows: h, cols: w, channels: c, stride: 3 * c, kernel: k,
                                        into: o.baseAddress! + bi * (h / k) * (w / k) * c)
                        }
                    }
                }
            }
            XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), "h = \(h)")
        }
    }

    func testWindowPartitionPadsAndRoundTrips() {
        let x = Tensor(shape: [1, 5, 5, 2], data: (0..<50).map(Float.init))
        let (w, padded) = windowPartition(x, windowSize: 3)
        XCTAssertEqual(w.shape, [4, 3, 3, 2])
        XCTAssertEqual(padded.h, 6)
        // window 1 (top-right), row 0, col 2 is padding (x = 5): zero
        XCTAssertEqual(w.data[((1 * 3 + 0) * 3 + 2) * 2], 0)
        // window 3 (bottom-right), row 0, col 0 is x[3, 3]
        XCTAssertEqual(w.data[((3 * 3 + 0) * 3 + 0) * 2], x.data[(3 * 5 + 3) * 2])
        XCTAssertEqual(windowUnpartition(w, windowSize: 3, padded: padded, original: (5, 5)), x)
    }

    func testSoftmaxLayerNormGelu() {
        var s = Tensor(shape: [1, 3], data: [1, 2, 3])
        softmaxLastAxis(&s)
        // torch.softmax(torch.tensor([1., 2., 3.]), 0)
        assertClose(s, Tensor(shape: [1, 3], data: [0.09003057, 0.24472848, 0.66524094]), rtol: 1e-6, "softmax")
        var g = Tensor(shape: [3], data: [-1, 0.5, 2])
        gelu(&g)
        // torch.nn.functional.gelu(torch.tensor([-1., .5, 2.]))  (exact erf)
        assertClose(g, Tensor(shape: [3], data: [-0.15865526, 0.34573123, 1.95449972]), rtol: 1e-6, "gelu")
        let ln = layerNorm(Tensor(shape: [1, 4], data: [1, 2, 3, 5]), weight: Tensor(shape: [4], repeating: 1),
                           bias: Tensor(shape: [4], repeating: 0), eps: 1e-5)
        // torch.nn.functional.layer_norm(torch.tensor([[1., 2., 3., 5.]]), (4,))
        assertClose(ln, Tensor(shape: [1, 4], data: [-1.18321204, -0.50709087, 0.16903028, 1.52127254]), rtol: 1e-5, "layer_norm")
    }

    /// The C kernels (CSAMKernels): the 16-lane path and the one-lane tail path perform the same operations, so a
    /// value gives the same bits in either; GELU within the A&S erf bound of the libm formula; softmax within float
    /// rounding of a double-precision softmax, by rows and by columns; the fused relative-position row equal to adding
    /// first.
    func testVectorKernelsAgreeWithScalarFormulas() {
        let xs = (0..<1000).map { Float($0) * 0.012 - 6 }
        var v = xs
        v.withUnsafeMutableBufferPointer { geluInPlace($0.baseAddress!, count: $0.count) }
        for (i, x) in xs.enumerated() {
            var one = x
            geluInPlace(&one, count: 1)
            XCTAssertEqual(one.bitPattern, v[i].bitPattern, "gelu(\(x)): lane and tail differ")
            XCTAssertEqual(v[i], geluScalar(x), accuracy: 5e-7, "gelu(\(x))")
        }
        var rng = SplitMix64(seed: 7)
        let n = 4096 + 5
        let row = (0..<n).map { _ in Float(Double(rng.next() % 20000) / 1000 - 10) }
        var r = row
        r.withUnsafeMutableBufferPointer { softmaxRow($0.baseAddress!, count: n) }
        let m = row.max()!
        let z = row.reduce(0.0) { $0 + exp(Double($1 - m)) }
        for i in 0..<n { XCTAssertEqual(Double(r[i]), exp(Double(row[i] - m)) / z, accuracy: 1e-6 * max(1e-3, exp(Double(row[i] - m)) / z) + 1e-12) }
        // 7 rows × 37 columns down the columns, against each column as a row (divided by 4 first)
        let rows = 7, cols = 37
        let mat = (0..<(rows * cols)).map { _ in Float(Double(rng.next() % 20000) / 1000 - 10) }
        var cm = mat
        cm.withUnsafeMutableBufferPointer { softmaxColumns($0.baseAddress!, rows: rows, cols: cols, dividingBy: 4) }
        for j in 0..<cols {
            var col = (0..<rows).map { mat[$0 * cols + j] }
            col.withUnsafeMutableBufferPointer { softmaxRow($0.baseAddress!, count: rows, dividingBy: 4) }
            for i in 0..<rows { XCTAssertEqual(cm[i * cols + j], col[i], accuracy: 2e-7, "column \(j) row \(i)") }
        }
        // relative position fused into the row, its exps times the returned 1/sum: the same as adding, then softmaxRow
        let h = 5, w = 19
        let relH = (0..<h).map { Float($0) * 0.3 - 0.7 }, relW = (0..<w).map { Float($0) * -0.11 + 0.5 }
        var fused = Array(row[0..<(h * w)]), plain = fused
        for ky in 0..<h { for kx in 0..<w { plain[ky * w + kx] = (plain[ky * w + kx] + relH[ky]) + relW[kx] } }
        plain.withUnsafeMutableBufferPointer { softmaxRow($0.baseAddress!, count: h * w) }
        let inv = fused.withUnsafeMutableBufferPointer { relPosExpRow($0.baseAddress!, height: h, width: w, relH: relH, relW: relW) }
        XCTAssertEqual(fused.map { $0 * inv }, plain)
        XCTAssertTrue([128, 256, 512].contains(elementwiseKernelWidth))
    }

    /// The keys-major relative-position exp (the windows' layout) against the row kernel on the same scores: 37
    /// queries (two 16-lane blocks and a 5-query tail) over a 5×7 key grid; each query's exp row times its 1/sum
    /// equals the row softmax within float rounding.
    func testKeysMajorRelPosExpMatchesRowSoftmax() {
        var rng = SplitMix64(seed: 11)
        let h = 5, w = 7, nk = h * w, nq = 37
        let scores = (0..<(nq * nk)).map { _ in Float(Double(rng.next() % 20000) / 1000 - 10) }
        let relH = (0..<(nq * h)).map { _ in Float(Double(rng.next() % 2000) / 1000 - 1) }
        let relW = (0..<(nq * w)).map { _ in Float(Double(rng.next() % 2000) / 1000 - 1) }
        var st = [Float](repeating: 0, count: nk * nq)
        for q in 0..<nq { for j in 0..<nk { st[j * nq + q] = scores[q * nk + j] } }
        var relHT = [Float](repeating: 0, count: h * nq), relWT = [Float](repeating: 0, count: w * nq)
        for q in 0..<nq {
            for ky in 0..<h { relHT[ky * nq + q] = relH[q * h + ky] }
            for kx in 0..<w { relWT[kx * nq + q] = relW[q * w + kx] }
        }
        var inv = [Float](repeating: 0, count: nq)
        relPosExpColumns(&st, height: h, width: w, queries: nq, relHT: relHT, relWT: relWT, inv: &inv)
        for q in 0..<nq {
            var rowExp = Array(scores[(q * nk)..<((q + 1) * nk)])
            // the row softmax of the scores plus the relative terms, added in the reference's order
            var row = (0..<nk).map { j in (rowExp[j] + relH[q * h + j / w]) + relW[q * w + j % w] }
            row.withUnsafeMutableBufferPointer { softmaxRow($0.baseAddress!, count: nk) }
            relH.withUnsafeBufferPointer { rh in relW.withUnsafeBufferPointer { rw in
                let rowInv = relPosExpRow(&rowExp, height: h, width: w, relH: rh.baseAddress! + q * h, relW: rw.baseAddress! + q * w)
                XCTAssertEqual(rowInv, inv[q], accuracy: 2e-6 * inv[q], "1/sum of query \(q)")
            }}
            for j in 0..<nk {
                XCTAssertEqual(st[j * nq + q], rowExp[j], accuracy: 1e-6 * rowExp[j], "exp of query \(q), key \(j)")
                XCTAssertEqual(st[j * nq + q] * inv[q], row[j], accuracy: 2e-6 * row[j] + 1e-12, "softmax of query \(q), key \(j)")
            }
        }
    }

    /// The attention with decomposed relative position, its two layouts on the same qkv: the windows' keys-major path
    /// (whole scores, q/k/v read in place, the scale as alpha, rel terms from the 2·size − 1 table rows) against the
    /// query-blocked row path (copied and scaled q, per-row rel products); a 14×14 window and a 5×7 grid, 2 heads of
    /// 16, two batch items, rel tables shorter than 2·size − 1 (interpolated) for the second.
    func testAttentionKeysMajorEqualsRowPath() {
        var rng = SplitMix64(seed: 5)
        for (hh, ww, tableH, tableW) in [(14, 14, 27, 27), (5, 7, 5, 9)] {
            let batch = 2, heads = 2, hd = 16, c = heads * hd, n = hh * ww
            let qkv = Tensor(shape: [batch, n, 3 * c], data: (0..<(batch * n * 3 * c)).map { _ in Float(Double(rng.next() % 2000) / 1000 - 1) })
            let rph = Tensor(shape: [tableH, hd], data: (0..<(tableH * hd)).map { _ in Float(Double(rng.next() % 2000) / 1000 - 1) })
            let rpw = Tensor(shape: [tableW, hd], data: (0..<(tableW * hd)).map { _ in Float(Double(rng.next() % 2000) / 1000 - 1) })
            let keysMajor = attentionDecomposedRelPos(qkv: qkv, batch: batch, height: hh, width: ww, heads: heads,
                                                      relPosH: rph, relPosW: rpw)
            let rows = attentionDecomposedRelPos(qkv: qkv, batch: batch, height: hh, width: ww, heads: heads,
                                                 relPosH: rph, relPosW: rpw, queryBlock: 64, keysMajorUpTo: 0)
            assertClose(keysMajor, rows, rtol: 1e-6, "attention \(hh)×\(ww)")
        }
    }

    /// An MLP's lin1 + GELU in one pass (`linearGELU`, the inference path) against `linear` then `gelu`: the same
    /// bits, over 3 rows of 37 outputs (two 16-lane blocks and a tail each).
    func testLinearGELUEqualsLinearThenGELU() {
        var rng = SplitMix64(seed: 3)
        let x = Tensor(shape: [3, 20], data: (0..<60).map { _ in Float(Double(rng.next() % 2000) / 500 - 2) })
        let w = Tensor(shape: [37, 20], data: (0..<740).map { _ in Float(Double(rng.next() % 2000) / 2000 - 0.5) })
        let b = Tensor(shape: [37], data: (0..<37).map { _ in Float(Double(rng.next() % 2000) / 1000 - 1) })
        var twoPasses = linear(x, weight: w, bias: b)
        gelu(&twoPasses)
        let fused = linearGELU(x, weight: w, bias: b)
        XCTAssertEqual(fused.shape, [3, 37])
        XCTAssertEqual(fused.data.map(\.bitPattern), twoPasses.data.map(\.bitPattern))
        XCTAssertEqual(fused.data[0], geluScalar(twoPassesPreActivation(x, w, b)), accuracy: 5e-6)
    }

    private func twoPassesPreActivation(_ x: Tensor, _ w: Tensor, _ b: Tensor) -> Float {
        (0..<20).reduce(b.data[0]) { $0 + x.data[$1] * w.data[$1] }
    }

    /// The patch embedding's convolution straight into channels-last output (`patchConv2dNHWC`) against the
    /// definition in double precision, on 2 images of 35×48 with 16×16 patches (the last 3 rows and 0 columns of
    /// pixels fall outside every patch, as in PyTorch's floor division).
    func testPatchConvNHWCMatchesDefinition() {
        var rng = SplitMix64(seed: 21)
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Double(rng.next() % 20000) / 10000 - 1) } }
        let p = 16, oc = 20
        let x = Tensor(shape: [2, 3, 35, 48], data: values(2 * 3 * 35 * 48))
        let w = Tensor(shape: [oc, 3, p, p], data: values(oc * 3 * p * p))
        let b = Tensor(shape: [oc], data: values(oc))
        let y = patchConv2dNHWC(x, weight: w, bias: b, patch: p)
        XCTAssertEqual(y.shape, [2, 2, 3, oc])
        var ref = [Float]()
        for n in 0..<2 { for oy in 0..<2 { for ox in 0..<3 { for o in 0..<oc {
            var acc = Double(b.data[o])
            for c in 0..<3 { for ky in 0..<p { for kx in 0..<p {
                acc += Double(x.data[((n * 3 + c) * 35 + oy * p + ky) * 48 + ox * p + kx]) * Double(w.data[((o * 3 + c) * p + ky) * p + kx])
            }}}
            ref.append(Float(acc))
        }}}}
        assertClose(y, Tensor(shape: [2, 2, 3, oc], data: ref), rtol: 1e-6, "patch convolution")
    }

    /// A stride-1 convolution on channels-last input (`conv2dNHWC`, the neck's 3×3 with padding 1 and a 1×1) against
    /// the definition in double precision, zero padding at every border of a 9×11 grid.
    func testConv2dNHWCMatchesDefinition() {
        var rng = SplitMix64(seed: 23)
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Double(rng.next() % 20000) / 10000 - 1) } }
        let h = 9, wd = 11, ic = 24, oc = 10
        let x = Tensor(shape: [2, h, wd, ic], data: values(2 * h * wd * ic))
        for (k, pad) in [(3, 1), (1, 0)] {
            let w = Tensor(shape: [oc, ic, k, k], data: values(oc * ic * k * k))
            let b: Tensor? = k == 3 ? nil : Tensor(shape: [oc], data: values(oc))
            let y = conv2dNHWC(x, weight: w, bias: b, padding: pad)
            XCTAssertEqual(y.shape, [2, h, wd, oc])
            var ref = [Float]()
            for n in 0..<2 { for oy in 0..<h { for ox in 0..<wd { for o in 0..<oc {
                var acc = Double(b?.data[o] ?? 0)
                for c in 0..<ic { for ky in 0..<k { for kx in 0..<k {
                    let iy = oy - pad + ky, ix = ox - pad + kx
                    guard iy >= 0 && iy < h && ix >= 0 && ix < wd else { continue }
                    acc += Double(x.data[((n * h + iy) * wd + ix) * ic + c]) * Double(w.data[((o * ic + c) * k + ky) * k + kx])
                }}}
                ref.append(Float(acc))
            }}}}
            assertClose(y, Tensor(shape: [2, h, wd, oc], data: ref), rtol: 1e-6, "\(k)×\(k) convolution, padding \(pad)")
        }
    }

    func testConvTransposeMatchesDefinition() {
        // out[o, 2i+a, 2j+b] = bias[o] + Σ_c x[c, i, j] · W[c, o, a, b]
        let x = Tensor(shape: [1, 2, 1, 2], data: [1, 2, 3, 4])
        let w = Tensor(shape: [2, 1, 2, 2], data: [1, 2, 3, 4, 10, 20, 30, 40])
        let y = convTranspose2x2(x, weight: w, bias: Tensor(shape: [1], data: [0.5]))
        XCTAssertEqual(y.shape, [1, 1, 2, 4])
        XCTAssertEqual(y.data, [31.5, 62.5, 42.5, 84.5, 93.5, 124.5, 126.5, 168.5])
    }
}

/// The depthwise and grouped convolutions against `conv2d` run one group at a time (the same sums).
final class GroupedConvolutionTests: XCTestCase {
    func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape) { p in for i in p.indices { p[i] = rng.nextFloat() * 2 - 1 } }
    }

    /// Group `g` of x's channels, of size `size`, as its own tensor.
    func channels(_ x: Tensor, _ range: Range<Int>) -> Tensor { slice(x, axis: 1, range) }

    func testDepthwiseMatchesPerChannelConv() {
        for (k, s, p, mult) in [(3, 1, 1, 1), (3, 2, 1, 1), (5, 1, 2, 2), (3, 2, 0, 1), (7, 2, 3, 1)] {
            let x = randomTensor([2, 3, 11, 9], seed: UInt64(k * 10 + s))
            let w = randomTensor([3 * mult, 1, k, k], seed: 7), b = randomTensor([3 * mult], seed: 8)
            let got = depthwiseConv2d(x, weight: w, bias: b, stride: s, padding: p)
            let parts = (0..<3).map { c in
                conv2d(channels(x, c..<(c + 1)), weight: slice(w, axis: 0, (c * mult)..<((c + 1) * mult)),
                       bias: slice(b, axis: 0, (c * mult)..<((c + 1) * mult)), stride: s, padding: p)
            }
            let want = concat(parts, axis: 1)
            XCTAssertEqual(got.shape, want.shape)
            for i in 0..<got.count { XCTAssertEqual(got.data[i], want.data[i], accuracy: 1e-5, "k\(k) s\(s) p\(p) m\(mult) @\(i)") }
        }
    }

    /// A row narrower than the kernel reaches: taps that fall wholly in the padding are skipped, not read past the row.
    func testDepthwiseNarrowInput() {
        let x = randomTensor([1, 2, 3, 2], seed: 9), w = randomTensor([2, 1, 5, 5], seed: 10)
        let got = depthwiseConv2d(x, weight: w, bias: nil, stride: 2, padding: 2)
        let want = concat((0..<2).map { c in
            conv2d(channels(x, c..<(c + 1)), weight: slice(w, axis: 0, c..<(c + 1)), bias: nil, stride: 2, padding: 2)
        }, axis: 1)
        XCTAssertEqual(got.shape, want.shape)
        for i in 0..<got.count { XCTAssertEqual(got.data[i], want.data[i], accuracy: 1e-6) }
    }

    func testGroupedOneByOneMatchesPerGroupConv() {
        let x = randomTensor([2, 6, 5, 4], seed: 3), w = randomTensor([9, 2, 1, 1], seed: 4), b = randomTensor([9], seed: 5)
        let got = groupedConv1x1(x, weight: w, bias: b, groups: 3)
        let want = concat((0..<3).map { g in
            conv2d(channels(x, (2 * g)..<(2 * g + 2)), weight: slice(w, axis: 0, (3 * g)..<(3 * g + 3)),
                   bias: slice(b, axis: 0, (3 * g)..<(3 * g + 3)), stride: 1, padding: 0)
        }, axis: 1)
        XCTAssertEqual(got.shape, want.shape)
        for i in 0..<got.count { XCTAssertEqual(got.data[i], want.data[i], accuracy: 1e-5) }
    }
}
