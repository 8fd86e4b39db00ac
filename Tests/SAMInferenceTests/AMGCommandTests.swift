// `sam auto` end to end on the tiny reference model (128² input, fast in a debug build): both output layouts, a folder
// of images, the records equal to the library's, and the command-line and bad-input failures with their status.
import Foundation
@testable import SAMInference
import SAMIO
import SAMTestSupport
import XCTest

final class AMGCommandTests: XCTestCase {
    var ckpt: String { Paths.fixture("reference/tiny_random.pth") }
    var image: String { Paths.fixture("reference/image_small.png") }
    /// The random model's IoU head is near 0 and its logits soft: with the filters off every grid point gives masks.
    let lowered = ["--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0", "--box-nms-thresh", "0.95"]

    func testSA1BJsonMatchesTheLibrary() throws {
        let dir = try temporaryFolder(self)
        let r = try runSam(["auto", "--checkpoint", ckpt, "--image", image, "--out", dir] + lowered)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("1/1 image_small.png"), "progress line: \(r.stderr)")
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/image_small.json"))) as? [String: Any])
        let img = try XCTUnwrap(doc["image"] as? [String: Any])
        XCTAssertEqual(img["file_name"] as? String, "image_small.png")
        XCTAssertEqual(img["width"] as? Int, 120)
        XCTAssertEqual(img["height"] as? Int, 160)
        let anns = try XCTUnwrap(doc["annotations"] as? [[String: Any]])

        var o = AMGOptions()
        o.pointsPerSide = 4; o.predIouThresh = 0; o.stabilityScoreThresh = 0; o.boxNmsThresh = 0.95; o.outputMode = .cocoRLE
        let lib = try SamAutomaticMaskGenerator(model: try SamLoader.load(checkpoint: ckpt), options: o)
            .generate(try ImageReader.readRGB(path: image))
        XCTAssertGreaterThan(lib.count, 0)
        XCTAssertEqual(anns.count, lib.count)
        for (i, (a, g)) in zip(anns, lib).enumerated() {
            XCTAssertEqual(Set(a.keys), ["id", "segmentation", "area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box"])
            let seg = a["segmentation"] as! [String: Any]
            XCTAssertEqual(AMGFixture.ints(seg["size"]), [160, 120])
            let rle = try XCTUnwrap(RLE(cocoString: seg["counts"] as! String, height: 160, width: 120))
            XCTAssertEqual(rle, g.rle, "annotation \(i)")
            XCTAssertEqual(AMGFixture.int(a["area"]), rle.area)
            XCTAssertEqual(AMGFixture.ints(a["bbox"]), g.bbox)
            XCTAssertEqual(AMGFixture.ints(a["crop_box"]), [0, 0, 120, 160])
            XCTAssertEqual(Float(AMGFixture.double(a["predicted_iou"])), g.predictedIoU, "float32 through JSON")
        }
    }

    func testFolderOfImagesInAmgLayout() throws {
        let src = try temporaryFolder(self), dir = try temporaryFolder(self)
        try FileManager.default.copyItem(atPath: image, toPath: src + "/b.png")
        try FileManager.default.copyItem(atPath: image, toPath: src + "/a.PNG")
        try Data("not an image list".utf8).write(to: URL(fileURLWithPath: src + "/notes.txt"))
        let r = try runSam(["auto", "--checkpoint", ckpt, "--images", src, "--out", dir, "--format", "amg"] + lowered)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("1/2 a.PNG") && r.stderr.contains("2/2 b.png"), r.stderr)
        for stem in ["a", "b"] {
            let csv = try String(contentsOfFile: "\(dir)/\(stem)/metadata.csv", encoding: .utf8).split(separator: "\n").map(String.init)
            XCTAssertEqual(csv[0], "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,crop_box_x0,crop_box_y0,crop_box_w,crop_box_h")
            XCTAssertGreaterThan(csv.count, 1)
            for (i, row) in csv.dropFirst().enumerated() {
                let f = row.split(separator: ",")
                XCTAssertEqual(f.count, 14)
                XCTAssertEqual(String(f[0]), "\(i)")
                let m = try ImageReader.readLabels(path: "\(dir)/\(stem)/\(i).png")
                XCTAssertEqual([m.width, m.height], [120, 160])
                XCTAssertEqual(m.values.filter { $0 == 255 }.count, Int(f[1])!, "mask \(i) area")
                XCTAssertTrue(m.values.allSatisfy { $0 == 0 || $0 == 255 })
            }
            let ov = try ImageReader.readRGB(path: "\(dir)/\(stem)/overlay.png")
            XCTAssertEqual([ov.width, ov.height], [120, 160])
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("partial") || $0.contains(".tmp") }
        XCTAssertEqual(left, [], "staging folders left behind")
    }

    func testCommandLineErrorsAreUsageErrors() throws {
        let dir = try temporaryFolder(self)
        for args in [["--out", dir],                                               // neither --image nor --images
                     ["--image", image, "--images", dir, "--out", dir],           // both
                     ["--image", image, "--out", dir, "--output-mode", "binary_mask"],  // bitmaps do not go in JSON
                     ["--image", image, "--out", dir, "--format", "amg", "--output-mode", "coco_rle"],
                     ["--image", image, "--out", dir, "--output-mode", "rle"],
                     ["--image", image, "--out", dir, "--points-per-batch", "0"],
                     ["--image", image, "--out", dir, "--points-per-side", "3", "--crop-n-layers", "2",
                      "--crop-n-points-downscale-factor", "2"]] {
            let r = try runSam(["auto", "--checkpoint", ckpt] + args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
        }
    }

    func testBadInputsExitThree() throws {
        let dir = try temporaryFolder(self), src = try temporaryFolder(self)
        var r = try runSam(["auto", "--checkpoint", dir + "/missing.pth", "--image", image, "--out", dir])
        XCTAssertEqual(r.status, 3, r.stderr)
        r = try runSam(["auto", "--checkpoint", ckpt, "--image", dir + "/missing.png", "--out", dir])
        XCTAssertEqual(r.status, 3, r.stderr)
        try FileManager.default.copyItem(atPath: image, toPath: src + "/x.png")
        try FileManager.default.copyItem(atPath: image, toPath: src + "/x.bmp.png")
        try FileManager.default.copyItem(atPath: image, toPath: src + "/x.PNG")
        r = try runSam(["auto", "--checkpoint", ckpt, "--images", src, "--out", dir])
        XCTAssertEqual(r.status, 3, "two images with one stem: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("x.PNG") && r.stderr.contains("x.png"), r.stderr)
        try Data("[[[0.5, 0.5]], [[1.5, 0.5]]]".utf8).write(to: URL(fileURLWithPath: dir + "/grid.json"))
        r = try runSam(["auto", "--checkpoint", ckpt, "--image", image, "--out", dir, "--point-grids", dir + "/grid.json", "--crop-n-layers", "1"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("outside [0, 1]"), r.stderr)
        try Data("[[[0.5, 0.5]] oops".utf8).write(to: URL(fileURLWithPath: dir + "/bad.json"))
        r = try runSam(["auto", "--checkpoint", ckpt, "--image", image, "--out", dir, "--point-grids", dir + "/bad.json"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("bad.json"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") && !["grid.json", "bad.json"].contains($0) }, [])
    }

    func testPointGridsParser() throws {
        XCTAssertEqual(try AMGPointGrids.parse(" [[[0.1, 0.30000000000000004]], [] ] "), [[AMGPoint(0.1, 0.30000000000000004)], []])
        XCTAssertEqual(try AMGPointGrids.parse("[[[1e-1,2E-1]]]"), [[AMGPoint(0.1, 0.2)]])
        for bad in ["", "[", "[[[0.1]]]", "[[[0.1, 0.2, 0.3]]]", "[[0.1, 0.2]]", "[[[0.1, nan]]]", "[[[0.1, 0.2]]] x", "{}"] {
            XCTAssertThrowsError(try AMGPointGrids.parse(bad), bad)
        }
    }
}
