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
        let model = try Sam(tensors: tensors, config: config)
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
