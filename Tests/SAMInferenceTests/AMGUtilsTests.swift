// The generator's weight-free pieces against values printed by Meta's own functions (segment_anything@dca509f
// utils/amg.py, OpenCV through remove_small_regions): Tests/Fixtures/amg/*.json, written by make_amg_fixtures.py.
import Foundation
import SAMInference
import SAMTestSupport
import XCTest

/// Reads `Tests/Fixtures/amg/<name>`.
enum AMGFixture {
    static func load(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("amg/\(name)")))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name) is not a JSON object")
    }

    static func cases(_ name: String, _ key: String = "cases") throws -> [[String: Any]] {
        try XCTUnwrap(try load(name)[key] as? [[String: Any]], "\(name) has no list '\(key)'")
    }

    /// A '0'/'1' string as mask bytes.
    static func bits(_ s: Any?) -> [UInt8] { (s as? String).map { $0.utf8.map { $0 == 49 ? 1 : 0 } } ?? [] }

    static func ints(_ v: Any?) -> [Int] { (v as? [Any] ?? []).map { ($0 as! NSNumber).intValue } }
    static func doubles(_ v: Any?) -> [Double] { (v as? [Any] ?? []).map { ($0 as! NSNumber).doubleValue } }
    static func int(_ v: Any?) -> Int { (v as! NSNumber).intValue }
    static func double(_ v: Any?) -> Double { (v as! NSNumber).doubleValue }
}

final class AMGUtilsTests: XCTestCase {
    func testPointGridsMatchMeta() throws {
        let cases = try AMGFixture.cases("grids_crops.json", "grids")
        XCTAssertEqual(cases.count, 8)
        for c in cases {
            let n = AMGFixture.int(c["n_per_side"]), layers = AMGFixture.int(c["n_layers"]), scale = AMGFixture.int(c["scale_per_layer"])
            // strings: Foundation's JSON numbers are not always the nearest double
            let expected = (c["grids"] as! [[[String]]]).map { $0.map { AMGPoint(Double($0[0])!, Double($0[1])!) } }
            let got = buildAllLayerPointGrids(nPerSide: n, nLayers: layers, scalePerLayer: scale)
            XCTAssertEqual(got.map(\.count), expected.map(\.count), "n \(n) layers \(layers) scale \(scale)")
            // bit-exact: numpy's linspace in float64
            XCTAssertEqual(got, expected, "n \(n) layers \(layers) scale \(scale)")
        }
    }

    func testDefaultGridByHand() {
        let g = buildPointGrid(32)
        XCTAssertEqual(g.count, 1024)
        XCTAssertEqual(g[0], AMGPoint(1.0 / 64, 1.0 / 64))
        XCTAssertEqual(g[1].y, 1.0 / 64)  // x varies fastest
        XCTAssertEqual(g[1023], AMGPoint(1 - 1.0 / 64, 1 - 1.0 / 64))
        XCTAssertEqual(buildPointGrid(1), [AMGPoint(0.5, 0.5)])
    }

    func testCropBoxesMatchMeta() throws {
        let cases = try AMGFixture.cases("grids_crops.json", "crops")
        XCTAssertEqual(cases.count, 9)
        for c in cases {
            let h = AMGFixture.int(c["height"]), w = AMGFixture.int(c["width"]), n = AMGFixture.int(c["n_layers"])
            let r = AMGFixture.double(c["overlap_ratio"])
            let (boxes, layers) = generateCropBoxes(imageHeight: h, imageWidth: w, nLayers: n, overlapRatio: r)
            let expected = (c["boxes"] as! [[NSNumber]]).map { CropBox($0[0].intValue, $0[1].intValue, $0[2].intValue, $0[3].intValue) }
            XCTAssertEqual(boxes, expected, "\(h)×\(w) layers \(n) ratio \(r)")
            XCTAssertEqual(layers, AMGFixture.ints(c["layers"]), "\(h)×\(w) layers \(n) ratio \(r)")
        }
    }

    func testDefaultCropBoxesByHand() {
        // 480×640, one layer, ratio 512/1500: overlap int(0.3413·480·1) = 163, crop_w ceil((163+640)/2) = 402,
        // crop_h ceil((163+480)/2) = 322, origins 0 and 239 / 159, x outer
        let (boxes, layers) = generateCropBoxes(imageHeight: 480, imageWidth: 640, nLayers: 1, overlapRatio: 512.0 / 1500.0)
        XCTAssertEqual(boxes, [CropBox(0, 0, 640, 480), CropBox(0, 0, 402, 322), CropBox(0, 159, 402, 480),
                               CropBox(239, 0, 640, 322), CropBox(239, 159, 640, 480)])
        XCTAssertEqual(layers, [0, 1, 1, 1, 1])
    }

    func testStabilityScoreAndBoxesMatchMeta() throws {
        let cases = try AMGFixture.cases("stability_boxes.json", "stability")
        XCTAssertEqual(cases.count, 7)
        var sawNaN = false
        for c in cases {
            let h = AMGFixture.int(c["height"]), w = AMGFixture.int(c["width"])
            let logits = AMGFixture.doubles(c["logits"]).map { Float($0) }
            let off = AMGFixture.double(c["offset"])
            let s = stabilityScore(logits: logits, maskThreshold: 0, offset: off)
            if c["stability"] is NSNull {
                XCTAssertTrue(s.isNaN, "0/0 must be NaN, got \(s)")
                sawNaN = true
            } else {
                // the float32 ratio, widened exactly
                XCTAssertEqual(Double(s), Double(c["stability"] as! String)!, "offset \(off), \(h)×\(w)")
            }
            let mask = logits.map { $0 > 0 ? UInt8(1) : 0 }
            XCTAssertEqual(maskToBoxXYXY(mask, width: w, height: h), AMGFixture.ints(c["box_xyxy"]))
        }
        XCTAssertTrue(sawNaN)
    }

    func testStabilityThresholdsAreStrictInFloat32() {
        // float32(0.1) > float32(0.1) is false: a logit exactly at t + offset is outside the high mask
        let l: [Float] = [0.1, 0.1, -0.1, 0.2]
        XCTAssertEqual(stabilityScore(logits: l, maskThreshold: 0, offset: 0.1), 1.0 / 3.0)
    }

    func testEdgeFilteringMatchesMeta() throws {
        let cases = try AMGFixture.cases("stability_boxes.json", "edges")
        XCTAssertEqual(cases.count, 12)
        XCTAssertTrue(cases.contains { $0["near"] as! Bool } && cases.contains { !($0["near"] as! Bool) })
        for c in cases {
            let cb = AMGFixture.ints(c["crop_box"])
            let near = isBoxNearCropEdge(AMGFixture.ints(c["box"]), cropBox: CropBox(cb[0], cb[1], cb[2], cb[3]),
                                         imageWidth: AMGFixture.int(c["image_width"]), imageHeight: AMGFixture.int(c["image_height"]))
            XCTAssertEqual(near, c["near"] as! Bool, "box \(c["box"]!) crop \(cb)")
        }
    }

    func testEdgeFilteringByHand() {
        let crop = CropBox(100, 50, 420, 300)
        // 20 px from the crop's left side (atol 20 inclusive) and not near the image side: filtered
        XCTAssertTrue(isBoxNearCropEdge([20, 30, 100, 100], cropBox: crop, imageWidth: 640, imageHeight: 480))
        XCTAssertFalse(isBoxNearCropEdge([21, 21, 100, 100], cropBox: crop, imageWidth: 640, imageHeight: 480))
        // touching a crop side that is also the image side: kept
        XCTAssertFalse(isBoxNearCropEdge([0, 0, 10, 10], cropBox: CropBox(0, 0, 640, 480), imageWidth: 640, imageHeight: 480))
    }

    func testRemoveSmallRegionsMatchesOpenCV() throws {
        let cases = try AMGFixture.cases("small_regions.json")
        XCTAssertGreaterThan(cases.count, 200)
        var changed = 0, failures = 0
        for (i, c) in cases.enumerated() {
            let h = AMGFixture.int(c["height"]), w = AMGFixture.int(c["width"])
            let mode = SmallRegionMode(rawValue: c["mode"] as! String)!
            let (out, ch) = removeSmallRegions(AMGFixture.bits(c["mask"]), width: w, height: h,
                                               areaThresh: AMGFixture.double(c["area_thresh"]), mode: mode)
            if out != AMGFixture.bits(c["out"]) || ch != (c["changed"] as! Bool) {
                failures += 1
                if failures < 5 { XCTFail("case \(i): \(mode) below \(c["area_thresh"]!) on \(h)×\(w) differs from cv2") }
            }
            if ch { changed += 1 }
        }
        XCTAssertEqual(failures, 0)
        XCTAssertGreaterThan(changed, 50)
    }

    func testKeepLargestIslandTieFollowsOpenCVLabelOrder() {
        // two one-pixel islands: (x 5, y 0) comes first in pixel order, (x 0, y 1) in OpenCV's 2×2-block order;
        // OpenCV labels (0, 1) first, so Meta keeps it
        var m = [UInt8](repeating: 0, count: 100)
        m[5] = 1; m[10] = 1
        let (out, changed) = removeSmallRegions(m, width: 10, height: 10, areaThresh: 5, mode: .islands)
        XCTAssertTrue(changed)
        XCTAssertEqual(out.indices.filter { out[$0] != 0 }, [10])
    }

    func testConnectedComponentsAreEightConnected() {
        // a diagonal chain is one component; a pixel two columns away is another
        var m = [UInt8](repeating: 0, count: 25)
        m[0] = 1; m[6] = 1; m[12] = 1; m[4] = 1
        let (labels, sizes) = connectedComponents8(m, width: 5, height: 5)
        XCTAssertEqual(sizes, [21, 3, 1])
        XCTAssertEqual(labels[0], labels[12])
        XCTAssertNotEqual(labels[0], labels[4])
    }
}
