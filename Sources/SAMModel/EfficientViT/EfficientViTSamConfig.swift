// The configuration of EfficientViT-SAM's image encoder (EfficientViTLargeBackbone + SamNeck + LayerNorm2d), the five
// published sizes, and inference of a size from a checkpoint's tensors.
// ref: efficientsam/models/efficientvit/sam.py@1.0.0 (efficientvit_sam_l0 … xl1, SamNeck),
// efficientsam/models/efficientvit/backbone.py@1.0.0 (EfficientViTLargeBackbone, efficientvit_backbone_l0 … l2),
// efficientsam/sam_model_zoo.py@1.0.0 (every norm's eps set to 1e-6)
import Foundation
import SAMTensor

public struct EfficientViTSamConfig: Codable, Equatable, Sendable {
    /// "L" (five stages, l0–l2, 512² input) or "XL" (six stages, xl0–xl1, 1024² input). Both are
    /// `EfficientViTLargeBackbone`; the name is a label for reports.
    public var family: String
    /// The encoder's square input side.
    public var inputSize: Int
    // EfficientViTLargeBackbone(width_list, depth_list, block_list, expand_list, fewer_norm_list, qkv_dim)
    /// Output channels of each stage (stage 0 is the stride-2 stem).
    public var widths: [Int]
    /// Blocks after each stage's first op (the stem, or the stride-2 downsampling block).
    public var depths: [Int]
    /// Block type per stage: "res" (ResBlock), "fmb" (FusedMBConv), "mb" (MBConv), "att" (EfficientViTBlock with
    /// 5×5 aggregation) or "att@K" (K×K aggregation).
    public var blocks: [String]
    /// Expansion ratio per stage (the downsampling block of stage s ≥ 1 expands by 4× this).
    public var expands: [Double]
    /// Per stage: the blocks' first convolutions have a bias and no norm.
    public var fewerNorm: [Bool]
    /// LiteMLA's per-head width (`qkv_dim`, 32).
    public var qkvDim: Int
    // SamNeck(fid_list, in_channel_list, head_width, head_depth, expand_ratio, middle_op, out_dim)
    /// The backbone stages the neck adds, in the order of `fid_list` ("stage4" → 4).
    public var neckStages: [Int]
    public var headWidth: Int
    public var headDepth: Int
    public var neckExpand: Double
    /// "fmb", "mb" or "res".
    public var middleOp: String
    /// The neck's output channels and the final LayerNorm2d's width (256).
    public var outDim: Int
    /// Every BatchNorm's and the LayerNorm2d's eps (`create_efficientvit_sam_model` sets 1e-6).
    public var normEps: Float

    public init(family: String, inputSize: Int, widths: [Int], depths: [Int], blocks: [String], expands: [Double],
                fewerNorm: [Bool], qkvDim: Int = 32, neckStages: [Int], headWidth: Int = 256, headDepth: Int,
                neckExpand: Double, middleOp: String = "fmb", outDim: Int = 256, normEps: Float = 1e-6) {
        self.family = family; self.inputSize = inputSize; self.widths = widths; self.depths = depths
        self.blocks = blocks; self.expands = expands; self.fewerNorm = fewerNorm; self.qkvDim = qkvDim
        self.neckStages = neckStages; self.headWidth = headWidth; self.headDepth = headDepth
        self.neckExpand = neckExpand; self.middleOp = middleOp; self.outDim = outDim; self.normEps = normEps
    }

    /// efficientvit_backbone_l* with EfficientViTLargeBackbone's defaults, and its SamNeck.
    static func l(depths: [Int], headDepth: Int) -> EfficientViTSamConfig {
        EfficientViTSamConfig(family: "L", inputSize: 512, widths: [32, 64, 128, 256, 512], depths: depths,
                              blocks: ["res", "fmb", "fmb", "mb", "att"], expands: [1, 4, 4, 4, 6],
                              fewerNorm: [false, false, false, true, true], neckStages: [4, 3, 2], headDepth: headDepth,
                              neckExpand: 1)
    }

    static func xl(depths: [Int], headDepth: Int) -> EfficientViTSamConfig {
        EfficientViTSamConfig(family: "XL", inputSize: 1024, widths: [32, 64, 128, 256, 512, 1024], depths: depths,
                              blocks: ["res", "fmb", "fmb", "fmb", "att@3", "att@3"], expands: [1, 4, 4, 4, 4, 6],
                              fewerNorm: [false, false, false, false, true, true], neckStages: [5, 4, 3],
                              headDepth: headDepth, neckExpand: 4)
    }

    public static let presets: [String: EfficientViTSamConfig] = [
        "efficientvit_sam_l0": .l(depths: [1, 1, 1, 4, 4], headDepth: 4),
        "efficientvit_sam_l1": .l(depths: [1, 1, 1, 6, 6], headDepth: 8),
        "efficientvit_sam_l2": .l(depths: [1, 2, 2, 8, 8], headDepth: 12),
        "efficientvit_sam_xl0": .xl(depths: [0, 1, 1, 2, 3, 3], headDepth: 6),
        "efficientvit_sam_xl1": .xl(depths: [1, 2, 2, 4, 6, 6], headDepth: 12),
    ]

    public var presetName: String? { Self.presets.first { $0.value == self }?.key }

    // MARK: - Derived sizes

    public var stageCount: Int { widths.count }

    /// `round(channels · ratio)`, Python's round (half to even), as `mid_channels` is computed.
    static func expanded(_ channels: Int, _ ratio: Double) -> Int { Int((Double(channels) * ratio).rounded(.toNearestOrEven)) }

    /// The kind of a stage's downsampling block (EfficientViTLargeBackbone: "mb" unless the stage's type is "mb" or
    /// "fmb").
    public func downsampleKind(_ stage: Int) -> EfficientViT.BlockKind { blocks[stage] == "fmb" ? .fmb : .mb }

    /// The kind of a local stage's blocks after the first op (nil for an attention stage).
    public func localKind(_ stage: Int) -> EfficientViT.BlockKind? { EfficientViT.BlockKind(rawValue: blocks[stage]) }

    /// The aggregation kernel of an attention stage ("att" → 5, "att@K" → K), nil for a local one.
    public func attentionScale(_ stage: Int) -> Int? { Self.attentionScale(blocks[stage]) }

    static func attentionScale(_ kind: String) -> Int? {
        if kind == "att" { return 5 }
        guard kind.hasPrefix("att@"), let k = Int(kind.dropFirst(4)) else { return nil }
        return k
    }

    /// Side of each stage's output grid (each stage halves it, the stem included; a 3×3 stride-2 convolution with
    /// padding 1 maps s to (s − 1) / 2 + 1).
    public var stageGrids: [Int] {
        var g = inputSize, out: [Int] = []
        for _ in widths { g = (g - 1) / 2 + 1; out.append(g) }
        return out
    }

    /// The side the neck resizes every input to (UpSampleLayer(size=(64, 64))).
    public static let neckGrid = 64

    // MARK: - Work

    /// Multiply-adds ×2 / 1e9 of one image at `inputSize`: every convolution and LiteMLA's products (resizing,
    /// norms and activations not counted).
    public var gflops: Double { Double(multiplyAdds) * 2 / 1e9 }

    /// Multiply-adds of one image (see `gflops`).
    public var multiplyAdds: Int {
        var total = 0
        func conv(_ cin: Int, _ cout: Int, _ k: Int, groups: Int = 1, _ side: Int) { total += cout * (cin / groups) * k * k * side * side }
        /// A local block from `cin` at grid `side` (output at `side / stride`); returns the output side.
        func local(_ kind: EfficientViT.BlockKind, _ cin: Int, _ cout: Int, _ ratio: Double, stride: Int, _ side: Int) -> Int {
            let mid = Self.expanded(cin, ratio), os = (side - 1) / stride + 1
            switch kind {
            case .res: conv(cin, mid, 3, os); conv(mid, cout, 3, os)
            case .fmb: conv(cin, mid, 3, os); conv(mid, cout, 1, os)
            case .mb: conv(cin, mid, 1, side); conv(mid, mid, 3, groups: mid, os); conv(mid, cout, 1, os)
            }
            return os
        }
        var side = inputSize, cin = 3
        for s in 0..<stageCount {
            let w = widths[s]
            if s == 0 {
                side = (side - 1) / 2 + 1
                conv(3, w, 3, side)
            } else {
                side = local(downsampleKind(s), cin, w, expands[s] * 4, stride: 2, side)
            }
            for _ in 0..<depths[s] {
                if let k = attentionScale(s) {
                    let heads = w / qkvDim, td = heads * qkvDim, n = side * side
                    conv(w, 3 * td, 1, side)
                    conv(3 * td, 3 * td, k, groups: 3 * td, side)
                    conv(3 * td, 3 * td, 1, groups: 3 * heads, side)
                    // per group of 2·heads: vk = [v; 1]·kᵀ and o = vk·q, (d + 1)·d·n each
                    total += 2 * heads * 2 * (qkvDim + 1) * qkvDim * n
                    conv(2 * td, w, 1, side)
                    _ = local(.mb, w, w, expands[s], stride: 1, side)
                } else if let kind = localKind(s) {
                    _ = local(kind, w, w, expands[s], stride: 1, side)
                }
            }
            cin = w
        }
        let grids = stageGrids, g = Self.neckGrid
        for st in neckStages where st < stageCount { conv(widths[st], headWidth, 1, grids[st]) }
        let middleKind = EfficientViT.BlockKind(rawValue: middleOp) ?? .fmb
        for _ in 0..<headDepth { _ = local(middleKind, headWidth, headWidth, neckExpand, stride: 1, g) }
        conv(headWidth, outDim, 1, g)
        return total
    }

    // MARK: - Weights

    /// Every state-dict key of the encoder under `prefix` with its shape (a shapes-only walk of the modules: nothing
    /// sized by the configuration is allocated).
    public func weightShapes(prefix: String = "image_encoder") -> [String: [Int]] {
        let store = WeightStore(.shapesOnly)
        _ = EfficientViTSamImageEncoder(store, prefix, config: self)
        return Dictionary(store.requested.map { ($0.key, $0.shape) }, uniquingKeysWith: { a, _ in a })
    }

    /// Number of values in the encoder's state dict (BatchNorm's running statistics and counters included).
    public var parameterCount: Int { weightShapes().values.reduce(0) { $0 + $1.reduce(1, *) } }

    // MARK: - Inference from a checkpoint

    /// Inferred from the tensors under `prefix` ("image_encoder"): stage count and depths from the keys
    /// `backbone.stages.S.op_list.M`, widths and expansion ratios from the convolutions' shapes, block types and
    /// fewer-norm from which keys a block has, the aggregation kernel and LiteMLA's head width from `aggreg.0`, the
    /// neck's inputs (matched to the stage of that width, deepest first), head width, depth, expansion and middle op
    /// from its convolutions. The input side is the one at which the shallowest neck input is 64×64 (the presets':
    /// 512 for five stages, 1024 for six). Checks ranks and bounds; throws `cannotInferConfig` naming the key at
    /// fault (a stage or block missing, a shape of the wrong rank).
    public static func infer(from tensors: [String: Tensor], prefix: String) throws -> EfficientViTSamConfig {
        try infer(fromShapes: tensors.mapValues(\.shape), prefix: prefix)
    }

    /// `infer(from:prefix:)` given only each key's shape.
    public static func infer(fromShapes tensors: [String: [Int]], prefix: String) throws -> EfficientViTSamConfig {
        let p = prefix.isEmpty ? "" : prefix + "."
        func fail(_ why: String) -> ModelLoadError { .cannotInferConfig(why) }
        func shape(_ key: String, rank: Int) throws -> [Int] {
            guard let t = tensors[key] else { throw fail("missing key \(key)") }
            guard t.count == rank, t.allSatisfy({ $0 >= 1 }) else {
                throw fail("\(key) has shape \(t), expected \(rank) dimensions of at least 1")
            }
            return t
        }
        func has(_ key: String) -> Bool { tensors[key] != nil }
        // which op indices each stage has, from the key names
        let stagesPrefix = "\(p)backbone.stages."
        var ops: [Int: Set<Int>] = [:]
        for key in tensors.keys where key.hasPrefix(stagesPrefix) {
            let parts = key.dropFirst(stagesPrefix.count).split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[1] == "op_list", let s = Int(parts[0]), let m = Int(parts[2]),
                  (0..<16).contains(s), (0...SAMConfig.Bounds.depth).contains(m) else {
                throw fail("\(key) is not backbone.stages.S.op_list.M.… with S < 16 and M ≤ \(SAMConfig.Bounds.depth)")
            }
            ops[s, default: []].insert(m)
        }
        guard !ops.isEmpty else { throw fail("no \(stagesPrefix)N found") }
        let stageCount = ops.keys.max()! + 1
        for s in 0..<stageCount {
            guard let m = ops[s] else { throw fail("\(stagesPrefix)\(s) is missing (stages up to \(stageCount - 1) are present)") }
            for i in 0..<(m.max()! + 1) where !m.contains(i) { throw fail("\(stagesPrefix)\(s).op_list.\(i) is missing") }
        }
        /// A local block's kind and first convolution (the one that expands), from its keys under `b`.
        func localKind(_ b: String) throws -> (kind: EfficientViT.BlockKind, first: String) {
            if has("\(b).conv1.conv.weight") { return (.res, "\(b).conv1") }
            if has("\(b).spatial_conv.conv.weight") { return (.fmb, "\(b).spatial_conv") }
            if has("\(b).inverted_conv.conv.weight") { return (.mb, "\(b).inverted_conv") }
            throw fail("\(b) has none of conv1, spatial_conv, inverted_conv: not a ResBlock, FusedMBConv or MBConv")
        }
        var widths: [Int] = [], depths: [Int] = [], blocks: [String] = [], expands: [Double] = [], fewer: [Bool] = []
        var qkvDim: Int?
        for s in 0..<stageCount {
            let st = "\(stagesPrefix)\(s).op_list"
            let depth = ops[s]!.count - 1
            let cin = s == 0 ? 0 : widths[s - 1]
            var w: Int
            var kind: String, ratio: Double, fewerNorm: Bool
            if s == 0 {
                w = try shape("\(st).0.conv.weight", rank: 4)[0]
                (kind, ratio, fewerNorm) = ("res", 1, false)  // the backbone's defaults: unused without blocks
            } else {
                let (dk, first) = try localKind("\(st).0.main")
                guard dk != .res else { throw fail("\(st).0.main is a ResBlock: a stage's downsampling block is an MBConv or FusedMBConv") }
                w = try shape("\(st).0.main.point_conv.conv.weight", rank: 4)[0]
                let mid = try shape("\(first).conv.weight", rank: 4)[0]
                (kind, ratio, fewerNorm) = (dk.rawValue, Double(mid) / Double(cin) / 4, !has("\(first).norm.weight"))
            }
            if depth > 0 {
                let b = "\(st).1"
                if has("\(b).context_module.main.qkv.conv.weight") {
                    let agg = try shape("\(b).context_module.main.aggreg.0.0.weight", rank: 4)
                    let grp = try shape("\(b).context_module.main.aggreg.0.1.weight", rank: 4)
                    kind = agg[2] == 5 ? "att" : "att@\(agg[2])"
                    let mid = try shape("\(b).local_module.main.inverted_conv.conv.weight", rank: 4)[0]
                    ratio = Double(mid) / Double(w)
                    if let q = qkvDim, q != grp[1] {
                        throw fail("\(b).context_module.main.aggreg.0.1.weight has head width \(grp[1]), an earlier stage \(q)")
                    }
                    qkvDim = grp[1]
                } else {
                    let (bk, first) = try localKind("\(b).main")
                    let mid = try shape("\(first).conv.weight", rank: 4)[0]
                    kind = bk.rawValue
                    ratio = Double(mid) / Double(w)
                    if s == 0 { fewerNorm = !has("\(first).norm.weight") }
                }
            }
            widths.append(w); depths.append(depth); blocks.append(kind); expands.append(ratio); fewer.append(fewerNorm)
        }
        // the neck
        let n = "\(p)neck"
        var neckStages: [Int] = [], headWidth = 0
        var k = 0
        while k <= stageCount, has("\(n).input_ops.\(k).op_list.0.conv.weight") {
            let key = "\(n).input_ops.\(k).op_list.0.conv.weight"
            let cw = try shape(key, rank: 4)
            if k == 0 { headWidth = cw[0] }
            guard let st = (0..<stageCount).reversed().first(where: { widths[$0] == cw[1] && !neckStages.contains($0) }) else {
                throw fail("\(key) takes \(cw[1]) channels: no unused backbone stage has that width (\(widths))")
            }
            neckStages.append(st)
            k += 1
        }
        guard !neckStages.isEmpty else { throw fail("missing key \(n).input_ops.0.op_list.0.conv.weight") }
        let middlePrefix = "\(n).middle.op_list."
        var middle = Set<Int>()
        for key in tensors.keys where key.hasPrefix(middlePrefix) {
            guard let d = Int(key.dropFirst(middlePrefix.count).prefix { $0 != "." }), (0..<SAMConfig.Bounds.depth).contains(d) else {
                throw fail("\(key) is not neck.middle.op_list.D.… with D < \(SAMConfig.Bounds.depth)")
            }
            middle.insert(d)
        }
        let headDepth = middle.count
        for d in 0..<headDepth where !middle.contains(d) { throw fail("\(middlePrefix)\(d) is missing") }
        var middleOp = "fmb", neckExpand = 1.0
        if headDepth > 0 {
            let (kind, first) = try localKind("\(middlePrefix)0.main")
            middleOp = kind.rawValue
            neckExpand = Double(try shape("\(first).conv.weight", rank: 4)[0]) / Double(headWidth)
        }
        let outDim = try shape("\(n).output_ops.0.op_list.0.conv.weight", rank: 4)[0]
        let minStage = neckStages.min()!  // below 16: no shift overflows
        let cfg = EfficientViTSamConfig(
            family: stageCount == 6 ? "XL" : "L", inputSize: neckGrid << (minStage + 1), widths: widths, depths: depths,
            blocks: blocks, expands: expands, fewerNorm: fewer, qkvDim: qkvDim ?? 32, neckStages: neckStages,
            headWidth: headWidth, headDepth: headDepth, neckExpand: neckExpand, middleOp: middleOp, outDim: outDim)
        try cfg.checkBounds()
        return cfg
    }

    /// Throws `cannotInferConfig` naming the first size that is not positive, inconsistent or out of bounds.
    public func checkBounds() throws {
        let need = ModelLoadError.require
        let B = SAMConfig.Bounds.self
        let n = widths.count
        try need((1...8).contains(n), "\(n) backbone stages: expected 1 to 8")
        try need(depths.count == n && blocks.count == n && expands.count == n && fewerNorm.count == n,
                 "per-stage lists of different lengths: widths \(n), depths \(depths.count), blocks \(blocks.count), expands \(expands.count), fewer-norm \(fewerNorm.count)")
        try need((1...B.imageSize).contains(inputSize) && inputSize % (1 << n) == 0,
                 "input size \(inputSize) is not a multiple of \(1 << n) in 1...\(B.imageSize)")
        try need(widths.allSatisfy { (1...B.channels).contains($0) }, "stage widths \(widths) are not in 1...\(B.channels)")
        try need(depths.allSatisfy { (0...B.depth).contains($0) } && depths.reduce(0, +) <= B.depth,
                 "stage depths \(depths) are not in 0...\(B.depth)")
        try need(qkvDim >= 1 && qkvDim <= B.channels, "LiteMLA head width \(qkvDim)")
        for s in 0..<n {
            let kind = blocks[s]
            if let k = attentionScale(s) {
                try need(s > 0, "stage 0 cannot be an attention stage")
                try need(k >= 1 && k <= 15 && k % 2 == 1, "stage \(s): aggregation kernel \(k) is not odd in 1...15")
                try need(widths[s] >= qkvDim, "stage \(s): width \(widths[s]) is below the head width \(qkvDim)")
            } else {
                try need(localKind(s) != nil, "stage \(s): unknown block type \(kind)")
            }
            let r = expands[s]
            try need(r.isFinite && r > 0 && r <= Double(B.mlpDim), "stage \(s): expansion ratio \(r)")
            let cin = s == 0 ? widths[0] : widths[s - 1]
            let mids = [Self.expanded(widths[s], r)] + (s > 0 ? [Self.expanded(cin, r * 4)] : [])
            try need(mids.allSatisfy { (1...B.mlpDim).contains($0) }, "stage \(s): expanded widths \(mids) are not in 1...\(B.mlpDim)")
        }
        try need((1...n).contains(neckStages.count) && neckStages.allSatisfy { (0..<n).contains($0) }
                 && Set(neckStages).count == neckStages.count, "neck inputs \(neckStages) are not distinct stages of 0..<\(n)")
        try need((1...B.channels).contains(headWidth), "neck width \(headWidth)")
        try need((0...B.depth).contains(headDepth), "neck depth \(headDepth)")
        try need(EfficientViT.BlockKind(rawValue: middleOp) != nil, "neck middle op \(middleOp)")
        try need(neckExpand.isFinite && neckExpand > 0 && (1...B.mlpDim).contains(Self.expanded(headWidth, neckExpand)),
                 "neck expansion ratio \(neckExpand)")
        try need((1...B.channels).contains(outDim), "neck output width \(outDim)")
        try need(normEps.isFinite && normEps > 0, "norm eps \(normEps)")
    }
}
