// EfficientViT-SAM's image encoder against MIT-Han-lab's own code: every module of a tiny random encoder compared with
// the outputs the reference computed (Tests/Fixtures/light/efficientvit, from
// experiments/reference/make_efficientvit_fixture.py), with and without a recorder; the size inferred from the
// tensors of every preset and of the fixture; named errors for a checkpoint with a stage missing or a bad shape.
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class EfficientViTTests: XCTestCase {
    let checkpoint = Paths.fixture("light/efficientvit/tiny_random.pth")
    let dump = Paths.fixture("light/efficientvit/tiny_random.h5")

    func tensors() throws -> [String: Tensor] { try CheckpointReader.read(path: checkpoint).tensors }

    /// The fixture's configuration (its script's CONFIG): six stages covering ResBlock, FusedMBConv and MBConv
    /// (with and without fewer-norm), LiteMLA with 5×5 and 3×3 aggregation, neck inputs from stages 5, 3, 0.
    static let tiny = EfficientViTSamConfig(
        family: "XL", inputSize: 128, widths: [2, 4, 8, 8, 16, 16], depths: [1, 1, 1, 1, 1, 1],
        blocks: ["res", "fmb", "mb", "fmb", "att", "att@3"], expands: [1, 1, 1, 1, 1, 2],
        fewerNorm: [false, false, true, false, true, true], qkvDim: 4, neckStages: [5, 3, 0], headWidth: 4, headDepth: 1,
        neckExpand: 2, middleOp: "fmb", outDim: 8)

    func testInferTinyFixture() throws {
        let c = try EfficientViTSamConfig.infer(from: try tensors(), prefix: "image_encoder")
        XCTAssertEqual(c, Self.tiny)
        XCTAssertNil(c.presetName)
    }

    /// Every module the reference recorded, compared ≤ 1e-4 relative L2; the recorded names are exactly the dump's.
    func testEveryModuleMatchesReference() throws {
        let all = try tensors()
        let config = try EfficientViTSamConfig.infer(from: all, prefix: "image_encoder")
        let store = WeightStore(.tensors(all))
        let encoder = EfficientViTSamImageEncoder(store, config: config)
        try store.finish()
        let f = try HDF5File.open(path: dump)
        let input = try f.readTensor("inputs/input_image")
        let names = try f.datasetNames().filter { !$0.hasPrefix("inputs/") }
        XCTAssertEqual(names.count, 184, "the fixture's module count")
        let rec = ActivationRecorder()
        let out = encoder(input, rec)
        XCTAssertEqual(out.shape, [1, 8, 64, 64])
        XCTAssertEqual(Set(rec.names), Set(names), "recorded modules differ from the reference's: extra \(Set(rec.names).subtracting(names).sorted()), missing \(Set(names).subtracting(rec.names).sorted())")
        for name in names {
            guard let ours = rec.tensors[name] else { continue }
            assertClose(ours, try f.readTensor(name), rtol: 1e-4, name)
        }
        // the inference path (norms, activations and shortcuts fused into each convolution's epilogue)
        assertClose(encoder(input, nil), try f.readTensor("image_encoder"), rtol: 1e-4, "image_encoder without a recorder")
    }

    /// A batch of two images gives each image's own output, with and without a recorder.
    func testBatchOfTwo() throws {
        let all = try tensors()
        let encoder = EfficientViTSamImageEncoder(WeightStore(.tensors(all)), config: try EfficientViTSamConfig.infer(from: all, prefix: "image_encoder"))
        let a = try HDF5File.open(path: dump).readTensor("inputs/input_image")
        var b = a
        b.data.reverse()
        let pair = concat([a, b], axis: 0)
        for rec in [nil, ActivationRecorder()] {
            let out = encoder(pair, rec)
            XCTAssertEqual(out.shape, [2, 8, 64, 64])
            assertClose(sliceFirst(out, 0..<1), encoder(a, nil), rtol: 1e-6, "first image")
            assertClose(sliceFirst(out, 1..<2), encoder(b, nil), rtol: 1e-6, "second image")
        }
    }

    /// The shapes a preset's encoder takes (a shapes-only walk) infer back to that preset.
    func testInferEveryPresetFromItsShapes() throws {
        XCTAssertEqual(EfficientViTSamConfig.presets.count, 5)
        for (name, preset) in EfficientViTSamConfig.presets {
            let shapes = preset.weightShapes()
            XCTAssertTrue(shapes.keys.allSatisfy { $0.hasPrefix("image_encoder.") })
            XCTAssertNotNil(shapes["image_encoder.backbone.stages.0.op_list.0.conv.weight"], name)
            let inferred = try EfficientViTSamConfig.infer(fromShapes: shapes, prefix: "image_encoder")
            XCTAssertEqual(inferred, preset, name)
            XCTAssertEqual(inferred.presetName, name)
        }
        XCTAssertEqual(EfficientViTSamConfig.presets["efficientvit_sam_l0"]?.inputSize, 512)
        XCTAssertEqual(EfficientViTSamConfig.presets["efficientvit_sam_xl1"]?.inputSize, 1024)
    }

    /// State-dict values and multiply-adds of each preset's encoder as the reference counts them (`state_dict()`
    /// numel; every nn.Conv2d's output numel × in/groups × k², plus LiteMLA's two products, 2·(d+1)·d·H·W per head
    /// and scale, by forward hooks at the preset's input size).
    func testSizesOfPresets() {
        let reference: [String: (values: Int, macs: Int)] = [
            "efficientvit_sam_l0": (30_751_236, 34_774_974_464), "efficientvit_sam_l1": (43_617_810, 48_980_295_680),
            "efficientvit_sam_l2": (57_307_428, 68_554_326_016), "efficientvit_sam_xl0": (112_946_956, 184_804_442_112),
            "efficientvit_sam_xl1": (199_376_174, 321_870_364_672),
        ]
        for (name, r) in reference {
            let c = EfficientViTSamConfig.presets[name]!
            XCTAssertEqual(c.parameterCount, r.values, name)
            XCTAssertEqual(c.multiplyAdds, r.macs, name)
            XCTAssertEqual(c.gflops, Double(r.macs) * 2 / 1e9, accuracy: 1e-9, name)
        }
    }

    func testMissingStageIsNamed() throws {
        var t = try tensors()
        for key in t.keys where key.hasPrefix("image_encoder.backbone.stages.2.") { t[key] = nil }
        XCTAssertThrowsError(try EfficientViTSamConfig.infer(from: t, prefix: "image_encoder")) { error in
            guard case ModelLoadError.cannotInferConfig(let why) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("image_encoder.backbone.stages.2"), why)
        }
    }

    func testBadShapeIsNamed() throws {
        var t = try tensors()
        let key = "image_encoder.backbone.stages.1.op_list.0.main.point_conv.conv.weight"
        t[key] = Tensor(shape: [4, 8])
        XCTAssertThrowsError(try EfficientViTSamConfig.infer(from: t, prefix: "image_encoder")) { error in
            guard case ModelLoadError.cannotInferConfig(let why) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains(key), why)
        }
        // a block that is none of the three kinds
        var u = try tensors()
        for k in u.keys where k.hasPrefix("image_encoder.neck.middle.op_list.0.main.spatial_conv.") { u[k] = nil }
        XCTAssertThrowsError(try EfficientViTSamConfig.infer(from: u, prefix: "image_encoder")) { error in
            XCTAssertTrue("\(error)".contains("image_encoder.neck.middle.op_list.0.main"), "\(error)")
        }
    }

    /// A checkpoint whose shapes disagree with the inferred size fails the strict key check, by name.
    func testMisshapedWeightIsReported() throws {
        var t = try tensors()
        let key = "image_encoder.backbone.stages.4.op_list.1.context_module.main.proj.norm.running_var"
        t[key] = Tensor(shape: [3], repeating: 1)
        let config = try EfficientViTSamConfig.infer(from: t, prefix: "image_encoder")
        let store = WeightStore(.tensors(t))
        _ = EfficientViTSamImageEncoder(store, config: config)
        XCTAssertThrowsError(try store.finish()) { error in XCTAssertTrue("\(error)".contains(key), "\(error)") }
    }

    // MARK: - Kernels

    func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        return Tensor(shape: shape) { p in
            for i in p.indices {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                p[i] = Float(Int64(bitPattern: state >> 11) % 2000) / 1000 - 1
            }
        }
    }

    /// The banded convolutions (im2col of a pixel range, the 1×1 without im2col, Winograd's F(2×2, 3×3), a second 1×1
    /// on each band, the residual) against `conv2d` followed by `channelEpilogue`, on odd sizes down to 1×1, strides 1
    /// and 2, kernels 1, 3, 5.
    func testConvolutionBandsMatchConv2dThenEpilogue() {
        let cases: [(n: Int, cin: Int, h: Int, w: Int, cout: Int, k: Int, s: Int, bias: Bool, second: Int?)] = [
            (2, 3, 13, 11, 5, 3, 2, true, nil), (1, 4, 40, 37, 6, 3, 1, false, 5), (1, 6, 9, 30, 7, 1, 1, true, nil),
            (2, 2, 17, 17, 3, 5, 1, false, nil), (1, 5, 33, 18, 8, 3, 2, false, 4), (1, 8, 50, 50, 4, 1, 1, false, 3),
            (2, 5, 9, 45, 6, 3, 1, true, 4), (1, 3, 1, 1, 2, 3, 1, true, nil), (1, 7, 2, 3, 5, 3, 1, false, nil),
        ]
        for (i, c) in cases.enumerated() {
            let x = randomTensor([c.n, c.cin, c.h, c.w], seed: UInt64(10 * i))
            let w1 = randomTensor([c.cout, c.cin, c.k, c.k], seed: UInt64(10 * i + 1))
            let b1 = c.bias ? randomTensor([c.cout], seed: UInt64(10 * i + 2)) : nil
            let sc = randomTensor([c.cout], seed: UInt64(10 * i + 3)).data.map { 1 + $0 / 2 }
            let sh = randomTensor([c.cout], seed: UInt64(10 * i + 4)).data
            let first = ConvolutionStep(weight: w1, bias: b1, stride: c.s, padding: c.k / 2, scale: sc, shift: sh, gelu: true)
            var expected = conv2d(x, weight: w1, bias: b1, stride: c.s, padding: c.k / 2)
            channelEpilogue(&expected, scale: sc, shift: sh, gelu: true, residual: nil)
            var second: ConvolutionStep?
            if let m = c.second {
                let w2 = randomTensor([m, c.cout, 1, 1], seed: UInt64(10 * i + 5))
                let s2 = randomTensor([m], seed: UInt64(10 * i + 6)).data.map { 1 + $0 / 2 }
                second = ConvolutionStep(weight: w2, bias: nil, scale: s2, shift: sh.prefix(m).map { $0 }, gelu: false)
                expected = conv2d(expected, weight: w2, bias: nil, stride: 1, padding: 0)
                channelEpilogue(&expected, scale: s2, shift: Array(sh.prefix(m)), gelu: false, residual: nil)
            }
            let residual = randomTensor(expected.shape, seed: UInt64(10 * i + 7))
            let got = convolutionBands(x, first, then: second, residual: residual)
            assertClose(got, expected + residual, rtol: 1e-6, "case \(i)")
            if c.k == 3 && c.s == 1 {
                // Winograd F(2×2, 3×3): odd heights and widths (partial tiles), several bands, a bias
                var wino = first
                wino.winograd = true
                assertClose(convolutionBands(x, wino, then: second, residual: residual), expected + residual, rtol: 1e-5,
                            "case \(i), Winograd")
            }
        }
    }

    /// The sums of a depthwise convolution by their definition.
    func naiveDepthwise(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride s: Int, padding p: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3], k = w.shape[2]
        let oh = (h + 2 * p - k) / s + 1, ow = (wd + 2 * p - k) / s + 1
        return Tensor(shape: [n, c, oh, ow]) { o in
            for i in 0..<(n * c) { for oy in 0..<oh { for ox in 0..<ow {
                var acc = b?.data[i % c] ?? 0
                for ky in 0..<k { for kx in 0..<k {
                    let iy = oy * s - p + ky, ix = ox * s - p + kx
                    if iy >= 0 && iy < h && ix >= 0 && ix < wd { acc += w.data[(i % c) * k * k + ky * k + kx] * x.data[(i * h + iy) * wd + ix] }
                } }
                o[(i * oh + oy) * ow + ox] = acc
            } } }
        }
    }

    /// The depthwise convolution with its epilogue against the sums by definition followed by `channelEpilogue`: odd and
    /// even sizes, strides 1 and 2, kernels 3 and 5 (wider than a 2×2 grid), with and without a bias and residual; rows
    /// of one and two 16-lane vectors and a tail at both strides.
    func testDepthwiseConvolutionMatchesDepthwiseConv2dThenEpilogue() {
        let cases: [(n: Int, c: Int, h: Int, w: Int, k: Int, s: Int, bias: Bool)] = [
            (2, 3, 13, 11, 3, 2, true), (1, 4, 16, 16, 3, 2, false), (1, 5, 9, 30, 3, 1, true), (2, 2, 17, 18, 5, 1, false),
            (1, 3, 2, 2, 5, 1, true), (1, 2, 7, 1, 3, 2, false), (1, 6, 32, 33, 5, 2, true), (1, 2, 12, 70, 3, 2, true),
            (1, 2, 5, 40, 3, 1, false),
        ]
        for (i, c) in cases.enumerated() {
            let x = randomTensor([c.n, c.c, c.h, c.w], seed: UInt64(100 + 10 * i))
            let wt = randomTensor([c.c, 1, c.k, c.k], seed: UInt64(101 + 10 * i))
            let b = c.bias ? randomTensor([c.c], seed: UInt64(102 + 10 * i)) : nil
            let sc = randomTensor([c.c], seed: UInt64(103 + 10 * i)).data.map { 1 + $0 / 2 }
            let sh = randomTensor([c.c], seed: UInt64(104 + 10 * i)).data
            var expected = naiveDepthwise(x, wt, b, stride: c.s, padding: c.k / 2)
            let residual = c.bias ? randomTensor(expected.shape, seed: UInt64(105 + 10 * i)) : nil
            channelEpilogue(&expected, scale: sc, shift: sh, gelu: true, residual: residual)
            let step = ConvolutionStep(weight: wt, bias: b, stride: c.s, padding: c.k / 2, scale: sc, shift: sh, gelu: true)
            assertClose(depthwiseConvolution(x, step, residual: residual), expected, rtol: 1e-6, "case \(i)")
        }
    }

    /// The tanh GELU against ½x(1 + tanh(√(2/π)(x + 0.044715x³))) in double precision, vector lanes and the tail.
    func testGELUTanh() {
        // the extremes first, in vector lanes; 1007 values leave a scalar tail of 15
        let xs: [Float] = [-1e4, 1e4, -Float.greatestFiniteMagnitude, 0, -30, 30] + (0..<1001).map { Float($0 - 501) / 25 }
        var t = Tensor(shape: [xs.count], data: xs)
        geluTanh(&t)
        for (i, x) in xs.enumerated() {
            let d = Double(x), u = (2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)
            let ref = 0.5 * d * (1 + tanh(u))
            XCTAssertEqual(Double(t.data[i]), ref, accuracy: 2e-7 * max(1, abs(ref)), "x = \(x)")
            XCTAssertEqual(t.data[i], geluTanhScalar(x), accuracy: 2e-7 * max(1, abs(t.data[i])), "x = \(x)")
        }
        var nan = Tensor(shape: [17], repeating: .nan)
        geluTanh(&nan)
        XCTAssertTrue(nan.data.allSatisfy(\.isNaN))
    }
}
