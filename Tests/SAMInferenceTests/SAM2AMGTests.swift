// SAM 2's automatic mask generator against Meta's SAM2AutomaticMaskGenerator (sam2 1.1.0): the tiny random SAM 2.1
// (Tests/Fixtures/sam2/sam2.1_tiny_random.pt) on a 60×80 crop of image_small.png, six option sets
// (Tests/Fixtures/amg/sam2_tiny.json, written by make_sam2_amg_fixture.py); plus SAM 2's defaults and option checks,
// and the low-res hole and sprinkle clean-up.
import Foundation
@testable import SAMInference
import SAMIO
import SAMModel
import SAMTestSupport
import XCTest

final class SAM2AMGTests: XCTestCase {
    /// The tiny model's configuration (its tensors do not show heads, windows and global blocks).
    static let tinyConfigPath = Paths.fixture("sam2/sam2.1_tiny_random.json")
    private static var cached: (model: SAM2Model, fixture: [String: Any], image: RGBImage)?

    static func setup() throws -> (model: SAM2Model, fixture: [String: Any], image: RGBImage) {
        if let c = cached { return c }
        let fx = try AMGFixture.load("sam2_tiny.json")
        let config = try JSONDecoder().decode(SAM2Config.self, from: Data(contentsOf: URL(fileURLWithPath: tinyConfigPath)))
        let model = try SAM2Loader.load(checkpoint: Paths.packageRoot.appendingPathComponent(fx["checkpoint"] as! String).path,
                                        config: config)
        let crop = try XCTUnwrap(fx["crop"] as? [String: Any])
        let full = try ImageReader.readRGB(path: Paths.packageRoot.appendingPathComponent(fx["image"] as! String).path)
        let image = full.cropped(CropBox(AMGFixture.int(crop["x0"]), AMGFixture.int(crop["y0"]), AMGFixture.int(crop["x1"]),
                                         AMGFixture.int(crop["y1"])))
        cached = (model, fx, image)
        return cached!
    }

    /// Meta's keyword arguments as options, starting from SAM2AutomaticMaskGenerator's defaults.
    static func options(_ o: [String: Any]) throws -> AMGOptions {
        var opts = AMGOptions(family: .sam2)
        for (k, v) in o {
            switch k {
            case "points_per_side": opts.pointsPerSide = AMGFixture.int(v)
            case "points_per_batch": opts.pointsPerBatch = AMGFixture.int(v)
            case "pred_iou_thresh": opts.predIouThresh = AMGFixture.double(v)
            case "stability_score_thresh": opts.stabilityScoreThresh = AMGFixture.double(v)
            case "stability_score_offset": opts.stabilityScoreOffset = AMGFixture.double(v)
            case "mask_threshold": opts.maskThreshold = AMGFixture.double(v)
            case "box_nms_thresh": opts.boxNmsThresh = AMGFixture.double(v)
            case "crop_n_layers": opts.cropNLayers = AMGFixture.int(v)
            case "crop_nms_thresh": opts.cropNmsThresh = AMGFixture.double(v)
            case "min_mask_region_area": opts.minMaskRegionArea = AMGFixture.int(v)
            case "use_m2m": opts.useM2M = v as! Bool
            case "multimask_output": opts.multimaskOutput = v as! Bool
            case "output_mode": opts.outputMode = try XCTUnwrap(AMGOutputMode(rawValue: v as! String))
            default: XCTFail("fixture option \(k) is not read by the test")
            }
        }
        return opts
    }

    /// IoU of two masks (1 for two empty masks).
    static func iou(_ a: [UInt8], _ b: [UInt8]) -> Double {
        var inter = 0, union = 0
        for i in 0..<a.count { let p = a[i] != 0, q = b[i] != 0; if p && q { inter += 1 }; if p || q { union += 1 } }
        return union == 0 ? 1 : Double(inter) / Double(union)
    }

    /// Runs one fixture case and compares with Meta's records.
    @discardableResult
    func check(_ name: String) throws -> (got: [AMGRecord], ref: [[String: Any]]) {
        let (model, fx, image) = try Self.setup()
        let cases = try XCTUnwrap(fx["cases"] as? [[String: Any]])
        let c = try XCTUnwrap(cases.first { $0["name"] as? String == name }, "no case \(name)")
        let opts = try Self.options(try XCTUnwrap(c["options"] as? [String: Any]))
        let gen = try SamAutomaticMaskGenerator(model: model, options: opts)
        XCTAssertEqual(gen.family, .sam2)
        let got = gen.generate(image)
        let ref = try XCTUnwrap(c["records"] as? [[String: Any]])
        let refMasks = try ref.map { r -> [UInt8] in
            let s = try XCTUnwrap(r["segmentation"] as? [String: Any])
            let size = AMGFixture.ints(s["size"])
            return try XCTUnwrap(RLE(cocoString: s["counts"] as! String, height: size[0], width: size[1])).decode()
        }
        let gotMasks = got.map { $0.rle.decode() }
        XCTAssertEqual(got.count, ref.count, "\(name): Swift \(got.count) masks, Meta \(ref.count)")
        func matched(_ a: [[UInt8]], _ b: [[UInt8]]) -> Int {
            a.filter { m in b.contains { Self.iou(m, $0) >= 0.9 } }.count
        }
        let refMatched = matched(refMasks, gotMasks), gotMatched = matched(gotMasks, refMasks)
        XCTAssertGreaterThanOrEqual(Double(refMatched), 0.99 * Double(ref.count), "\(name): Meta's masks matched by a Swift mask")
        XCTAssertGreaterThanOrEqual(Double(gotMatched), 0.99 * Double(got.count), "\(name): Swift's masks matched by a Meta mask")
        // The random model's masks look alike, so the match above says little on its own: record by record, in Meta's
        // order, the point (float32), crop box, scores and mask. Measured: every field equal, every mask bit-identical
        // but one (one pixel, in single_regions); the bounds leave room for logits within float32 noise of the cut.
        var identical = 0
        for (i, r) in ref.enumerated() where i < got.count {
            let g = got[i]
            let pc = (r["point_coords"] as! [[NSNumber]])[0].map(\.doubleValue)
            XCTAssertEqual([g.pointCoords.x, g.pointCoords.y], pc, "\(name) \(i): point_coords")
            XCTAssertEqual(g.cropBox, AMGFixture.doubles(r["crop_box"]).map { Int($0) }, "\(name) \(i): crop_box")
            XCTAssertEqual(Double(g.predictedIoU), Double(r["predicted_iou"] as! String)!, accuracy: 1e-5, "\(name) \(i): predicted_iou")
            let stab = Double(r["stability_score"] as! String)!
            if stab.isNaN { XCTAssertTrue(g.stabilityScore.isNaN, "\(name) \(i): stability \(g.stabilityScore), Meta's NaN") } else {
                XCTAssertEqual(Double(g.stabilityScore), stab, accuracy: 1e-3, "\(name) \(i): stability_score")
            }
            XCTAssertGreaterThanOrEqual(Self.iou(gotMasks[i], refMasks[i]), 0.99, "\(name) \(i): mask IoU with Meta's")
            if gotMasks[i] == refMasks[i] {
                identical += 1
                XCTAssertEqual(g.area, AMGFixture.int(r["area"]), "\(name) \(i): area")
                XCTAssertEqual(g.bbox, AMGFixture.doubles(r["bbox"]).map { Int($0) }, "\(name) \(i): bbox")
            }
        }
        XCTAssertGreaterThanOrEqual(Double(identical), 0.9 * Double(ref.count), "\(name): bit-identical \(identical) of \(ref.count)")
        return (got, ref)
    }

    func testGrid() throws { try check("grid") }
    func testMaskThreshold() throws { try check("mask_threshold") }
    func testM2M() throws { try check("m2m") }
    func testSingleMaskRegionCleanup() throws { try check("single_regions") }
    func testNMS() throws { try check("nms") }

    func testCrops() throws {
        let (got, _) = try check("crops")
        // the fixture reaches past the whole-image crop: masks from a first-layer crop survive the edge filter
        XCTAssertGreaterThan(Set(got.map(\.cropBox)).count, 1)
    }

    func testDefaultsAreSAM2AutomaticMaskGenerators() {
        let o = AMGOptions(family: .sam2)
        XCTAssertEqual(o.pointsPerSide, 32); XCTAssertEqual(o.pointsPerBatch, 64)
        XCTAssertEqual(o.predIouThresh, 0.8); XCTAssertEqual(o.stabilityScoreThresh, 0.95)
        XCTAssertEqual(o.stabilityScoreOffset, 1.0); XCTAssertEqual(o.maskThreshold, 0.0); XCTAssertEqual(o.boxNmsThresh, 0.7)
        XCTAssertEqual(o.cropNLayers, 0); XCTAssertEqual(o.cropNmsThresh, 0.7)
        XCTAssertEqual(o.cropOverlapRatio, 512.0 / 1500.0); XCTAssertEqual(o.cropNPointsDownscaleFactor, 1)
        XCTAssertNil(o.pointGrids); XCTAssertEqual(o.minMaskRegionArea, 0); XCTAssertEqual(o.outputMode, .binaryMask)
        XCTAssertFalse(o.useM2M); XCTAssertTrue(o.multimaskOutput)
        // the v1 defaults are unchanged
        XCTAssertEqual(AMGOptions(family: .sam), AMGOptions())
        XCTAssertEqual(AMGOptions().predIouThresh, 0.88)
    }

    func testSAM2OnlyOptionsAreRefusedForV1() {
        for change in [{ (o: inout AMGOptions) in o.useM2M = true }, { $0.multimaskOutput = false }, { $0.maskThreshold = 0.5 }] {
            var o = AMGOptions()
            change(&o)
            XCTAssertNoThrow(try o.validate(for: .sam2))
            XCTAssertThrowsError(try o.validate(for: .sam)) { e in
                XCTAssertTrue("\(e)".contains("SAM2AutomaticMaskGenerator"), "\(e)")
            }
        }
        var o = AMGOptions(family: .sam2)
        o.maskThreshold = .nan
        XCTAssertThrowsError(try o.validate(for: .sam2))
    }

    func testHolesAndSprinklesOfTheLowResLogits() {
        // 6×6 logits: a 1-pixel hole in the corner, a 2-pixel hole inside the foreground, a 1-pixel island; areas ≤ 2
        // are cleaned (holes → 10, islands → −10), the large regions are kept
        let f: Float = 1, b: Float = -1
        var plane: [Float] = [b, f, f, f, b, b,
                              f, f, f, f, b, b,
                              f, b, b, f, b, b,
                              f, f, f, f, b, f,
                              b, b, b, b, b, b,
                              b, b, b, b, b, b]
        let before = plane
        fillHolesAndSprinkles(&plane, side: 6, maxHoleArea: 2, maxSprinkleArea: 2)
        var expected = before
        for i in [0, 13, 14] { expected[i] = 10 }
        expected[23] = -10
        XCTAssertEqual(plane, expected)
        // areas are inclusive (≤); a zero area leaves its half alone
        var p2 = before
        fillHolesAndSprinkles(&p2, side: 6, maxHoleArea: 1, maxSprinkleArea: 0)
        var e2 = before
        e2[0] = 10
        XCTAssertEqual(p2, e2)
    }

    // MARK: - sam auto

    /// `sam auto` with the tiny SAM 2.1 (its sizes in a --model-config file) on image_small.png.
    func runAuto(_ flags: [String], out: String) throws -> ProcessResult {
        try runSam(["auto", "--checkpoint", Paths.fixture("sam2/sam2.1_tiny_random.pt"), "--model-config", Self.tinyConfigPath,
                           "--image", Paths.fixture("reference/image_small.png"), "--out", out + "/out"] + flags)
    }

    func testCommandTakesSAM2DefaultsAndMatchesTheLibrary() throws {
        let dir = try temporaryFolder(self)
        // left out, the thresholds are SAM2AutomaticMaskGenerator's: pred_iou_thresh 0.8 keeps none of the random
        // model's masks (predicted IoU ≈ 0.5)
        var r = try runAuto(["--points-per-side", "2"], out: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("SAM2AutomaticMaskGenerator(model, points_per_side=2, points_per_batch=64, pred_iou_thresh=0.8, "
                                        + "stability_score_thresh=0.95, stability_score_offset=1.0, mask_threshold=0.0, box_nms_thresh=0.7,"),
                      r.stderr)
        XCTAssertTrue(r.stderr.contains("use_m2m=False, multimask_output=True)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("image_small.png: 0 masks"), r.stderr)
        // flags given win; the SA-1B records equal the library's
        let flags = ["--points-per-side", "4", "--points-per-batch", "5", "--pred-iou-thresh", "0.5", "--stability-score-thresh", "0.5",
                     "--stability-score-offset", "0.0002", "--box-nms-thresh", "1", "--use-m2m", "--mask-threshold", "0.0001"]
        r = try runAuto(flags, out: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("pred_iou_thresh=0.5, stability_score_thresh=0.5, stability_score_offset=0.0002, mask_threshold=0.0001, "
                                        + "box_nms_thresh=1.0,"), r.stderr)
        XCTAssertTrue(r.stderr.contains("min_mask_region_area=0, output_mode='coco_rle', use_m2m=True, multimask_output=True)"), r.stderr)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/image_small.json"))) as? [String: Any])
        let anns = try XCTUnwrap(doc["annotations"] as? [[String: Any]])

        var o = AMGOptions(family: .sam2)
        o.pointsPerSide = 4; o.pointsPerBatch = 5; o.predIouThresh = 0.5; o.stabilityScoreThresh = 0.5; o.stabilityScoreOffset = 0.0002
        o.boxNmsThresh = 1; o.useM2M = true; o.maskThreshold = 0.0001; o.outputMode = .cocoRLE
        let lib = try SamAutomaticMaskGenerator(model: try Self.setup().model, options: o).generate(try ImageReader.readRGB(path: Paths.fixture("reference/image_small.png")))
        XCTAssertGreaterThan(lib.count, 0)
        XCTAssertEqual(anns.count, lib.count)
        for (i, (a, g)) in zip(anns, lib).enumerated() {
            let seg = a["segmentation"] as! [String: Any]
            XCTAssertEqual(try XCTUnwrap(RLE(cocoString: seg["counts"] as! String, height: 160, width: 120)), g.rle, "annotation \(i)")
            XCTAssertEqual(Float(AMGFixture.double(a["predicted_iou"])), g.predictedIoU, "annotation \(i)")
            XCTAssertEqual((a["point_coords"] as! [[NSNumber]])[0].map(\.doubleValue), [g.pointCoords.x, g.pointCoords.y])
        }
    }

    func testCommandRefusesSAM2OnlyFlagsForV1() throws {
        let dir = try temporaryFolder(self)
        let image = Paths.fixture("reference/image_small.png")
        // a v1 checkpoint: known once loaded, bad input (3), one line naming the flag and the file
        for flag in [["--use-m2m"], ["--no-multimask-output"], ["--mask-threshold", "0.5"]] {
            let r = try runSam(["auto", "--checkpoint", Paths.fixture("reference/tiny_random.pth"), "--image", image, "--out", dir] + flag)
            XCTAssertEqual(r.status, 3, "\(flag): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
            XCTAssertEqual(lines, ["error: \(flag[0]) is an option of SAM 2's generator; tiny_random.pth is a SAM v1 model"], r.stderr)
        }
        // a v1 --model-type: known from the command line, a usage error (64) before any model is built
        let r = try runSam(["auto", "--model-type", "vit_b", "--image", image, "--out", dir, "--use-m2m"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--use-m2m is an option of SAM 2's generator"), r.stderr)
        // values a v1 generator has anyway are accepted
        let ok = try runSam(["auto", "--checkpoint", Paths.fixture("reference/tiny_random.pth"), "--image", image, "--out", dir,
                             "--points-per-side", "2", "--multimask-output", "--mask-threshold", "0"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stderr.contains("SamAutomaticMaskGenerator(model, points_per_side=2, points_per_batch=64, pred_iou_thresh=0.88,"), ok.stderr)
    }
}
