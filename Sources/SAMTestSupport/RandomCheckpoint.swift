// Checkpoints with every value randomised, made from a seed: the light family's test fixtures hold only the
// reference's outputs for such weights (experiments/reference/make_fixtures_light.sh writes them with these tensors
// as a safetensors file that the reference packages load), and the tests make the same tensors again.
import Foundation
import SAMModel
import SAMTensor

public enum RandomCheckpoint {
    /// The state dict of a model of `config`, every value random and reproducible from `seed`: norm and BatchNorm
    /// weights (the 1-D `.weight`s) 1 + N(0, 0.1), BatchNorm running_var U(0.5, 1.5), running_mean N(0, 0.1),
    /// num_batches_tracked a count, everything else N(0, 0.02) — so that no zero or one a reference initialises
    /// can hide a porting bug. Keys are sorted before drawing, so the values depend only on the key set and shapes.
    /// Buffers a model computes rather than loads (`attention_bias_idxs`) are left out.
    public static func tensors(for config: SAMConfig, seed: UInt64) -> [String: Tensor] {
        var rng = SplitMix64(seed: seed &+ 0x5EED)
        var out: [String: Tensor] = [:]
        let shapes = WeightStore.shapes(for: config)
        for key in shapes.keys.sorted() where !key.hasSuffix("attention_bias_idxs") {
            let shape = shapes[key]!
            func normal(_ mean: Float, _ std: Float) -> Tensor {
                Tensor(shape: shape) { p in for i in p.indices { p[i] = mean + std * rng.nextGaussian() } }
            }
            if key.hasSuffix(".num_batches_tracked") {
                out[key] = Tensor(shape: shape, data: [Float(1 + rng.next() % 1000)])
            } else if key.hasSuffix(".running_var") {
                out[key] = Tensor(shape: shape) { p in for i in p.indices { p[i] = 0.5 + rng.nextFloat() } }
            } else if key.hasSuffix(".running_mean") {
                out[key] = normal(0, 0.1)
            } else if key.hasSuffix(".weight") && shape.count == 1 {
                out[key] = normal(1, 0.1)
            } else {
                out[key] = normal(0, 0.02)
            }
        }
        return out
    }
}

extension SplitMix64 {
    /// Standard normal (Box–Muller) from two 24-bit uniforms.
    mutating func nextGaussian() -> Float {
        let u1 = max(nextFloat(), 1e-7), u2 = nextFloat()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}

/// Reduced members of the light family (MobileSAM, Light HQ-SAM, HQ-SAM, EfficientViT-SAM) with seeded weights: the
/// models of Tests/Fixtures/light and of the CLI tests.
public enum LightMicro {
    /// The reduced models, by the name of their configuration in experiments/reference/light/.
    public static let configs: [(name: String, config: SAMConfig)] = {
        var mobile = SAMConfig.vitB
        mobile.encoder = .tinyViT(TinyViTConfig(embedDims: [8, 16, 24, 320], depths: [1, 1, 1, 1], numHeads: [2, 2, 3, 5],
                                                windowSizes: [7, 7, 14, 7], mlpRatio: 2, mbconvExpandRatio: 2))
        mobile.maskInChans = 4; mobile.decoderDepth = 1; mobile.decoderMLPDim = 64; mobile.iouHeadHiddenDim = 32
        var hqTiny = mobile
        hqTiny.hqVitDim = 24
        var hq = SAMConfig(encoderEmbedDim: 32, encoderDepth: 2, encoderNumHeads: 2, encoderGlobalAttnIndexes: [1])
        hq.imageSize = 128; hq.windowSize = 3; hq.outChans = 32; hq.promptEmbedDim = 32; hq.maskInChans = 8
        hq.decoderMLPDim = 64; hq.iouHeadHiddenDim = 32; hq.hqVitDim = 32
        var evit = SAMConfig.vitB
        evit.encoder = .efficientViT(EfficientViTSamConfig(
            family: "L", inputSize: 512, widths: [8, 16, 24, 32, 48], depths: [1, 1, 1, 1, 1], blocks: ["res", "fmb", "fmb", "mb", "att"],
            expands: [1, 4, 4, 4, 6], fewerNorm: [false, false, false, true, true], qkvDim: 8, neckStages: [4, 3, 2],
            headWidth: 32, headDepth: 1, neckExpand: 1))
        evit.maskInChans = 4; evit.decoderDepth = 1; evit.decoderMLPDim = 64; evit.iouHeadHiddenDim = 32
        return [("mobilesam_micro", mobile), ("sam_hq_tiny_micro", hqTiny), ("sam_hq_micro", hq), ("efficientvit_micro", evit)]
    }()

    /// The seed of their weights (`RandomCheckpoint`), the one make_fixtures_light.sh wrote the dumps for.
    public static let seed: UInt64 = 20

    /// The tensors of reduced model `name`.
    public static func tensors(_ name: String) -> [String: Tensor] {
        guard let c = configs.first(where: { $0.name == name })?.config else { preconditionFailure("no reduced model \(name)") }
        return RandomCheckpoint.tensors(for: c, seed: seed)
    }

    /// Reduced model `name` built from its tensors (its size inferred from them).
    public static func model(_ name: String) throws -> Sam { try Sam(tensors: tensors(name)) }
}
