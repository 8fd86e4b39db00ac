// The generator's logic — batches, filters, crops, edge filtering, NMS within and between crops (torchvision's >1000-box
// path included), small-region removal, output modes — against Meta's SamAutomaticMaskGenerator run around the same
// formula masks instead of a model (Tests/Fixtures/amg/formula.json, FormulaPredictor in make_amg_fixtures.py).
// No float differs between the two sides, so every record must be identical, in the same order.
import Foundation
@testable import SAMInference
import SAMIO
import XCTest

/// The formulas of `FormulaPredictor`: for a point (px, py) of the crop, mask k is
/// R_k − max(|x − px|, |y − py|) + (n − 3.5)/2 in float64, then float32, with R_k = 3 + 6k + (7·ix + 13·iy) mod 5 and
/// n = ((92837111·x) ^ (689287499·y) ^ (283923481·(k+1) + 1000003·ix + 7919·iy)) & 7; IoU float32(((31·ix + 17·iy + 11k)
/// mod 100) / 100).
final class FormulaDecoder: AMGPointDecoder {
    var height = 0, width = 0
    var images = 0
    var largestBatch = 0

    func setImage(_ image: RGBImage) { height = image.height; width = image.width; images += 1 }

    func decode(_ points: [AMGPoint]) -> AMGDecodedBatch {
        largestBatch = max(largestBatch, points.count)
        let h = height, w = width
        let iou = points.flatMap { p -> [Float] in
            let ix = Int(p.x.rounded(.down)), iy = Int(p.y.rounded(.down))
            return (0..<3).map { k in Float(Double((31 * ix + 17 * iy + 11 * k) % 100) / 100.0) }
        }
        return AMGDecodedBatch(masksPerPoint: 3, iouPredictions: iou) { i in
            let p = points[i / 3], k = i % 3
            let ix = Int(p.x.rounded(.down)), iy = Int(p.y.rounded(.down))
            let r = Double(3 + 6 * k + (7 * ix + 13 * iy) % 5)
            let salt = 283923481 * (k + 1) + 1000003 * ix + 7919 * iy
            var out = [Float](repeating: 0, count: h * w)
            for y in 0..<h {
                for x in 0..<w {
                    let d = max(abs(Double(x) - p.x), abs(Double(y) - p.y))
                    let n = ((x * 92837111) ^ (y * 689287499) ^ salt) & 7
                    out[y * w + x] = Float(r - d + (Double(n) - 3.5) * 0.5)
                }
            }
            return out
        }
    }
}

final class AMGFormulaTests: XCTestCase {
    static func options(_ o: [String: Any]) throws -> AMGOptions {
        var opts = AMGOptions()
        func d(_ k: String) -> Double? { (o[k] as? String).flatMap(Double.init) }
        func i(_ k: String) -> Int? { (o[k] as? NSNumber)?.intValue }
        opts.pointsPerSide = o["points_per_side"] is NSNull ? nil : (i("points_per_side") ?? 32)
        if let t = o["point_grids_text"] as? String { opts.pointGrids = try AMGPointGrids.parse(t) }
        if let v = i("points_per_batch") { opts.pointsPerBatch = v }
        if let v = d("pred_iou_thresh") { opts.predIouThresh = v }
        if let v = d("stability_score_thresh") { opts.stabilityScoreThresh = v }
        if let v = d("stability_score_offset") { opts.stabilityScoreOffset = v }
        if let v = d("box_nms_thresh") { opts.boxNmsThresh = v }
        if let v = i("crop_n_layers") { opts.cropNLayers = v }
        if let v = d("crop_nms_thresh") { opts.cropNmsThresh = v }
        if let v = d("crop_overlap_ratio") { opts.cropOverlapRatio = v }
        if let v = i("crop_n_points_downscale_factor") { opts.cropNPointsDownscaleFactor = v }
        if let v = i("min_mask_region_area") { opts.minMaskRegionArea = v }
        opts.outputMode = AMGOutputMode(rawValue: o["output_mode"] as! String)!
        return opts
    }

    func check(_ index: Int, records expectedCount: Int) throws {
        let c = try AMGFixture.cases("formula.json")[index]
        let h = AMGFixture.int(c["height"]), w = AMGFixture.int(c["width"])
        let opts = try Self.options(c["options"] as! [String: Any])
        let decoder = FormulaDecoder()
        let gen = try SamAutomaticMaskGenerator(decoder: decoder, options: opts)
        let got = gen.generate(RGBImage(width: w, height: h, pixels: [UInt8](repeating: 0, count: w * h * 3)))
        let crops = generateCropBoxes(imageHeight: h, imageWidth: w, nLayers: opts.cropNLayers, overlapRatio: opts.cropOverlapRatio).boxes
        XCTAssertEqual(decoder.images, crops.count, "one embedding per crop")
        XCTAssertLessThanOrEqual(decoder.largestBatch, opts.pointsPerBatch)
        let ref = try XCTUnwrap(c["records"] as? [[String: Any]])
        XCTAssertEqual(ref.count, expectedCount, "fixture")
        XCTAssertEqual(got.count, ref.count, "number of records")
        for (i, (g, r)) in zip(got, ref).enumerated() {
            let seg = r["segmentation"] as! [String: Any]
            let size = AMGFixture.ints(seg["size"])
            let want = try XCTUnwrap(RLE(cocoString: seg["counts"] as! String, height: size[0], width: size[1]))
            XCTAssertEqual(g.rle, want, "record \(i): mask")
            switch (opts.outputMode, g.segmentation) {
            case (.cocoRLE, .cocoRLE(let hh, let ww, let counts)):
                XCTAssertEqual([hh, ww], size); XCTAssertEqual(counts, seg["counts"] as! String, "record \(i): coco string")
            case (.uncompressedRLE, .uncompressedRLE(let u)): XCTAssertEqual(u, want, "record \(i): uncompressed RLE")
            case (.binaryMask, .binaryMask(let m)): XCTAssertEqual(m, want.decode(), "record \(i): binary mask")
            default: XCTFail("record \(i): segmentation is not \(opts.outputMode)")
            }
            XCTAssertEqual(g.area, AMGFixture.int(r["area"]), "record \(i): area")
            XCTAssertEqual(g.bbox, AMGFixture.ints(r["bbox"]), "record \(i): bbox")
            XCTAssertEqual(Double(g.predictedIoU), Double(r["predicted_iou"] as! String)!, "record \(i): predicted_iou")
            XCTAssertEqual(Double(g.stabilityScore), Double(r["stability_score"] as! String)!, "record \(i): stability_score")
            let pc = (r["point_coords"] as! [[String]])[0].map { Double($0)! }
            XCTAssertEqual([g.pointCoords.x, g.pointCoords.y], pc, "record \(i): point_coords")
            XCTAssertEqual(g.cropBox, AMGFixture.ints(r["crop_box"]), "record \(i): crop_box")
        }
    }

    /// 1 + 4 + 16 crops, batches of 10, every filter, holes and islands below 6 px, coco_rle.
    func testCropsInTwoLayersAndSmallRegions() throws { try check(0, records: 61) }

    /// Filters off, 1200 masks in one crop (torchvision's >1000-box path with tied scores), small regions, uncompressed RLE.
    func testOverAThousandBoxesWithTies() throws { try check(1, records: 112) }

    /// Explicit point grids, one crop layer, binary masks.
    func testExplicitPointGrids() throws { try check(2, records: 13) }
}
