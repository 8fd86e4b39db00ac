// Box NMS against torchvision's batched_nms on hand-made boxes, ties included (Tests/Fixtures/amg/nms.json).
import Foundation
import SAMInference
import XCTest

final class AMGNMSTests: XCTestCase {
    func testMatchesTorchvision() throws {
        let cases = try AMGFixture.cases("nms.json")
        XCTAssertEqual(cases.count, 11)
        for c in cases {
            let boxes = (c["boxes"] as! [[NSNumber]]).map { NMSBox($0[0].floatValue, $0[1].floatValue, $0[2].floatValue, $0[3].floatValue) }
            let scores = AMGFixture.doubles(c["scores"]).map { Float($0) }
            let keep = batchedNMS(boxes: boxes, scores: scores, iouThreshold: AMGFixture.double(c["iou_threshold"]))
            XCTAssertEqual(keep, AMGFixture.ints(c["keep"]), c["note"] as! String)
        }
    }

    func testTiesKeepInputOrderByHand() {
        let b = [NMSBox(0, 0, 10, 10), NMSBox(50, 50, 60, 60), NMSBox(20, 20, 30, 30)]
        XCTAssertEqual(nms(boxes: b, scores: [1, 1, 1], iouThreshold: 0.5), [0, 1, 2])
        XCTAssertEqual(nms(boxes: b, scores: [1, 2, 1], iouThreshold: 0.5), [1, 0, 2])
    }

    func testAreaHasNoPlusOne() {
        // [0,0,10,10] vs [0,0,10,5]: IoU 50/100 = 0.5 exactly with areas (x1−x0)(y1−y0); with +1 it would be 66/121
        let b = [NMSBox(0, 0, 10, 10), NMSBox(0, 0, 10, 5)]
        XCTAssertEqual(nms(boxes: b, scores: [0.9, 0.8], iouThreshold: 0.5), [0, 1])
        XCTAssertEqual(nms(boxes: b, scores: [0.9, 0.8], iouThreshold: 0.4999), [0])
        XCTAssertEqual(nms(boxes: b, scores: [0.9, 0.8], iouThreshold: 0.54), [0, 1])
    }

    func testEmpty() {
        XCTAssertEqual(batchedNMS(boxes: [], scores: [], iouThreshold: 0.7), [])
    }
}
