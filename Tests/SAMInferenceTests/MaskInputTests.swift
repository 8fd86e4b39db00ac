// Mask inputs of `sam segment --mask-input`: an earlier run's low_res_logits.h5 (default: the highest predicted IoU)
// or a binary PNG converted to logits by the documented rule (MaskInput.fromBinaryMask).
import Foundation
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class MaskInputTests: XCTestCase {
    /// Worked by hand. Image 6 wide × 4 high, model input S = 8, low-res M = 4.
    /// Resize: scale 8/6, new size 5 high (int(4·8/6 + 0.5) = 5) × 8 wide. Cell centres (j + ½)·S/M = 1, 3, 5, 7.
    /// Rows i = 2, 3 (centre y 5, 7 ≥ 5) lie in the padding: −10. Columns map to x = ⌊c·6/8⌋ = 0, 2, 3, 5; rows 0, 1
    /// map to y = ⌊c·4/5⌋ = 0, 2. So cell (0, 1) reads pixel (x 2, y 0), cell (1, 3) reads pixel (x 5, y 2); pixel
    /// (1, 1) is read by no cell.
    func testBinaryMaskByHand() {
        var mask = [UInt8](repeating: 0, count: 6 * 4)
        mask[0 * 6 + 2] = 255   // (x 2, y 0)
        mask[2 * 6 + 5] = 1     // (x 5, y 2): any non-zero value is inside
        mask[1 * 6 + 1] = 255   // (x 1, y 1): between the sampled pixels
        let t = MaskInput.fromBinaryMask(mask, width: 6, height: 4, imageSize: 8, lowRes: 4)
        XCTAssertEqual(t.shape, [1, 4, 4])
        XCTAssertEqual(t.data, [-10, 10, -10, -10,
                                -10, -10, -10, 10,
                                -10, -10, -10, -10,
                                -10, -10, -10, -10])
        XCTAssertEqual(MaskInput.binaryLogit, 10)
    }

    /// A full mask on the tiny model's 120×160 image: 128 input → 96 × 128 resized; columns j with (j + ½)·4 < 96, i.e.
    /// j ≤ 23, are inside; the other 8 of 32 columns are padding.
    func testFullMaskMarksExactlyTheResizedImage() {
        let t = MaskInput.fromBinaryMask([UInt8](repeating: 1, count: 120 * 160), width: 120, height: 160, imageSize: 128, lowRes: 32)
        XCTAssertEqual(t.shape, [1, 32, 32])
        XCTAssertEqual(t.data.filter { $0 == 10 }.count, 24 * 32)
        for i in 0..<32 {
            XCTAssertEqual(t.data[i * 32 + 23], 10)
            XCTAssertEqual(t.data[i * 32 + 24], -10)
        }
    }

    /// A landscape image pads at the bottom: a mask covering the top half of a 200×100 image at S = 64, M = 16.
    /// Resized 64 × 32; rows with centre (i + ½)·4 < 32 (i ≤ 7) are image, mapped to y = ⌊c·100/32⌋: row 3 (c 14) →
    /// y 43 (inside), row 4 (c 18) → y 56 (outside).
    func testLandscapeTopHalf() {
        var mask = [UInt8](repeating: 0, count: 200 * 100)
        for y in 0..<50 { for x in 0..<200 { mask[y * 200 + x] = 255 } }
        let t = MaskInput.fromBinaryMask(mask, width: 200, height: 100, imageSize: 64, lowRes: 16)
        for i in 0..<16 {
            let expected: Float = i <= 3 ? 10 : -10
            XCTAssertEqual(Array(t.data[(i * 16)..<((i + 1) * 16)]), [Float](repeating: expected, count: 16), "row \(i)")
        }
    }

    func writeLogits(_ planes: [Float], m: Int, iou: [Float]?) throws -> String {
        let path = (try temporaryFolder(self) as NSString).appendingPathComponent("low_res_logits.h5")
        let f = try HDF5File.create(path: path)
        try f.write("low_res_logits", Tensor(shape: [planes.count, m, m]) { p in
            for k in planes.indices { for i in 0..<(m * m) { p[k * m * m + i] = planes[k] + Float(i) / 1000 } }
        })
        if let iou { try f.write("iou_predictions", Tensor(shape: [iou.count], data: iou)) }
        try f.close()
        return path
    }

    func testLogitsFilePicksHighestIoUByDefault() throws {
        let path = try writeLogits([0, 1, 2], m: 8, iou: [0.2, 0.7, 0.3])
        let t = try MaskInput.fromLogitsFile(path, index: nil, expectedSize: 8)
        XCTAssertEqual(t.shape, [1, 8, 8])
        XCTAssertEqual(t.data[0], 1)
        XCTAssertEqual(t.data[63], 1.063, accuracy: 1e-6)
        // the last of three
        let last = try MaskInput.fromLogitsFile(try writeLogits([0, 1, 2], m: 8, iou: [0.2, 0.3, 0.9]), index: nil, expectedSize: 8)
        XCTAssertEqual(last.data[0], 2)
        // ties: the first maximum, as numpy's argmax
        let tie = try MaskInput.fromLogitsFile(try writeLogits([0, 1, 2], m: 8, iou: [0.5, 0.5, 0.1]), index: nil, expectedSize: 8)
        XCTAssertEqual(tie.data[0], 0)
    }

    func testLogitsFileExplicitIndexWins() throws {
        let path = try writeLogits([0, 1, 2], m: 8, iou: [0.2, 0.7, 0.3])
        XCTAssertEqual(try MaskInput.fromLogitsFile(path, index: 2, expectedSize: 8).data[0], 2)
        XCTAssertEqual(try MaskInput.fromLogitsFile(path, index: 0, expectedSize: 8).data[0], 0)
    }

    func testLogitsFileWithoutScoresTakesTheFirst() throws {
        let path = try writeLogits([5, 6], m: 8, iou: nil)
        XCTAssertEqual(try MaskInput.fromLogitsFile(path, index: nil, expectedSize: 8).data[0], 5)
    }

    func testLogitsFileIndexOutOfRange() throws {
        let path = try writeLogits([0, 1, 2], m: 8, iou: [0.2, 0.7, 0.3])
        for k in [3, -1] {
            XCTAssertThrowsError(try MaskInput.fromLogitsFile(path, index: k, expectedSize: 8)) {
                XCTAssertEqual("\($0)", "\(path): --mask-index \(k) but the file holds 3 masks")
            }
        }
    }

    func testLogitsFileOfAnotherSize() throws {
        let path = try writeLogits([0, 1, 2], m: 16, iou: [0.2, 0.7, 0.3])
        XCTAssertThrowsError(try MaskInput.fromLogitsFile(path, index: nil, expectedSize: 32)) {
            XCTAssertEqual("\($0)", "\(path): low_res_logits has shape [3, 16, 16], this model needs C×32×32 (the file is from a model of another size?)")
        }
    }

    func testLogitsFileWithoutTheDataset() throws {
        let path = (try temporaryFolder(self) as NSString).appendingPathComponent("other.h5")
        let f = try HDF5File.create(path: path)
        try f.write("something_else", Tensor(shape: [2], data: [1, 2]))
        try f.close()
        XCTAssertThrowsError(try MaskInput.fromLogitsFile(path, index: nil, expectedSize: 8)) {
            XCTAssertEqual($0 as? IOError, .missingDataset(path, "low_res_logits"))
        }
    }

    /// The round trip users make: a run's low_res_logits.h5 fed back gives that run's best mask, unchanged.
    func testRoundTripThroughSegmentOutput() throws {
        let predictor = try TestModels.tinyPredictor()
        let p = Prompt(points: [(64, 80), (57.5, 110.25)], labels: [1, 1])
        let pred = try predictor.predict(p)
        let dir = (try temporaryFolder(self) as NSString).appendingPathComponent("round1")
        try SegmentOutput.write(pred, prompt: p, multimask: true, image: try TestModels.tinyImage(), to: dir)
        let m = try MaskInput.fromLogitsFile((dir as NSString).appendingPathComponent("low_res_logits.h5"), index: nil, expectedSize: 32)
        let best = pred.iouPredictions.indices.max { pred.iouPredictions[$0] < pred.iouPredictions[$1] }!
        XCTAssertEqual(m.data, Array(pred.lowResLogits.data[(best * 1024)..<((best + 1) * 1024)]))
        // and the predictor accepts it as mask input
        let round2 = try predictor.predict(Prompt(points: [(64, 80)], labels: [1]), maskInput: m, multimaskOutput: false)
        XCTAssertEqual(round2.maskCount, 1)
    }
}
