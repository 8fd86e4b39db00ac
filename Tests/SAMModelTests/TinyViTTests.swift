// TinyViT (MobileSAM's and Light HQ-SAM's image encoder) against the reference's module outputs on a small
// configuration, and the configuration's inference from a state dict. The fixture
// (Tests/Fixtures/light/tinyvit/tinyvit_small.h5) is made by experiments/reference/make_tinyvit_fixture.py: reference
// outputs only, the weights and the input being generated here exactly as the script generates them.
import Foundation
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class TinyViTTests: XCTestCase {
    /// make_tinyvit_fixture.py's CONFIG.
    static let small = TinyViTConfig(embedDims: [16, 32, 40, 320], depths: [1, 1, 2, 1], numHeads: [2, 2, 2, 4],
                                     windowSizes: [7, 7, 14, 7], mlpRatio: 2, mbconvExpandRatio: 2, localConvSize: 5,
                                     numClasses: 10)
    static let samples = 512, sampleStep = 2_654_435_761

    static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    /// The value of state-dict entry `key` as make_tinyvit_fixture.py's `generated` makes it (float32 operations in
    /// the same order).
    static func generated(_ key: String, _ shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        if key.hasSuffix("num_batches_tracked") { return Tensor(shape: shape, repeating: 7) }
        var g = SplitMix64(seed: fnv1a64(key))
        let u = (0..<n).map { _ in g.nextFloat() }
        let f: (Float) -> Float
        if key.hasSuffix("running_var") {
            f = { 0.5 + $0 }
        } else if key.hasSuffix("running_mean") {
            f = { ($0 * 2 - 1) * Float(0.1 as Double) }
        } else if key.hasSuffix("attention_biases") {
            f = { $0 * 2 - 1 }
        } else if key.hasSuffix(".bias") {
            f = { ($0 * 2 - 1) * Float(0.1 as Double) }
        } else if shape.count == 1 {
            f = { 1 + ($0 * 2 - 1) * Float(0.2 as Double) }
        } else {
            let s = Float((3.0 / Double(n / shape[0])).squareRoot())
            f = { ($0 * 2 - 1) * s }
        }
        return Tensor(shape: shape, data: u.map(f))
    }

    /// The fixture's input: (2u − 1) · 2 from SplitMix64(seed 2024), 1×3×1024×1024.
    static func generatedInput() -> Tensor {
        var g = SplitMix64(seed: 2024)
        return Tensor(shape: [1, 3, 1024, 1024]) { p in for i in p.indices { p[i] = (g.nextFloat() * 2 - 1) * 2 } }
    }

    func openFixture() throws -> HDF5File { try HDF5File.open(path: Paths.fixture("light/tinyvit/tinyvit_small.h5")) }

    /// The reference's state-dict keys and shapes, stored in the fixture.
    func referenceShapes(_ f: HDF5File) throws -> [String: [Int]] {
        let json = try XCTUnwrap(f.stringAttribute("state_dict"), "the fixture has no state_dict attribute")
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [Int]])
        return obj
    }

    /// Compares `ours` with the fixture's record of module `name` (under `group`): its shape, the stored values (the
    /// whole tensor, or 512 at fixed flat indices) within 1e-4 relative L2, and the whole tensor's Σx and Σx² within
    /// what 1e-4 relative L2 over every value allows. Returns the sampled relative L2.
    @discardableResult
    func compare(_ f: HDF5File, _ name: String, _ ours: Tensor, group: String = "", file: StaticString = #filePath,
                 line: UInt = #line) throws -> Double {
        let shape = try f.readTensor("\(group)shapes/\(name)").data.map { Int($0) }
        XCTAssertEqual(ours.shape, shape, "\(name): shape", file: file, line: line)
        guard ours.shape == shape else { return .infinity }
        let ref = try f.readTensor("\(group)samples/\(name)").data
        let n = ours.count
        let picked = n <= Self.samples ? ours.data : (0..<Self.samples).map { ours.data[($0 * Self.sampleStep) % n] }
        XCTAssertEqual(picked.count, ref.count, "\(name): samples", file: file, line: line)
        var d2 = 0.0, r2 = 0.0
        for (a, b) in zip(picked, ref) { d2 += Double(a - b) * Double(a - b); r2 += Double(b) * Double(b) }
        let rel = (d2 / max(r2, 1e-30)).squareRoot()
        XCTAssertLessThanOrEqual(rel, 1e-4, "\(name): relative L2 of the sampled values", file: file, line: line)
        let stats = try f.readTensor("\(group)stats/\(name)").data
        var sum = 0.0, sumSq = 0.0
        for v in ours.data { sum += Double(v); sumSq += Double(v) * Double(v) }
        let norm = Double(stats[1]).squareRoot()
        XCTAssertEqual(sum, Double(stats[0]), accuracy: 1e-4 * (Double(n).squareRoot() * norm) + 1e-6 * abs(Double(stats[0])),
                       "\(name): Σx", file: file, line: line)
        XCTAssertEqual(sumSq.squareRoot(), norm, accuracy: 1e-4 * norm, "\(name): ‖x‖", file: file, line: line)
        return rel
    }

    /// The small encoder built from generated weights with the reference's keys: infers the fixture's configuration,
    /// takes every key (strict), records every module the reference hooks, and matches each one.
    func testEveryModuleMatchesReference() throws {
        let f = try openFixture()
        let shapes = try referenceShapes(f)
        let tensors = Dictionary(uniqueKeysWithValues: shapes.map { ($0.key, Self.generated($0.key, $0.value)) })
        let config = try TinyViTConfig.infer(from: tensors, prefix: "image_encoder")
        XCTAssertEqual(config, Self.small)
        XCTAssertEqual(Set(TinyViT.stateDictShapes(config: config).keys), Set(shapes.keys))
        let w = WeightStore(.tensors(tensors))
        let encoder = TinyViT(w, config: config)
        try w.finish()

        let x = Self.generatedInput()
        let rec = ActivationRecorder()
        let (embedding, interm) = encoder(x, rec)
        let expected = Set(try f.datasetNames().filter { $0.hasPrefix("samples/") }.map { String($0.dropFirst("samples/".count)) })
        XCTAssertEqual(f.intAttribute("modules"), expected.count)
        XCTAssertEqual(Set(rec.names), expected, "recorded modules differ from the reference's hooks")
        var worst = 0.0, compared = 0
        for name in rec.names where expected.contains(name) {
            worst = max(worst, try compare(f, name, rec.tensors[name]!))
            compared += 1
        }
        XCTAssertEqual(compared, 126)
        XCTAssertLessThanOrEqual(worst, 1e-4)
        XCTAssertEqual(embedding, rec.tensors["image_encoder"])

        // the same outputs without a recorder (folded BatchNorms, real-token projections), and as the HQ copy's tuple
        let (fast, fastInterm) = encoder(x, nil)
        try compare(f, "image_encoder", fast)
        try compare(f, "image_encoder:1:0", fastInterm, group: "hq/")
        try compare(f, "image_encoder:1:0", interm, group: "hq/")
        let hq = ActivationRecorder(filter: { !$0.contains(".") })
        _ = encoder(x, hq, hqOutputs: true)
        XCTAssertEqual(hq.names, ["image_encoder:0", "image_encoder:1:0"])
        try compare(f, "image_encoder:0", try XCTUnwrap(hq.tensors["image_encoder:0"]), group: "hq/")
        try compare(f, "image_encoder:1:0", try XCTUnwrap(hq.tensors["image_encoder:1:0"]), group: "hq/")
    }

    /// A batch of two gives each image's outputs alone, with and without a recorder; a three-layer TinyViT without a
    /// classifier head, with random weights.
    func testBatchOfTwoMatchesOneByOne() throws {
        let config = TinyViTConfig(embedDims: [8, 16, 24], depths: [1, 1, 1], numHeads: [2, 2, 3], windowSizes: [7, 7, 14],
                                   mlpRatio: 2, mbconvExpandRatio: 2, outChans: 16, numClasses: 0)
        XCTAssertNoThrow(try config.checkBounds())
        XCTAssertFalse(TinyViT.stateDictShapes(config: config).keys.contains { $0.contains(".head.") })
        let encoder = TinyViT(WeightStore(.random(seed: 3)), config: config)
        var g = SplitMix64(seed: 5)
        let x = Tensor(shape: [2, 3, 1024, 1024]) { p in for i in p.indices { p[i] = g.nextFloat() * 2 - 1 } }
        let (e, interm) = encoder(x, nil)
        XCTAssertEqual(e.shape, [2, 16, 64, 64])
        XCTAssertEqual(interm.shape, [2, 64, 64, 24])
        for b in 0..<2 {
            let (e1, i1) = encoder(sliceFirst(x, b..<(b + 1)), nil)
            assertClose(sliceFirst(e, b..<(b + 1)), e1, rtol: 1e-6, "embedding of image \(b)")
            assertClose(sliceFirst(interm, b..<(b + 1)), i1, rtol: 1e-6, "interm of image \(b)")
        }
        let rec = ActivationRecorder(filter: { $0 == "image_encoder" })
        let (recorded, _) = encoder(x, rec)
        assertClose(recorded, e, rtol: 1e-5, "recorded against fast path")
    }

    /// MobileSAM's state dict (its keys and shapes from a shapes-only walk) infers `.mobileSAM`; its size.
    func testMobileSAMConfigurationIsInferred() throws {
        let shapes = TinyViT.stateDictShapes(config: .mobileSAM)
        XCTAssertEqual(shapes.count, 302)  // the image_encoder keys of mobile_sam's state_dict()
        XCTAssertEqual(TinyViTConfig.mobileSAM.parameterCount, 6_075_415)
        let tensors = shapes.mapValues { Tensor(shape: $0) }
        XCTAssertEqual(try TinyViTConfig.infer(from: tensors, prefix: "image_encoder"), .mobileSAM)
        // torch.utils.flop_counter on mobile_sam's TinyViT at 1024²: 77.536590848 GFLOP
        XCTAssertEqual(TinyViTConfig.mobileSAM.gflops, 77.536590848, accuracy: 1e-9)
    }

    func testMissingAttentionBiasesIsNamed() throws {
        var tensors = TinyViT.stateDictShapes(config: Self.small).mapValues { Tensor(shape: $0) }
        tensors.removeValue(forKey: "image_encoder.layers.2.blocks.0.attn.attention_biases")
        XCTAssertThrowsError(try TinyViTConfig.infer(from: tensors, prefix: "image_encoder")) { e in
            XCTAssertEqual(e as? ModelLoadError, .cannotInferConfig("missing key image_encoder.layers.2.blocks.0.attn.attention_biases"))
        }
        // a bias table that is not ws² wide for a whole window
        tensors["image_encoder.layers.2.blocks.0.attn.attention_biases"] = Tensor(shape: [2, 50])
        XCTAssertThrowsError(try TinyViTConfig.infer(from: tensors, prefix: "image_encoder")) { e in
            XCTAssertTrue("\(e)".contains("image_encoder.layers.2.blocks.0.attn.attention_biases has shape [2, 50]"), "\(e)")
        }
    }

    /// The index table older TinyViTs saved: taken when it is the computed one, refused by name otherwise, both when
    /// inferring and when building.
    func testSavedBiasIndexTable() throws {
        let shapes = TinyViT.stateDictShapes(config: Self.small)
        var tensors = Dictionary(uniqueKeysWithValues: shapes.map { ($0.key, Self.generated($0.key, $0.value)) })
        let key = "image_encoder.layers.1.blocks.0.attn.attention_bias_idxs"
        let table = TinyViTConfig.attentionBiasIndices(window: 7)
        XCTAssertEqual(table.count, 49 * 49)
        // the offset (|Δy|, |Δx|) of points 8 = (1, 1) and 2 = (0, 2) is (1, 1), first met at pair (0, 8)
        XCTAssertEqual(table[8 * 49 + 2], table[0 * 49 + 8])
        XCTAssertEqual(Set(table).count, 49)
        tensors[key] = Tensor(shape: [49, 49], data: table.map(Float.init))
        XCTAssertEqual(try TinyViTConfig.infer(from: tensors, prefix: "image_encoder"), Self.small)
        var w = WeightStore(.tensors(tensors))
        _ = TinyViT(w, config: Self.small)
        XCTAssertNoThrow(try w.finish())

        var wrong = table.map(Float.init)
        wrong.swapAt(0, 1)
        tensors[key] = Tensor(shape: [49, 49], data: wrong)
        XCTAssertThrowsError(try TinyViTConfig.infer(from: tensors, prefix: "image_encoder")) { e in
            XCTAssertTrue("\(e)".contains("\(key) differs from the offset table of a 7×7 window at [0, 0]"), "\(e)")
        }
        w = WeightStore(.tensors(tensors))
        _ = TinyViT(w, config: Self.small)
        XCTAssertThrowsError(try w.finish()) { e in
            guard case .keys(let missing, let unexpected, let misshaped)? = e as? ModelLoadError else { return XCTFail("\(e)") }
            XCTAssertEqual(missing + unexpected, [])
            XCTAssertEqual(misshaped.count, 1)
            XCTAssertTrue(misshaped[0].hasPrefix("\(key) (differs from the offset table"), misshaped[0])
        }
        tensors[key] = Tensor(shape: [7, 7])
        XCTAssertThrowsError(try TinyViTConfig.infer(from: tensors, prefix: "image_encoder")) { e in
            XCTAssertEqual(e as? ModelLoadError, .cannotInferConfig("\(key) has shape [7, 7], expected [49, 49] for a 7×7 window"))
        }
    }

    /// Sizes the reference would reject, named before anything is built.
    func testBoundsAreChecked() {
        func why(_ c: TinyViTConfig) -> String {
            do { try c.checkBounds(); return "" } catch { return "\(error)" }
        }
        XCTAssertEqual(why(.mobileSAM), "")
        XCTAssertEqual(why(Self.small), "")
        var c = TinyViTConfig.mobileSAM
        c.embedDims[3] = 300  // merged with stride 2: a 32² grid where layer 3 expects 64²
        XCTAssertTrue(why(c).contains("layer 2's patch merging (stride 2) gives a 32² grid, layer 3 expects 64²"), why(c))
        c = .mobileSAM
        c.imageSize = 512
        XCTAssertTrue(why(c).contains("views it as 64×64"), why(c))
        c = .mobileSAM
        c.numHeads[2] = 3
        XCTAssertTrue(why(c).contains("layer 2: 3 heads do not divide the width 160"), why(c))
        c = .mobileSAM
        c.windowSizes[1] = 0
        XCTAssertTrue(why(c).contains("window 0"), why(c))
        c = .mobileSAM
        c.localConvSize = 4
        XCTAssertTrue(why(c).contains("local convolution size 4"), why(c))
        c = .mobileSAM
        c.depths = [2, 2, 6]
        XCTAssertTrue(why(c).contains("TinyViT sizes for 4 layers"), why(c))
    }

    func testConfigurationRoundTripsThroughJSON() throws {
        let data = try JSONEncoder().encode(Self.small)
        XCTAssertEqual(try JSONDecoder().decode(TinyViTConfig.self, from: data), Self.small)
        var obj = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        obj.removeValue(forKey: "numClasses")
        let old = try JSONDecoder().decode(TinyViTConfig.self, from: JSONSerialization.data(withJSONObject: obj))
        XCTAssertEqual(old.numClasses, 1000)
    }
}
