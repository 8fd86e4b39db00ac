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
    /// The reduced models, by the name of their configuration in experiments/reference/light/.
    static let micro: [(name: String, config: SAMConfig)] = {
        var mobile = SAMConfig.vitB
        mobile.encoder = .tinyViT(TinyViTConfig(embedDims: [8, 16, 24, 320], depths: [1, 1, 1, 1], numHeads: [2, 2, 3, 5],
                                                windowSizes: [7, 7, 14, 7], mlpRatio: 2, mbconvExpandRatio: 2))
        mobile.maskInChans = 4; mobile.decoderDepth = 1; mobile.decoderMLPDim = 64; mobile.iouHeadHiddenDim = 32
        var hqTiny = mobile
        hqTiny.hqVitDim = 24
        var hq = SAMConfig(encoderEmbedDim: 32, encoderDepth: 2, encoderNumHeads: 2, encoderGlobalAttnIndexes: [1])
        hq.imageSize = 128; hq.windowSize = 3; hq.outChans = 32; hq.promptEmbedDim = 32; hq.maskInChans = 8
        hq.decoderMLPDim = 64; hq.iouHeadHiddenDim = 32; hq.hqVitDim = 32
        var evit = SAMConfig.vitB
        evit.encoder = .efficientViT(EfficientViTSamConfig(
            family: "L", inputSize: 512, widths: [8, 16, 24, 32, 48], depths: [1, 1, 1, 1, 1], blocks: ["res", "fmb", "fmb", "mb", "att"],
            expands: [1, 4, 4, 4, 6], fewerNorm: [false, false, false, true, true], qkvDim: 8, neckStages: [4, 3, 2],
            headWidth: 32, headDepth: 1, neckExpand: 1))
        evit.maskInChans = 4; evit.decoderDepth = 1; evit.decoderMLPDim = 64; evit.iouHeadHiddenDim = 32
        return [("mobilesam_micro", mobile), ("sam_hq_tiny_micro", hqTiny), ("sam_hq_micro", hq), ("efficientvit_micro", evit)]
    }()

    static let seed: UInt64 = 20

    static func model(_ name: String) throws -> Sam {
        let c = try XCTUnwrap(micro.first { $0.name == name }).config
        return try Sam(tensors: RandomCheckpoint.tensors(for: c, seed: seed))
    }

    /// The seeded weights infer back to their configuration (every size read from the tensors); with
    /// SAM_LIGHT_FIXTURE_DIR set, they are written there as safetensors for make_fixtures_light.sh.
    func testWritesCheckpoints() throws {
        for (name, config) in Self.micro {
            let t = RandomCheckpoint.tensors(for: config, seed: Self.seed)
            XCTAssertEqual(try SAMConfig.infer(from: t), config, name)
            XCTAssertEqual(t, RandomCheckpoint.tensors(for: config, seed: Self.seed), "\(name): not reproducible")
            if let dir = ProcessInfo.processInfo.environment["SAM_LIGHT_FIXTURE_DIR"] {
                try CheckpointWriter.writeSafetensors(t, to: dir + "/\(name).safetensors")
            }
        }
    }

    func check(_ dump: String, model: String, family: String, minRows: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try Self.model(model)
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
