// Every module of the Swift model against dumps the reference wrote for a tiny random-init configuration
// (Tests/Fixtures/reference, made by experiments/reference/make_fixtures.sh), and the golden demo checkpoint.
import SAMEval
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class ModuleFixtureTests: XCTestCase {
    static var tinyModel: Sam?

    func tiny() throws -> Sam {
        if let m = Self.tinyModel { return m }
        let m = try SamLoader.load(checkpoint: Paths.fixture("reference/tiny_random.pth"))
        Self.tinyModel = m
        return m
    }

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

    /// The fp16 file holds the same values as the fp32 one, so it must give the same outputs.
    func testDemoTinyFP16MatchesGolden() throws {
        let ckpt = try Paths.requireShared("checkpoints/sam_demo_tiny_fp16.pth")
        let report = try Verifier.verify(model: try SamLoader.load(checkpoint: ckpt),
                                         dumpPath: Paths.fixture("reference/demo_tiny_golden.h5"))
        XCTAssertLessThanOrEqual(report.worstRelL2, 1e-5, report.table())
    }
}
