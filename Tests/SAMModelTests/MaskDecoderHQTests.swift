// HQ-SAM's mask decoder and the ViT encoder's HQ outputs against segment_anything_hq 0.3 on a tiny random SAM-HQ
// (Tests/Fixtures/light/hq, made by experiments/reference/make_hq_fixture.py): every recorded module, the four
// output selections (multimask × hq_token_only) and a batch of two prompts, by the reference form and the fast path;
// then the fast path against the reference form on a larger random decoder (several bands, mask-input prompts).
import Foundation
import SAMIO
@testable import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class MaskDecoderHQTests: XCTestCase {
    struct Tiny {
        let config: SAMConfig
        let encoder: ImageEncoderViT
        let promptEncoder: PromptEncoder
        let decoder: MaskDecoderHQ
        let dump: HDF5File
    }

    /// The fixture's model, every key of the checkpoint used (strict), and its dump.
    func tiny() throws -> Tiny {
        let dir = Paths.fixture("light/hq") + "/"
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "tiny_hq_random.json"))) as? [String: Any])
        func int(_ key: String) throws -> Int { try XCTUnwrap(json[key] as? Int, key) }
        var c = SAMConfig(encoderEmbedDim: try int("encoder_embed_dim"), encoderDepth: try int("encoder_depth"),
                          encoderNumHeads: try int("encoder_num_heads"),
                          encoderGlobalAttnIndexes: try XCTUnwrap(json["encoder_global_attn_indexes"] as? [Int]))
        c.imageSize = try int("img_size"); c.patchSize = try int("patch_size"); c.windowSize = try int("window_size")
        c.outChans = try int("out_chans"); c.promptEmbedDim = try int("prompt_embed_dim")
        c.maskInChans = try int("mask_in_chans"); c.decoderDepth = try int("decoder_depth")
        c.decoderNumHeads = try int("decoder_num_heads"); c.decoderMLPDim = try int("decoder_mlp_dim")
        c.iouHeadDepth = try int("iou_head_depth"); c.iouHeadHiddenDim = try int("iou_head_hidden_dim")
        let tensors = try CheckpointReader.read(path: dir + "tiny_hq_random.pth").tensors
        XCTAssertTrue(MaskDecoderHQ.isHQ(tensors))
        XCTAssertFalse(MaskDecoderHQ.isHQ(tensors.filter { !$0.key.hasPrefix("mask_decoder.hf_") }))
        let store = WeightStore(.tensors(tensors))
        let model = Tiny(config: c, encoder: ImageEncoderViT(store, config: c), promptEncoder: PromptEncoder(store, config: c),
                         decoder: MaskDecoderHQ(store, config: c, vitDim: c.encoderEmbedDim),
                         dump: try HDF5File.open(path: dir + "tiny_hq_points.h5"))
        try store.finish()
        return model
    }

    /// Compares every dataset under `prefix` that `rec` recorded; returns how many; fails on a dump name not recorded.
    @discardableResult
    func compareRecorded(_ rec: ActivationRecorder, _ dump: HDF5File, prefix: String, rtol: Double = 1e-4,
                         file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        var n = 0
        for name in try dump.datasetNames() where name.hasPrefix(prefix) {
            guard let t = rec.tensors[name] else { XCTFail("\(name): not recorded", file: file, line: line); continue }
            assertClose(t, try dump.readTensor(name), rtol: rtol, name, file: file, line: line)
            n += 1
        }
        return n
    }

    /// The dump's points in the model's input frame (ResizeLongestSide.apply_coords, as the predictor does).
    func prompt(_ m: Tiny) throws -> ModelPrompt {
        let image = try m.dump.readUInt8("inputs/image").shape
        let (oh, ow) = (Double(image[0]), Double(image[1])), s = Double(m.config.imageSize) / max(oh, ow)
        let nh = (oh * s + 0.5).rounded(.down), nw = (ow * s + 0.5).rounded(.down)
        let c = try m.dump.readTensor("inputs/point_coords"), labels = try m.dump.readInt64("inputs/point_labels").values
        var points = [Float]()
        for i in 0..<labels.count {
            let x = Double(c.data[2 * i]) * nw / ow, y = Double(c.data[2 * i + 1]) * nh / oh
            points += [Float(x), Float(y)]
        }
        return ModelPrompt(points: Tensor(shape: [labels.count, 2], data: points), labels: labels.map { Int($0) })
    }

    /// Every module of the encoder (HQ's tuple output names included), the prompt encoder and the decoder, the
    /// decoder fed the dump's encoder outputs.
    func testEveryModuleAgainstReference() throws {
        let m = try tiny()
        let rec = ActivationRecorder()
        let (embedding, interm) = m.encoder.encode(try m.dump.readTensor("inputs/input_image"), rec, hqOutputs: true)
        XCTAssertNil(rec.tensors["image_encoder"], "the encoder's output goes under HQ's tuple names")
        XCTAssertEqual(interm, rec.tensors["image_encoder.blocks.1"], "interm is the global block's output")
        let encoderCount = try compareRecorded(rec, m.dump, prefix: "image_encoder")
        XCTAssertEqual(encoderCount, 29, "every module of the encoder, its neck and its tuple outputs")
        let fast = m.encoder.encode(try m.dump.readTensor("inputs/input_image"), nil, hqOutputs: false)
        assertClose(fast.embedding, embedding, rtol: 1e-6, "embedding without a recorder")
        assertClose(try XCTUnwrap(fast.interm), try XCTUnwrap(interm), rtol: 1e-6, "interm without a recorder")

        let (sparse, dense) = m.promptEncoder([try prompt(m)], masks: nil, rec)
        let imagePE = m.promptEncoder.densePE(rec)
        XCTAssertGreaterThanOrEqual(try compareRecorded(rec, m.dump, prefix: "prompt_encoder"), 3)

        let out = m.decoder(imageEmbedding: try m.dump.readTensor("image_encoder:0"), interm: try m.dump.readTensor("image_encoder:1:0"),
                            imagePE: imagePE, sparse: sparse, dense: dense, multimaskOutput: true, hqTokenOnly: false, rec)
        let decoderCount = try compareRecorded(rec, m.dump, prefix: "mask_decoder")
        XCTAssertEqual(decoderCount, 105, "every module of MaskDecoderHQ, its transformer and outputs")
        XCTAssertEqual(out.masks.shape, [1, 1, 32, 32])
        assertClose(out.masks.reshaped([1, 32, 32]), try m.dump.readTensor("outputs/low_res_logits"), rtol: 1e-4, "low-res logits")
        assertClose(out.iou.reshaped([1]), try m.dump.readTensor("outputs/iou_predictions"), rtol: 1e-4, "IoU")
    }

    /// The four output selections, by the reference form (a recorder) and the fast path (none), against the
    /// reference's low-res logits and IoU of each.
    func testOutputSelections() throws {
        let m = try tiny()
        let embedding = try m.dump.readTensor("image_encoder:0"), interm = try m.dump.readTensor("image_encoder:1:0")
        let (sparse, dense) = m.promptEncoder([try prompt(m)], masks: nil, nil)
        let imagePE = m.promptEncoder.densePE(nil)
        for mm in [true, false] {
            for hq in [true, false] {
                let tag = "combos/mm\(mm ? 1 : 0)_hq\(hq ? 1 : 0)"
                let low = try m.dump.readTensor("\(tag)/low_res_logits"), iou = try m.dump.readTensor("\(tag)/iou_predictions")
                for rec in [ActivationRecorder(filter: { _ in false }), nil] {
                    let out = m.decoder(imageEmbedding: embedding, interm: interm, imagePE: imagePE, sparse: sparse,
                                        dense: dense, multimaskOutput: mm, hqTokenOnly: hq, rec)
                    let path = rec == nil ? "fast path" : "reference form"
                    assertClose(out.masks, low, rtol: 1e-4, "\(tag) masks, \(path)")
                    assertClose(out.iou, iou, rtol: 1e-4, "\(tag) IoU, \(path)")
                }
            }
        }
    }

    /// Two prompts in one call (predict_torch with B = 2), both paths.
    func testBatchOfTwoPrompts() throws {
        let m = try tiny()
        let coords = try m.dump.readTensor("batch/point_coords"), labels = try m.dump.readInt64("batch/point_labels").values
        let prompts = (0..<2).map { b in
            ModelPrompt(points: Tensor(shape: [2, 2], data: Array(coords.data[(4 * b)..<(4 * b + 4)])),
                        labels: labels[(2 * b)..<(2 * b + 2)].map { Int($0) })
        }
        let (sparse, dense) = m.promptEncoder(prompts, masks: nil, nil)
        let low = try m.dump.readTensor("batch/low_res_logits"), iou = try m.dump.readTensor("batch/iou_predictions")
        for rec in [ActivationRecorder(filter: { _ in false }), nil] {
            let out = m.decoder(imageEmbedding: try m.dump.readTensor("image_encoder:0"), interm: try m.dump.readTensor("image_encoder:1:0"),
                                imagePE: m.promptEncoder.densePE(nil), sparse: sparse, dense: dense,
                                multimaskOutput: true, hqTokenOnly: false, rec)
            assertClose(out.masks, low, rtol: 1e-4, "batch masks, \(rec == nil ? "fast path" : "reference form")")
            assertClose(out.iou, iou, rtol: 1e-4, "batch IoU")
        }
    }

    /// The fast path against the reference form on a random decoder at 64 channels and a 32×32 embedding (masks
    /// 128×128: `hqMask` and `upscaleEmbedding` run in several bands), for prompts sharing the image's dense plane
    /// and prompts with their own (mask inputs), one prompt alone and three at once.
    func testFastPathEqualsReferenceForm() throws {
        var c = SAMConfig(encoderEmbedDim: 48, encoderDepth: 2, encoderNumHeads: 2, encoderGlobalAttnIndexes: [1])
        c.imageSize = 512; c.promptEmbedDim = 64; c.outChans = 64; c.decoderMLPDim = 128; c.iouHeadHiddenDim = 64
        let dec = MaskDecoderHQ(WeightStore(.random(seed: 3)), config: c, vitDim: 40)
        let pe = PromptEncoder(WeightStore(.random(seed: 4)), config: c)
        var g = SplitMix64(seed: 5)
        func seeded(_ shape: [Int], _ scale: Float) -> Tensor {
            Tensor(shape: shape) { p in for i in 0..<p.count { p[i] = (g.nextFloat() * 2 - 1) * scale } }
        }
        let embedding = seeded([1, 64, 32, 32], 1), interm = seeded([1, 32, 32, 40], 1)
        let prompts = [ModelPrompt(points: Tensor(shape: [2, 2], data: [100, 200, 400, 30]), labels: [1, 0]),
                       ModelPrompt(points: Tensor(shape: [2, 2], data: [10, 500, 300, 300]), labels: [1, 1]),
                       ModelPrompt(points: Tensor(shape: [2, 2], data: [256, 256, 0, 0]), labels: [0, 1])]
        let sparse = pe.sparseEmbeddings(prompts)
        let shared = pe.noMaskDense(count: 3), own = pe.maskEmbeddings(seeded([3, 1, 128, 128], 4), nil)
        let nothing = ActivationRecorder(filter: { _ in false })
        for (label, dense) in [("shared dense", shared), ("mask inputs", own)] {
            for count in [1, 3] {
                let s = sliceFirst(sparse, 0..<count), d = sliceFirst(dense, 0..<count)
                for mm in [true, false] { for hq in [true, false] {
                    let fast = dec(imageEmbedding: embedding, interm: interm, imagePE: pe.densePE(nil), sparse: s, dense: d,
                                   multimaskOutput: mm, hqTokenOnly: hq, nil)
                    let ref = dec(imageEmbedding: embedding, interm: interm, imagePE: pe.densePE(nil), sparse: s, dense: d,
                                  multimaskOutput: mm, hqTokenOnly: hq, nothing)
                    let what = "\(label), \(count) prompts, multimask \(mm), hq only \(hq)"
                    XCTAssertEqual(fast.masks.shape, [count, 1, 128, 128], what)
                    assertClose(fast.masks, ref.masks, rtol: 2e-6, what)
                    assertClose(fast.iou, ref.iou, rtol: 2e-6, what)
                } }
            }
        }
    }

    /// The multimask choice is torch.max's over masks 1…3: the offset of the largest, the first of equal ones, NaN
    /// the largest.
    func testBestScore() {
        let scores: [Float] = [9, 0.5, 0.7, 0.7]
        XCTAssertEqual(MaskDecoderHQ.best(scores[1..<4]), 1)
        XCTAssertEqual(MaskDecoderHQ.best(scores[0..<2]), 0)
        XCTAssertEqual(MaskDecoderHQ.best([-3, -1, -2][...]), 1)
        XCTAssertEqual(MaskDecoderHQ.best([1, .nan, 5, .nan][...]), 1)
    }

    /// A shapes-only walk (parameter counts, key checks) builds without values, and lists the HQ keys.
    func testShapesOnlyWalk() {
        let store = WeightStore(.shapesOnly)
        _ = MaskDecoderHQ(store, config: .vitB, vitDim: 768)
        var hq = [String: Tensor]()
        for key in ["hf_token.weight", "compress_vit_feat.0.weight", "embedding_encoder.3.bias", "embedding_maskfeature.0.weight",
                    "hf_mlp.layers.2.bias"] { hq["mask_decoder.\(key)"] = Tensor(shape: [1]) }
        XCTAssertThrowsError(try store.compare(hq)) { e in
            guard case ModelLoadError.keys(_, let unexpected, let misshaped) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(unexpected, [], "every HQ key is one the decoder takes")
            XCTAssertEqual(misshaped.count, 5)
        }
    }
}
