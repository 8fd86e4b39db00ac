// SamPredictor on the tiny reference model: prompt validation (every error and its message), batches equal to
// single calls, and the public predict API against the dumps Meta's code wrote (Tests/Fixtures/reference/tiny_*.h5).
import Foundation
import SAMEval
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class PredictorTests: XCTestCase {
    // MARK: validate

    func assertRejects(_ p: Prompt, maskInput: Tensor? = nil, _ expected: PromptError, _ text: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let predictor = try TestModels.tinyPredictor()
        XCTAssertThrowsError(try predictor.validate(p, maskInput: maskInput), file: file, line: line) {
            XCTAssertEqual($0 as? PromptError, expected, file: file, line: line)
            XCTAssertEqual("\($0)", text, file: file, line: line)
        }
        // predict refuses it too, before running anything
        XCTAssertThrowsError(try predictor.predict(p, maskInput: maskInput), file: file, line: line)
    }

    func testPointOutsideTheImage() throws {
        // image_small.png is 120 wide, 160 high; x = 120 is one past the last column
        try assertRejects(Prompt(points: [(120, 5)], labels: [1]), .pointOutside(x: 120, y: 5, width: 120, height: 160),
                          "point (120.0, 5.0) lies outside the 120×160 image (valid x in 0..<120, y in 0..<160)")
        try assertRejects(Prompt(points: [(5, 5), (3, -0.5)], labels: [1, 0]), .pointOutside(x: 3, y: -0.5, width: 120, height: 160),
                          "point (3.0, -0.5) lies outside the 120×160 image (valid x in 0..<120, y in 0..<160)")
        try assertRejects(Prompt(points: [(5, 160)], labels: [1]), .pointOutside(x: 5, y: 160, width: 120, height: 160),
                          "point (5.0, 160.0) lies outside the 120×160 image (valid x in 0..<120, y in 0..<160)")
        // the last pixel and fractional positions inside are fine
        XCTAssertNoThrow(try TestModels.tinyPredictor().validate(Prompt(points: [(119.9, 159.9), (0, 0)], labels: [1, 0]), maskInput: nil))
    }

    func testNonFinitePointIsOutside() throws {
        let predictor = try TestModels.tinyPredictor()
        XCTAssertThrowsError(try predictor.validate(Prompt(points: [(.nan, 5)], labels: [1]), maskInput: nil)) {
            guard case .pointOutside = $0 as? PromptError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try predictor.validate(Prompt(points: [(5, .infinity)], labels: [1]), maskInput: nil))
    }

    func testInvertedBox() throws {
        try assertRejects(Prompt(box: (50, 10, 40, 60)), .boxInverted(x0: 50, y0: 10, x1: 40, y1: 60),
                          "box (50.0, 10.0, 40.0, 60.0) has x1 < x0 or y1 < y0")
        try assertRejects(Prompt(box: (10, 60, 40, 59)), .boxInverted(x0: 10, y0: 60, x1: 40, y1: 59),
                          "box (10.0, 60.0, 40.0, 59.0) has x1 < x0 or y1 < y0")
        // a degenerate (zero-width) box and one reaching the far edges are allowed
        XCTAssertNoThrow(try TestModels.tinyPredictor().validate(Prompt(box: (40, 10, 40, 60)), maskInput: nil))
        XCTAssertNoThrow(try TestModels.tinyPredictor().validate(Prompt(box: (0, 0, 120, 160)), maskInput: nil))
    }

    func testBoxOutside() throws {
        try assertRejects(Prompt(box: (0, 0, 121, 160)), .boxOutside(x0: 0, y0: 0, x1: 121, y1: 160, width: 120, height: 160),
                          "box (0.0, 0.0, 121.0, 160.0) lies outside the 120×160 image")
    }

    func testEmptyPrompt() throws {
        try assertRejects(Prompt(), .empty, "empty prompt: give at least one point or a box")
        // a mask input alone is a prompt (Meta's predict accepts it)
        XCTAssertNoThrow(try TestModels.tinyPredictor().validate(Prompt(), maskInput: Tensor(shape: [1, 32, 32])))
    }

    func testLabelsMismatch() throws {
        try assertRejects(Prompt(points: [(5, 5), (6, 6)], labels: [1]), .labelsMismatch(points: 2, labels: 1), "2 points but 1 labels")
        try assertRejects(Prompt(points: [(5, 5)], labels: [1, 0]), .labelsMismatch(points: 1, labels: 2), "1 points but 2 labels")
    }

    func testBadLabel() throws {
        try assertRejects(Prompt(points: [(5, 5)], labels: [2]), .badLabel(2), "point label 2 is not 0 (negative) or 1 (positive)")
        try assertRejects(Prompt(points: [(5, 5)], labels: [-1]), .badLabel(-1), "point label -1 is not 0 (negative) or 1 (positive)")
    }

    func testWrongMaskInputSize() throws {
        try assertRejects(Prompt(points: [(5, 5)], labels: [1]), maskInput: Tensor(shape: [1, 16, 16]),
                          .maskInputShape(expected: [1, 32, 32], found: [1, 16, 16]), "mask input has shape [1, 16, 16], expected [1, 32, 32]")
        try assertRejects(Prompt(points: [(5, 5)], labels: [1]), maskInput: Tensor(shape: [3, 32, 32]),
                          .maskInputShape(expected: [1, 32, 32], found: [3, 32, 32]), "mask input has shape [3, 32, 32], expected [1, 32, 32]")
        for ok in [[1, 1, 32, 32], [1, 32, 32], [32, 32]] {
            XCTAssertNoThrow(try TestModels.tinyPredictor().validate(Prompt(points: [(5, 5)], labels: [1]), maskInput: Tensor(shape: ok)))
        }
    }

    func testNoImage() throws {
        let p = SamPredictor(model: try TestModels.tinyRandom())
        XCTAssertThrowsError(try p.validate(Prompt(points: [(5, 5)], labels: [1]), maskInput: nil)) {
            XCTAssertEqual($0 as? PromptError, .noImage)
            XCTAssertEqual("\($0)", "no image set: call setImage first")
        }
    }

    /// One bad prompt stops the whole batch before the decoder runs.
    func testBatchValidatesEveryPrompt() throws {
        let ps = [Prompt(points: [(5, 5)], labels: [1]), Prompt(points: [(500, 5)], labels: [1])]
        XCTAssertThrowsError(try TestModels.tinyPredictor().predictBatch(ps)) {
            XCTAssertEqual($0 as? PromptError, .pointOutside(x: 500, y: 5, width: 120, height: 160))
        }
    }

    /// A batch the decoder cannot take is an error, not a trap (the prompt encoder has a precondition).
    func testBatchOfMismatchedPrompts() throws {
        let predictor = try TestModels.tinyPredictor()
        let one = Prompt(points: [(5, 5)], labels: [1]), two = Prompt(points: [(5, 5), (6, 6)], labels: [1, 0])
        XCTAssertThrowsError(try predictor.predictBatch([one, two])) {
            XCTAssertEqual("\($0)", "prompts cannot share one batch: prompt 1 has 2 points, prompt 0 1: give every prompt of a batch "
                           + "the same number of points, all or none a box")
        }
        XCTAssertThrowsError(try predictor.predictBatch([Prompt(box: (1, 1, 9, 9)), Prompt(points: [(5, 5)], labels: [1], box: (1, 1, 9, 9))]))
        XCTAssertThrowsError(try predictor.predictBatch([one, one], maskInputs: [Tensor(shape: [1, 32, 32])])) {
            XCTAssertEqual($0 as? PromptError, .batchMismatch("1 mask inputs for 2 prompts"))
        }
        XCTAssertEqual(try predictor.predictBatch([]).count, 0)
    }

    // MARK: batches

    /// Compares a batch result with single calls: masks, IoUs and logits. Returns the worst mask agreement.
    @discardableResult
    func assertBatchEqualsSingles(_ prompts: [Prompt], maskInputs: [Tensor]? = nil, multimask: Bool, minAgreement: Double,
                                  predictor: SamPredictor, file: StaticString = #filePath, line: UInt = #line) throws -> Double {
        let batch = try predictor.predictBatch(prompts, maskInputs: maskInputs, multimaskOutput: multimask)
        XCTAssertEqual(batch.count, prompts.count, file: file, line: line)
        var same = 0, total = 0, worst = 1.0
        for (i, p) in prompts.enumerated() {
            let single = try predictor.predict(p, maskInput: maskInputs?[i], multimaskOutput: multimask)
            XCTAssertEqual(batch[i].maskCount, multimask ? 3 : 1, file: file, line: line)
            XCTAssertEqual(batch[i].maskCount, single.maskCount, file: file, line: line)
            let a = agreement(batch[i].masks, single.masks)
            worst = min(worst, a)
            same += zip(batch[i].masks, single.masks).filter { $0 == $1 }.count
            total += single.masks.count
            let scale = max(1e-3, single.lowResLogits.data.map { abs($0) }.max() ?? 0)
            XCTAssertLessThanOrEqual(maxAbsDiff(batch[i].lowResLogits.data, single.lowResLogits.data), 1e-5 * scale,
                                     "prompt \(i): low-res logits", file: file, line: line)
            XCTAssertLessThanOrEqual(maxAbsDiff(batch[i].iouPredictions, single.iouPredictions), 1e-6, "prompt \(i): IoU", file: file, line: line)
        }
        XCTAssertGreaterThanOrEqual(Double(same) / Double(total), minAgreement, "pixels of the batch equal to single calls",
                                    file: file, line: line)
        return worst
    }

    func testBatchEqualsSingleCalls() throws {
        let predictor = try TestModels.tinyPredictor()
        let twoPoints = [Prompt(points: [(64, 80), (57.5, 110.25)], labels: [1, 1]),
                         Prompt(points: [(64, 80), (10, 20)], labels: [1, 0]),
                         Prompt(points: [(100, 150), (3, 3)], labels: [0, 1]),
                         Prompt(points: [(0, 0), (119, 159)], labels: [1, 1])]
        try assertBatchEqualsSingles(twoPoints, multimask: true, minAgreement: 0.9999, predictor: predictor)
        try assertBatchEqualsSingles(twoPoints, multimask: false, minAgreement: 0.9999, predictor: predictor)
        let boxes = [Prompt(box: (30, 28, 99, 159)), Prompt(box: (0, 0, 120, 160)), Prompt(box: (10, 10, 11, 12))]
        try assertBatchEqualsSingles(boxes, multimask: false, minAgreement: 0.9999, predictor: predictor)
        let boxPoints = [Prompt(points: [(64, 80)], labels: [1], box: (30, 28, 99, 159)),
                         Prompt(points: [(20, 30)], labels: [0], box: (5, 5, 60, 70))]
        try assertBatchEqualsSingles(boxPoints, multimask: true, minAgreement: 0.9999, predictor: predictor)
        // a different mask input for each prompt
        let masks = (0..<3).map { k in Tensor(shape: [1, 32, 32]) { p in for i in p.indices { p[i] = Float((i * (k + 3)) % 17) - 8 } } }
        let withMasks = [Prompt(points: [(64, 80)], labels: [1]), Prompt(points: [(30, 40)], labels: [1]), Prompt(points: [(90, 10)], labels: [0])]
        try assertBatchEqualsSingles(withMasks, maskInputs: masks, multimask: false, minAgreement: 0.9999, predictor: predictor)
    }

    /// Issue 3's batch acceptance on the tiny model: 64 one-point prompts in one call against 64 calls.
    func testSixtyFourPromptBatch() throws {
        let predictor = try TestModels.tinyPredictor()
        let prompts = (0..<64).map { (k: Int) -> Prompt in
            let x = Float(3 + (k % 8) * 16), y = Float(4 + (k / 8) * 20)
            return Prompt(points: [(x, y)], labels: [1])
        }
        let worst = try assertBatchEqualsSingles(prompts, multimask: true, minAgreement: 0.9999, predictor: predictor)
        XCTAssertGreaterThanOrEqual(worst, 0.999, "the worst single prompt")
    }

    // MARK: the predictor API against Meta's dumps

    /// `setImage` + `predict` from a dump's inputs give the dump's outputs (Meta's `SamPredictor.predict`).
    func checkAgainstDump(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try HDF5File.open(path: Paths.fixture("reference/\(name).h5"))
        defer { try? f.close() }
        let img = try f.readUInt8("inputs/image")
        let predictor = SamPredictor(model: try TestModels.tinyRandom())
        predictor.setImage(RGBImage(width: img.shape[1], height: img.shape[0], pixels: img.values))
        let (p, mask, multimask) = try DumpCase.readPrompt(f, group: "inputs")
        let pred = try predictor.predict(p, maskInput: mask, multimaskOutput: multimask)

        let masks = try f.readUInt8("outputs/masks")
        XCTAssertEqual(masks.shape, [pred.maskCount, pred.height, pred.width], file: file, line: line)
        XCTAssertGreaterThanOrEqual(agreement(pred.masks, masks.values), 0.999, "\(name): mask pixels", file: file, line: line)
        let iou = try f.readTensor("outputs/iou_predictions").data
        XCTAssertLessThanOrEqual(maxAbsDiff(pred.iouPredictions, iou), 1e-4, "\(name): IoU \(pred.iouPredictions) vs \(iou)", file: file, line: line)
        assertClose(pred.lowResLogits, try f.readTensor("outputs/low_res_logits"), rtol: 1e-4, "\(name): low-res logits", file: file, line: line)
    }

    func testPointsMultimaskAgainstMeta() throws { try checkAgainstDump("tiny_points_multi") }
    func testPointsSingleMaskAgainstMeta() throws { try checkAgainstDump("tiny_points_single") }
    func testBoxAgainstMeta() throws { try checkAgainstDump("tiny_box") }
    func testBoxAndPointsAgainstMeta() throws { try checkAgainstDump("tiny_box_points") }
    func testMaskInputAgainstMeta() throws { try checkAgainstDump("tiny_mask_input") }
    func testOnePointAgainstMeta() throws { try checkAgainstDump("tiny_one_point") }
}
