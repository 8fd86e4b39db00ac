// `--precision` on the command line: `verify` judges a bf16 run by the bf16 tolerances (and fails it by fp32's
// with --tolerance), `segment` writes bf16 results beside fp32's, and an unknown precision is refused.
import Foundation
@testable import SAMInference
import SAMIO
import SAMTensor
import SAMTestSupport
import XCTest

final class PrecisionCommandTests: XCTestCase {
    /// bf16 products need AVX-512 (oneDNN has none below it): a test of them is skipped, with the reason, elsewhere.
    func requireBF16() throws {
        try XCTSkipUnless(Precision.bf16Supported, "this CPU has no bf16 matrix product in oneDNN (it needs AVX-512)")
    }

    let v1 = Paths.fixture("reference/tiny_random.pth")
    let ckpt2 = Paths.fixture("sam2/sam2.1_tiny_random.pt"), config2 = Paths.fixture("sam2/sam2.1_tiny_random.json")

    func testVerifyBF16() throws {
        try requireBF16()
        var r = try runSam(["verify", "--checkpoint", ckpt2, "--model-config", config2, "--precision", "bf16",
                            "--dump", Paths.fixture("sam2/sam2.1_tiny_points_multi.h5")])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("bf16: rel-L2 ≤ 0.02"), r.stdout)
        // worst drift well above fp32's 1e-6 and below the bf16 tolerances
        let worst = try XCTUnwrap(r.stdout.components(separatedBy: "worst rel-L2 ").last.flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        XCTAssertGreaterThan(worst, 1e-3)
        XCTAssertLessThan(worst, 0.06)
        // one tolerance for every module row: fp32's fails the bf16 run, exit 1
        r = try runSam(["verify", "--checkpoint", v1, "--precision", "bf16", "--tolerance", "1e-4",
                        "--dump", Paths.fixture("reference/tiny_points_multi.h5")])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        r = try runSam(["verify", "--checkpoint", v1, "--precision", "bf16", "--dump", Paths.fixture("reference/tiny_points_multi.h5")])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    }

    func testSegmentBF16AndUnknownPrecision() throws {
        try requireBF16()
        let image = Paths.fixture("reference/image_small.png")
        let dir = try temporaryFolder(self)
        var ious: [String: [Double]] = [:]
        for p in ["fp32", "bf16"] {
            let r = try runSam(["segment", "--checkpoint", v1, "--image", image, "--point", "60,80", "--precision", p,
                                "--out", dir + "/" + p])
            XCTAssertEqual(r.status, 0, r.stderr)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/\(p)/result.json"))) as! [String: Any]
            ious[p] = (json["iou_predictions"] as? [NSNumber])?.map(\.doubleValue)
        }
        let a = try XCTUnwrap(ious["fp32"]), b = try XCTUnwrap(ious["bf16"])
        XCTAssertEqual(a.count, 3)
        XCTAssertNotEqual(a, b)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 2e-3) }
        let r = try runSam(["segment", "--checkpoint", v1, "--image", image, "--point", "60,80", "--precision", "fp16", "--out", dir + "/x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("fp16"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x"))
    }

    /// Below AVX-512 oneDNN has no bf16 product: a bf16 run is refused in one line, exit 3, nothing written. (oneDNN
    /// is told to use no more than AVX2, as on an AVX2-only CPU.)
    func testBF16RefusedWithoutAVX512() throws {
        let dir = try temporaryFolder(self)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try samExecutable())
        p.arguments = ["segment", "--checkpoint", v1, "--image", Paths.fixture("reference/image_small.png"), "--point", "60,80",
                       "--precision", "bf16", "--out", dir + "/out"]
        var env = ProcessInfo.processInfo.environment
        env["DNNL_MAX_CPU_ISA"] = "AVX2"
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 3, e)
        XCTAssertEqual(e.split(separator: "\n").count, 1, e)
        XCTAssertTrue(e.contains("AVX-512"), e)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))
    }

    /// The v1 mask generator decodes its points under the model's own precision, as the predictor does: the same
    /// IoU predictions as `predict` on the same point, bf16 model or not, with no process-wide mode set.
    func testGeneratorDecodesInTheModelsPrecision() throws {
        try requireBF16()
        let model = try SamLoader.load(checkpoint: v1, precision: .bf16)
        let image = try ImageReader.readRGB(path: Paths.fixture("reference/image_small.png"))
        let decoder = SamPointDecoder(model: model)
        decoder.setImage(image)
        XCTAssertEqual(Precision.products, .fp32)
        let batch = decoder.decode([AMGPoint(60, 80)])
        let p = SamPredictor(model: model)
        p.setImage(image)
        let pred = try p.predict(Prompt(points: [(x: 60, y: 80)], labels: [1]), multimaskOutput: true)
        XCTAssertEqual(batch.iouPredictions, pred.iouPredictions)
    }
}
