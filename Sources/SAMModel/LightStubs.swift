// TEMPORARY: stand-ins for the helpers' types (removed at merge)
import SAMTensor

public struct EfficientViTSamConfig: Codable, Equatable, Sendable {
    public var inputSize = 512
    public static let presets: [String: EfficientViTSamConfig] = ["efficientvit_sam_l0": .init()]
    public static func infer(from tensors: [String: Tensor], prefix: String) throws -> EfficientViTSamConfig { .init() }
    public func checkBounds() throws {}
    public var presetName: String? { nil }
    public var gflops: Double { 0 }
    public var stemWidth: Int { 0 }
    public var blockCount: Int { 0 }
}
public final class EfficientViTSamImageEncoder {
    public let name: String, config: EfficientViTSamConfig
    public init(_ w: WeightStore, _ name: String = "image_encoder", config: EfficientViTSamConfig) { self.name = name; self.config = config }
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor { fatalError() }
}
