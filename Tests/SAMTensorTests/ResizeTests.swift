// Tests of resizeBilinearPIL and resizeLongestSideShape against Pillow/torchvision: byte-identical outputs on
// synthetic images (odd sizes, up/down/mixed scaling, 1 and 3 channels, one-pass and no-pass cases) and on real
// images from ../shared/data resized to longest side 1024 and 128; expected values from
// Fixtures/resize/make_resize_fixtures.py (resize_cases.json).

import Foundation
import SAMTestSupport
import XCTest
import SAMIO
@testable import SAMTensor

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/resize")

private struct ResizeCases: Decodable {
    struct Synthetic: Decodable {
        var width: Int, height: Int, channels: Int, new_width: Int, new_height: Int
        var kind: String, seed: Int, sha256: String
        var hex: String?
    }
    struct Real: Decodable {
        var file: String, target: Int, new_width: Int, new_height: Int, sha256: String
    }
    var pillow: String
    var torchvision: String
    var synthetic: [Synthetic]
    var preprocess_shapes: [[Int]]
    var real: [Real]
}

private func loadCases() throws -> ResizeCases {
    try JSONDecoder().decode(ResizeCases.self, from: Data(contentsOf: fixtures.appendingPathComponent("resize_cases.json")))
}

/// The input images of make_resize_fixtures.py's `synthetic` (must match it bit for bit).
private func synthetic(width w: Int, height h: Int, channels c: Int, seed: Int, kind: String) -> [UInt8] {
    let n = w * h * c
    let noise = kind == "noise"
    return [UInt8](unsafeUninitializedCapacity: n) { out, count in
        var i = 0
        while i < n {
            let u = UInt64(i)
            if noise {
                var v = (u &* 2_654_435_761 &+ UInt64(seed) &* 0x9E37_79B9) & 0xFFFF_FFFF
                v ^= v >> 16
                v = (v &* 0x85EB_CA6B) & 0xFFFF_FFFF
                v ^= v >> 13
                out[i] = UInt8(truncatingIfNeeded: v)
            } else {
                let ch = u % UInt64(c), x = (u / UInt64(c)) % UInt64(w), y = u / UInt64(c * w)
                out[i] = UInt8(truncatingIfNeeded: x &* 7 &+ y &* 3 &+ ch &* 50 &+ UInt64(seed))
            }
            i += 1
        }
        count = n
    }
}

private func hexBytes(_ s: String) -> [UInt8] {
    var out = [UInt8]()
    var it = s.utf8.makeIterator()
    func nib(_ c: UInt8) -> UInt8 { c >= 97 ? c - 87 : c - 48 }
    while let a = it.next(), let b = it.next() { out.append(nib(a) << 4 | nib(b)) }
    return out
}

final class ResizeTests: XCTestCase {
    func testSyntheticMatchesPillow() throws {
        let cases = try loadCases()
        XCTAssertGreaterThanOrEqual(cases.synthetic.count, 15)
        for c in cases.synthetic {
            let label = "\(c.width)x\(c.height)x\(c.channels) -> \(c.new_width)x\(c.new_height) (\(c.kind))"
            let src = synthetic(width: c.width, height: c.height, channels: c.channels, seed: c.seed, kind: c.kind)
            let out = resizeBilinearPIL(src, width: c.width, height: c.height, channels: c.channels,
                                        newWidth: c.new_width, newHeight: c.new_height)
            XCTAssertEqual(out.count, c.new_width * c.new_height * c.channels, label)
            if let hex = c.hex {
                let want = hexBytes(hex)
                if let i = zip(out, want).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                    XCTFail("\(label): first difference at byte \(i): got \(out[i]), Pillow \(want[i])")
                }
            }
            XCTAssertEqual(sha256Hex(out), c.sha256, "\(label) differs from Pillow \(cases.pillow)")
        }
    }

    /// Same size in both directions returns the input unchanged (Pillow copies).
    func testIdentity() {
        let src = synthetic(width: 5, height: 4, channels: 3, seed: 1, kind: "noise")
        XCTAssertEqual(resizeBilinearPIL(src, width: 5, height: 4, channels: 3, newWidth: 5, newHeight: 4), src)
    }

    /// A constant image stays constant at every scale (the normalised fixed-point weights sum to ~2^22).
    func testConstantImageStaysConstant() {
        for v: UInt8 in [0, 1, 127, 254, 255] {
            let src = [UInt8](repeating: v, count: 31 * 17 * 3)
            for (nw, nh) in [(7, 5), (100, 3), (64, 64), (1, 1)] {
                let out = resizeBilinearPIL(src, width: 31, height: 17, channels: 3, newWidth: nw, newHeight: nh)
                XCTAssertTrue(out.allSatisfy { $0 == v }, "value \(v) -> \(nw)x\(nh)")
            }
        }
    }

    func testPreprocessShapeMatchesMeta() throws {
        let shapes = try loadCases().preprocess_shapes
        XCTAssertGreaterThan(shapes.count, 1000)
        for s in shapes {
            let r = resizeLongestSideShape(height: s[0], width: s[1], target: s[2])
            XCTAssertTrue(r == (s[3], s[4]), "get_preprocess_shape(\(s[0]), \(s[1]), \(s[2])): got \(r), Meta (\(s[3]), \(s[4]))")
        }
        XCTAssertTrue(resizeLongestSideShape(height: 480, width: 640, target: 1024) == (768, 1024))
        XCTAssertTrue(resizeLongestSideShape(height: 321, width: 481, target: 1024) == (683, 1024))
    }

    /// SAM's preprocessing of real images (decode with SAMIO, resize longest side to 1024 and 128) equals
    /// `np.array(torchvision resize(to_pil_image(image), target_size))`.
    func testRealImagesMatchTorchvision() throws {
        let sharedData = URL(fileURLWithPath: try Paths.requireShared("data"))
        let cases = try loadCases()
        XCTAssertGreaterThanOrEqual(cases.real.count, 4)
        for c in cases.real {
            let img = try ImageReader.readRGB(path: sharedData.appendingPathComponent(c.file).path)
            let shape = resizeLongestSideShape(height: img.height, width: img.width, target: c.target)
            XCTAssertTrue(shape == (c.new_height, c.new_width), "\(c.file) \(c.target): shape \(shape)")
            let out = resizeBilinearPIL(img.pixels, width: img.width, height: img.height, channels: 3,
                                        newWidth: shape.width, newHeight: shape.height)
            XCTAssertEqual(sha256Hex(out), c.sha256, "\(c.file) resized to longest side \(c.target) differs from torchvision")
        }
    }
}

