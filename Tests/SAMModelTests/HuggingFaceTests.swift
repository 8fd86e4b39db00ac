// Hugging Face checkpoints: Tests/Fixtures/hf/tiny_random_hf.safetensors is Meta's tiny_random.pth converted by
// transformers' own logic and written by `SamModel.save_pretrained` (Tests/Fixtures/hf/make_hf_fixture.py), so the
// key table in HFKeys is checked against real HF names, both ways, and the loaded model against Meta's outputs.
import Foundation
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class HuggingFaceTests: XCTestCase {
    static let hfPath = Paths.fixture("hf/tiny_random_hf.safetensors")
    static let metaPath = Paths.fixture("reference/tiny_random.pth")

    func hfTensors() throws -> [String: Tensor] { try CheckpointReader.read(path: Self.hfPath).tensors }
    func metaTensors() throws -> [String: Tensor] { try CheckpointReader.read(path: Self.metaPath).tensors }

    /// Same shape and the same float bits.
    func identical(_ a: Tensor, _ b: Tensor) -> Bool {
        a.shape == b.shape && a.data.elementsEqual(b.data) { $0.bitPattern == $1.bitPattern }
    }

    func loadError(_ body: () throws -> Void) -> ModelLoadError? {
        do { try body(); return nil } catch let e as ModelLoadError { return e } catch let e as CheckpointMismatch {
            return e.problem  // SamLoader.load's error: the same problem, with the file's path
        } catch {
            XCTFail("expected a ModelLoadError, got \(error)")
            return nil
        }
    }

    func temporaryFile(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("hftest-\(UUID().uuidString)-\(name).safetensors")
    }

    // MARK: (a) strict load, values identical to Meta's checkpoint

    func testHFFixtureLoadsStrictWithMetaValues() throws {
        let hf = try hfTensors()
        let meta = try metaTensors()
        XCTAssertTrue(HFKeys.isHuggingFace(hf))
        XCTAssertFalse(HFKeys.isHuggingFace(meta))
        XCTAssertEqual(hf.count, 174)
        XCTAssertEqual(meta.count, 174)

        // Every renamed tensor is Meta's, bit for bit; no key left over, none missing.
        let renamed = HFKeys.toMeta(hf)
        XCTAssertEqual(Set(renamed.keys), Set(meta.keys),
                       "only in renamed: \(Set(renamed.keys).subtracting(meta.keys).sorted()); "
                       + "only in Meta: \(Set(meta.keys).subtracting(renamed.keys).sorted())")
        var differing: [String] = []
        for (k, t) in meta where !(renamed[k].map { identical($0, t) } ?? false) { differing.append(k) }
        XCTAssertEqual(differing.sorted(), [], "tensors that differ from tiny_random.pth")

        // The loader path (strict) and the model it builds.
        let model = try SamLoader.load(checkpoint: Self.hfPath)
        let reference = try SamLoader.load(checkpoint: Self.metaPath)
        XCTAssertEqual(model.config, reference.config)
        XCTAssertEqual(model.config.encoderDepth, 2)
        XCTAssertEqual(model.config.decoderDepth, 2)
        XCTAssertEqual(model.config.iouHeadDepth, 3)
        XCTAssertEqual(model.config.numMultimaskOutputs, 3)
        // The renames most likely to go wrong: index-shifted MLP layers (same shapes), the tied Fourier matrix, neck.
        let head = model.maskDecoder.iouPredictionHead.layers
        XCTAssertEqual(head.count, 3)
        for i in 0..<3 {
            XCTAssertTrue(identical(head[i].weight, meta["mask_decoder.iou_prediction_head.layers.\(i).weight"]!), "iou head \(i)")
        }
        for (m, mlp) in model.maskDecoder.outputHypernetworksMLPs.enumerated() {
            for (i, lin) in mlp.layers.enumerated() {
                XCTAssertTrue(identical(lin.weight, meta["mask_decoder.output_hypernetworks_mlps.\(m).layers.\(i).weight"]!),
                              "hypernetwork \(m) layer \(i)")
            }
        }
        XCTAssertTrue(identical(model.promptEncoder.peLayer.gaussian,
                                meta["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"]!))
        XCTAssertTrue(identical(model.imageEncoder.vit!.neck2.weight, meta["image_encoder.neck.2.weight"]!))
        XCTAssertTrue(identical(model.imageEncoder.vit!.blocks[1].attn.relPosH, meta["image_encoder.blocks.1.attn.rel_pos_h"]!))
    }

    // (b) the HF-loaded model reproducing Meta's module outputs is VerifyFixtureTests.testHFFixtureMatchesReferenceDump

    // MARK: (c) the table covers every key, both ways

    func testTableIsABijectionOntoTheHFFile() throws {
        let hfKeys = Set(try hfTensors().keys)
        let metaKeys = try metaTensors().keys.sorted()
        var notInFile: [String] = []
        var images: [String: String] = [:]
        for k in metaKeys {
            let h = HFKeys.hfName(k)
            if !hfKeys.contains(h) { notInFile.append("\(k) → \(h)") }
            if let other = images[h] { XCTFail("\(k) and \(other) both map to \(h)") }
            images[h] = k
        }
        XCTAssertEqual(notInFile, [], "Meta keys whose HF name is not in the HF file")
        XCTAssertEqual(hfKeys.subtracting(images.keys).sorted(), [], "HF keys no Meta key maps to")
        XCTAssertEqual(images.count, hfKeys.count)
    }

    /// IoU heads of other depths: SamFeedForward names an N-layer MLP proj_in, layers.0…N-3, proj_out
    /// (checked in transformers 5.24.0 with iou_head_depth 2 and 4); the round trip must be exact.
    func testIoUHeadDepthsOtherThanThree() throws {
        XCTAssertEqual(HFKeys.hfName("mask_decoder.iou_prediction_head.layers.0.weight", iouHeadDepth: 4),
                       "mask_decoder.iou_prediction_head.proj_in.weight")
        XCTAssertEqual(HFKeys.hfName("mask_decoder.iou_prediction_head.layers.2.bias", iouHeadDepth: 4),
                       "mask_decoder.iou_prediction_head.layers.1.bias")
        XCTAssertEqual(HFKeys.hfName("mask_decoder.iou_prediction_head.layers.3.weight", iouHeadDepth: 4),
                       "mask_decoder.iou_prediction_head.proj_out.weight")
        XCTAssertEqual(HFKeys.hfName("mask_decoder.iou_prediction_head.layers.1.weight", iouHeadDepth: 2),
                       "mask_decoder.iou_prediction_head.proj_out.weight")
        for depth in [2, 4] {
            var meta = try metaTensors().filter { !$0.key.hasPrefix("mask_decoder.iou_prediction_head.") }
            for i in 0..<depth {
                let out = i == depth - 1 ? 4 : 32
                let inp = 32
                meta["mask_decoder.iou_prediction_head.layers.\(i).weight"] =
                    Tensor(shape: [out, inp], data: (0..<(out * inp)).map { Float($0 % 97 + i) * 1e-3 })
                meta["mask_decoder.iou_prediction_head.layers.\(i).bias"] =
                    Tensor(shape: [out], data: (0..<out).map { Float($0 + 10 * i) })
            }
            let hf = Dictionary(uniqueKeysWithValues: meta.map { (HFKeys.hfName($0.key, iouHeadDepth: depth), $0.value) })
            XCTAssertEqual(hf.count, meta.count)
            let back = HFKeys.toMeta(hf)
            XCTAssertEqual(Set(back.keys), Set(meta.keys), "depth \(depth)")
            for (k, t) in meta { XCTAssertTrue(back[k].map { identical($0, t) } ?? false, "depth \(depth): \(k)") }
            let model = try Sam(tensors: back)
            XCTAssertEqual(model.config.iouHeadDepth, depth)
        }
    }

    // MARK: (d) a missing key is named by its Meta name

    func testMissingHFKeyIsNamedByMetaKey() throws {
        let hf = try hfTensors()
        let cases = [
            ("mask_decoder.iou_prediction_head.proj_out.bias", "mask_decoder.iou_prediction_head.layers.2.bias"),
            ("mask_decoder.output_hypernetworks_mlps.1.layers.0.weight", "mask_decoder.output_hypernetworks_mlps.1.layers.1.weight"),
            ("shared_image_embedding.positional_embedding", "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"),
            ("vision_encoder.neck.layer_norm2.bias", "image_encoder.neck.3.bias"),
            ("prompt_encoder.mask_embed.conv1.weight", "prompt_encoder.mask_downscaling.0.weight"),
        ]
        for (hfKey, metaKey) in cases {
            var t = hf
            XCTAssertNotNil(t.removeValue(forKey: hfKey), "\(hfKey) is not in the fixture")
            let url = temporaryFile("missing")
            defer { try? FileManager.default.removeItem(at: url) }
            try CheckpointWriter.writeSafetensors(t, to: url.path)
            let e = try XCTUnwrap(loadError { _ = try SamLoader.load(checkpoint: url.path) }, "no error without \(hfKey)")
            XCTAssertEqual(e, .keys(missing: [metaKey], unexpected: [], misshaped: []), "without \(hfKey)")
            XCTAssertTrue(e.description.contains("missing keys: \(metaKey)"), e.description)
        }
    }

    /// The helper writes files the reader takes back unchanged, so the test above measures the loader, not the helper.
    func testSafetensorsHelperRoundTrips() throws {
        let hf = try hfTensors()
        let url = temporaryFile("roundtrip")
        defer { try? FileManager.default.removeItem(at: url) }
        try CheckpointWriter.writeSafetensors(hf, to: url.path)
        let back = try CheckpointReader.read(path: url.path).tensors
        XCTAssertEqual(Set(back.keys), Set(hf.keys))
        for (k, t) in hf { XCTAssertTrue(back[k].map { identical($0, t) } ?? false, k) }
        XCTAssertNoThrow(try SamLoader.load(checkpoint: url.path))
    }

    // MARK: the tied Fourier matrix

    func testTiedPositionalEmbeddingCopies() throws {
        let hf = try hfTensors()
        let pe = try XCTUnwrap(hf["shared_image_embedding.positional_embedding"])
        let meta = try metaTensors()
        let metaPE = "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"

        // Both copies present and identical (a state dict of a tied SamModel): the duplicate is dropped.
        var both = hf
        both["prompt_encoder.shared_embedding.positional_embedding"] = pe
        XCTAssertNoThrow(try Sam(tensors: HFKeys.toMeta(both)))
        XCTAssertTrue(identical(try XCTUnwrap(HFKeys.toMeta(both)[metaPE]), meta[metaPE]!))

        // Only the prompt encoder's copy: it is the matrix.
        var onlyTied = hf
        onlyTied.removeValue(forKey: "shared_image_embedding.positional_embedding")
        onlyTied["prompt_encoder.shared_embedding.positional_embedding"] = pe
        let renamed = HFKeys.toMeta(onlyTied)
        XCTAssertTrue(identical(try XCTUnwrap(renamed[metaPE]), meta[metaPE]!))
        XCTAssertNoThrow(try Sam(tensors: renamed))

        // Two different matrices cannot be one Meta model: the second is reported, not silently dropped.
        var differ = both
        var other = pe
        other.data[0] += 1
        differ["prompt_encoder.shared_embedding.positional_embedding"] = other
        let e = loadError { _ = try Sam(tensors: HFKeys.toMeta(differ)) }
        XCTAssertEqual(e, .keys(missing: [], unexpected: ["prompt_encoder.shared_embedding.positional_embedding"], misshaped: []))
    }
}
