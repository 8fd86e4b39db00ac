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
    /// `precision`: bf16 holds the image encoder's product weights as bf16 (converted here, once).
    public static func load(checkpoint path: String, config: SAMConfig? = nil, precision: Precision = .fp32) throws -> Sam {
        let file = try CheckpointReader.read(path: path)
        let tensors = HFKeys.isHuggingFace(file.tensors) ? HFKeys.toMeta(file.tensors) : file.tensors
        let model: Sam
        do {
            let cfg = try config ?? SAMConfig.infer(from: tensors)
            try WeightStore.check(tensors, against: cfg)
            model = try Sam(tensors: tensors, config: cfg, precision: precision)
        } catch let e as ModelLoadError {
            throw CheckpointMismatch(path: path, problem: e)
        }
        model.fingerprint = fingerprint(tensors)
        return model
    }

    /// A model of the given size with seeded random weights (benchmarks without a checkpoint).
    public static func random(config: SAMConfig, seed: UInt64 = 0, precision: Precision = .fp32) -> Sam {
        let store = WeightStore(.random(seed: seed))
        store.matrixStorage = precision
        let m = Sam(config: config, weights: store)
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

/// A model of either family, as a checkpoint gives it.
public enum AnyModel {
    case sam(Sam)
    case sam2(SAM2Model)

    /// The preset name of its size, or "custom" (v1: vit_b…; SAM 2: sam2.1_hiera_t…).
    public var sizeName: String {
        switch self {
        case .sam(let m): return m.config.presetName ?? "custom"
        case .sam2(let m): return m.config.presetName ?? "sam2.1 custom"
        }
    }

    /// Side of the encoder's square input (1024 for the published models).
    public var imageSize: Int {
        switch self {
        case .sam(let m): return m.config.imageSize
        case .sam2(let m): return m.config.imageSize
        }
    }

    public var parameterCount: Int {
        switch self {
        case .sam(let m): return m.config.parameterCount
        case .sam2(let m): return m.config.parameterCount
        }
    }

    /// The precision of the model's products (`Sam.precision`, `SAM2Model.precision`).
    public var precision: Precision {
        switch self {
        case .sam(let m): return m.precision
        case .sam2(let m): return m.precision
        }
    }

    public var fingerprint: String {
        switch self {
        case .sam(let m): return m.fingerprint
        case .sam2(let m): return m.fingerprint
        }
    }
}

/// A checkpoint of no model the toolkit knows.
public struct UnknownModelFile: Error, CustomStringConvertible, Equatable {
    public let path: String
    public var description: String {
        "\(path): not a checkpoint of a known model: no image_encoder.trunk.* (SAM 2), image_encoder.patch_embed.proj.weight "
            + "(SAM, HQ-SAM), image_encoder.layers.* (MobileSAM) or image_encoder.backbone.* (EfficientViT-SAM)"
    }
}

public enum ModelLoader {
    /// Loads either family from a checkpoint, told apart by its keys: SAM 2 (`image_encoder.trunk.*`, the official
    /// `{"model": state_dict}` files) or v1 (Meta's or Hugging Face's keys). `v1Config` / `sam2Config` fix the size.
    public static func load(checkpoint path: String, v1Config: SAMConfig? = nil, sam2Config: SAM2Config? = nil,
                            precision: Precision = .fp32) throws -> AnyModel {
        let file = try CheckpointReader.read(path: path)
        if SAM2Config.isSAM2(file.tensors) {
            if v1Config != nil { throw InputError(path, "a SAM 2 checkpoint, but a SAM v1 model type was given") }
            return .sam2(try SAM2Loader.build(tensors: file.tensors, path: path, config: sam2Config, precision: precision))
        }
        let v1 = HFKeys.isHuggingFace(file.tensors) || file.tensors["image_encoder.patch_embed.proj.weight"] != nil
            || SAMConfig.encoderFamily(of: file.tensors) != "ViT"
        guard v1 else { throw UnknownModelFile(path: path) }
        if sam2Config != nil { throw InputError(path, "a SAM v1 checkpoint, but a SAM 2 model type was given") }
        return .sam(try SamLoader.load(checkpoint: path, config: v1Config, precision: precision))
    }
}

public enum SAM2Loader {
    /// Reads a SAM 2 checkpoint (`{"model": state_dict}` or a bare state dict, .pt/.pth or .safetensors) and builds
    /// the image model, inferring its size unless `config` is given. Strict: every missing, unexpected or
    /// mis-shaped key is named, the video-only weights included.
    public static func load(checkpoint path: String, config: SAM2Config? = nil, precision: Precision = .fp32) throws -> SAM2Model {
        try build(tensors: try CheckpointReader.read(path: path).tensors, path: path, config: config, precision: precision)
    }

    static func build(tensors: [String: Tensor], path: String, config: SAM2Config?, precision: Precision = .fp32) throws -> SAM2Model {
        let model: SAM2Model
        do {
            model = try SAM2Model(tensors: tensors, config: config, precision: precision)
        } catch let e as ModelLoadError {
            throw CheckpointMismatch(path: path, problem: e)
        }
        model.fingerprint = SamLoader.fingerprint(tensors)
        return model
    }

    /// A model of the given size with seeded random weights (benchmarks without a checkpoint).
    public static func random(config: SAM2Config, seed: UInt64 = 0, precision: Precision = .fp32) -> SAM2Model {
        let store = WeightStore(.random(seed: seed))
        store.matrixStorage = precision
        let m = SAM2Model(config: config, weights: store)
        m.fingerprint = "random:\(config.presetName ?? "sam2.1 custom"):\(seed)"
        return m
    }
}
