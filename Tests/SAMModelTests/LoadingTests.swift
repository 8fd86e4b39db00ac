// Strict loading: every missing, unexpected and mis-shaped key is reported by name.
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class LoadingTests: XCTestCase {
    func tensors() throws -> [String: Tensor] {
        try CheckpointReader.read(path: Paths.fixture("reference/tiny_random.pth")).tensors
    }

    func loadError(_ t: [String: Tensor]) -> ModelLoadError? {
        do { _ = try Sam(tensors: t); return nil } catch let e as ModelLoadError { return e } catch { return nil }
    }

    func testCompleteCheckpointLoads() throws {
        XCTAssertNoThrow(try Sam(tensors: try tensors()))
    }

    func testMissingKeyIsNamed() throws {
        var t = try tensors()
        t.removeValue(forKey: "mask_decoder.iou_token.weight")
        let e = try XCTUnwrap(loadError(t))
        XCTAssertEqual(e, .keys(missing: ["mask_decoder.iou_token.weight"], unexpected: [], misshaped: []))
        XCTAssertTrue(e.description.contains("missing keys: mask_decoder.iou_token.weight"), e.description)
    }

    func testUnexpectedKeyIsNamed() throws {
        var t = try tensors()
        t["image_encoder.blocks.0.attn.extra_bias"] = Tensor(shape: [3])
        let e = try XCTUnwrap(loadError(t))
        XCTAssertEqual(e, .keys(missing: [], unexpected: ["image_encoder.blocks.0.attn.extra_bias"], misshaped: []))
    }

    func testWrongShapeIsNamed() throws {
        var t = try tensors()
        t["image_encoder.neck.0.weight"] = Tensor(shape: [32, 32, 1, 2])
        let e = try XCTUnwrap(loadError(t))
        XCTAssertEqual(e, .keys(missing: [], unexpected: [], misshaped: ["image_encoder.neck.0.weight (expected [32, 32, 1, 1], found [32, 32, 1, 2])"]))
    }

    func testConfigCannotBeInferredWithoutPatchEmbedding() throws {
        var t = try tensors()
        t.removeValue(forKey: "image_encoder.patch_embed.proj.weight")
        XCTAssertEqual(loadError(t), .cannotInferConfig("missing key image_encoder.patch_embed.proj.weight"))
    }

    func testPresetParameterCounts() {
        // Values in the state dict of Meta's sam_model_registry["vit_b"]() (counted with torch).
        XCTAssertEqual(SAMConfig.vitB.parameterCount, 93_735_728)  // 93 735 472 parameters + the 2×128 Fourier buffer
        XCTAssertEqual(SAMConfig.demoTiny.parameterCount, 8_370_000, accuracy: 10_000)
    }

    func testHuggingFaceNames() {
        XCTAssertEqual(HFKeys.hfName("image_encoder.blocks.3.norm1.weight"), "vision_encoder.layers.3.layer_norm1.weight")
        XCTAssertEqual(HFKeys.hfName("image_encoder.patch_embed.proj.weight"), "vision_encoder.patch_embed.projection.weight")
        XCTAssertEqual(HFKeys.hfName("image_encoder.neck.2.weight"), "vision_encoder.neck.conv2.weight")
        XCTAssertEqual(HFKeys.hfName("mask_decoder.output_hypernetworks_mlps.2.layers.0.weight"),
                       "mask_decoder.output_hypernetworks_mlps.2.proj_in.weight")
        XCTAssertEqual(HFKeys.hfName("mask_decoder.iou_prediction_head.layers.2.bias"), "mask_decoder.iou_prediction_head.proj_out.bias")
        XCTAssertEqual(HFKeys.hfName("mask_decoder.transformer.norm_final_attn.weight"), "mask_decoder.transformer.layer_norm_final_attn.weight")
        XCTAssertEqual(HFKeys.hfName("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"), "shared_image_embedding.positional_embedding")
        XCTAssertEqual(HFKeys.hfName("prompt_encoder.mask_downscaling.4.weight"), "prompt_encoder.mask_embed.layer_norm2.weight")
    }
}
