// The embedding cache (`sam embed`, `sam segment --embedding`): the file round-trips, and the command line refuses
// an embedding of another checkpoint, another image size or another shape.
import Foundation
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class EmbeddingFileTests: XCTestCase {
    func testRoundTrip() throws {
        let path = (try temporaryFolder(self) as NSString).appendingPathComponent("emb.h5")
        let emb = Tensor(shape: [1, 4, 3, 3]) { p in for i in p.indices { p[i] = Float(i) * 0.25 - 3 } }
        try EmbeddingFile(embedding: emb, checkpointFingerprint: "0123abcd", originalSize: (160, 120), inputSize: (128, 96),
                          imageFile: "photo.jpg").write(path: path)
        let e = try EmbeddingFile.read(path: path)
        XCTAssertEqual(e.embedding.shape, [1, 4, 3, 3])
        XCTAssertEqual(e.embedding.data, emb.data)
        XCTAssertEqual(e.checkpointFingerprint, "0123abcd")
        XCTAssertTrue(e.originalSize == (160, 120), "\(e.originalSize)")
        XCTAssertTrue(e.inputSize == (128, 96), "\(e.inputSize)")
        XCTAssertEqual(e.imageFile, "photo.jpg")
    }

    func testNotAnEmbeddingFile() throws {
        let path = (try temporaryFolder(self) as NSString).appendingPathComponent("other.h5")
        let f = try HDF5File.create(path: path)
        try f.write("image_embedding", Tensor(shape: [1, 4, 3, 3]))
        try f.close()
        XCTAssertThrowsError(try EmbeddingFile.read(path: path)) {
            XCTAssertTrue("\($0)".hasPrefix("\(path): corrupt file: not an embedding file of `sam embed`"), "\($0)")
        }
        XCTAssertThrowsError(try EmbeddingFile.read(path: path + ".missing"))
    }

    /// The fingerprint is of the weights: the fp16 and fp32 files of one checkpoint share it only if their values do.
    func testFingerprintDependsOnWeights() throws {
        let m = try TestModels.tinyRandom()
        XCTAssertFalse(m.fingerprint.isEmpty)
        var t = ["a": Tensor(shape: [200], data: (0..<200).map { Float($0) })]
        let f0 = SamLoader.fingerprint(t)
        XCTAssertEqual(f0, SamLoader.fingerprint(t), "deterministic")
        t["a"]!.data[97] += 1   // a sampled value (every 97th)
        XCTAssertNotEqual(SamLoader.fingerprint(t), f0)
        XCTAssertNotEqual(SamLoader.fingerprint(["a": Tensor(shape: [2, 100], data: (0..<200).map { Float($0) })]), f0, "shape counts")
    }

    // MARK: through the command line (the refusal lives in `sam segment`)

    var ckpt: String { Paths.fixture("reference/tiny_random.pth") }
    var image: String { Paths.fixture("reference/image_small.png") }

    func embed(_ dir: String) throws -> String {
        let emb = (dir as NSString).appendingPathComponent("emb.h5")
        let r = try runSam(["embed", "--checkpoint", ckpt, "--image", image, "--out", emb])
        XCTAssertEqual(r.status, 0, r.stderr)
        return emb
    }

    /// With the cache the outputs are those of a run from the image, bit for bit.
    func testCachedEmbeddingGivesTheSameResult() throws {
        let dir = try temporaryFolder(self)
        let emb = try embed(dir)
        let a = (dir as NSString).appendingPathComponent("a"), b = (dir as NSString).appendingPathComponent("b")
        let args = ["segment", "--checkpoint", ckpt, "--image", image, "--point", "64,80", "--point", "10,20,0", "--box", "30,28,99,159"]
        XCTAssertEqual(try runSam(args + ["--out", a]).status, 0)
        let r = try runSam(args + ["--embedding", emb, "--out", b])
        XCTAssertEqual(r.status, 0, r.stderr)
        for f in ["result.json", "mask_0.png", "mask_1.png", "mask_2.png"] {
            let x = try Data(contentsOf: URL(fileURLWithPath: (a as NSString).appendingPathComponent(f)))
            let y = try Data(contentsOf: URL(fileURLWithPath: (b as NSString).appendingPathComponent(f)))
            XCTAssertEqual(x, y, f)
        }
        let la = try HDF5File.open(path: (a as NSString).appendingPathComponent("low_res_logits.h5")).readTensor("low_res_logits")
        let lb = try HDF5File.open(path: (b as NSString).appendingPathComponent("low_res_logits.h5")).readTensor("low_res_logits")
        XCTAssertEqual(la.data, lb.data)
        XCTAssertEqual(la.shape, [3, 32, 32])
    }

    func testEmbeddingOfAnotherCheckpointRefused() throws {
        let dir = try temporaryFolder(self)
        let good = try EmbeddingFile.read(path: try embed(dir))
        let other = (dir as NSString).appendingPathComponent("other.h5")
        var e = good
        e.checkpointFingerprint = "feedface"
        try e.write(path: other)
        let out = (dir as NSString).appendingPathComponent("out")
        let r = try runSam(["segment", "--checkpoint", ckpt, "--image", image, "--embedding", other, "--point", "64,80", "--out", out])
        XCTAssertEqual(r.status, 3)
        XCTAssertTrue(r.stderr.contains("\(other): was computed with another checkpoint (fingerprint feedface, \(ckpt) has \(try TestModels.tinyRandom().fingerprint))"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written on a refusal")
    }

    func testEmbeddingOfAnotherImageSizeRefused() throws {
        let dir = try temporaryFolder(self)
        let emb = try embed(dir)
        let small = (dir as NSString).appendingPathComponent("small.png")
        try ImageWriter.writePNG(path: small, width: 40, height: 30, channels: 3, pixels: [UInt8](repeating: 90, count: 40 * 30 * 3))
        let r = try runSam(["segment", "--checkpoint", ckpt, "--image", small, "--embedding", emb, "--point", "5,5",
                            "--out", (dir as NSString).appendingPathComponent("out")])
        XCTAssertEqual(r.status, 3)
        XCTAssertTrue(r.stderr.contains("\(emb): belongs to a 120×160 image, \(small) is 40×30"), r.stderr)
    }

    func testEmbeddingOfAnotherShapeRefused() throws {
        let dir = try temporaryFolder(self)
        var e = try EmbeddingFile.read(path: try embed(dir))
        XCTAssertEqual(e.embedding.shape, [1, 32, 8, 8])
        e.embedding = Tensor(shape: [1, 32, 4, 4])
        let bad = (dir as NSString).appendingPathComponent("bad.h5")
        try e.write(path: bad)
        let r = try runSam(["segment", "--checkpoint", ckpt, "--image", image, "--embedding", bad, "--point", "5,5",
                            "--out", (dir as NSString).appendingPathComponent("out")])
        XCTAssertEqual(r.status, 3)
        XCTAssertTrue(r.stderr.contains("image_embedding has shape [1, 32, 4, 4], expected [1, 32, 8, 8]"), r.stderr)
    }
}
