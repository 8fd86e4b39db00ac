// `--precision bf16` end to end on the test fixtures: the verification of both families against the float32
// reference dumps under the bf16 tolerances, the weights held as bf16, the re-judging of rows, and the precision
// axis of `sam ablate`.
@testable import SAMEval
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class PrecisionTests: XCTestCase {
    /// bf16 products need AVX-512 (oneDNN has none below it): a test of them is skipped, with the reason, elsewhere.
    func requireBF16() throws {
        try XCTSkipUnless(Precision.bf16Supported, "this CPU has no bf16 matrix product in oneDNN (it needs AVX-512)")
    }

    /// The tiny v1 model in bf16 against Meta's float32 dumps: every row within its bf16 tolerance, and the worst
    /// drift far above float32's (the products did run in bf16) yet below the encoder's tolerance.
    func testV1FixturesInBF16() throws {
        try requireBF16()
        let model = try SamLoader.load(checkpoint: Paths.fixture("reference/tiny_random.pth"), precision: .bf16)
        XCTAssertEqual(model.precision, .bf16)
        for fixture in ["tiny_points_multi", "tiny_box", "tiny_mask_input"] {
            let raw = try Verifier.verify(model: model, dumpPath: Paths.fixture("reference/\(fixture).h5"))
            let report = raw.judged(for: .bf16)
            for r in report.rows where !r.passed { XCTFail("\(fixture): \(r.name) rel-L2 \(r.relL2) max-abs \(r.maxAbs) \(r.note)") }
            XCTAssertGreaterThan(report.rows.count, 110)
            XCTAssertGreaterThan(report.worstRelL2, 1e-3, "\(fixture): bf16 drift expected")
            XCTAssertLessThan(report.worstRelL2, BF16Tolerance.decoderRelL2)
            // the same rows judged as fp32 fail: these are not fp32 results
            XCTAssertFalse(raw.passed)
            let encoder = report.rows.filter { $0.name.hasPrefix("image_encoder") }.map(\.relL2).max() ?? 0
            XCTAssertGreaterThan(encoder, 1e-3)
            XCTAssertLessThan(encoder, BF16Tolerance.encoderRelL2)
        }
    }

    func testSAM2FixtureInBF16() throws {
        try requireBF16()
        let model = try SAM2Loader.load(checkpoint: Paths.fixture("sam2/sam2.1_tiny_random.pt"), config: try TestModels.tinySAM2Config(),
                                        precision: .bf16)
        let report = try Verifier.verify(sam2: model, dumpPath: Paths.fixture("sam2/sam2.1_tiny_points_multi.h5")).judged(for: .bf16)
        for r in report.rows where !r.passed { XCTFail("\(r.name) rel-L2 \(r.relL2) max-abs \(r.maxAbs) \(r.note)") }
        XCTAssertGreaterThan(report.worstRelL2, 1e-3)
        XCTAssertTrue(report.rows.contains { $0.name == "outputs/object_score_logits" })
    }

    /// Loading in bf16 holds the encoder's product weights as bf16 (no float32 copy) and leaves the decoder's in
    /// float32; its results are bit for bit those of the float32-loaded model run in bf16 mode (the same rounded
    /// weights, the same products).
    func testBF16WeightsAreHeldAsBF16AndGiveTheModesResults() throws {
        try requireBF16()
        let half = try SamLoader.load(checkpoint: Paths.fixture("reference/tiny_random.pth"), precision: .bf16)
        let full = try TestModels.tinyRandom()
        let qkv = half.imageEncoder.vit!.blocks[0].attn.qkv.weight
        XCTAssertNotNil(qkv.bf16)
        XCTAssertTrue(qkv.data.isEmpty)
        XCTAssertEqual(qkv.floatValues, full.imageEncoder.vit!.blocks[0].attn.qkv.weight.convertedToBF16().floatValues)
        XCTAssertNotNil(half.imageEncoder.vit!.patchEmbed.proj.weight.bf16)
        XCTAssertNil(half.maskDecoder.iouPredictionHead.layers[0].weight.bf16)
        // a float32-loaded model told to run in bf16 rounds the same weights at each product instead
        let rounding = try SamLoader.load(checkpoint: Paths.fixture("reference/tiny_random.pth"))
        rounding.precision = .bf16
        let image = try TestModels.tinyImage()
        let a = SamPredictor(model: half), b = SamPredictor(model: rounding), c = SamPredictor(model: full)
        for p in [a, b, c] as [SamPredictor] { p.setImage(image) }
        let prompt = Prompt(points: [(x: 60, y: 80)], labels: [1])
        let pa = try a.predict(prompt), pb = try b.predict(prompt), pc = try c.predict(prompt)
        XCTAssertTrue(pa.lowResLogits.data == pb.lowResLogits.data, "bf16 weights and bf16 rounding at the products differ")
        XCTAssertEqual(pa.iouPredictions, pb.iouPredictions)
        // the float32 model is untouched by the others' mode
        XCTAssertEqual(Precision.products, .fp32)
        let drift = zip(pa.lowResLogits.data, pc.lowResLogits.data).map { abs($0 - $1) }.max() ?? 0
        XCTAssertGreaterThan(drift, 1e-5)
    }

    func testJudgingByPart() {
        func row(_ name: String, rel: Double) -> Comparison {
            Comparison(name: name, ours: Tensor(shape: [2], data: [1, Float(1 + rel)]), reference: Tensor(shape: [2], data: [1, 1]))
        }
        var r = VerifyReport()
        r.rows = [row("image_encoder.blocks.0", rel: 1e-2), row("image_encoder.neck", rel: 3e-2), row("mask_decoder.transformer", rel: 4e-2),
                  Verifier.maskRow("outputs/masks", shape: [1, 10, 20], [UInt8](repeating: 1, count: 200), referenceShape: [1, 10, 20],
                                   [UInt8](repeating: 1, count: 199) + [0])]
        XCTAssertEqual(r.rows.map(\.passed), [false, false, false, false])
        XCTAssertEqual(r.judged(for: .fp32).rows.map(\.passed), [false, false, false, false])
        let b = r.judged(for: .bf16)
        // rel-L2 of [1, 1+x] vs [1, 1] is x/√2
        XCTAssertEqual(b.rows.map(\.passed), [true, false, true, true])
        XCTAssertEqual(b.rows[0].tolerance, BF16Tolerance.encoderRelL2)
        XCTAssertEqual(b.rows[2].tolerance, BF16Tolerance.decoderRelL2)
        // one tolerance for all module rows when given
        XCTAssertEqual(r.judged(for: .bf16, moduleTolerance: 1e-3).rows.map(\.passed), [false, false, false, true])
    }

    /// The roofline of a bf16 run is oneDNN's bf16 rate; both rates are reported.
    func testBenchReportsBothRates() {
        var r = BenchmarkResult()
        r.encoderSeconds = [1, 2]
        r.encoderFLOPs = 1_000_000_000_000
        r.decoderSeconds = [0.01, 0.01]
        r.sgemmRuns = [400, 400]
        r.bf16Runs = [1000, 1000]
        XCTAssertEqual(r.encoderRooflineFraction!, (1000.0 / 400 + 500.0 / 400) / 2, accuracy: 1e-12)
        r.precision = .bf16
        XCTAssertEqual(r.encoderRooflineFraction!, (1.0 + 0.5) / 2, accuracy: 1e-12)
        let j = r.json
        XCTAssertEqual(j["precision"] as? String, "bf16")
        XCTAssertEqual(j["bf16_gflops"] as? Double, 1000)
        XCTAssertEqual(j["sgemm_gflops"] as? Double, 400)
        XCTAssertTrue(r.table.contains("bf16  4096×768×3072"))
        XCTAssertTrue(r.table.contains("encoder / bf16  rate"))
    }

    /// Found by the ablation-config fuzz target: an ignore value that is no byte trapped; now one named error, as
    /// for a negative limit and an unknown precision.
    func testAblationConfigValuesOutOfRange() throws {
        let t = try TempFolder()
        for (body, expected) in [(#""datasets": [{"name": "d", "path": "x", "ignore_value": 1280}]"#, "ignore_value of d"),
                                 (#""datasets": [{"name": "d", "path": "x"}], "limit": -3"#, "limit must be ≥ 0"),
                                 (#""datasets": [{"name": "d", "path": "x"}], "precisions": ["fp16"]"#, "unknown precision fp16")] {
            try "{\"name\": \"n\", \"checkpoints\": [{\"name\": \"c\", \"path\": \"c.pth\"}], \(body)}".write(toFile: t.sub("c.json"), atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try AblationConfig.load(path: t.sub("c.json"))) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(e)")
            }
        }
    }

    func testAgreement() {
        XCTAssertEqual(AgreementPredictor.agreement([0, 1, 2, 0], [0, 3, 0, 0]), 0.75)
        XCTAssertEqual(AgreementPredictor.agreement([], []), 1)
    }

    /// `"precisions": ["fp32", "bf16"]` evaluates each checkpoint twice; the bf16 run writes its per-object mask
    /// agreement with the fp32 twin, and the report compares the two.
    func testAblationPrecisionAxis() throws {
        try requireBF16()
        let t = try TempFolder()
        for (i, name) in ["a", "b"].enumerated() {
            try t.png("data/images/\(name).png", width: 120, height: 100, channels: 3) { x, y in
                [UInt8((x * 5 + y * 3 + i * 70) % 256), UInt8((x * y) % 256), UInt8(x < 60 ? 220 : 20)]
            }
            try t.png("data/masks/\(name).png", width: 120, height: 100) { x, y in [x >= 30 && x < 80 && y >= 20 && y < 70 ? 255 : 0] }
        }
        let config = """
        {"name": "p", "checkpoints": [{"name": "tiny", "path": "\(Paths.fixture("reference/tiny_random.pth"))"}],
         "precisions": ["fp32", "bf16"], "datasets": [{"name": "mini", "path": "\(t.sub("data"))"}],
         "protocols": ["box", "clicks:3"], "csv_dir": "\(t.sub("csv"))", "report": "\(t.sub("report/README.md"))", "model_size": false}
        """
        try config.write(toFile: t.sub("p.json"), atomically: true, encoding: .utf8)
        let c = try AblationConfig.load(path: t.sub("p.json"))
        XCTAssertEqual(c.checkpoints.map(\.name), ["tiny", "tiny@bf16"])
        XCTAssertEqual(c.checkpoints.map(\.precision), [.fp32, .bf16])
        _ = try Ablation.run(config: c, log: { _ in })
        let agreement = try String(contentsOfFile: t.sub("csv/tiny@bf16/mini_box_agreement.csv"), encoding: .utf8)
        let rows = agreement.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        XCTAssertEqual(rows.map { String($0[0]) }, ["a", "b"])
        for r in rows {
            XCTAssertEqual(r[1], "1")   // one prompt per object for the box protocol
            let v = try XCTUnwrap(Double(r[2]))
            XCTAssertGreaterThan(v, 0.9)
            XCTAssertLessThanOrEqual(v, 1)
        }
        let clicks = try String(contentsOfFile: t.sub("csv/tiny@bf16/mini_clicks3_agreement.csv"), encoding: .utf8)
        XCTAssertTrue(clicks.split(separator: "\n").dropFirst().allSatisfy { $0.split(separator: ",")[1] == "3" })
        let results = try ["tiny", "tiny@bf16"].map { ck in
            try ProtocolResult.read(path: c.csvPath(checkpoint: ck, dataset: "mini", protocol: .box), evalProtocol: .box)
        }
        let cmp = Ablation.precisionComparisons(c, results: ["tiny": ["mini": [results[0]]], "tiny@bf16": ["mini": [results[1]]]])
        XCTAssertEqual(cmp.count, 1)
        XCTAssertEqual(cmp[0].meanFP32, results[0].mean("iou"), accuracy: 1e-12)
        XCTAssertEqual(cmp[0].meanOther, results[1].mean("iou"), accuracy: 1e-12)
        let md = try String(contentsOfFile: t.sub("report/README.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("## Precision: bf16 against fp32"))
        XCTAssertTrue(md.contains("| tiny | mini | box | 2 |"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: t.sub("report/precision.svg")))
    }
}
