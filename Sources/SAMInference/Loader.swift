// Loading a model from a checkpoint file: read storages → map keys → assign with shape checks.
import SAMIO
import SAMModel
import SAMTensor

public enum SamLoader {
    /// Reads a `.pth` (Meta's layout) or `.safetensors` (Meta's or Hugging Face's key names) checkpoint and builds the
    /// model, inferring its size from the tensors unless `config` is given. Every key problem is reported by name.
    public static func load(checkpoint path: String, config: SAMConfig? = nil) throws -> Sam {
        let file = try CheckpointReader.read(path: path)
        let tensors = HFKeys.isHuggingFace(file.tensors) ? HFKeys.toMeta(file.tensors) : file.tensors
        return try Sam(tensors: tensors, config: config)
    }

    /// A model of the given size with seeded random weights (benchmarks without a checkpoint).
    public static func random(config: SAMConfig, seed: UInt64 = 0) -> Sam {
        Sam(config: config, weights: WeightStore(.random(seed: seed)))
    }
}
