// RLE round trips and pycocotools' counts string against values written by Meta's mask_to_rle_pytorch and
// pycocotools (Tests/Fixtures/amg/rle.json).
import Foundation
import SAMInference
import XCTest

final class AMGRLETests: XCTestCase {
    func testUncompressedCountsAndCocoStringMatchPycocotools() throws {
        let cases = try AMGFixture.cases("rle.json")
        XCTAssertEqual(cases.count, 13)
        for (i, c) in cases.enumerated() {
            let h = AMGFixture.int(c["height"]), w = AMGFixture.int(c["width"])
            let counts = AMGFixture.ints(c["counts"]), coco = c["coco"] as! String
            let fromCounts = RLE(height: h, width: w, counts: counts)
            let mask = c["mask"] is NSNull ? fromCounts.decode() : AMGFixture.bits(c["mask"])
            let rle = RLE(mask: mask, height: h, width: w)
            XCTAssertEqual(rle.counts, counts, "case \(i): mask_to_rle_pytorch counts")
            XCTAssertEqual(rle.cocoString, coco, "case \(i): pycocotools string")
            XCTAssertEqual(rle.area, AMGFixture.int(c["area"]), "case \(i): area")
            XCTAssertEqual(rle.area, AMGFixture.int(c["area_from_rle"]), "case \(i): area_from_rle")
            XCTAssertEqual(rle.decode(), mask, "case \(i): decode")
            let back = try XCTUnwrap(RLE(cocoString: coco, height: h, width: w), "case \(i): rleFrString")
            XCTAssertEqual(back.counts, counts, "case \(i): string decode")
        }
    }

    func testFixtureCoversMultiCharacterAndNegativeDeltas() throws {
        // the encoding needs more than one character per count and negative differences to be exercised
        let strings = try AMGFixture.cases("rle.json").map { $0["coco"] as! String }
        XCTAssertTrue(strings.contains { $0.utf8.contains { $0 >= 48 + 32 } })
        let counts = try AMGFixture.cases("rle.json").map { AMGFixture.ints($0["counts"]) }
        XCTAssertTrue(counts.contains { c in c.indices.contains { $0 > 2 && c[$0] < c[$0 - 2] } })
        XCTAssertTrue(counts.contains { $0.max()! >= 32768 })
    }

    /// Corrupt counts strings are refused, not trapped on: a count longer than 32 bits, a run past the mask's end,
    /// counts that stop short of it; a hand-made RLE whose runs overshoot decodes to the mask's size.
    func testCorruptCountsAreRefusedAndOverlongRunsCut() {
        // "0" then 40 continuation characters: rleFrString would shift past 64 bits
        XCTAssertNil(RLE(cocoString: "0" + String(repeating: "o", count: 40) + "0", height: 4, width: 4))
        // 0, 16 set pixels, 16 more: 32 pixels for a 4×4 mask
        let over = RLE(height: 4, width: 4, counts: [0, 16, 16]).cocoString
        XCTAssertNil(RLE(cocoString: over, height: 4, width: 4))
        XCTAssertNil(RLE(cocoString: RLE(height: 4, width: 4, counts: [3, 5]).cocoString, height: 4, width: 4))
        XCTAssertNotNil(RLE(cocoString: RLE(height: 4, width: 4, counts: [3, 5, 8]).cocoString, height: 4, width: 4))
        // large values whose differences would overflow a 64-bit sum in a naive decoder
        XCTAssertNil(RLE(cocoString: "ooooooO" + "ooooooO" + "ooooooO" + "ooooooO", height: 2, width: 2))
        let cut = RLE(height: 2, width: 2, counts: [1, 100, -3, 7]).decode()
        XCTAssertEqual(cut, [0, 1, 1, 1])
    }

    func testByHand() {
        // column-major: the 2×3 mask [[1,0,1],[1,1,0]] reads 1,1 | 0,1 | 1,0 → counts 0,2,1,2,1
        let m: [UInt8] = [1, 0, 1, 1, 1, 0]
        let r = RLE(mask: m, height: 2, width: 3)
        XCTAssertEqual(r.counts, [0, 2, 1, 2, 1])
        XCTAssertEqual(r.area, 4)
        XCTAssertEqual(r.decode(), m)
        // rleToString: 0 → "0", 2 → "2", 1 → "1", then 2 − 2 = 0 → "0", 1 − 1 = 0 → "0"
        XCTAssertEqual(r.cocoString, "02100")
        XCTAssertEqual(RLE(mask: [0, 0, 0, 0], height: 2, width: 2).counts, [4])
        XCTAssertEqual(RLE(mask: [1, 1, 1, 1], height: 2, width: 2).counts, [0, 4])
    }

    func testRejectsMalformedStrings() {
        XCTAssertNil(RLE(cocoString: "0 1", height: 1, width: 1))
        XCTAssertNil(RLE(cocoString: "h", height: 1, width: 1))  // 'h' = 48 + 56: continuation bit set, then the end
    }

    func testRandomRoundTrips() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let h = Int.random(in: 1...40, using: &g), w = Int.random(in: 1...40, using: &g)
            let p = Double.random(in: 0...1, using: &g)
            let m = (0..<(h * w)).map { _ in Double.random(in: 0..<1, using: &g) < p ? UInt8(1) : 0 }
            let r = RLE(mask: m, height: h, width: w)
            XCTAssertEqual(r.decode(), m)
            XCTAssertEqual(r.counts.reduce(0, +), h * w)
            XCTAssertEqual(RLE(cocoString: r.cocoString, height: h, width: w), r)
        }
    }
}
