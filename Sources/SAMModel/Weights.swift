// Weight assignment: every module takes its tensors by Meta's state-dict key; loading is strict and reports every
// missing, unexpected and mis-shaped key by name.
import SAMTensor

/// Why a model could not be built from a checkpoint.
public enum ModelLoadError: Error, CustomStringConvertible, Equatable {
    case cannotInferConfig(String)
    case keys(missing: [String], unexpected: [String], misshaped: [String])

    public var description: String {
        switch self {
        case .cannotInferConfig(let why):
            return "cannot infer the model size from the checkpoint: \(why)"
        case .keys(let missing, let unexpected, let misshaped):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing keys: " + missing.joined(separator: ", ")) }
            if !unexpected.isEmpty { parts.append("unexpected keys: " + unexpected.joined(separator: ", ")) }
            if !misshaped.isEmpty { parts.append("wrong shapes: " + misshaped.joined(separator: ", ")) }
            return "checkpoint does not match the model: " + parts.joined(separator: "; ")
        }
    }
}

extension ModelLoadError {
    /// Throws `cannotInferConfig(what)` unless `ok`: the one check of every configuration's `checkBounds`.
    public static func require(_ ok: Bool, _ what: @autoclosure () -> String) throws {
        if !ok { throw ModelLoadError.cannotInferConfig(what()) }
    }
}

/// How a parameter is initialised when weights are random (benchmarks of model sizes without a checkpoint).
public enum ParameterInit: Sendable { case normal, ones, zeros }

/// Hands tensors to modules by key and checks them. Modules call `take` while they are built; `finish()` then
/// throws one error listing every missing, unexpected and mis-shaped key.
public final class WeightStore {
    public enum Source {
        /// Tensors from a checkpoint, by Meta's key.
        case tensors([String: Tensor])
        /// Seeded random values (normal, std 0.02; norms at identity) for benchmarks.
        case random(seed: UInt64)
        /// No values at all: only the shapes are collected (parameter counts).
        case shapesOnly
    }

    let source: Source
    /// How `takeMatrix` holds the weights of matrix products: float32, or bfloat16 for `--precision bf16` (the
    /// models set it while they build their image encoders, whose products take bf16 weights directly).
    public var matrixStorage: Precision = .fp32
    private(set) var requested: [(key: String, shape: [Int])] = []
    private var missing: [String] = []
    private var misshaped: [String] = []
    private var rng: SplitMix64

    public init(_ source: Source) {
        self.source = source
        if case .random(let seed) = source { rng = SplitMix64(weightsSeed: seed) } else { rng = SplitMix64(weightsSeed: 0) }
    }

    /// `take`, held as `matrixStorage` says: a weight that only matrix products read.
    public func takeMatrix(_ key: String, _ shape: [Int], init kind: ParameterInit = .normal) -> Tensor {
        let t = take(key, shape, init: kind)
        return matrixStorage == .bf16 && t.count == shape.reduce(1, *) ? t.convertedToBF16() : t
    }

    /// The tensor stored under `key`, which must have `shape`.
    public func take(_ key: String, _ shape: [Int], init kind: ParameterInit = .normal) -> Tensor {
        requested.append((key, shape))
        switch source {
        case .tensors(let all):
            guard let t = all[key] else { missing.append(key); return Tensor(shape: shape) }
            guard t.shape == shape else {
                misshaped.append("\(key) (expected \(shape), found \(t.shape))")
                return Tensor(shape: shape)
            }
            return t
        case .random:
            switch kind {
            case .ones: return Tensor(shape: shape, repeating: 1)
            case .zeros: return Tensor(shape: shape, repeating: 0)
            case .normal:
                return Tensor(shape: shape) { p in for i in p.indices { p[i] = rng.nextNormal() * 0.02 } }
            }
        case .shapesOnly:
            return Tensor(shape: [0])
        }
    }

    /// The tensor under `key` if the checkpoint has one (then it must have `shape`), nil otherwise: for buffers that
    /// some versions of a reference save and others do not (BatchNorm's `num_batches_tracked`, TinyViT's
    /// `attention_bias_idxs`). A key taken here is never reported missing; its shape is still checked.
    public func takeOptional(_ key: String, _ shape: [Int]) -> Tensor? {
        switch source {
        case .tensors(let all):
            guard all[key] != nil else { return nil }
            return take(key, shape)
        case .random, .shapesOnly:
            optionalKeys.insert(key)
            requested.append((key, shape))
            return nil
        }
    }

    /// Keys `takeOptional` asked for: `compare` does not report them missing.
    private var optionalKeys = Set<String>()

    /// Reports a tensor whose shape is right but whose values the model cannot take (a saved index table that is not
    /// the one the module computes): `finish()` lists it with `why` among the mismatched keys.
    public func reject(_ key: String, _ why: String) {
        misshaped.append("\(key) (\(why))")
    }

    /// Throws `ModelLoadError.keys` if any key was missing, mis-shaped, or present in the checkpoint but unused.
    public func finish() throws {
        guard case .tensors(let all) = source else { return }
        let used = Set(requested.map(\.key))
        let unexpected = all.keys.filter { !used.contains($0) }.sorted()
        if !missing.isEmpty || !unexpected.isEmpty || !misshaped.isEmpty {
            throw ModelLoadError.keys(missing: missing, unexpected: unexpected, misshaped: misshaped)
        }
    }

    /// Compares a checkpoint's tensors with every key and shape a model of `config` takes, without building it (the
    /// modules are walked with `.shapesOnly`, which allocates nothing sized by the configuration): throws
    /// `ModelLoadError.keys` naming every missing, unexpected and mis-shaped key. Run before `Sam(config:weights:)`,
    /// so that no tensor is allocated or read at a size the file did not back.
    public static func check(_ tensors: [String: Tensor], against config: SAMConfig) throws {
        let store = WeightStore(.shapesOnly)
        _ = Sam(config: config, weights: store)
        try store.compare(tensors)
    }

    /// Compares `tensors` with every key and shape this (shapes-only) store was asked for: throws
    /// `ModelLoadError.keys` naming every missing, unexpected and mis-shaped key.
    public func compare(_ tensors: [String: Tensor]) throws {
        var seen = Set<String>(), missing: [String] = [], misshaped: [String] = []
        for (key, shape) in requested where seen.insert(key).inserted {
            guard let t = tensors[key] else {
                if !optionalKeys.contains(key) { missing.append(key) }
                continue
            }
            if t.shape != shape { misshaped.append("\(key) (expected \(shape), found \(t.shape))") }
        }
        let unexpected = tensors.keys.filter { !seen.contains($0) }.sorted()
        if !missing.isEmpty || !unexpected.isEmpty || !misshaped.isEmpty {
            throw ModelLoadError.keys(missing: missing, unexpected: unexpected, misshaped: misshaped)
        }
    }

    /// Every parameter key of a model of this size with its shape (Meta's state-dict layout).
    public static func shapes(for config: SAMConfig) -> [String: [Int]] {
        let store = WeightStore(.shapesOnly)
        _ = Sam(config: config, weights: store)
        return Dictionary(store.requested.map { ($0.key, $0.shape) }, uniquingKeysWith: { a, _ in a })
    }
}

extension SplitMix64 {
    /// The random-weights stream of a seed (the state starts one step on: `seed + 0x9E3779B97F4A7C15`).
    init(weightsSeed seed: UInt64) { self.init(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }

    /// Standard normal (Box–Muller) from two 24-bit uniforms.
    mutating func nextNormal() -> Float {
        let u1 = max(nextFloat(), 1e-7), u2 = nextFloat()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}

import Foundation
