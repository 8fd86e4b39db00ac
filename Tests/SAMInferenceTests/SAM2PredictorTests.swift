// The SAM 2.1 predictor's own rules: batches equal single prompts, the stability choice of the single output, the
// coordinate transform, prompt validation, and the embedding cache.
@testable import SAMInference
import SAMIO
@testable import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class SAM2PredictorTests: XCTestCase {
    func predictor() throws -> SAM2Predictor {
        let p = SAM2Predictor(model: try TestModels.tinySAM2())
        p.setImage(try TestModels.tinyImage())
        return p
    }

    /// A batch of prompts decodes each prompt as it decodes alone: the same operations per prompt, equal to float32
    /// rounding (bit for bit with OpenBLAS's AVX-512 kernels; its Haswell kernels, which OPENBLAS_CORETYPE=Haswell
    /// selects, round a row of a product differently by where the row falls in it, as in the v1 predictor's test).
    func testBatchEqualsSinglePrompts() throws {
        let p = try predictor()
        let prompts = [Prompt(points: [(10, 20), (60, 90)], labels: [1, 0], box: (5, 8, 100, 150)),
                       Prompt(points: [(30, 40), (90, 140)], labels: [1, 1], box: (0, 0, 119, 159)),
                       Prompt(points: [(119, 159), (0, 0)], labels: [0, 1], box: (50, 60, 70, 80))]
        for mm in [true, false] {
            let batch = try p.predictBatch(prompts, multimaskOutput: mm)
            for (i, q) in prompts.enumerated() {
                let one = try p.predict(q, multimaskOutput: mm)
                let what = "prompt \(i), multimask \(mm)"
                let scale = max(1e-3, one.lowResLogits.data.map { abs($0) }.max() ?? 0)
                XCTAssertEqual(batch[i].lowResLogits.shape, one.lowResLogits.shape, what)
                XCTAssertLessThanOrEqual(maxAbsDiff(batch[i].lowResLogits.data, one.lowResLogits.data), 1e-5 * scale, what)
                XCTAssertLessThanOrEqual(maxAbsDiff(batch[i].iouPredictions, one.iouPredictions), 1e-6, what)
                XCTAssertEqual(batch[i].objectScoreLogit ?? .nan, one.objectScoreLogit ?? .nan, accuracy: 1e-5, what)
                XCTAssertEqual(batch[i].maskCount, one.maskCount, what)
                XCTAssertGreaterThanOrEqual(agreement(batch[i].masks, one.masks), 0.9999, what)
            }
        }
        XCTAssertThrowsError(try p.predictBatch([prompts[0], Prompt(points: [(1, 1)], labels: [1])])) { e in
            guard case PromptError.batchMismatch = e else { return XCTFail("\(e)") }
        }
    }

    /// `_dynamic_multimask_via_stability`: token 0 when its stability score ((#logits > 0.05) / (#logits > −0.05))
    /// reaches 0.98, else the multimask output with the highest IoU prediction (the first on ties).
    func testStabilityChoice() throws {
        let d = try TestModels.tinySAM2().maskDecoder
        let plane = 100
        func masks(_ token0: [Float]) -> Tensor {
            Tensor(shape: [1, 4, 10, 10], data: token0 + (1...3).flatMap { k in [Float](repeating: Float(k), count: plane) })
        }
        // 99 pixels at +1 and one at 0.01: 99 > 0.05, 100 > −0.05 → 0.99 ≥ 0.98, stable: token 0
        let stable = [Float](repeating: 1, count: 99) + [0.01]
        let iou = Tensor(shape: [1, 4], data: [0.1, 0.5, 0.9, 0.9])
        var (m, i) = d.dynamicMultimaskViaStability(masks(stable), iou)
        XCTAssertEqual(m.data, stable)
        XCTAssertEqual(i.data, [0.1])
        // 97 at +1, three at 0.01: 0.97 < 0.98: the best of tokens 1…3 by IoU, the first of the tied 0.9s (token 2)
        let unstable = [Float](repeating: 1, count: 97) + [0.01, 0.01, 0.01]
        (m, i) = d.dynamicMultimaskViaStability(masks(unstable), iou)
        XCTAssertEqual(m.data, [Float](repeating: 2, count: plane))
        XCTAssertEqual(i.data, [0.9])
        // everything ≤ −0.05: the union is empty, the score is 1: stable
        (m, i) = d.dynamicMultimaskViaStability(masks([Float](repeating: -1, count: plane)), iou)
        XCTAssertEqual(i.data, [0.1])
    }

    /// Points are scaled per axis, x / w · 1024 and y / h · 1024 in float32; a box becomes corners labelled 2 and 3
    /// before the points.
    func testPromptTransform() throws {
        let p = try predictor()
        let mp = p.modelPrompt(Prompt(points: [(60, 80)], labels: [0], box: (12, 16, 119, 159)))
        XCTAssertEqual(mp.labels, [2, 3, 0])
        XCTAssertEqual(mp.points?.data, [Float(12) / 120 * 1024, Float(16) / 160 * 1024, Float(119) / 120 * 1024,
                                        Float(159) / 160 * 1024, 512, 512])
        XCTAssertNil(mp.box)
    }

    func testBadPromptsAreRefused() throws {
        let p = try predictor()
        XCTAssertThrowsError(try p.predict(Prompt(points: [(120, 10)], labels: [1]))) { e in
            XCTAssertEqual(e as? PromptError, .pointOutside(x: 120, y: 10, width: 120, height: 160))
        }
        XCTAssertThrowsError(try p.predict(Prompt(points: [(10, 10)], labels: [2]))) { e in
            XCTAssertEqual(e as? PromptError, .badLabel(2))
        }
        XCTAssertThrowsError(try p.predict(Prompt(), maskInput: Tensor(shape: [1, 64, 64]))) { e in
            XCTAssertEqual(e as? PromptError, .maskInputShape(expected: [1, 256, 256], found: [1, 64, 64]))
        }
        XCTAssertThrowsError(try SAM2Predictor(model: try TestModels.tinySAM2()).predict(Prompt(points: [(1, 1)], labels: [1]))) { e in
            XCTAssertEqual(e as? PromptError, .noImage)
        }
    }

    /// `sam embed`'s file for SAM 2 carries the high-resolution features; segmenting from it equals segmenting
    /// from the image.
    func testEmbeddingFileRoundTrip() throws {
        let p = try predictor()
        let model = try TestModels.tinySAM2()
        let dir = try temporaryFolder(self)
        let file = try XCTUnwrap(EmbeddingFile.of(p, fingerprint: model.fingerprint, imageFile: "image_small.png"))
        XCTAssertEqual(file.highRes.map(\.shape), [[1, 4, 256, 256], [1, 8, 128, 128]])
        try file.write(path: dir + "/e.h5")
        let q = SAM2Predictor(model: model)
        try EmbeddingFile.load(path: dir + "/e.h5", into: q, checkpoint: "tiny", image: try TestModels.tinyImage(), imagePath: "image_small.png")
        let prompt = Prompt(points: [(64, 80)], labels: [1])
        XCTAssertEqual(try q.predict(prompt).lowResLogits, try p.predict(prompt).lowResLogits)
        // a v1 embedding file is refused by name
        let v1 = try TestModels.tinyPredictor()
        v1.setImage(try TestModels.tinyImage())
        var other = try XCTUnwrap(EmbeddingFile.of(v1, fingerprint: model.fingerprint, imageFile: "x"))
        other.embedding = Tensor(shape: [1, 32, 64, 64])
        try other.write(path: dir + "/v1.h5")
        XCTAssertThrowsError(try EmbeddingFile.load(path: dir + "/v1.h5", into: q, checkpoint: "tiny", image: try TestModels.tinyImage(),
                                                    imagePath: "image_small.png")) { e in
            XCTAssertTrue("\(e)".hasPrefix(dir + "/v1.h5: high_res_feats have shapes []"), "\(e)")
        }
    }
}
