// EfficientViT-SAM's image encoder: EfficientViTLargeBackbone's stages, SamNeck (each chosen stage 1×1-projected,
// BatchNorm'd and resized bicubically to 64×64, summed, refined by residual blocks, projected to 256 channels), and a
// final LayerNorm2d. Every module is recorded under the reference's path (`image_encoder.backbone.stages.4.op_list.1.
// context_module.main.qkv.conv`, `image_encoder.neck.input_ops.0.op_list.1`, …); the backbone's and the neck's dict
// outputs are not (the reference dumps skip them).
// ref: efficientsam/models/efficientvit/sam.py@1.0.0 (SamNeck, EfficientViTSamImageEncoder),
// efficientsam/models/efficientvit/backbone.py@1.0.0 (EfficientViTLargeBackbone), efficientsam/models/nn/ops.py@1.0.0
// (DAGBlock with merge "add": list_sum, x0 + (x1 + (x2 + …)); UpSampleLayer: bicubic, align_corners False, the
// identity when the input is already 64×64), efficientsam/models/nn/norm.py@1.0.0 (LayerNorm2d)
import SAMTensor

extension EfficientViT {
    /// `EfficientViTLargeBackbone(width_list, depth_list, block_list, expand_list, fewer_norm_list, qkv_dim)`:
    /// `<name>.stages.S` OpSequentials. Stage 0: ConvLayer(3, w0, stride 2) then `depths[0]` residual local blocks;
    /// stage s: a stride-2 local block without shortcut (MBConv or FusedMBConv, expansion 4×), then `depths[s]`
    /// residual local blocks or EfficientViTBlocks.
    public final class LargeBackbone {
        public let name: String
        public let stages: [OpSequential]

        public init(_ w: WeightStore, _ name: String, config c: EfficientViTSamConfig) {
            self.name = name
            var stages: [OpSequential] = []
            var cin = 3
            for s in 0..<c.stageCount {
                let p = "\(name).stages.\(s).op_list", width = c.widths[s], eps = c.normEps
                var ops: [EfficientViTOp] = []
                if s == 0 {
                    ops.append(ConvLayer(w, "\(p).0", cin, width, stride: 2, eps: eps))
                } else {
                    ops.append(ResidualBlock("\(p).0", main: LocalBlock(
                        w, "\(p).0.main", kind: c.downsampleKind(s), cin, width, stride: 2, expand: c.expands[s] * 4,
                        fewerNorm: c.fewerNorm[s], eps: eps), shortcut: false))
                }
                for i in 1..<(c.depths[s] + 1) {
                    if let k = c.attentionScale(s) {
                        ops.append(EfficientViTBlock(w, "\(p).\(i)", channels: width, dim: c.qkvDim, expand: c.expands[s],
                                                     scale: k, eps: eps))
                    } else {
                        guard let kind = c.localKind(s) else { preconditionFailure("EfficientViT: stage \(s) block type \(c.blocks[s])") }
                        ops.append(ResidualBlock("\(p).\(i)", main: LocalBlock(
                            w, "\(p).\(i).main", kind: kind, width, width, stride: 1, expand: c.expands[s],
                            fewerNorm: c.fewerNorm[s], eps: eps), shortcut: true))
                    }
                }
                stages.append(OpSequential("\(name).stages.\(s)", ops))
                cin = width
            }
            self.stages = stages
        }

        /// Every stage's output (the reference's output_dict "stage0" …), keeping only those `keep` names (and the
        /// running one) alive.
        public func callAsFunction(_ x: Tensor, keep: Set<Int>, _ rec: ActivationRecorder?) -> [Int: Tensor] {
            var out: [Int: Tensor] = [:]
            var y = x
            for (s, stage) in stages.enumerated() {
                y = stage(y, rec)
                if keep.contains(s) { out[s] = y }
            }
            return out
        }
    }

    /// `SamNeck(fid_list, in_channel_list, head_width, head_depth, expand_ratio, middle_op)`: `<name>.input_ops.k`
    /// (ConvLayer 1×1, BatchNorm, no activation; UpSampleLayer to 64×64), their sum, `<name>.middle` (residual local
    /// blocks, GELU inside, BatchNorm), `<name>.output_ops.0` (ConvLayer 1×1 with bias to `outDim`, no norm).
    public final class SamNeck {
        public let name: String
        public let inputStages: [Int]
        public let inputConvs: [ConvLayer]
        public let middle: OpSequential
        public let output: ConvLayer

        public init(_ w: WeightStore, _ name: String, config c: EfficientViTSamConfig) {
            self.name = name
            inputStages = c.neckStages
            inputConvs = c.neckStages.enumerated().map { k, s in
                ConvLayer(w, "\(name).input_ops.\(k).op_list.0", c.widths[s], c.headWidth, kernel: 1, gelu: false, eps: c.normEps)
            }
            middle = OpSequential("\(name).middle", (0..<c.headDepth).map { d in
                ResidualBlock("\(name).middle.op_list.\(d)", main: LocalBlock(
                    w, "\(name).middle.op_list.\(d).main", kind: EfficientViT.BlockKind(rawValue: c.middleOp) ?? .fmb, c.headWidth, c.headWidth, stride: 1,
                    expand: c.neckExpand, fewerNorm: false, eps: c.normEps), shortcut: true)
            })
            output = ConvLayer(w, "\(name).output_ops.0.op_list.0", c.headWidth, c.outDim, kernel: 1, bias: true, norm: false,
                               gelu: false, eps: c.normEps)
        }

        public func callAsFunction(_ features: [Int: Tensor], _ rec: ActivationRecorder?) -> Tensor {
            let g = EfficientViTSamConfig.neckGrid
            var inputs: [Tensor] = []
            for (k, conv) in inputConvs.enumerated() {
                let p = "\(name).input_ops.\(k)"
                var y = conv(features[inputStages[k]]!, rec)
                if y.shape[2] != g || y.shape[3] != g {
                    y = Profiler.measure("efficientvit: bicubic resize") { interpolateBicubic(y, height: g, width: g) }
                }
                rec.record("\(p).op_list.1", y)
                rec.record(p, y)
                inputs.append(y)
            }
            // list_sum: x0 + (x1 + (x2 + …))
            var sum = inputs.removeLast()
            while let x = inputs.popLast() { sum = Profiler.measure("efficientvit: bicubic resize") { x + sum } }
            let m = middle(sum, rec)
            let out = output(m, rec)
            rec.record("\(name).output_ops.0", out)
            return out
        }
    }
}

/// `EfficientViTSamImageEncoder(backbone, neck)`: `<name>.backbone`, `<name>.neck`, `<name>.norm`
/// (LayerNorm2d(256), eps 1e-6).
public final class EfficientViTSamImageEncoder {
    public let name: String, config: EfficientViTSamConfig
    public let backbone: EfficientViT.LargeBackbone
    public let neck: EfficientViT.SamNeck
    public let norm: LayerNorm2d

    public init(_ w: WeightStore, _ name: String = "image_encoder", config: EfficientViTSamConfig) {
        self.name = name
        self.config = config
        backbone = EfficientViT.LargeBackbone(w, "\(name).backbone", config: config)
        neck = EfficientViT.SamNeck(w, "\(name).neck", config: config)
        norm = LayerNorm2d(w, "\(name).norm", config.outDim, eps: config.normEps)
    }

    /// x: B×3×R×R (R = inputSize; resized longest side R, normalised, zero-padded: the integrator prepares it) →
    /// B×256×64×64, recording every module under its reference path.
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == 3, "EfficientViTSamImageEncoder: input \(x.shape) is not B×3×H×W")
        let features = backbone(x, keep: Set(config.neckStages), rec)
        let n = neck(features, rec)
        let y = Profiler.measure("efficientvit: layer norm") { norm(n, rec) }
        rec.record(name, y)
        return y
    }
}
