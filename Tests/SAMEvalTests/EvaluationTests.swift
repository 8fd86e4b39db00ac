// The runner end to end on a miniature model with seeded random weights (fast in debug builds): every protocol
// runs, an interrupted run resumes to the same CSV, shards merge to the unsharded CSV; SA-1B reading.
import Foundation
import SAMEval
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import XCTest

final class EvaluationTests: XCTestCase {
    /// A 128×128-input SAM with a 16-wide, 2-block encoder and a 32-wide decoder.
    static let miniConfig: SAMConfig = {
        var c = SAMConfig(encoderEmbedDim: 16, encoderDepth: 2, encoderNumHeads: 2, encoderGlobalAttnIndexes: [1])
        c.imageSize = 128
        c.windowSize = 4
        c.outChans = 32; c.promptEmbedDim = 32; c.maskInChans = 4
        c.decoderNumHeads = 2; c.decoderMLPDim = 64; c.iouHeadHiddenDim = 32
        return c
    }()

    func miniDataset() throws -> (TempFolder, Dataset) {
        let t = try TempFolder()
        for (i, name) in ["a", "b", "c d"].enumerated() {
            try t.png("images/\(name).png", width: 40 + 3 * i, height: 30, channels: 3) { x, y in
                [UInt8((x * 7 + y * 3 + i * 50) % 256), UInt8((x * y) % 256), UInt8(x < 20 ? 200 : 30)]
            }
            try t.png("masks/\(name).png", width: 40 + 3 * i, height: 30) { x, y in
                [x >= 8 + i && x < 25 && y >= 5 && y < 22 ? 255 : (x == 25 ? 128 : 0)]
            }
        }
        try t.png("masks/ax.png", width: 40, height: 30) { x, y in [x < 10 && y < 10 ? 255 : 0] }
        return (t, try Dataset.folder(t.path, ignoreValue: 128))
    }

    func testEveryProtocolRunsAndResumingGivesTheSameCSV() throws {
        let (t, ds) = try miniDataset()
        XCTAssertEqual(ds.objects.map(\.id), ["a", "ax", "b", "c d"])
        let predictor = SamPredictor(model: SamLoader.random(config: Self.miniConfig, seed: 3))
        let protocols: [EvalProtocol] = [.box, .point, .center, .random, .boxPoint, .jitteredBox, .clicks(3)]
        func opts(_ dir: String, limit: Int? = nil) -> EvalOptions {
            EvalOptions(protocols: protocols, outputs: protocols.map { t.sub("\(dir)/\($0.fileName).csv") }, seed: 5, limit: limit,
                        runDescription: "test")
        }
        let full = try Evaluation.run(predictor: predictor, dataset: ds, options: opts("full"))
        XCTAssertEqual(full.map(\.ids), Array(repeating: ["a", "ax", "b", "c d"], count: protocols.count))
        for r in full { for row in r.rows { for (v, c) in zip(row, r.columns) {
            if c.hasPrefix("noc") { XCTAssertTrue((1...3).contains(Int(v))) } else { XCTAssertTrue(v >= 0 && v <= 1, "\(c) \(v)") }
        } } }
        let point = full[1]
        XCTAssertTrue(zip(point.column("iou"), point.column("iou_oracle")).allSatisfy { $0 <= $1 })
        // The first click is the point protocol's top-1.
        XCTAssertEqual(full[6].column("iou_1"), point.column("iou"))

        // "Kill" after two objects: run with limit 2, then cut the last journal line in half; restart without limit.
        _ = try? Evaluation.run(predictor: predictor, dataset: ds, options: opts("resumed", limit: 2))
        // Finished runs remove their journals: rebuild one as a kill would leave it (2 rows + half a line).
        for p in protocols {
            let csv = try String(contentsOfFile: t.sub("resumed/\(p.fileName).csv"), encoding: .utf8)
            let lines = csv.split(separator: "\n").map(String.init)
            let journal = "# test prompt=\(p) seed=5\n" + lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n" + String(lines[2].prefix(5))
            try journal.write(toFile: t.sub("resumed/\(p.fileName).csv.partial"), atomically: true, encoding: .utf8)
            try FileManager.default.removeItem(atPath: t.sub("resumed/\(p.fileName).csv"))
        }
        var seen: [EvalProgress] = []
        _ = try Evaluation.run(predictor: predictor, dataset: ds, options: opts("resumed")) { seen.append($0) }
        XCTAssertEqual(seen.first?.resumed, 2)
        XCTAssertEqual(seen.last?.done, 4)
        for p in protocols {
            XCTAssertEqual(try String(contentsOfFile: t.sub("resumed/\(p.fileName).csv"), encoding: .utf8),
                           try String(contentsOfFile: t.sub("full/\(p.fileName).csv"), encoding: .utf8), "\(p)")
        }

        // Shards 1/2 and 2/2 merged equal the unsharded run.
        var shards: [String] = []
        for k in 1...2 {
            let o = EvalOptions(protocols: [.point], outputs: [t.sub("s\(k).csv")], seed: 5, shard: (k, 2), runDescription: "shard")
            _ = try Evaluation.run(predictor: predictor, dataset: ds, options: o)
            shards.append(t.sub("s\(k).csv"))
        }
        XCTAssertEqual(try Evaluation.merge(shards, into: t.sub("merged.csv")), 4)
        XCTAssertEqual(try String(contentsOfFile: t.sub("merged.csv"), encoding: .utf8),
                       try String(contentsOfFile: t.sub("full/point.csv"), encoding: .utf8))
    }

    func testSA1BFolder() throws {
        let t = try TempFolder()
        try t.png("sa_1.jpg", width: 4, height: 3, channels: 3) { _, _ in [9, 9, 9] }
        // Column-major counts: 2 zeros, 3 ones (x=0 row 2, x=1 rows 0–1), 7 zeros.
        let json = """
        {"image": {"image_id": 1, "width": 4, "height": 3, "file_name": "sa_1.jpg"},
         "annotations": [{"id": 11, "segmentation": {"size": [3, 4], "counts": [2, 3, 7]}}]}
        """
        try json.write(toFile: t.sub("sa_1.json"), atomically: true, encoding: .utf8)
        let ds = try Dataset.open(path: t.path)
        XCTAssertEqual(ds.objects.map(\.id), ["sa_1#11"])
        let (image, gt) = try ds.load(ds.objects[0])
        XCTAssertEqual(image.width, 4)
        XCTAssertEqual(gt.labels, [0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0])
    }
}

final class ModelSizeTests: XCTestCase {
    /// The analytic encoder count against the FLOPs the encoder issues to BLAS, on a miniature model, a windowed
    /// grid that needs padding (10 → 12 with window 4) and the demo-tiny sizes (formula only).
    func testAnalyticEncoderFLOPsMatchTheGEMMsIssued() {
        var c = SAMConfig(encoderEmbedDim: 16, encoderDepth: 3, encoderNumHeads: 2, encoderGlobalAttnIndexes: [1])
        c.imageSize = 160; c.windowSize = 4
        c.outChans = 32; c.promptEmbedDim = 32; c.maskInChans = 4; c.decoderNumHeads = 2; c.decoderMLPDim = 64; c.iouHeadHiddenDim = 32
        let sam = SamLoader.random(config: c, seed: 1)
        let input = Tensor(shape: [1, 3, 160, 160], repeating: 0.5)
        let f0 = GEMMCounter.flops
        _ = sam.imageEncoder(input, nil)
        let measured = GEMMCounter.flops - f0
        XCTAssertEqual(measured, encoderFLOPs(c, asIssued: true))   // 7,431,936: every term of the formula, exactly
        // Meta's count projects the windowed blocks' 144 − 100 padded tokens too: 2 blocks × 44 × 2·16·64 more; its
        // rel-pos einsums take s rows per token where the keys-major path (every attention here, L ≤ 512) multiplies
        // by the 2s − 1 table rows: 2 windowed blocks × 9 windows × 2·2·16·(7 − 4)·16 and the global block's
        // 2·2·100·(19 − 10)·16 fewer
        XCTAssertEqual(encoderFLOPs(c) - measured, 2 * 44 * 2 * 16 * 64 - 2 * 9 * 2 * 2 * 16 * 3 * 16 - 2 * 2 * 100 * 9 * 16)
        XCTAssertEqual(Double(encoderFLOPs(.demoTiny)) / 1e9, 70.5, accuracy: 1.5)   // sam bench's GEMM count: 70.5
    }
}
