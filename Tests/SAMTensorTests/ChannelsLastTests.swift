// The channels-last convolutions (`depthwiseConv2dNHWC`, `DepthwiseKernel`'s bands of rows, strided `conv2dNHWC`)
// against the channels-first ones, and `windowAttentionWithBias` against a direct evaluation in double precision.
import Foundation
import SAMTensor
import XCTest

final class ChannelsLastTests: XCTestCase {
    func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape) { p in for i in p.indices { p[i] = rng.nextFloat() * 2 - 1 } }
    }

    func nhwc(_ x: Tensor) -> Tensor { permute(x, [0, 2, 3, 1]) }

    func assertEqual(_ got: Tensor, _ want: Tensor, accuracy: Float, _ what: String, line: UInt = #line) {
        XCTAssertEqual(got.shape, want.shape, what, line: line)
        guard got.shape == want.shape else { return }
        var worst: Float = 0
        for i in 0..<got.count { worst = max(worst, abs(got.data[i] - want.data[i])) }
        XCTAssertLessThanOrEqual(worst, accuracy, what, line: line)
    }

    /// Channel counts with and without the 64- and 16-wide blocks and a tail; strides, paddings, kernels 1 to 5.
    func testDepthwiseMatchesChannelsFirst() {
        for (c, k, s, p) in [(3, 3, 1, 1), (16, 3, 2, 1), (40, 5, 1, 2), (70, 3, 2, 0), (128, 3, 1, 1), (64, 1, 1, 0)] {
            let x = randomTensor([2, c, 11, 9], seed: UInt64(c * 10 + k)), w = randomTensor([c, 1, k, k], seed: 7)
            let b = randomTensor([c], seed: 8)
            let want = nhwc(depthwiseConv2d(x, weight: w, bias: b, stride: s, padding: p))
            let got = depthwiseConv2dNHWC(nhwc(x), weight: w, bias: b, stride: s, padding: p)
            assertEqual(got, want, accuracy: 1e-5, "c\(c) k\(k) s\(s) p\(p)")
            var activated = want
            gelu(&activated)
            assertEqual(depthwiseConv2dNHWC(nhwc(x), weight: w, bias: b, stride: s, padding: p, gelu: true), activated,
                        accuracy: 1e-5, "c\(c) k\(k) s\(s) p\(p) + GELU")
        }
    }

    /// Rows computed from a buffer that holds only the rows they read give the whole convolution's rows.
    func testDepthwiseBandsOfRows() {
        let c = 20, h = 13, w = 7
        let x = nhwc(randomTensor([1, c, h, w], seed: 3)), wt = randomTensor([c, 1, 3, 3], seed: 4)
        for s in [1, 2] {
            let kernel = DepthwiseKernel(weight: wt, bias: nil, stride: s, padding: 1)
            let whole = depthwiseConv2dNHWC(x, weight: wt, bias: nil, stride: s, padding: 1)
            let (oh, ow) = kernel.outputSize(height: h, width: w)
            XCTAssertEqual([1, oh, ow, c], whole.shape)
            for band in [0..<2, 2..<5, (oh - 1)..<oh] {
                let rows = kernel.inputRows(for: band, height: h)
                let buffer = Array(x.data[(rows.lowerBound * w * c)..<(rows.upperBound * w * c)])
                var out = [Float](repeating: .nan, count: band.count * ow * c)
                buffer.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { op in
                        kernel.rows(band, of: bp.baseAddress!, rows: rows, height: h, width: w, into: op.baseAddress!, gelu: false)
                    }
                }
                XCTAssertEqual(out, Array(whole.data[(band.lowerBound * ow * c)..<(band.upperBound * ow * c)]), "stride \(s) rows \(band)")
            }
        }
    }

    func testStridedConvolutionMatchesChannelsFirst() {
        for (ic, oc, k, s, p, side) in [(3, 8, 3, 2, 1, 17), (16, 12, 3, 2, 1, 64), (5, 7, 5, 1, 2, 9), (4, 6, 1, 1, 0, 6)] {
            let x = randomTensor([2, ic, side, side + 3], seed: UInt64(ic + oc)), w = randomTensor([oc, ic, k, k], seed: 9)
            let b = randomTensor([oc], seed: 10)
            let want = nhwc(conv2d(x, weight: w, bias: b, stride: s, padding: p))
            assertEqual(conv2dNHWC(nhwc(x), weight: w, bias: b, stride: s, padding: p), want, accuracy: 1e-4,
                        "ic\(ic) oc\(oc) k\(k) s\(s) p\(p)")
            assertEqual(conv2dNHWC(nhwc(x), weight: w, bias: nil, stride: s, padding: p),
                        nhwc(conv2d(x, weight: w, bias: nil, stride: s, padding: p)), accuracy: 1e-4, "no bias")
        }
    }

    /// A 5×4 grid in windows of 3 (padded to 6×6: 4 windows, 1 to 9 real tokens each), 2 heads: every real token's
    /// output against softmax(scale · q kᵀ + bias) v over its window computed directly, the padding's keys and
    /// values being `padRow`.
    func testWindowAttentionWithBias() {
        let (h, w, ws, heads, kd, d) = (5, 4, 3, 2, 4, 4)
        let per = 2 * kd + d, n = ws * ws
        let qkv = randomTensor([1, h, w, heads * per], seed: 12)
        let pad = randomTensor([heads * per], seed: 13).data
        let bias = randomTensor([heads, n, n], seed: 14).data
        let scale: Float = 0.5
        let got = windowAttentionWithBias(qkv: qkv, heads: heads, keyDim: kd, valueDim: d, window: ws, padRow: pad,
                                          bias: bias, scale: scale)
        XCTAssertEqual(got.shape, [1, h, w, heads * d])
        func row(_ y: Int, _ x: Int) -> ArraySlice<Float> {
            y < h && x < w ? qkv.data[((y * w + x) * heads * per)..<((y * w + x + 1) * heads * per)] : pad[...]
        }
        for y in 0..<h {
            for x in 0..<w {
                let wy = y / ws, wx = x / ws, i = (y % ws) * ws + x % ws
                for head in 0..<heads {
                    let q = Array(row(y, x).dropFirst(head * per).prefix(kd))
                    var scores = [Double](repeating: 0, count: n)
                    for j in 0..<n {
                        let k = Array(row(wy * ws + j / ws, wx * ws + j % ws).dropFirst(head * per + kd).prefix(kd))
                        scores[j] = Double(scale) * zip(q, k).reduce(0) { $0 + Double($1.0) * Double($1.1) }
                            + Double(bias[(head * n + i) * n + j])
                    }
                    let m = scores.max()!, e = scores.map { Foundation.exp($0 - m) }, total = e.reduce(0, +)
                    for dd in 0..<d {
                        var o = 0.0
                        for j in 0..<n {
                            o += e[j] / total * Double(Array(row(wy * ws + j / ws, wx * ws + j % ws).dropFirst(head * per + 2 * kd))[dd])
                        }
                        XCTAssertEqual(Double(got.data[(y * w + x) * heads * d + head * d + dd]), o, accuracy: 1e-5, "(\(y), \(x)) head \(head)")
                    }
                }
            }
        }
    }
}
