// The exact distance transform and the farthest-point choice (first maximum in row-major order).
import SAMEval
import XCTest

final class DistanceTransformTests: XCTestCase {
    func testSquaredDistancesOfASinglePixelHole() {
        // 5×5 ones with a zero at (2, 2): squared distance to it.
        var m = [UInt8](repeating: 1, count: 25)
        m[12] = 0
        let d = squaredDistanceTransform(m, width: 5, height: 5)
        XCTAssertEqual(d[0], 8)        // (0,0) → (2,2)
        XCTAssertEqual(d[2], 4)        // (2,0)
        XCTAssertEqual(d[13], 1)
        XCTAssertEqual(d[12], 0)
    }

    func testFarthestPointIsFirstMaximumInRowMajorOrder() {
        // A 4×3 block of object pixels in a 6×5 image: the padded transform has maximum 2 at (2,2) and (3,2) → (2,2).
        var m = [UInt8](repeating: 0, count: 30)
        for y in 1...3 { for x in 1...4 { m[y * 6 + x] = 1 } }
        let p = farthestPoint(m, width: 6, height: 5)
        XCTAssertEqual(p?.x, 2); XCTAssertEqual(p?.y, 2); XCTAssertEqual(p?.distance ?? 0, 2, accuracy: 1e-12)
        // An object touching the border: the padding pixel counts as background.
        let full = [UInt8](repeating: 1, count: 9)
        let q = farthestPoint(full, width: 3, height: 3)
        XCTAssertEqual(q?.x, 1); XCTAssertEqual(q?.y, 1); XCTAssertEqual(q?.distance ?? 0, 2, accuracy: 1e-12)
        XCTAssertNil(farthestPoint([UInt8](repeating: 0, count: 9), width: 3, height: 3))
    }

    func testIoUIgnoresIgnorePixels() {
        let gt = GroundTruth(width: 4, height: 1, values: [255, 128, 0, 255], ignoreValue: 128)
        XCTAssertEqual(gt.iou([1, 1, 0, 0] as [UInt8]), 0.5)   // the 128 pixel counts nowhere
        XCTAssertEqual(gt.box?.x0, 0); XCTAssertEqual(gt.box?.x1, 3)
    }
}
