// What `sam segment` writes: mask PNGs, result.json (areas, XYWH boxes as Meta's generator computes them, scores),
// low_res_logits.h5 and the overlay.
import Foundation
import SAMInference
import SAMIO
import SAMTensor
import SAMTestSupport
import XCTest

final class SegmentOutputTests: XCTestCase {
    /// Meta's `batched_mask_to_box` + `box_xyxy_to_xywh`: inclusive extremes, width x1 − x0 (not x1 − x0 + 1).
    func testMaskBoxXYWH() {
        let w = 5, h = 4
        XCTAssertEqual(maskBoxXYWH([UInt8](repeating: 0, count: w * h), width: w, height: h), [0, 0, 0, 0], "empty mask")
        var one = [UInt8](repeating: 0, count: w * h)
        one[2 * w + 3] = 1
        XCTAssertEqual(maskBoxXYWH(one, width: w, height: h), [3, 2, 0, 0], "one pixel: width and height 0")
        var m = [UInt8](repeating: 0, count: w * h)
        m[1 * w + 1] = 255; m[2 * w + 3] = 7; m[1 * w + 2] = 1
        XCTAssertEqual(maskBoxXYWH(m, width: w, height: h), [1, 1, 2, 1])
        XCTAssertEqual(maskBoxXYWH([UInt8](repeating: 1, count: w * h), width: w, height: h), [0, 0, 4, 3], "full mask")
        // an ArraySlice that does not start at 0 (Prediction.mask(k) for k > 0)
        let two = [UInt8](repeating: 0, count: w * h) + m
        XCTAssertEqual(maskBoxXYWH(two[(w * h)...], width: w, height: h), [1, 1, 2, 1])
    }

    typealias Result = SegmentResultFile

    func testWrittenFilesDescribeThePrediction() throws {
        let predictor = try TestModels.tinyPredictor()
        let image = try TestModels.tinyImage()
        let prompt = Prompt(points: [(64, 80), (10, 150)], labels: [1, 0], box: (30, 28, 99, 159))
        let pred = try predictor.predict(prompt)
        let dir = (try temporaryFolder(self) as NSString).appendingPathComponent("out")
        try SegmentOutput.write(pred, prompt: prompt, multimask: true, image: image, to: dir)
        func file(_ n: String) -> String { (dir as NSString).appendingPathComponent(n) }

        let r = try JSONDecoder().decode(Result.self, from: Data(contentsOf: URL(fileURLWithPath: file("result.json"))))
        XCTAssertEqual(r.iou_predictions, pred.iouPredictions)
        XCTAssertEqual(r.masks.map(\.file), ["mask_0.png", "mask_1.png", "mask_2.png"])
        XCTAssertTrue(r.multimask)
        XCTAssertEqual(r.prompt, PromptSpec(points: [[64, 80], [10, 150]], labels: [1, 0], box: [30, 28, 99, 159], multimask: true))
        for k in 0..<3 {
            let png = try ImageReader.readLabels(path: file("mask_\(k).png"))
            XCTAssertEqual(png.width, 120)
            XCTAssertEqual(png.height, 160)
            XCTAssertEqual(png.values, pred.mask(k).map { $0 != 0 ? 255 : 0 }, "mask \(k) PNG is the prediction, 0/255")
            XCTAssertEqual(r.masks[k].area, pred.mask(k).reduce(0) { $0 + Int($1) })
            XCTAssertEqual(r.masks[k].bbox, maskBoxXYWH(pred.mask(k), width: 120, height: 160))
        }
        let h5 = try HDF5File.open(path: file("low_res_logits.h5"))
        XCTAssertEqual(try h5.readTensor("low_res_logits").data, pred.lowResLogits.data)
        XCTAssertEqual(try h5.shape(of: "low_res_logits"), [3, 32, 32])
        XCTAssertEqual(try h5.readTensor("iou_predictions").data, pred.iouPredictions)
        try h5.close()

        let overlay = try ImageReader.readRGB(path: file("overlay.png"))
        XCTAssertEqual(overlay.width, 120)
        XCTAssertEqual(overlay.height, 160)
        func px(_ x: Int, _ y: Int) -> [UInt8] { Array(overlay.pixels[((y * 120 + x) * 3)..<((y * 120 + x) * 3 + 3)]) }
        XCTAssertEqual(px(64, 80), [0, 200, 0], "positive point: green star centre")
        XCTAssertEqual(px(10, 150), [220, 0, 0], "negative point: red star centre")
        XCTAssertEqual(px(30, 100), [0, 200, 0], "box: green left edge")
        XCTAssertEqual(px(99, 60), [0, 200, 0], "box: green right edge")
        XCTAssertNotEqual(overlay.pixels, image.pixels)
    }

    /// The score caption and the prompt marks must fit (or be clipped) on images smaller than the caption.
    func testOverlayOnTinyImages() throws {
        let dir = try temporaryFolder(self)
        let predictor = SamPredictor(model: try TestModels.tinyRandom())
        for (w, h) in [(40, 30), (3, 2), (1, 1), (200, 5)] {
            let image = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { UInt8($0 % 251) })
            predictor.setImage(image)
            let prompt = Prompt(points: [(0, 0), (Float(w) - 0.5, Float(h) - 0.5)], labels: [1, 0], box: (0, 0, Float(w), Float(h)))
            let pred = try predictor.predict(prompt)
            let out = (dir as NSString).appendingPathComponent("\(w)x\(h)")
            try SegmentOutput.write(pred, prompt: prompt, multimask: true, image: image, to: out)
            let o = try ImageReader.readRGB(path: (out as NSString).appendingPathComponent("overlay.png"))
            XCTAssertEqual([o.width, o.height], [w, h])
            XCTAssertEqual(try ImageReader.readLabels(path: (out as NSString).appendingPathComponent("mask_2.png")).values.count, w * h)
        }
    }
}
