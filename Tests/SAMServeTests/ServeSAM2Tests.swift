// `sam serve` with a SAM 2.1 model: the same API, masks equal to SAM2Predictor's, the object-score logit in the
// answer, the embedding cache switching between images.
import Foundation
import SAMIO
import SAMInference
import SAMModel
@testable import SAMServe
import SAMTestSupport
import XCTest

final class ServeSAM2Tests: XCTestCase {
    func testSegmentEqualsThePredictor() async throws {
        let root = try temporaryFolder(self)
        try FileManager.default.copyItem(atPath: Paths.fixture("reference/image_small.png"), toPath: root + "/a.png")
        let model = try TestModels.tinySAM2()
        let s = try await LiveServer(model: .sam2(model), options: ServeOptions(images: root, reports: nil, maxUploadBytes: 1 << 20, cacheSize: 2))
        addTeardownBlock { s.stop() }
        let info = try await s.get("/api/info")
        XCTAssertEqual(info.json?["image_size"] as? Int, 1024)
        XCTAssertEqual(info.json?["embed_dim"] as? Int, 8)
        let p = SAM2Predictor(model: model)
        p.setImage(try TestModels.tinyImage())
        for (n, (json, prompt, mm)) in [
            (["points": [[64, 80]], "labels": [1]] as [String: Any], Prompt(points: [(64, 80)], labels: [1]), true),
            (["points": [[64, 80]], "labels": [1], "box": [30, 28, 99, 159], "multimask": false], Prompt(points: [(64, 80)], labels: [1], box: (30, 28, 99, 159)), false),
        ].enumerated() {
            var body = json
            body["image"] = "a.png"
            body["format"] = "rle"
            let a = try await s.post("/api/segment", json: body)
            XCTAssertEqual(a.status, 200, a.text)
            let r = try JSONDecoder().decode(SegmentResponse.self, from: a.body)
            let ref = try p.predict(prompt, multimaskOutput: mm)
            XCTAssertEqual(r.iou_predictions, ref.iouPredictions, "case \(n)")
            XCTAssertEqual(r.object_score_logit, ref.objectScoreLogit, "case \(n)")
            XCTAssertEqual(r.masks.count, ref.maskCount)
            for k in 0..<ref.maskCount {
                let rle = try XCTUnwrap(RLE(cocoString: try XCTUnwrap(r.masks[k].counts), height: 160, width: 120))
                XCTAssertEqual(rle.decode(), Array(ref.mask(k)), "case \(n) mask \(k)")
            }
            XCTAssertEqual(r.cached, n > 0)
        }
    }
}
