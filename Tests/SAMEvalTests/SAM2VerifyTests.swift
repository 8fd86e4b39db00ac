// Every module of the Swift SAM 2.1 against dumps Meta's sam2 1.1.0 wrote for a tiny model with every parameter
// randomised (Tests/Fixtures/sam2, made by experiments/reference/make_dumps_sam2.sh fixtures).
@testable import SAMEval
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class SAM2VerifyTests: XCTestCase {
    func check(_ fixture: String, minRows: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try Verifier.verify(sam2: try TestModels.tinySAM2(), dumpPath: Paths.fixture("sam2/\(fixture).h5"))
        for r in report.rows where !r.passed {
            XCTFail("\(fixture): \(r.name) failed: rel-L2 \(r.relL2), max-abs \(r.maxAbs) \(r.note)", file: file, line: line)
        }
        XCTAssertTrue(report.skipped.isEmpty, "\(fixture): dump names with no Swift module: \(report.skipped)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(report.rows.count, minRows, "\(fixture): too few modules compared", file: file, line: line)
        XCTAssertLessThanOrEqual(report.worstRelL2, 1e-5, "\(fixture): worst rel-L2", file: file, line: line)
        for name in ["outputs/masks", "outputs/iou_predictions", "outputs/low_res_logits", "outputs/object_score_logits",
                     "image_encoder.neck.convs.0.conv", "image_encoder.neck:0:3", "image_encoder.neck:1:3",
                     "sam_prompt_encoder:0", "sam_mask_decoder.transformer:0", "sam_mask_decoder.iou_prediction_head",
                     "sam_mask_decoder:3"] {
            XCTAssertNotNil(report.rows.first { $0.name == name }, "\(fixture): no row \(name)", file: file, line: line)
        }
        let fast = report.rows.filter { $0.name.hasPrefix("fast path: ") }.map(\.name)
        XCTAssertEqual(fast, ["fast path: outputs/masks", "fast path: outputs/iou_predictions",
                              "fast path: outputs/low_res_logits", "fast path: outputs/object_score_logits"], file: file, line: line)
    }

    func testPointsMultimask() throws { try check("sam2.1_tiny_points_multi", minRows: 85) }
    func testBoxAndPointSingleMask() throws { try check("sam2.1_tiny_box_point_single", minRows: 85) }
    func testMaskInputSingleMask() throws { try check("sam2.1_tiny_mask_random_single", minRows: 85) }

    /// The encoder's larger outputs: a global block, a query-pooling block over padded windows, its pool.
    func testEncoderBlocks() throws {
        let report = try Verifier.verify(sam2: try TestModels.tinySAM2(), dumpPath: Paths.fixture("sam2/sam2.1_tiny_encoder_points_multi.h5"))
        XCTAssertTrue(report.passed)
        XCTAssertTrue(report.skipped.isEmpty, "\(report.skipped)")
        let names = Set(report.rows.map(\.name))
        for n in ["image_encoder.trunk.blocks.3", "image_encoder.trunk.blocks.3.attn", "image_encoder.trunk.blocks.4",
                  "image_encoder.trunk.blocks.4.attn", "image_encoder.trunk.blocks.4.pool", "predictor/image_embed",
                  "predictor/high_res_feats:1", "fast path: predictor/image_embed"] {
            XCTAssertTrue(names.contains(n), n)
        }
        XCTAssertLessThanOrEqual(report.worstRelL2, 1e-5)
    }

    /// A module that drifts fails exactly its own row and what follows from it.
    func testDriftingObjectScoreHeadFails() throws {
        let path = Paths.fixture("sam2/sam2.1_tiny_points_multi.h5")
        var tensors = try CheckpointReader.read(path: Paths.fixture("sam2/sam2.1_tiny_random.pt")).tensors
        tensors["sam_mask_decoder.pred_obj_score_head.layers.2.bias"]!.data[0] += 0.01
        let drifted = try SAM2Model(tensors: tensors, config: try TestModels.tinySAM2Config())
        let report = try Verifier.verify(sam2: drifted, dumpPath: path)
        let failed = Set(report.rows.filter { !$0.passed }.map(\.name))
        XCTAssertEqual(failed, ["sam_mask_decoder.pred_obj_score_head.layers.2", "sam_mask_decoder.pred_obj_score_head",
                                "sam_mask_decoder:3", "outputs/object_score_logits", "fast path: outputs/object_score_logits"])
    }

    /// A dump of the other family is refused with one error naming the dump.
    func testDumpOfTheOtherFamilyIsRefused() throws {
        let v1Dump = Paths.fixture("reference/tiny_points_multi.h5")
        XCTAssertThrowsError(try Verifier.verify(sam2: try TestModels.tinySAM2(), dumpPath: v1Dump)) { e in
            XCTAssertEqual("\(e)", "\(v1Dump): is a SAM v1 dump (its module names are SAM v1's) but the checkpoint is a SAM 2 model")
        }
        let s2Dump = Paths.fixture("sam2/sam2.1_tiny_points_multi.h5")
        XCTAssertThrowsError(try Verifier.verify(model: try TestModels.tinyRandom(), dumpPath: s2Dump)) { e in
            XCTAssertEqual("\(e)", "\(s2Dump): is a SAM 2 dump (its module names are SAM 2's) but the checkpoint is a SAM v1 model")
        }
    }
}
