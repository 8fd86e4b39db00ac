// interpolateBilinearAntialias against torch's F.interpolate(mode="bilinear", align_corners=False, antialias=True)
// (Fixtures/resize/bilinear_aa_cases.json, made by make_aa_fixtures.py): growing, shrinking, mixed, and SAM 2's
// stretch of an image to 1024 × 1024.
import Foundation
import SAMTensor
import XCTest

private struct AACases: Decodable {
    struct Case: Decodable {
        var height: Int, width: Int, out_height: Int, out_width: Int
        var values: [Double]?
        var stride: Int?, samples: [Double]?, sum: Double?
    }
    var torch: String
    var cases: [Case]
}

final class BilinearAntialiasTests: XCTestCase {
    /// The fixture's input: ((7x + 13y + 31c) mod 256) / 255 as float32, 1 × 3 × H × W.
    func image(height h: Int, width w: Int) -> Tensor {
        Tensor(shape: [1, 3, h, w]) { p in
            for c in 0..<3 { for y in 0..<h { for x in 0..<w {
                p[(c * h + y) * w + x] = Float(Double((x * 7 + y * 13 + c * 31) % 256) / 255.0)
            } } }
        }
    }

    func testMatchesTorch() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/resize/bilinear_aa_cases.json")
        let f = try JSONDecoder().decode(AACases.self, from: Data(contentsOf: url))
        XCTAssertEqual(f.cases.count, 5)
        for c in f.cases {
            let what = "\(c.height)×\(c.width) → \(c.out_height)×\(c.out_width)"
            let y = interpolateBilinearAntialias(image(height: c.height, width: c.width), height: c.out_height, width: c.out_width)
            XCTAssertEqual(y.shape, [1, 3, c.out_height, c.out_width], what)
            let grows = c.out_height >= c.height && c.out_width >= c.width
            var worst = 0.0, differ = 0
            if let v = c.values {
                XCTAssertEqual(v.count, y.count, what)
                for (a, b) in zip(y.data, v) {
                    worst = max(worst, abs(Double(a) - b))
                    if Double(a) != b { differ += 1 }
                }
            } else {
                let stride = try XCTUnwrap(c.stride), samples = try XCTUnwrap(c.samples)
                XCTAssertEqual(samples.count, (y.count + stride - 1) / stride, what)
                for (k, b) in samples.enumerated() {
                    let a = Double(y.data[k * stride])
                    worst = max(worst, abs(a - b))
                    if a != b { differ += 1 }
                }
                let sum = y.data.reduce(0.0) { $0 + Double($1) }
                XCTAssertEqual(sum, try XCTUnwrap(c.sum), accuracy: 1e-6 * Double(y.count), what)
            }
            if grows {
                // growing: the same float operations as torch, bit for bit
                XCTAssertEqual(differ, 0, "\(what): \(differ) values differ, worst \(worst)")
            } else {
                // shrinking: torch's accumulation differs by at most one rounding (1 ulp ≤ 1.2e-7 below 1)
                XCTAssertLessThanOrEqual(worst, 2.4e-7, what)
            }
        }
    }

    /// Growing with antialias is plain bilinear: the same values as `interpolateBilinear` up to rounding.
    func testGrowingEqualsBilinear() {
        let x = image(height: 20, width: 15)
        let a = interpolateBilinearAntialias(x, height: 64, width: 64), b = interpolateBilinear(x, height: 64, width: 64)
        let worst = zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 1
        XCTAssertLessThanOrEqual(worst, 3e-7)
        // and shrinking is not: the triangle filter widens, averaging more than the two nearest pixels
        let s = interpolateBilinearAntialias(x, height: 5, width: 5), t = interpolateBilinear(x, height: 5, width: 5)
        XCTAssertGreaterThan(zip(s.data, t.data).map { abs($0 - $1) }.max() ?? 0, 1e-2)
    }
}
