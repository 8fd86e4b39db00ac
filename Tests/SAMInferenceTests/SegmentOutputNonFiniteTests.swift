// `sam segment`'s result.json with a non-finite score (a model whose activations overflowed): written as null with
// a warning naming the file and the field, the rest of the folder written as usual — never a crash.
import Foundation
@testable import SAMInference
import SAMIO
import SAMTensor
import SAMTestSupport
import XCTest

final class SegmentOutputNonFiniteTests: XCTestCase {
    func testNonFiniteIoUIsWrittenAsNullWithAWarning() throws {
        let dir = (try temporaryFolder(self) as NSString).appendingPathComponent("out")
        let (w, h) = (5, 4)
        var masks = [UInt8](repeating: 0, count: 3 * w * h)
        masks[w * h + 7] = 1
        let pred = Prediction(masks: masks, maskCount: 3, height: h, width: w, iouPredictions: [0.75, .nan, .infinity],
                              lowResLogits: Tensor(shape: [3, 8, 8], repeating: 0))
        var warnings: [String] = []
        let saved = JSONNumbers.warn
        JSONNumbers.warn = { warnings.append($0) }
        defer { JSONNumbers.warn = saved }
        try SegmentOutput.write(pred, prompt: Prompt(points: [(1, 1)], labels: [1]), multimask: true,
                                image: RGBImage(width: w, height: h, pixels: [UInt8](repeating: 90, count: w * h * 3)), to: dir)
        let result = (dir as NSString).appendingPathComponent("result.json")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: result))) as? [String: Any])
        let iou = try XCTUnwrap(json["iou_predictions"] as? [Any])
        XCTAssertEqual(iou.count, 3)
        XCTAssertEqual(iou[0] as? Double, 0.75)
        XCTAssertTrue(iou[1] is NSNull && iou[2] is NSNull, "\(iou)")
        XCTAssertEqual((json["masks"] as? [[String: Any]])?.map { $0["area"] as? Int }, [0, 1, 0])
        XCTAssertEqual(warnings, ["\(result): iou_predictions[1] is nan, written as null (JSON has no nan)",
                                  "\(result): iou_predictions[2] is inf, written as null (JSON has no inf)"])
        for f in ["mask_0.png", "mask_2.png", "low_res_logits.h5", "overlay.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(f)), f)
        }
    }
}
