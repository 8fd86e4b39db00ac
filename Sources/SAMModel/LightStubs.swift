// TEMPORARY: stand-ins for the helpers' types (removed at merge)
import SAMTensor

public struct TinyViTConfig: Codable, Equatable, Sendable {
    public var imageSize = 1024
    public var embedDims: [Int] = [64, 128, 160, 320]
    public var depths: [Int] = [2, 2, 6, 2]
    public var numHeads: [Int] = [2, 4, 5, 10]
    public var windowSizes: [Int] = [7, 7, 14, 7]
    public var mlpRatio: Double = 4
    public var mbconvExpandRatio: Double = 4
    public var localConvSize = 3
    public var outChans = 256
    public static let mobileSAM = TinyViTConfig()
    public static func infer(from tensors: [String: Tensor], prefix: String) throws -> TinyViTConfig { .mobileSAM }
    public func checkBounds() throws {}
    public var gflops: Double { 0 }
}
public final class TinyViT {
    public let name: String, config: TinyViTConfig
    public init(_ w: WeightStore, _ name: String = "image_encoder", config: TinyViTConfig) { self.name = name; self.config = config }
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?, hqOutputs: Bool = false) -> (embedding: Tensor, interm: Tensor) { fatalError() }
}
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
