// The light family (MobileSAM, Light HQ-SAM, HQ-SAM, EfficientViT-SAM) against dumps each package's own predictor
// wrote for a reduced model of it (Tests/Fixtures/light, experiments/reference/make_fixtures_light.sh): the weights,
// every value random, are made here again from a seed (`RandomCheckpoint`); the dumps hold the reference's module
// outputs for exactly those weights.
@testable import SAMEval
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class LightFixtureTests: XCTestCase {
    /// The seeded weights infer back to their configuration (every size read from the tensors); with
    /// SAM_LIGHT_FIXTURE_DIR set, they are written there as safetensors for make_fixtures_light.sh.
    func testWritesCheckpoints() throws {
        for (name, config) in LightMicro.configs {
            let t = RandomCheckpoint.tensors(for: config, seed: LightMicro.seed)
            XCTAssertEqual(try SAMConfig.infer(from: t), config, name)
            XCTAssertEqual(t, RandomCheckpoint.tensors(for: config, seed: LightMicro.seed), "\(name): not reproducible")
            if let dir = ProcessInfo.processInfo.environment["SAM_LIGHT_FIXTURE_DIR"] {
                try CheckpointWriter.writeSafetensors(t, to: dir + "/\(name).safetensors")
            }
        }
    }

    func check(_ dump: String, model: String, family: String, minRows: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try LightMicro.model(model)
        XCTAssertEqual(m.config.familyName, family, file: file, line: line)
        let report = try Verifier.verify(model: m, dumpPath: Paths.fixture("light/\(dump).h5"))
        for r in report.rows where !r.passed {
            XCTFail("\(dump): \(r.name) failed: rel-L2 \(r.relL2), max-abs \(r.maxAbs) \(r.note)", file: file, line: line)
        }
        XCTAssertTrue(report.skipped.isEmpty, "\(dump): dump names with no Swift module: \(report.skipped)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(report.rows.count, minRows, "\(dump): too few modules compared", file: file, line: line)
        XCTAssertLessThanOrEqual(report.worstRelL2, 1e-4, "\(dump): worst rel-L2", file: file, line: line)
        let fast = report.rows.filter { $0.name.hasPrefix("fast path: ") }.map(\.name)
        for name in ["fast path: outputs/masks", "fast path: outputs/iou_predictions", "fast path: outputs/low_res_logits"] {
            XCTAssertTrue(fast.contains(name), "\(dump): no row \(name)", file: file, line: line)
        }
    }

    func testMobileSAMPointsMultimask() throws { try check("mobilesam_points_multi", model: "mobilesam_micro", family: "MobileSAM", minRows: 50) }
    func testMobileSAMMaskInput() throws { try check("mobilesam_mask_single", model: "mobilesam_micro", family: "MobileSAM", minRows: 50) }
    func testLightHQSAM() throws { try check("sam_hq_tiny_points_multi", model: "sam_hq_tiny_micro", family: "Light HQ-SAM", minRows: 50) }
    func testHQSAMBoxPointMaskInputTokenOnly() throws {
        try check("sam_hq_box_mask_single_token_only", model: "sam_hq_micro", family: "HQ-SAM", minRows: 120)
    }
    func testEfficientViTPointsMultimask() throws {
        try check("efficientvit_points_multi", model: "efficientvit_micro", family: "EfficientViT-SAM", minRows: 60)
    }
    func testEfficientViTBoxPointMaskInput() throws {
        try check("efficientvit_box_mask_single", model: "efficientvit_micro", family: "EfficientViT-SAM", minRows: 60)
    }
}
