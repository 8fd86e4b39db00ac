// Activation recording: a module's output stored under the module's path in Meta's code, the name an HDF5 dump uses.
import SAMTensor

/// Collects module outputs by name (`image_encoder.blocks.3.attn`, `mask_decoder:0`, …) during a forward pass.
/// A filter limits what is kept, so verifying a big model holds only the activations a dump has.
public final class ActivationRecorder {
    public private(set) var names: [String] = []
    public private(set) var tensors: [String: Tensor] = [:]
    let filter: ((String) -> Bool)?

    /// Records every module output, or only those for which `filter` returns true.
    public init(filter: ((String) -> Bool)? = nil) { self.filter = filter }

    /// Whether `name` would be kept.
    @inline(__always) public func wants(_ name: String) -> Bool { filter?(name) ?? true }

    /// Keeps `tensor` under `name` (the first call wins, as in the reference dumps).
    public func record(_ name: String, _ tensor: @autoclosure () -> Tensor) {
        guard wants(name), tensors[name] == nil else { return }
        names.append(name)
        tensors[name] = tensor()
    }
}

extension Optional where Wrapped == ActivationRecorder {
    /// Records when a recorder is present.
    @inline(__always) public func record(_ name: String, _ tensor: @autoclosure () -> Tensor) {
        if let r = self, r.wants(name) { r.record(name, tensor()) }
    }
}
