// Hostile COCO / SA-1B segmentations found by the fuzzer (experiments/fuzz): each must throw a DatasetError naming
// the object, never trap or run unbounded.
import Foundation
@testable import SAMEval
import XCTest

final class DatasetRobustnessTests: XCTestCase {
    private func assertBadSegmentation(_ body: () throws -> Void, mentions text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            guard case DatasetError.badSegmentation(let id, let detail) = e else { return XCTFail("\(e)", file: file, line: line) }
            XCTAssertEqual(id, "img#7", file: file, line: line)
            XCTAssertTrue(detail.contains(text), "\(detail)", file: file, line: line)
        }
    }

    /// An uncompressed RLE count above UInt32.max used to trap in `UInt32(n)`.
    func testRLECountBeyond32BitsIsAnError() {
        assertBadSegmentation({ _ = try Dataset.segmentation(["counts": [1, 5_000_000_000], "size": [2, 2]], id: "img#7") },
                              mentions: "5000000000")
    }

    /// Twelve continuation characters fill all 64 bits; adding the count two places before used to overflow.
    func testCompressedRLEWithA64BitCountDoesNotTrap() {
        let s = "111" + String(repeating: "o", count: 12) + "7"
        let counts = rleFromString(s)
        XCTAssertEqual(counts.count, 4)
        // The count wraps to 32 bits as pycocotools' does; decoding then succeeds or throws, never traps.
        _ = try? Segmentation.compressedRLE(s).decode(height: 4, width: 4, id: "img#7")
    }

    /// Polygon vertices far outside the image used to trap (1e300 → Int) or trace for ever (1e16 boundary steps).
    func testFarAwayPolygonCoordinatesAreErrors() {
        assertBadSegmentation({ _ = try Segmentation.polygons([[0, 0, 1e300, 0, 1, 1]]).decode(height: 8, width: 6, id: "img#7") },
                              mentions: "1e+300")
        assertBadSegmentation({ _ = try Segmentation.polygons([[0, 0, 1e16, 3, 1, 1]]).decode(height: 8, width: 6, id: "img#7") },
                              mentions: "1e+16")
        // Slightly outside (as COCO annotations are) still decodes.
        XCTAssertNoThrow(try Segmentation.polygons([[-0.5, -0.5, 6.5, -0.5, 6.5, 8.5]]).decode(height: 8, width: 6, id: "img#7"))
    }
}
