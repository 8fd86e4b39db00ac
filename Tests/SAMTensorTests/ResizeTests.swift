// Tests of resizeBilinearPIL and resizeLongestSideShape against Pillow/torchvision: byte-identical outputs on
// synthetic images (odd sizes, up/down/mixed scaling, 1 and 3 channels, one-pass and no-pass cases) and on real
// images from ../shared/data resized to longest side 1024 and 128; expected values from
// Fixtures/resize/make_resize_fixtures.py (resize_cases.json).

import Foundation
import XCTest
import SAMIO
@testable import SAMTensor

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/resize")
private let sharedData = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data")

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
            XCTAssertEqual(resizeTestSHA256(out), c.sha256, "\(label) differs from Pillow \(cases.pillow)")
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
        guard FileManager.default.fileExists(atPath: sharedData.path) else {
            throw XCTSkip("../shared/data not found at \(sharedData.path): real-image resize checks skipped")
        }
        let cases = try loadCases()
        XCTAssertGreaterThanOrEqual(cases.real.count, 4)
        for c in cases.real {
            let img = try ImageReader.readRGB(path: sharedData.appendingPathComponent(c.file).path)
            let shape = resizeLongestSideShape(height: img.height, width: img.width, target: c.target)
            XCTAssertTrue(shape == (c.new_height, c.new_width), "\(c.file) \(c.target): shape \(shape)")
            let out = resizeBilinearPIL(img.pixels, width: img.width, height: img.height, channels: 3,
                                        newWidth: shape.width, newHeight: shape.height)
            XCTAssertEqual(resizeTestSHA256(out), c.sha256, "\(c.file) resized to longest side \(c.target) differs from torchvision")
        }
    }
}

/// SHA-256 (FIPS 180-4) as lowercase hex, for comparing with the digests the fixture script stored.
func resizeTestSHA256(_ bytes: [UInt8]) -> String {
    let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]
    var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    var msg = bytes
    let bitLength = UInt64(bytes.count) * 8
    msg.append(0x80)
    while msg.count % 64 != 56 { msg.append(0) }
    for i in (0..<8).reversed() { msg.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
    @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
    var w = [UInt32](repeating: 0, count: 64)
    msg.withUnsafeBufferPointer { mb in
        k.withUnsafeBufferPointer { kb in
            w.withUnsafeMutableBufferPointer { wb in
                h.withUnsafeMutableBufferPointer { hb in
                    let m = mb.baseAddress!, kp = kb.baseAddress!, wp = wb.baseAddress!, hp = hb.baseAddress!
                    var chunk = 0
                    while chunk < mb.count {
                        var t = 0
                        while t < 16 {
                            let o = m + chunk + 4 * t
                            wp[t] = UInt32(o[0]) << 24 | UInt32(o[1]) << 16 | UInt32(o[2]) << 8 | UInt32(o[3])
                            t += 1
                        }
                        while t < 64 {
                            let x = wp[t - 15], y = wp[t - 2]
                            let s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3)
                            let s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >> 10)
                            wp[t] = wp[t - 16] &+ s0 &+ wp[t - 7] &+ s1
                            t += 1
                        }
                        var a = hp[0], b = hp[1], c = hp[2], d = hp[3], e = hp[4], f = hp[5], g = hp[6], hh = hp[7]
                        t = 0
                        while t < 64 {
                            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                            let ch = (e & f) ^ (~e & g)
                            let t1 = hh &+ s1 &+ ch &+ kp[t] &+ wp[t]
                            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                            let maj = (a & b) ^ (a & c) ^ (b & c)
                            let t2 = s0 &+ maj
                            hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
                            t += 1
                        }
                        hp[0] = hp[0] &+ a; hp[1] = hp[1] &+ b; hp[2] = hp[2] &+ c; hp[3] = hp[3] &+ d
                        hp[4] = hp[4] &+ e; hp[5] = hp[5] &+ f; hp[6] = hp[6] &+ g; hp[7] = hp[7] &+ hh
                        chunk += 64
                    }
                }
            }
        }
    }
    return h.map { String(format: "%08x", $0) }.joined()
}
