// `sam segment` on well-formed checkpoints with hostile shapes and values: exit status 3 and one line naming the
// file and the key, nothing written — not an abort (a scalar neck weight once made it allocate 10^17 bytes).
import Foundation
import SAMIO
import SAMTensor
import SAMTestSupport
import XCTest

final class HostileCheckpointCommandTests: XCTestCase {
    func segment(_ tensors: [String: Tensor], _ name: String) throws -> (ckpt: String, out: String, result: ProcessResult) {
        let dir = try temporaryFolder(self)
        let ckpt = (dir as NSString).appendingPathComponent(name), out = (dir as NSString).appendingPathComponent("out")
        try CheckpointWriter.writeSafetensors(tensors, to: ckpt)
        let r = try runSam(["segment", "--checkpoint", ckpt, "--image", Paths.fixture("reference/image_small.png"),
                            "--point", "10,10", "--out", out])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [name], "nothing but the checkpoint is left")
        return (ckpt, out, r)
    }

    func tiny() throws -> [String: Tensor] { try CheckpointReader.read(path: Paths.fixture("reference/tiny_random.pth")).tensors }

    func testScalarNeckWeightExitsWithStatus3() throws {
        var t = try tiny()
        t["image_encoder.neck.0.weight"] = Tensor(shape: [], data: [1])
        let (ckpt, _, r) = try segment(t, "scalar_neck.safetensors")
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(r.stderr, "error: \(ckpt): cannot infer the model size from the checkpoint: image_encoder.neck.0.weight has shape [], "
                                 + "expected 4 dimensions of at least 1\n")
    }

    func testNaNWeightExitsWithStatus3BeforeAnythingIsWritten() throws {
        var t = try tiny()
        t["mask_decoder.iou_token.weight"]!.data[3] = .nan
        let (ckpt, _, r) = try segment(t, "nan.safetensors")
        XCTAssertEqual(r.status, 3, r.stderr)
        let shape = t["mask_decoder.iou_token.weight"]!.shape
        XCTAssertEqual(r.stderr, "error: \(ckpt): mask_decoder.iou_token.weight: weight nan at index [0, 3] of shape \(shape) is not finite "
                                 + "(a checkpoint's weights must be finite numbers)\n")
    }
}
