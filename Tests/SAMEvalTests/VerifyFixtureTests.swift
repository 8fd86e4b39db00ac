// Every module of the Swift model against dumps the reference wrote for a tiny random-init configuration
// (Tests/Fixtures/reference, made by experiments/reference/make_fixtures.sh), and the golden demo checkpoint.
@testable import SAMEval
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class VerifyFixtureTests: XCTestCase {
    func tiny() throws -> Sam { try TestModels.tinyRandom() }

    /// Runs one fixture and asserts every module output (about 120 of them), the masks and the IoUs.
    func check(_ fixture: String, minRows: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try Verifier.verify(model: try tiny(), dumpPath: Paths.fixture("reference/\(fixture).h5"))
        for r in report.rows where !r.passed {
            XCTFail("\(fixture): \(r.name) failed: rel-L2 \(r.relL2), max-abs \(r.maxAbs) \(r.note)", file: file, line: line)
        }
        XCTAssertTrue(report.skipped.isEmpty, "\(fixture): dump names with no Swift module: \(report.skipped)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(report.rows.count, minRows, "\(fixture): too few modules compared", file: file, line: line)
        // The demo-level acceptance: every module within rel-L2 1e-5 of the reference.
        XCTAssertLessThanOrEqual(report.worstRelL2, 1e-5, "\(fixture): worst rel-L2", file: file, line: line)
        let masks = try XCTUnwrap(report.rows.first { $0.name == "outputs/masks" }, file: file, line: line)
        XCTAssertLessThanOrEqual(masks.maxAbs, 0.001, "\(fixture): mask disagreement fraction", file: file, line: line)
        let iou = try XCTUnwrap(report.rows.first { $0.name == "outputs/iou_predictions" }, file: file, line: line)
        XCTAssertLessThanOrEqual(iou.maxAbs, 1e-4, file: file, line: line)
        // the path `segment` runs, checked on the same dump: embedding, masks, IoUs and logits
        let fast = report.rows.filter { $0.name.hasPrefix("fast path: ") }.map(\.name)
        XCTAssertEqual(fast, ["fast path: image_encoder", "fast path: outputs/masks", "fast path: outputs/iou_predictions",
                              "fast path: outputs/low_res_logits"], file: file, line: line)
    }

    func testPointsMultimask() throws { try check("tiny_points_multi", minRows: 115) }
    func testPointsSingleMask() throws { try check("tiny_points_single", minRows: 115) }
    func testBoxOnly() throws { try check("tiny_box", minRows: 115) }
    func testBoxAndPoints() throws { try check("tiny_box_points", minRows: 115) }
    func testMaskInput() throws { try check("tiny_mask_input", minRows: 120) }
    func testOnePoint() throws { try check("tiny_one_point", minRows: 115) }

    func testConfigInferredFromTensors() throws {
        let c = try tiny().config
        XCTAssertEqual(c.imageSize, 128)
        XCTAssertEqual(c.encoderEmbedDim, 32)
        XCTAssertEqual(c.encoderDepth, 2)
        XCTAssertEqual(c.encoderNumHeads, 2)
        XCTAssertEqual(c.encoderGlobalAttnIndexes, [1])
        XCTAssertEqual(c.windowSize, 3)
        XCTAssertEqual(c.promptEmbedDim, 32)
        XCTAssertEqual(c.maskInChans, 8)
        XCTAssertEqual(c.decoderMLPDim, 64)
        XCTAssertEqual(c.iouHeadHiddenDim, 32)
    }

    /// The end-to-end golden test on the shared demo checkpoint at the real 1024² size.
    func testDemoTinyGolden() throws {
        let ckpt = try Paths.requireShared("checkpoints/sam_demo_tiny.pth")
        let model = try SamLoader.load(checkpoint: ckpt)
        XCTAssertEqual(model.config, .demoTiny)
        let report = try Verifier.verify(model: model, dumpPath: Paths.fixture("reference/demo_tiny_golden.h5"))
        XCTAssertTrue(report.passed, report.table())
        XCTAssertLessThanOrEqual(report.worstRelL2, 1e-5, report.table())
        XCTAssertGreaterThanOrEqual(report.rows.count, 10)
    }

    /// The bundled fp16 file holds the same values as the fp32 one, so it must give the same outputs, on the
    /// reference path and on the fast path.
    func testBundledDemoTinyFP16MatchesGolden() throws {
        let report = try Verifier.verify(model: try TestModels.demoTiny(), dumpPath: Paths.fixture("reference/demo_tiny_golden.h5"))
        XCTAssertTrue(report.passed, report.table())
        XCTAssertLessThanOrEqual(report.worstRelL2, 1e-5, report.table())
        let fast = report.rows.filter { $0.name.hasPrefix("fast path: ") }
        XCTAssertEqual(fast.count, 4, report.table())
        XCTAssertTrue(fast.allSatisfy(\.passed), report.table())
    }

    // MARK: the fast path is checked on its own

    /// The tiny model with one tensor changed by `edit`.
    func tinyWith(_ key: String, _ edit: (inout [Float]) -> Void) throws -> Sam {
        var tensors = try CheckpointReader.read(path: Paths.fixture("reference/tiny_random.pth")).tensors
        var t = try XCTUnwrap(tensors[key], key)
        edit(&t.data)
        tensors[key] = t
        return try Sam(tensors: tensors, config: nil)
    }

    /// A fast path that drifts fails `verify` although every recorded module passes: the fast path runs on a copy of
    /// the model whose IoU head's last biases are moved by 0.01 (the reference path keeps the original).
    func testDriftingFastPathFailsVerify() throws {
        let model = try tiny()
        let drifted = try tinyWith("mask_decoder.iou_prediction_head.layers.2.bias") { b in for i in b.indices { b[i] += 0.01 } }
        let report = try Verifier.verify(model: model, fastPathModel: drifted, dumpPath: Paths.fixture("reference/tiny_points_multi.h5"),
                                         tolerance: Tolerance.moduleRelL2, strict: false, writeDump: nil, checkpointName: "")
        XCTAssertFalse(report.passed, "a drifting fast path must fail verify")
        let failed = report.rows.filter { !$0.passed }.map(\.name)
        XCTAssertEqual(failed, ["fast path: outputs/iou_predictions"], report.table())
        let iou = try XCTUnwrap(report.rows.first { $0.name == "fast path: outputs/iou_predictions" })
        XCTAssertEqual(iou.maxAbs, 0.01, accuracy: 1e-4)
        // the same model on both paths passes
        XCTAssertTrue(try Verifier.verify(model: model, dumpPath: Paths.fixture("reference/tiny_points_multi.h5")).passed)
    }

    /// A drifting fast-path encoder fails on its embedding row (and what follows from it).
    func testDriftingFastPathEncoderFailsOnTheEmbedding() throws {
        let drifted = try tinyWith("image_encoder.neck.3.bias") { b in for i in b.indices { b[i] += 0.05 } }
        let report = try Verifier.verify(model: try tiny(), fastPathModel: drifted, dumpPath: Paths.fixture("reference/tiny_points_multi.h5"),
                                         tolerance: Tolerance.moduleRelL2, strict: false, writeDump: nil, checkpointName: "")
        let embedding = try XCTUnwrap(report.rows.first { $0.name == "fast path: image_encoder" })
        XCTAssertFalse(embedding.passed)
        XCTAssertGreaterThan(embedding.relL2, 1e-2)
        XCTAssertTrue(report.rows.filter { !$0.name.hasPrefix("fast path: ") }.allSatisfy(\.passed), report.table())
    }

    // MARK: the model loaded from Hugging Face's keys reproduces Meta's module outputs

    func testHFFixtureMatchesReferenceDump() throws {
        let model = try SamLoader.load(checkpoint: Paths.fixture("hf/tiny_random_hf.safetensors"))
        let report = try Verifier.verify(model: model, dumpPath: Paths.fixture("reference/tiny_points_multi.h5"))
        for r in report.rows where !r.passed {
            XCTFail("\(r.name) failed: rel-L2 \(r.relL2), max-abs \(r.maxAbs) \(r.note)")
        }
        XCTAssertTrue(report.passed, report.table())
        XCTAssertGreaterThanOrEqual(report.rows.count, 115, "too few modules compared")
        XCTAssertLessThanOrEqual(report.worstRelL2, 1e-5, report.table())
        let iou = try XCTUnwrap(report.rows.first { $0.name == "outputs/iou_predictions" })
        XCTAssertLessThanOrEqual(iou.maxAbs, 1e-4)
    }
}
