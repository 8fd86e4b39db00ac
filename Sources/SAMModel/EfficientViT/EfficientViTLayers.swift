// EfficientViT's building blocks on N×C×H×W: ConvLayer (conv → BatchNorm → tanh GELU, each optional), ResBlock,
// FusedMBConv, MBConv, LiteMLA, EfficientViTBlock, ResidualBlock with an identity shortcut, under the reference's
// module paths. Convolutions run by bands of output pixels (`convolutionBands`); without a recorder a ConvLayer's
// norm, activation and the residual addition that follows it are applied to each band as it is computed, in the
// reference's order, and a FusedMBConv's two convolutions share the band.
// ref: efficientsam/models/nn/ops.py@1.0.0 (ConvLayer, ResBlock, FusedMBConv, MBConv, LiteMLA, EfficientViTBlock,
// ResidualBlock, OpSequential), efficientsam/models/nn/act.py@1.0.0, efficientsam/models/nn/norm.py@1.0.0
import SAMTensor

/// EfficientViT's modules (a namespace: the names of ops.py without clashing with other encoders').
public enum EfficientViT {}

/// A module that maps a tensor to a tensor, recorded under its path.
public protocol EfficientViTOp: AnyObject {
    var name: String { get }
    func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor
}

/// The main branch of a `ResidualBlock`: without a recorder the shortcut is added in its last layer's epilogue.
public protocol EfficientViTBranch: AnyObject {
    var name: String { get }
    func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?, adding residual: Tensor?) -> Tensor
}

extension EfficientViT {
    /// `ConvLayer(in, out, kernel, stride, groups, use_bias, norm="bn2d" | None, act_func="gelu" | None)`:
    /// `<name>.conv` (padding kernel/2), `<name>.norm` (BatchNorm2d), `<name>.act` (nn.GELU(approximate="tanh")).
    public final class ConvLayer: EfficientViTOp {
        public let name: String
        public let weight: Tensor, bias: Tensor?
        public let norm: BatchNorm2d?
        public let gelu: Bool
        public let kernel: Int, stride: Int, groups: Int, inChannels: Int, outChannels: Int

        /// Whether the convolution runs by Winograd's F(2×2, 3×3) (`ConvolutionStep.winograd`: the weight transformed
        /// per call, not held): the 3×3 stride-1 convolutions over at least `winogradMinChannels` channels, i.e. every
        /// such convolution of the released sizes (the stage-0 ResBlocks at 32 channels, the FusedMBConvs, the neck).
        /// With the vectorised transforms Winograd is the faster of the two down to 32 channels (measured on Zen 5: the
        /// 3×3 stage of xl1 0.056 → 0.043 s at 32, its FusedMBConvs 0.877 → 0.79 s at 64).
        public let winograd: Bool
        public static let winogradMinChannels = 32

        /// The convolution with its norm and activation, for `convolutionBands` (groups 1) or `depthwiseConvolution`.
        public var step: ConvolutionStep {
            ConvolutionStep(weight: weight, bias: bias, stride: stride, padding: kernel / 2, scale: norm?.scale, shift: norm?.shift,
                            gelu: gelu, winograd: winograd)
        }

        public init(_ w: WeightStore, _ name: String, _ inChannels: Int, _ outChannels: Int, kernel: Int = 3, stride: Int = 1,
                    groups: Int = 1, bias: Bool = false, norm: Bool = true, gelu: Bool = true, eps: Float) {
            precondition(groups == 1 || (groups == inChannels && groups == outChannels), "ConvLayer: groups \(groups) is neither 1 nor depthwise")
            self.name = name
            self.kernel = kernel; self.stride = stride; self.groups = groups
            self.inChannels = inChannels; self.outChannels = outChannels
            weight = w.take("\(name).conv.weight", [outChannels, inChannels / groups, kernel, kernel])
            self.bias = bias ? w.take("\(name).conv.bias", [outChannels], init: .zeros) : nil
            self.norm = norm ? BatchNorm2d(w, "\(name).norm", outChannels, eps: eps) : nil
            self.gelu = gelu
            let eligible = kernel == 3 && stride == 1 && groups == 1 && inChannels >= Self.winogradMinChannels
            winograd = eligible
        }

        var profileName: String {
            groups > 1 ? "efficientvit: depthwise conv" : kernel == 1 ? "efficientvit: 1×1 conv" : "efficientvit: \(kernel)×\(kernel) conv"
        }

        public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor { callAsFunction(x, rec, adding: nil) }

        /// conv → norm → act, then + `residual` (a ResidualBlock's shortcut) when given.
        public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?, adding residual: Tensor?) -> Tensor {
            guard let rec else {
                return Profiler.measure(profileName) {
                    groups == 1 ? convolutionBands(x, step, residual: residual) : depthwiseConvolution(x, step, residual: residual)
                }
            }
            var raw = step
            (raw.scale, raw.shift, raw.gelu) = (nil, nil, false)
            var y = groups == 1 ? convolutionBands(x, raw) : depthwiseConvolution(x, raw)
            rec.record("\(name).conv", y)
            if let norm {
                channelEpilogue(&y, scale: norm.scale, shift: norm.shift, gelu: false, residual: nil)
                rec.record(norm.name, y)
            }
            if gelu {
                geluTanh(&y)
                rec.record("\(name).act", y)
            }
            rec.record(name, y)
            if let residual { y.add(residual) }
            return y
        }
    }

    /// The local blocks of ops.py, by the names EfficientViTLargeBackbone's block_list and SamNeck's middle_op use.
    public enum BlockKind: String, Codable, Sendable { case res, fmb, mb }

    /// ResBlock (conv1 3×3 → conv2 3×3), FusedMBConv (spatial_conv 3×3 → point_conv 1×1) or MBConv (inverted_conv
    /// 1×1 → depth_conv 3×3 depthwise → point_conv 1×1); the stride is the first 3×3's. Activations: GELU after every
    /// layer but the last; norms: BatchNorm after every layer, or (fewer-norm) only after the last, the others
    /// having a bias instead (`use_bias=(True, …, False)`).
    public final class LocalBlock: EfficientViTBranch {
        public let name: String
        public let kind: BlockKind
        public let layers: [ConvLayer]

        public init(_ w: WeightStore, _ name: String, kind: BlockKind, _ inChannels: Int, _ outChannels: Int, stride: Int,
                    expand: Double, fewerNorm: Bool, eps: Float) {
            self.name = name
            self.kind = kind
            let mid = EfficientViTSamConfig.expanded(inChannels, expand)
            let n = !fewerNorm, b = fewerNorm
            switch kind {
            case .res:
                layers = [ConvLayer(w, "\(name).conv1", inChannels, mid, stride: stride, bias: b, norm: n, gelu: true, eps: eps),
                          ConvLayer(w, "\(name).conv2", mid, outChannels, gelu: false, eps: eps)]
            case .fmb:
                layers = [ConvLayer(w, "\(name).spatial_conv", inChannels, mid, stride: stride, bias: b, norm: n, gelu: true, eps: eps),
                          ConvLayer(w, "\(name).point_conv", mid, outChannels, kernel: 1, gelu: false, eps: eps)]
            case .mb:
                layers = [ConvLayer(w, "\(name).inverted_conv", inChannels, mid, kernel: 1, bias: b, norm: n, gelu: true, eps: eps),
                          ConvLayer(w, "\(name).depth_conv", mid, mid, stride: stride, groups: mid, bias: b, norm: n, gelu: true, eps: eps),
                          ConvLayer(w, "\(name).point_conv", mid, outChannels, kernel: 1, gelu: false, eps: eps)]
            }
        }

        public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?, adding residual: Tensor?) -> Tensor {
            if rec == nil && kind == .fmb {
                // the expanded activation only ever exists band by band
                return Profiler.measure("efficientvit: fused MBConv") {
                    convolutionBands(x, layers[0].step, then: layers[1].step, residual: residual)
                }
            }
            var y = x
            for (i, layer) in layers.enumerated() {
                y = layer(y, rec, adding: rec == nil && i == layers.count - 1 ? residual : nil)
            }
            guard let rec else { return y }
            rec.record(name, y)
            if let residual { y.add(residual) }
            return y
        }
    }

    /// `LiteMLA(in, in, dim, norm=(None, "bn2d"), scales=(k,))`: qkv 1×1 (no bias) → [qkv, aggreg.0(qkv)] (aggreg.0.0
    /// k×k depthwise, aggreg.0.1 1×1 in 3·heads groups, no biases) → ReLU linear attention per head (`kernel_func`,
    /// eps 1e-15) → proj 1×1 + BatchNorm. heads = in / dim.
    public final class LiteMLA: EfficientViTBranch {
        public let name: String
        public let dim: Int, heads: Int, scale: Int
        public let qkv: ConvLayer, proj: ConvLayer
        public let aggregDepthwise: Tensor, aggregGrouped: Tensor
        /// LiteMLA's eps (1e-15) in out[:d] / (out[d] + eps).
        public static let attentionEps: Float = 1e-15

        public init(_ w: WeightStore, _ name: String, channels: Int, dim: Int, scale: Int, eps: Float) {
            self.name = name
            self.dim = dim
            self.scale = scale
            heads = channels / dim
            let td = heads * dim
            qkv = ConvLayer(w, "\(name).qkv", channels, 3 * td, kernel: 1, norm: false, gelu: false, eps: eps)
            aggregDepthwise = w.take("\(name).aggreg.0.0.weight", [3 * td, 1, scale, scale])
            aggregGrouped = w.take("\(name).aggreg.0.1.weight", [3 * td, dim, 1, 1])
            proj = ConvLayer(w, "\(name).proj", 2 * td, channels, kernel: 1, norm: true, gelu: false, eps: eps)
        }

        public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?, adding residual: Tensor?) -> Tensor {
            let q = qkv(x, rec)
            let a0 = Profiler.measure("efficientvit: depthwise conv") {
                depthwiseConvolution(q, ConvolutionStep(weight: aggregDepthwise, bias: nil, padding: scale / 2, scale: nil, shift: nil, gelu: false))
            }
            rec.record("\(name).aggreg.0.0", a0)
            let a1 = Profiler.measure("efficientvit: 1×1 conv") { groupedConv1x1(a0, weight: aggregGrouped, bias: nil, groups: 3 * heads) }
            rec.record("\(name).aggreg.0.1", a1)
            rec.record("\(name).aggreg.0", a1)
            var multi = Profiler.measure("efficientvit: linear attention") { concat([q, a1], axis: 1) }
            if let rec, rec.wants("\(name).kernel_func") {
                // the first of its two calls: ReLU of q, B × groups × dim × H·W
                let b = multi.shape[0], g = multi.shape[1] / (3 * dim), n = multi.shape[2] * multi.shape[3]
                var qs = Tensor(shape: [b, g, dim, n]) { o in
                    for i in 0..<(b * g) {
                        for j in 0..<(dim * n) { o[i * dim * n + j] = multi.data[i * 3 * dim * n + j] }
                    }
                }
                relu(&qs)
                rec.record("\(name).kernel_func", qs)
            }
            let att = Profiler.measure("efficientvit: linear attention") { reluLinearAttention(&multi, headDim: dim, eps: Self.attentionEps) }
            guard let rec else { return proj(att, nil, adding: residual) }
            var y = proj(att, rec)
            rec.record(name, y)
            if let residual { y.add(residual) }
            return y
        }
    }

    /// `ResidualBlock(main, IdentityLayer())` (x + main(x), `<name>.shortcut` recording x) or `ResidualBlock(main,
    /// None)` (main(x) alone: a stage's downsampling block).
    public final class ResidualBlock: EfficientViTOp {
        public let name: String
        public let main: EfficientViTBranch
        public let shortcut: Bool

        public init(_ name: String, main: EfficientViTBranch, shortcut: Bool) {
            self.name = name
            self.main = main
            self.shortcut = shortcut
        }

        public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
            if shortcut { rec.record("\(name).shortcut", x) }
            // with a recorder, main records its own output, then adds x (the reference's main(x) + shortcut(x))
            let y = main(x, rec, adding: shortcut ? x : nil)
            rec.record(name, y)
            return y
        }
    }

    /// `EfficientViTBlock(in, dim, expand_ratio, scales=(k,))`: context_module = x + LiteMLA(x), local_module =
    /// x + MBConv(x) (bias, bias, no bias; norms None, None, BatchNorm; GELU, GELU, none).
    public final class EfficientViTBlock: EfficientViTOp {
        public let name: String
        public let contextModule: ResidualBlock, localModule: ResidualBlock

        public init(_ w: WeightStore, _ name: String, channels: Int, dim: Int, expand: Double, scale: Int, eps: Float) {
            self.name = name
            contextModule = ResidualBlock("\(name).context_module", main: LiteMLA(
                w, "\(name).context_module.main", channels: channels, dim: dim, scale: scale, eps: eps), shortcut: true)
            localModule = ResidualBlock("\(name).local_module", main: LocalBlock(
                w, "\(name).local_module.main", kind: .mb, channels, channels, stride: 1, expand: expand, fewerNorm: true,
                eps: eps), shortcut: true)
        }

        public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
            let y = localModule(contextModule(x, rec), rec)
            rec.record(name, y)
            return y
        }
    }

    /// `OpSequential(op_list)`: ops `<name>.op_list.i` in turn, the last output recorded under `<name>`.
    public final class OpSequential: EfficientViTOp {
        public let name: String
        public let ops: [EfficientViTOp]

        public init(_ name: String, _ ops: [EfficientViTOp]) { self.name = name; self.ops = ops }

        public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
            var y = x
            for op in ops { y = op(y, rec) }
            rec.record(name, y)
            return y
        }
    }
}
