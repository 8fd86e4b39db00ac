// Loading a model from a checkpoint file: read storages → map keys → assign with shape checks.
import SAMIO
import SAMModel
import SAMTensor

public enum SamLoader {
    /// Reads a `.pth` (Meta's layout) or `.safetensors` (Meta's or Hugging Face's key names) checkpoint and builds the
    /// model, inferring its size from the tensors unless `config` is given. Every key problem is reported by name.
    ///
    /// The reader refuses a non-finite weight (`IOError.nonFinite`); the size inferred from the tensors is bounded
    /// (`SAMConfig.checkBounds`) and every key and shape is compared (`WeightStore.check`) before the model is built,
    /// so nothing is allocated at a size the file did not back. Key and shape problems are thrown as
    /// `CheckpointMismatch`, naming the file.
    public static func load(checkpoint path: String, config: SAMConfig? = nil) throws -> Sam {
        let file = try CheckpointReader.read(path: path)
        let tensors = HFKeys.isHuggingFace(file.tensors) ? HFKeys.toMeta(file.tensors) : file.tensors
        let model: Sam
        do {
            let cfg = try config ?? SAMConfig.infer(from: tensors)
            try WeightStore.check(tensors, against: cfg)
            model = try Sam(tensors: tensors, config: cfg)
        } catch let e as ModelLoadError {
            throw CheckpointMismatch(path: path, problem: e)
        }
        model.fingerprint = fingerprint(tensors)
        return model
    }

    /// A model of the given size with seeded random weights (benchmarks without a checkpoint).
    public static func random(config: SAMConfig, seed: UInt64 = 0) -> Sam {
        let m = Sam(config: config, weights: WeightStore(.random(seed: seed)))
        m.fingerprint = "random:\(config.presetName ?? "custom"):\(seed)"
        return m
    }

    /// A fingerprint of a checkpoint's weights (FNV-1a over sorted keys, shapes and every 97th value), recorded in
    /// embedding files so that an embedding is never used with another checkpoint.
    public static func fingerprint(_ tensors: [String: Tensor]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x0000_0100_0000_01B3 }
        for k in tensors.keys.sorted() {
            for b in k.utf8 { mix(UInt64(b)) }
            let t = tensors[k]!
            for d in t.shape { mix(UInt64(d)) }
            for i in stride(from: 0, to: t.count, by: 97) { mix(UInt64(t.data[i].bitPattern)) }
        }
        return String(h, radix: 16)
    }
}

/// A checkpoint whose keys or shapes do not fit the model: `<file>: <key>: <what>` for one problem, `<file>: ` and
/// the list of every missing, unexpected and mis-shaped key otherwise.
public struct CheckpointMismatch: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: ModelLoadError

    public init(path: String, problem: ModelLoadError) { self.path = path; self.problem = problem }

    public var description: String {
        if case .keys(let missing, let unexpected, let misshaped) = problem, missing.count + unexpected.count + misshaped.count == 1 {
            if let k = missing.first { return "\(path): \(k): missing from the checkpoint" }
            if let k = unexpected.first { return "\(path): \(k): unexpected key (no module of the model takes it)" }
            // "key (expected A, found B)", as WeightStore writes it
            let m = misshaped[0]
            if let r = m.firstRange(of: " (expected ") {
                return "\(path): \(m[..<r.lowerBound]): wrong shape (expected \(m[r.upperBound...])"
            }
        }
        return "\(path): \(problem)"
    }
}
