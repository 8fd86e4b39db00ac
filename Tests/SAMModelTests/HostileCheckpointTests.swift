// Well-formed checkpoints with hostile shapes and values, through the one loading path (`SamLoader.load`): every
// shape is checked before anything is allocated from it, non-finite weights are refused at load, and each message
// names the file and the key (`<file>: <key>: …`).
import Foundation
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class HostileCheckpointTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws { dir = try temporaryFolder(self) }

    func tinyTensors() throws -> [String: Tensor] {
        try CheckpointReader.read(path: Paths.fixture("reference/tiny_random.pth")).tensors
    }

    /// The message `SamLoader.load` throws for `tensors` written as a safetensors file named `name`, or a failure.
    func loadMessage(_ tensors: [String: Tensor], _ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> (path: String, message: String) {
        let path = dir + "/" + name
        try CheckpointWriter.writeSafetensors(tensors, to: path)
        do {
            _ = try SamLoader.load(checkpoint: path)
            XCTFail("\(name) loaded", file: file, line: line)
            return (path, "")
        } catch {
            return (path, "\(error)")
        }
    }

    /// Meta's issue: `image_encoder.neck.0.weight` saved as `torch.tensor(1.0)` made `infer` read dimension 0 of a
    /// rank-0 shape (unchecked in the release build) and allocate 10^17 bytes.
    func testScalarNeckWeightIsRefusedBeforeAnyAllocation() throws {
        var t = try tinyTensors()
        t["image_encoder.neck.0.weight"] = Tensor(shape: [], data: [1])
        let (path, m) = try loadMessage(t, "scalar_neck.safetensors")
        XCTAssertEqual(m, "\(path): cannot infer the model size from the checkpoint: image_encoder.neck.0.weight has shape [], "
                          + "expected 4 dimensions of at least 1")
    }

    /// The same swap on every key of the checkpoint: each is refused with a message naming the file and that key
    /// (the size-defining keys by `infer`, the others by the shape check), none crashes.
    func testEveryKeyAsAScalarIsRefusedNamingFileAndKey() throws {
        let base = try tinyTensors()
        XCTAssertEqual(base.count, 174)
        for (n, key) in base.keys.sorted().enumerated() {
            var t = base
            t[key] = Tensor(shape: [], data: [1])
            let (path, m) = try loadMessage(t, "scalar_\(n).safetensors")
            XCTAssertTrue(m.hasPrefix(path + ": "), m)
            XCTAssertTrue(m.contains("\(key): wrong shape (expected [") && m.hasSuffix("], found [])")
                          || m.contains("\(key) has shape []"), m)
        }
    }

    /// Sizes inferred from the file are bounded before the model is built: a patch embedding of 100 000 channels
    /// (backed by 100 000 floats) would otherwise size every block's weights and activations from it.
    func testInferredSizesAreBounded() throws {
        var t = try tinyTensors()
        t["image_encoder.patch_embed.proj.weight"] = Tensor(shape: [100_000, 1, 1, 1], repeating: 0)
        let (path, m) = try loadMessage(t, "wide.safetensors")
        XCTAssertEqual(m, "\(path): cannot infer the model size from the checkpoint: encoder embedding dim 100000 is not in 1...8192")
        var h = try tinyTensors()
        h["image_encoder.blocks.0.attn.rel_pos_h"] = Tensor(shape: [15, 7], repeating: 0)  // a head dim of 7 divides no embedding dim of a power of two
        let (p2, m2) = try loadMessage(h, "heads.safetensors")
        XCTAssertTrue(m2.hasPrefix("\(p2): cannot infer the model size from the checkpoint: image_encoder.blocks.0.attn.rel_pos_h has shape [15, 7]"), m2)
    }

    /// A shape error names the file and the key: `<file>: <key>: wrong shape (expected …, found …)`.
    func testWrongShapeNamesFileAndKey() throws {
        var t = try tinyTensors()
        let k = "mask_decoder.iou_prediction_head.layers.0.weight"
        let w = try XCTUnwrap(t[k])
        t[k] = Tensor(shape: [w.shape[0], w.shape[1] - 1], repeating: 0)
        let (path, m) = try loadMessage(t, "wrong_shape.safetensors")
        XCTAssertEqual(m, "\(path): \(k): wrong shape (expected \(w.shape), found [\(w.shape[0]), \(w.shape[1] - 1)])")
    }

    /// Several problems: the file, then every key by kind.
    func testSeveralProblemsListEveryKeyAfterTheFile() throws {
        var t = try tinyTensors()
        t.removeValue(forKey: "mask_decoder.iou_token.weight")
        t["image_encoder.extra.weight"] = Tensor(shape: [2], repeating: 0)
        let (path, m) = try loadMessage(t, "two.safetensors")
        XCTAssertEqual(m, "\(path): checkpoint does not match the model: missing keys: mask_decoder.iou_token.weight; "
                          + "unexpected keys: image_encoder.extra.weight")
    }

    /// A NaN or an infinity in a weight is refused at load, naming the file, the tensor and the element — before, a
    /// model with NaN weights loaded and `sam segment` failed later writing its JSON, `sam eval` reported mIoU 0.
    func testNonFiniteWeightIsRefusedAtLoad() throws {
        for (value, word) in [(Float.nan, "nan"), (Float.infinity, "inf"), (-Float.infinity, "-inf")] {
            var t = try tinyTensors()
            let k = "image_encoder.blocks.1.mlp.lin2.bias"
            var b = try XCTUnwrap(t[k])
            b.data[5] = value
            t[k] = b
            let (path, m) = try loadMessage(t, "nonfinite_\(word).safetensors")
            XCTAssertEqual(m, "\(path): \(k): weight \(word) at index [5] of shape \(b.shape) is not finite (a checkpoint's weights must be finite numbers)")
        }
    }

    /// The fp16 `.pth` path (a zip storage widened while it is read): a half-precision NaN (0x7E00) written into the
    /// first element of the bundled demo checkpoint's first storage.
    func testNonFiniteHalfPrecisionWeightInAPthIsRefused() throws {
        var zip = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("reference/tiny_random.pth")))
        let off = try XCTUnwrap(CheckpointWriter.storedEntryOffset(in: zip, nameEndingWith: "/data/0"))
        // tiny_random.pth is float32: 0x7FC00000 little-endian
        zip.replaceSubrange(off..<(off + 4), with: [0x00, 0x00, 0xC0, 0x7F])
        let path = dir + "/nan.pth"
        try zip.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SamLoader.load(checkpoint: path)) { e in
            let m = "\(e)"
            XCTAssertTrue(m.hasPrefix("\(path): ") && m.contains(": weight nan at index [0") && m.hasSuffix("is not finite (a checkpoint's weights must be finite numbers)"), m)
        }
    }

    /// The smallest model the loader infers back exactly (32² input, patch 8, one windowed block with padding, one
    /// global block, one decoder layer): the fuzz targets' checkpoint seed. With SAM_FUZZ_SEED_DIR set, the file is
    /// also written there as micro_sam.safetensors (experiments/fuzz/make_model_seeds.sh).
    static var microConfig: SAMConfig {
        var c = SAMConfig(encoderEmbedDim: 8, encoderDepth: 2, encoderNumHeads: 2, encoderGlobalAttnIndexes: [1])
        c.imageSize = 32; c.patchSize = 8; c.windowSize = 3; c.mlpRatio = 2
        c.outChans = 16; c.promptEmbedDim = 16; c.maskInChans = 4
        c.decoderDepth = 1; c.decoderMLPDim = 16; c.iouHeadHiddenDim = 16
        return c
    }

    func testMicroModelSeedLoadsBackAndRuns() throws {
        let c = Self.microConfig
        var tensors: [String: Tensor] = [:]  // small deterministic values in [-0.1, 0.1]
        for (k, shape) in WeightStore.shapes(for: c) {
            tensors[k] = Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { Float(($0 * 7919 + k.utf8.count * 31) % 2001 - 1000) * 1e-4 })
        }
        XCTAssertEqual(c.parameterCount, tensors.values.reduce(0) { $0 + $1.count })
        XCTAssertLessThan(c.parameterCount, 16_000)
        let path = dir + "/micro_sam.safetensors"
        try CheckpointWriter.writeSafetensors(tensors, to: path)
        let model = try SamLoader.load(checkpoint: path)
        XCTAssertEqual(model.config, c)
        let p = SamPredictor(model: model)
        p.setImage(RGBImage(width: 12, height: 9, pixels: [UInt8](repeating: 90, count: 12 * 9 * 3)))
        let pred = try p.predict(Prompt(points: [(3, 4)], labels: [1]), multimaskOutput: true)
        XCTAssertEqual(pred.maskCount, 3)
        XCTAssertEqual(pred.lowResLogits.shape, [3, 16, 16])
        XCTAssertTrue(pred.iouPredictions.allSatisfy(\.isFinite), "\(pred.iouPredictions)")
        if let out = ProcessInfo.processInfo.environment["SAM_FUZZ_SEED_DIR"] {
            try? FileManager.default.removeItem(atPath: out + "/micro_sam.safetensors")
            try FileManager.default.copyItem(atPath: path, toPath: out + "/micro_sam.safetensors")
        }
    }

    /// The light family's fuzz seeds (SAM_FUZZ_SEED_DIR): an HQ-SAM and an EfficientViT-SAM small enough to load whole
    /// (the HQ one also runs, its image 32²), and a TinyViT file whose last width keeps it under libFuzzer's bound —
    /// TinyViT-SAM's 64² grid needs a last width of 320 or more, so this one stops at the size check, naming it.
    func testMicroLightSeeds() throws {
        func values(_ k: String, _ shape: [Int]) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { Float(($0 * 7919 + k.utf8.count * 31) % 2001 - 1000) * 1e-4 })
        }
        func seed(_ c: SAMConfig, _ name: String) throws -> String {
            var t: [String: Tensor] = [:]
            for (k, shape) in WeightStore.shapes(for: c) where !k.hasSuffix("attention_bias_idxs") { t[k] = values(k, shape) }
            for k in t.keys where k.hasSuffix("running_var") { t[k] = Tensor(shape: t[k]!.shape, repeating: 1) }
            XCTAssertLessThan(t.values.reduce(0) { $0 + $1.count }, 40_000, name)
            let path = dir + "/" + name
            try CheckpointWriter.writeSafetensors(t, to: path)
            if let out = ProcessInfo.processInfo.environment["SAM_FUZZ_SEED_DIR"] {
                try? FileManager.default.removeItem(atPath: out + "/" + name)
                try FileManager.default.copyItem(atPath: path, toPath: out + "/" + name)
            }
            return path
        }
        var hq = Self.microConfig
        hq.hqVitDim = hq.encoderEmbedDim
        let hqModel = try SamLoader.load(checkpoint: try seed(hq, "micro_sam_hq.safetensors"))
        XCTAssertEqual(hqModel.config, hq)
        let p = SamPredictor(model: hqModel)
        p.setImage(RGBImage(width: 12, height: 9, pixels: [UInt8](repeating: 90, count: 12 * 9 * 3)))
        let pred = try p.predict(Prompt(points: [(3, 4)], labels: [1]), multimaskOutput: true)
        XCTAssertEqual(pred.maskCount, 1)
        XCTAssertTrue(pred.iouPredictions.allSatisfy(\.isFinite))

        var ev = Self.microConfig
        ev.imageSize = 1024; ev.patchSize = 16
        ev.encoder = .efficientViT(EfficientViTSamConfig(
            family: "L", inputSize: 512, widths: [4, 4, 4, 4, 8], depths: [1, 1, 1, 1, 1], blocks: ["res", "fmb", "fmb", "mb", "att"],
            expands: [1, 1, 1, 1, 1], fewerNorm: [false, false, false, true, true], qkvDim: 4, neckStages: [4, 3, 2],
            headWidth: 4, headDepth: 1, neckExpand: 1, outDim: 16))
        let evModel = try SamLoader.load(checkpoint: try seed(ev, "micro_efficientvit_sam.safetensors"))
        XCTAssertEqual(evModel.config.encoder, ev.encoder)
        XCTAssertEqual(evModel.config.promptEmbedDim, 16)

        var tv = Self.microConfig
        tv.imageSize = 1024; tv.patchSize = 16
        tv.encoder = .tinyViT(TinyViTConfig(embedDims: [4, 4, 4, 8], depths: [1, 1, 1, 1], numHeads: [2, 1, 1, 1],
                                            windowSizes: [7, 7, 14, 7], mlpRatio: 1, mbconvExpandRatio: 1, outChans: 16, numClasses: 0))
        let path = try seed(tv, "micro_mobilesam_bounds.safetensors")
        XCTAssertThrowsError(try SamLoader.load(checkpoint: path)) { e in
            XCTAssertTrue("\(e)".contains("64"), "\(e)")
        }
    }

    /// A SAM 2.1 model small enough for a fuzz seed (23 K values): Hiera with embed 4 and one block per stage,
    /// neck and decoder 16 wide, and the video-only weights at their smallest (one memory, one memory-attention
    /// layer, a one-stage mask downsampler, one fuser block). Written to SAM_FUZZ_SEED_DIR as micro_sam2.safetensors.
    static var microSAM2Config: SAM2Config {
        var c = SAM2Config(embedDim: 4, numHeads: 1, stages: [1, 1, 1, 1], globalAttBlocks: [], windowPosEmbedBkgSize: 7)
        c.dModel = 16; c.maskInChans = 4; c.decoderDepth = 1; c.decoderMLPDim = 16; c.iouHeadHiddenDim = 16; c.mlpRatio = 1
        return c
    }

    func testMicroSAM2SeedLoadsBack() throws {
        let c = Self.microSAM2Config
        func values(_ k: String, _ shape: [Int]) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { Float(($0 * 7919 + k.utf8.count * 31) % 2001 - 1000) * 1e-4 })
        }
        var tensors: [String: Tensor] = [:]
        for (k, shape) in SAM2WeightShapes.imageShapes(c) { tensors[k] = values(k, shape) }
        // the video-only weights follow from a few of their own shapes (SAM2VideoWeights)
        let seeds: [String: [Int]] = [
            "maskmem_tpos_enc": [1, 1, 1, 4], "memory_attention.layers.0.linear1.weight": [8, 16],
            "memory_encoder.mask_downsampler.encoder.0.weight": [4, 1, 3, 3], "memory_encoder.mask_downsampler.encoder.1.weight": [4],
            "memory_encoder.fuser.layers.0.pwconv1.weight": [8, 16],
        ]
        for (k, s) in seeds { tensors[k] = values(k, s) }
        for (k, s) in try SAM2VideoWeights.expected(from: tensors, dModel: 16) { tensors[k] = values(k, s) }
        let count = tensors.values.reduce(0) { $0 + $1.count }
        XCTAssertLessThan(count, 30_000)   // under libFuzzer's 128 KiB input bound for checkpoints
        let path = dir + "/micro_sam2.safetensors"
        try CheckpointWriter.writeSafetensors(tensors, to: path)
        guard case .sam2(let model) = try ModelLoader.load(checkpoint: path) else { return XCTFail("not loaded as SAM 2") }
        XCTAssertEqual(model.config, c)
        XCTAssertEqual(model.videoWeights.count, 55)
        if let out = ProcessInfo.processInfo.environment["SAM_FUZZ_SEED_DIR"] {
            try? FileManager.default.removeItem(atPath: out + "/micro_sam2.safetensors")
            try FileManager.default.copyItem(atPath: path, toPath: out + "/micro_sam2.safetensors")
        }
    }
}
