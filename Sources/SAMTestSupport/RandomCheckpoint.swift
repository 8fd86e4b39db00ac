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
