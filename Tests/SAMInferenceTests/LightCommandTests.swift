// `sam segment`, `embed`, `verify` with the light family's checkpoints (reduced models, seeded weights: LightMicro):
// outputs equal to each package's predictor (the fixture dumps), and broken files refused with one line naming the
// key at fault, exit status 3, nothing written.
import Foundation
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class LightCommandTests: XCTestCase {
    let image = Paths.fixture("reference/image_small.png")

    func write(_ name: String, _ dir: String) throws -> String {
        let path = dir + "/\(name).safetensors"
        try CheckpointWriter.writeSafetensors(LightMicro.tensors(name), to: path)
        return path
    }

    /// HQ-SAM through the CLI from the image and from `sam embed`'s file (which holds the early feature): one mask,
    /// as segment_anything_hq's predictor returns it, with `--hq-token-only`, equal to the fixture dump's.
    func testHQSegmentMatchesReference() throws {
        let dir = try temporaryFolder(self)
        let ck = try write("sam_hq_micro", dir)
        let dump = try HDF5File.open(path: Paths.fixture("light/sam_hq_box_mask_single_token_only.h5"))
        defer { try? dump.close() }
        let refMask = try dump.readUInt8("outputs/masks"), refIoU = try dump.readTensor("outputs/iou_predictions")
        let lowRes = dir + "/mask_input.h5"
        let mf = try HDF5File.create(path: lowRes)
        try mf.write("low_res_logits", try dump.readTensor("inputs/mask_input").reshaped([1, 32, 32]))
        try mf.close()
        let emb = dir + "/e.h5"
        var r = try runSam(["embed", "--checkpoint", ck, "--image", image, "--out", emb])
        XCTAssertEqual(r.status, 0, r.stderr)
        for source in [["--image", image], ["--image", image, "--embedding", emb]] {
            let out = dir + "/out\(source.count)"
            r = try runSam(["segment", "--checkpoint", ck, "--box", "30,28,99,159", "--point", "64,80", "--mask-input", lowRes,
                            "--single-mask", "--hq-token-only", "--out", out] + source)
            XCTAssertEqual(r.status, 0, r.stderr)
            let res = try JSONDecoder().decode(SegmentResultFile.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/result.json")))
            XCTAssertEqual(res.iou_predictions.count, 1)
            XCTAssertEqual(res.iou_predictions[0], refIoU.data[0], accuracy: 1e-4)
            let m = try ImageReader.readLabels(path: out + "/mask_0.png")
            XCTAssertEqual([1, m.height, m.width], refMask.shape)
            XCTAssertGreaterThanOrEqual(agreement(m.values.map { $0 != 0 ? 1 : 0 }, refMask.values), 0.999)
        }
    }

    func testVerifyPassesForEachFamily() throws {
        let dir = try temporaryFolder(self)
        for (model, dump) in [("mobilesam_micro", "mobilesam_points_multi"), ("efficientvit_micro", "efficientvit_points_multi"),
                              ("sam_hq_tiny_micro", "sam_hq_tiny_points_multi")] {
            let r = try runSam(["verify", "--checkpoint", try write(model, dir), "--dump", Paths.fixture("light/\(dump).h5")])
            XCTAssertEqual(r.status, 0, "\(model): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains(" passed, worst rel-L2 "), r.stdout)
        }
    }

    /// A TinyViT file without an attention-bias table, an HQ-SAM file without its HQ token, an EfficientViT-SAM file
    /// with a stage missing, and --hq-token-only for a model that is not HQ-SAM.
    func testBrokenFilesExitWithStatus3() throws {
        let dir = try temporaryFolder(self)
        func run(_ tensors: [String: Tensor], _ name: String, extra: [String] = []) throws -> String {
            let path = dir + "/" + name
            try CheckpointWriter.writeSafetensors(tensors, to: path)
            let out = dir + "/out-" + name
            let r = try runSam(["segment", "--checkpoint", path, "--image", image, "--point", "10,10", "--out", out] + extra)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(name): nothing written")
            XCTAssertEqual(r.status, 3, r.stderr)
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "\(name): one line: \(r.stderr)")
            return r.stderr
        }
        var t = LightMicro.tensors("mobilesam_micro")
        t["image_encoder.layers.1.blocks.0.attn.attention_biases"] = nil
        var e = try run(t, "tinyvit.safetensors")
        XCTAssertTrue(e.contains("image_encoder.layers.1.blocks.0.attn.attention_biases"), e)

        t = LightMicro.tensors("sam_hq_micro")
        t["mask_decoder.hf_token.weight"] = nil
        e = try run(t, "hq.safetensors")
        XCTAssertTrue(e.contains("mask_decoder.hf_token.weight") && e.contains("HQ-SAM"), e)

        t = LightMicro.tensors("efficientvit_micro")
        for k in t.keys where k.hasPrefix("image_encoder.backbone.stages.2.") { t[k] = nil }
        e = try run(t, "effvit.safetensors")
        XCTAssertTrue(e.contains("image_encoder.backbone.stages.2"), e)

        e = try run(LightMicro.tensors("mobilesam_micro"), "not-hq.safetensors", extra: ["--hq-token-only"])
        XCTAssertTrue(e.contains("--hq-token-only is for HQ-SAM models; this is MobileSAM"), e)
    }
}
