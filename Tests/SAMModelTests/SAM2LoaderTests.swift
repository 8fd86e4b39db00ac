// Loading SAM 2.1 checkpoints: the size inferred from the tensors, the strict key check (video weights included),
// and files of neither family.
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class SAM2LoaderTests: XCTestCase {
    let tinyPath = Paths.fixture("sam2/sam2.1_tiny_random.pt")

    func tensors() throws -> [String: Tensor] { try CheckpointReader.read(path: tinyPath).tensors }

    /// What the tiny file's tensors show: embed 8, stages 1,1,2,1 (from the blocks with a shortcut projection),
    /// pos_embed 7×7, first window 8, neck 32, decoder options from their weights. Heads and global blocks fall back
    /// to Hiera's defaults (the tensors do not show them), which is why the fixture has a configuration file.
    func testInferTinyFromTensors() throws {
        let c = try SAM2Config.infer(from: try tensors())
        XCTAssertEqual(c.embedDim, 8)
        XCTAssertEqual(c.stages, [1, 1, 2, 1])
        XCTAssertEqual(c.windowPosEmbedBkgSize, 7)
        XCTAssertEqual(c.windowSpec, [8, 4, 14, 7])
        XCTAssertEqual(c.dModel, 32)
        XCTAssertEqual(c.decoderMLPDim, 2048)
        XCTAssertTrue(c.predObjScores && c.predObjScoresMLP && c.useHighResFeatures)
        XCTAssertEqual(c.numHeads, 1)
        XCTAssertEqual(c.globalAttBlocks, [])
        var expected = try TestModels.tinySAM2Config()
        expected.globalAttBlocks = []
        XCTAssertEqual(c, expected)
    }

    /// The four published sizes are recognised from the shapes their tensors have (every key of the image model,
    /// values empty where only the shape is read).
    func testInferPublishedSizes() throws {
        for (name, cfg) in SAM2Config.presets {
            let shapes = SAM2WeightShapes.imageShapes(cfg)
            var t: [String: Tensor] = [:]
            for (k, s) in shapes where s.reduce(1, *) <= 1_000_000 || k.hasSuffix("proj.weight") {
                t[k] = Tensor(shape: s)
            }
            let inferred = try SAM2Config.infer(from: t)
            XCTAssertEqual(inferred, cfg, name)
            XCTAssertEqual(inferred.presetName, name)
        }
        // parameters of the image model: the published tiny file holds 38,962,754 values, of which the video-only
        // weights (memory attention and encoder, object pointers) are 7,521,777 (counted with torch from a file
        // make_checkpoint_sam2.py saved)
        XCTAssertEqual(SAM2Config.tiny.parameterCount, 31_440_977)
    }

    func testMissingKeyIsNamed() throws {
        var t = try tensors()
        t["sam_mask_decoder.conv_s1.bias"] = nil
        XCTAssertThrowsError(try SAM2Model(tensors: t, config: try TestModels.tinySAM2Config())) { e in
            XCTAssertEqual(e as? ModelLoadError, .keys(missing: ["sam_mask_decoder.conv_s1.bias"], unexpected: [], misshaped: []))
        }
    }

    func testMisshapedAndVideoKeysAreNamed() throws {
        var t = try tensors()
        t["image_encoder.trunk.pos_embed_window"] = Tensor(shape: [1, 8, 4, 4])
        t["memory_attention.layers.0.linear2.bias"] = Tensor(shape: [31])
        t["memory_encoder.extra.weight"] = Tensor(shape: [1])
        XCTAssertThrowsError(try SAM2Model(tensors: t, config: try TestModels.tinySAM2Config())) { e in
            guard case .keys(let missing, let unexpected, let misshaped)? = e as? ModelLoadError else { return XCTFail("\(e)") }
            XCTAssertEqual(missing, [])
            XCTAssertEqual(unexpected, ["memory_encoder.extra.weight"])
            XCTAssertEqual(Set(misshaped), ["image_encoder.trunk.pos_embed_window (expected [1, 8, 8, 8], found [1, 8, 4, 4])",
                                            "memory_attention.layers.0.linear2.bias (expected [32], found [31])"])
        }
    }

    /// The loader names the file: a missing key in a SAM 2 file, and a `{"model": …}` file of neither family.
    func testLoaderErrorsNameTheFile() throws {
        let dir = try temporaryFolder(self)
        var t = try tensors()
        t["no_mem_embed"] = nil
        let bad = dir + "/missing.safetensors"
        try CheckpointWriter.writeSafetensors(t, to: bad)
        XCTAssertThrowsError(try ModelLoader.load(checkpoint: bad)) { e in
            XCTAssertEqual("\(e)", "\(bad): no_mem_embed: missing from the checkpoint")
        }
        let other = dir + "/other.safetensors"
        try CheckpointWriter.writeSafetensors(["model.backbone.weight": Tensor(shape: [2])], to: other)
        XCTAssertThrowsError(try ModelLoader.load(checkpoint: other)) { e in
            XCTAssertEqual("\(e)", "\(other): not a checkpoint of a known model: no image_encoder.trunk.* (SAM 2), image_encoder.patch_embed.proj.weight (SAM, HQ-SAM), image_encoder.layers.* (MobileSAM) or image_encoder.backbone.* (EfficientViT-SAM)")
        }
        XCTAssertThrowsError(try ModelLoader.load(checkpoint: tinyPath, v1Config: .vitB)) { e in
            XCTAssertEqual("\(e)", "\(tinyPath): a SAM 2 checkpoint, but a SAM v1 model type was given")
        }
    }

    /// Sizes from a file are bounded before anything is allocated from them.
    func testAbsurdSizesAreRefused() throws {
        var t = try tensors()
        t["image_encoder.trunk.patch_embed.proj.weight"] = Tensor(shape: [100_000, 3, 1, 1])
        XCTAssertThrowsError(try SAM2Config.infer(from: t)) { e in
            XCTAssertEqual("\(e)", "cannot infer the model size from the checkpoint: Hiera embed dim 100000 is not in 1...8192")
        }
    }
}
