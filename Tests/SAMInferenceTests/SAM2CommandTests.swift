// `sam segment`, `sam embed` and `sam verify` with SAM 2.1 checkpoints: outputs equal to Meta's predictor's (the
// fixture dumps), and bad SAM 2 files refused with one line naming the file and the key, exit status 3.
import Foundation
import SAMInference
import SAMIO
import SAMTensor
import SAMTestSupport
import XCTest

final class SAM2CommandTests: XCTestCase {
    let ckpt = Paths.fixture("sam2/sam2.1_tiny_random.pt"), config = Paths.fixture("sam2/sam2.1_tiny_random.json")
    let image = Paths.fixture("reference/image_small.png")

    /// The box + point single-mask case of the fixture dump, through the CLI from the image and from `sam embed`'s file.
    func testSegmentMatchesReference() throws {
        let dir = try temporaryFolder(self)
        let dump = try HDF5File.open(path: Paths.fixture("sam2/sam2.1_tiny_box_point_single.h5"))
        defer { try? dump.close() }
        let refMask = try dump.readUInt8("outputs/masks"), refIoU = try dump.readTensor("outputs/iou_predictions")
        let refObj = try dump.readTensor("outputs/object_score_logits")
        let emb = dir + "/e.h5"
        var r = try runSam(["embed", "--checkpoint", ckpt, "--model-config", config, "--image", image, "--out", emb])
        XCTAssertEqual(r.status, 0, r.stderr)
        for source in [["--image", image], ["--image", image, "--embedding", emb]] {
            let out = dir + "/out\(source.count)"
            r = try runSam(["segment", "--checkpoint", ckpt, "--model-config", config, "--box", "30,28,99,159", "--point", "64,80",
                            "--single-mask", "--out", out] + source)
            XCTAssertEqual(r.status, 0, r.stderr)
            let res = try JSONDecoder().decode(SegmentResultFile.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/result.json")))
            XCTAssertEqual(res.iou_predictions.count, 1)
            XCTAssertEqual(res.iou_predictions[0], refIoU.data[0], accuracy: 1e-4)
            XCTAssertEqual(try XCTUnwrap(res.object_score_logit), refObj.data[0], accuracy: 1e-4)
            let m = try ImageReader.readLabels(path: out + "/mask_0.png")
            XCTAssertEqual([1] + [m.height, m.width], refMask.shape)
            XCTAssertGreaterThanOrEqual(agreement(m.values.map { $0 != 0 ? 1 : 0 }, refMask.values), 0.999)
        }
    }

    func testVerifyPasses() throws {
        let r = try runSam(["verify", "--checkpoint", ckpt, "--model-config", config, "--dump", Paths.fixture("sam2/sam2.1_tiny_points_multi.h5")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains(" passed, worst rel-L2 "), r.stdout)
    }

    /// A file with a missing or a mis-shaped key, and a `{"model": …}` file of neither family.
    func testBadFilesExitWithStatus3() throws {
        let dir = try temporaryFolder(self)
        var t = try CheckpointReader.read(path: ckpt).tensors
        func run(_ tensors: [String: Tensor], _ name: String) throws -> ProcessResult {
            let path = dir + "/" + name
            try CheckpointWriter.writeSafetensors(tensors, to: path)
            let r = try runSam(["segment", "--checkpoint", path, "--model-config", config, "--image", image, "--point", "10,10",
                                "--out", dir + "/out"])
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"), "nothing written")
            XCTAssertEqual(r.status, 3, r.stderr)
            return r
        }
        let pos = t["image_encoder.trunk.pos_embed"]!
        t["image_encoder.trunk.pos_embed"] = nil
        XCTAssertEqual(try run(t, "missing.safetensors").stderr,
                       "error: \(dir)/missing.safetensors: image_encoder.trunk.pos_embed: missing from the checkpoint\n")
        t["image_encoder.trunk.pos_embed"] = Tensor(shape: [1, 8, 5, 5])
        XCTAssertEqual(try run(t, "misshaped.safetensors").stderr,
                       "error: \(dir)/misshaped.safetensors: image_encoder.trunk.pos_embed: wrong shape (expected [1, 8, 7, 7], found [1, 8, 5, 5])\n")
        t["image_encoder.trunk.pos_embed"] = pos
        t["memory_encoder.pix_feat_proj.bias"] = nil
        XCTAssertEqual(try run(t, "video.safetensors").stderr,
                       "error: \(dir)/video.safetensors: memory_encoder.pix_feat_proj.bias: missing from the checkpoint\n")
        let other = try run(["backbone.stem.weight": Tensor(shape: [4])], "other.safetensors").stderr
        XCTAssertEqual(other, "error: \(dir)/other.safetensors: not a checkpoint of a known model: no image_encoder.trunk.* (SAM 2), "
                       + "image_encoder.patch_embed.proj.weight (SAM, HQ-SAM), image_encoder.layers.* (MobileSAM) or "
                       + "image_encoder.backbone.* (EfficientViT-SAM)\n")
    }
}
