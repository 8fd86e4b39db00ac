// Image headers that claim more pixels than the file could hold are refused before the pixel buffer is allocated.
import Foundation
import XCTest
@testable import SAMIO

final class ImageLimitsTests: XCTestCase {
    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    private func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let t = Array(type.utf8)
        let n = UInt32(body.count)
        let c = crc32(t + body)
        return [UInt8(n >> 24), UInt8((n >> 16) & 255), UInt8((n >> 8) & 255), UInt8(n & 255)] + t + body
            + [UInt8(c >> 24), UInt8((c >> 16) & 255), UInt8((c >> 8) & 255), UInt8(c & 255)]
    }

    /// A 60000×2900 RGBA 16-bit header (within ImageLimits: 174 M pixels) over a 100-byte file used to allocate
    /// 1.4 GB before libpng found the data missing.
    func testPNGHeaderClaimingMoreThanTheFileCanHoldIsRefusedBeforeAllocating() {
        let w: UInt32 = 60000, h: UInt32 = 2900
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }
        let ihdr = be(w) + be(h) + [16, 6, 0, 0, 0]
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr)
            + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", [])
        let start = Date()
        XCTAssertThrowsError(try ImageReader.decode(data: png, path: "claims_huge.png")) { e in
            guard case ImageError.truncated(let p, let detail) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(p, "claims_huge.png")
            XCTAssertTrue(detail.contains("60000x2900"), detail)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0)
    }
}
