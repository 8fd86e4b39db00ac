// The configuration of a SAM 2.1 image model: Hiera trunk, FPN neck, prompt encoder and SAM 2 mask decoder, with the
// four published sizes and inference of a size from a checkpoint's tensors.
// ref: sam2/configs/sam2.1/sam2.1_hiera_{t,s,b+,l}.yaml@1.1.0, sam2/modeling/backbones/hieradet.py@1.1.0 (Hiera
// defaults), sam2/build_sam.py@1.1.0 (the post-processing overrides: dynamic multimask via stability 0.05 / 0.98)
import SAMTensor

public struct SAM2Config: Codable, Equatable, Sendable {
    public var imageSize = 1024
    // Hiera (image_encoder.trunk)
    public var embedDim: Int
    public var numHeads: Int
    /// Blocks per stage.
    public var stages: [Int]
    public var globalAttBlocks: [Int]
    /// Window size per stage (0: global).
    public var windowSpec: [Int]
    /// Side of `pos_embed` (interpolated bicubically to the first stage's grid).
    public var windowPosEmbedBkgSize: Int
    public var qPool = 3
    public var qStride = 2
    public var mlpRatio: Double = 4
    // FPN neck (image_encoder.neck), prompt encoder and decoder width
    public var dModel = 256
    public var fpnTopDownLevels = [2, 3]
    public var scalp = 1
    public var maskInChans = 16
    public var decoderDepth = 2
    public var decoderNumHeads = 8
    public var decoderMLPDim = 2048
    public var numMultimaskOutputs = 3
    public var iouHeadDepth = 3
    public var iouHeadHiddenDim = 256
    public var iouPredictionUseSigmoid = true
    public var predObjScores = true
    public var predObjScoresMLP = true
    public var useHighResFeatures = true
    public var dynamicMultimaskViaStability = true
    public var stabilityDelta: Float = 0.05
    public var stabilityThresh: Float = 0.98
    public var directlyAddNoMemEmbed = true

    public init(embedDim: Int, numHeads: Int, stages: [Int], globalAttBlocks: [Int], windowSpec: [Int] = [8, 4, 14, 7],
                windowPosEmbedBkgSize: Int = 14) {
        self.embedDim = embedDim; self.numHeads = numHeads; self.stages = stages
        self.globalAttBlocks = globalAttBlocks; self.windowSpec = windowSpec
        self.windowPosEmbedBkgSize = windowPosEmbedBkgSize
    }

    public static let tiny = SAM2Config(embedDim: 96, numHeads: 1, stages: [1, 2, 7, 2], globalAttBlocks: [5, 7, 9], windowPosEmbedBkgSize: 7)
    public static let small = SAM2Config(embedDim: 96, numHeads: 1, stages: [1, 2, 11, 2], globalAttBlocks: [7, 10, 13], windowPosEmbedBkgSize: 7)
    public static let basePlus = SAM2Config(embedDim: 112, numHeads: 2, stages: [2, 3, 16, 3], globalAttBlocks: [12, 16, 20], windowPosEmbedBkgSize: 14)
    public static let large = SAM2Config(embedDim: 144, numHeads: 2, stages: [2, 6, 36, 4], globalAttBlocks: [23, 33, 43],
                                         windowSpec: [8, 4, 16, 8], windowPosEmbedBkgSize: 7)

    /// The presets by the names the CLI uses (`--model-type sam2.1_hiera_t`) and their short forms.
    public static let presets: [String: SAM2Config] = [
        "sam2.1_hiera_t": .tiny, "sam2.1_hiera_s": .small, "sam2.1_hiera_b+": .basePlus, "sam2.1_hiera_l": .large,
    ]
    public static let shortNames: [String: String] = [
        "t": "sam2.1_hiera_t", "s": "sam2.1_hiera_s", "b+": "sam2.1_hiera_b+", "l": "sam2.1_hiera_l",
        "sam2.1_hiera_tiny": "sam2.1_hiera_t", "sam2.1_hiera_small": "sam2.1_hiera_s",
        "sam2.1_hiera_base_plus": "sam2.1_hiera_b+", "sam2.1_hiera_large": "sam2.1_hiera_l",
    ]

    public var presetName: String? { Self.presets.first { $0.value == self }?.key }

    // MARK: - Derived sizes (Hiera.__init__)

    public var depth: Int { stages.reduce(0, +) }
    /// Index of each stage's last block.
    public var stageEnds: [Int] { (1...stages.count).map { stages.prefix($0).reduce(0, +) - 1 } }
    /// Blocks that pool their queries (each following stage's first block, the first `qPool` of them).
    public var qPoolBlocks: [Int] { Array(stageEnds.dropLast().map { $0 + 1 }.prefix(qPool)) }

    /// Per block: input dim, output dim, heads, window size (0 global), whether its queries are pooled.
    public struct BlockSpec: Equatable, Sendable {
        public var dim: Int, dimOut: Int, heads: Int, window: Int, pooled: Bool
    }

    public var blockSpecs: [BlockSpec] {
        var out: [BlockSpec] = []
        var dim = embedDim, heads = numHeads, stage = 1
        let ends = stageEnds, pools = qPoolBlocks
        for i in 0..<depth {
            var dimOut = dim
            // lags by a block: a stage's first block uses the previous stage's window size
            var window = windowSpec[stage - 1]
            if globalAttBlocks.contains(i) { window = 0 }
            if ends.contains(i - 1) {
                dimOut = dim * 2
                heads *= 2
                stage += 1
            }
            out.append(BlockSpec(dim: dim, dimOut: dimOut, heads: heads, window: window, pooled: pools.contains(i)))
            dim = dimOut
        }
        return out
    }

    /// The stages' output channels, highest resolution first.
    public var stageChannels: [Int] { let s = blockSpecs; return stageEnds.map { s[$0].dimOut } }
    /// Grid side after the 7×7 stride-4 patch embedding.
    public var patchGrid: Int { imageSize / 4 }
    /// Grid side of each stage's output.
    public var stageGrids: [Int] {
        var g = patchGrid, out: [Int] = []
        let pools = Set(qPoolBlocks)
        var block = 0
        for n in stages {
            for _ in 0..<n { if pools.contains(block) { g /= qStride }; block += 1 }
            out.append(g)
        }
        return out
    }
    /// FPN levels kept after the scalp (highest resolution first).
    public var levels: Int { stages.count - scalp }
    /// Side of the image embedding (the last kept level: 64 at 1024).
    public var gridSize: Int { stageGrids[levels - 1] }
    public var lowResSize: Int { 4 * gridSize }
    public var numMaskTokens: Int { numMultimaskOutputs + 1 }

    /// Number of values in the image model's state dict (trunk, neck, prompt encoder, decoder, no_mem_embed).
    public var parameterCount: Int { SAM2WeightShapes.imageShapes(self).values.reduce(0) { $0 + $1.reduce(1, *) } }

    // MARK: - Inference from a checkpoint

    /// Whether a checkpoint's tensors are a SAM 2 model's (`image_encoder.trunk.*`).
    public static func isSAM2(_ tensors: [String: Tensor]) -> Bool {
        tensors["image_encoder.trunk.patch_embed.proj.weight"] != nil
    }

    /// The sizes that tensors do not show, by what they do show: (embed dim, blocks) → heads, global blocks,
    /// window sizes, of the four published configurations.
    static let table: [(embed: Int, depth: Int, config: SAM2Config)] = [
        (96, 12, .tiny), (96, 16, .small), (112, 24, .basePlus), (144, 48, .large),
    ]

    /// Infers the configuration from a checkpoint's tensors (Meta's SAM 2 key names): embed dim from the patch
    /// embedding, stage depths from the blocks that change width (`blocks.N.proj`), `pos_embed`'s side, the window
    /// of the first stage from `pos_embed_window`, the neck width, the decoder's sizes and options (object-score
    /// head, high-resolution convolutions) from their weights. Heads, the other window sizes and the global blocks
    /// have no tensors: they come from the published configuration with the same embed dim and block count, else
    /// from Hiera's defaults (1 head, windows 8, 4, 14, 7, global blocks 12, 16, 20 when present).
    public static func infer(from tensors: [String: Tensor]) throws -> SAM2Config {
        func shape(_ key: String, rank: Int) throws -> [Int] {
            guard let t = tensors[key] else { throw ModelLoadError.cannotInferConfig("missing key \(key)") }
            guard t.shape.count == rank, t.shape.allSatisfy({ $0 >= 1 }) else {
                throw ModelLoadError.cannotInferConfig("\(key) has shape \(t.shape), expected \(rank) dimensions of at least 1")
            }
            return t.shape
        }
        let t = "image_encoder.trunk"
        let pw = try shape("\(t).patch_embed.proj.weight", rank: 4)
        var depth = 0
        while depth <= SAMConfig.Bounds.depth, tensors["\(t).blocks.\(depth).norm1.weight"] != nil { depth += 1 }
        guard depth > 0 else { throw ModelLoadError.cannotInferConfig("no \(t).blocks.N found") }
        // a stage starts at every block whose width changes (it has a projection for the shortcut)
        var starts = [0]
        for i in 1..<max(depth, 1) where tensors["\(t).blocks.\(i).proj.weight"] != nil { starts.append(i) }
        let stages = zip(starts, starts.dropFirst() + [depth]).map { $1 - $0 }
        let pos = try shape("\(t).pos_embed", rank: 4)
        let posWin = try shape("\(t).pos_embed_window", rank: 4)
        var cfg: SAM2Config
        if let known = table.first(where: { $0.embed == pw[0] && $0.depth == depth && $0.config.stages == stages }) {
            cfg = known.config
        } else {
            var windows = [8, 4, 14, 7]
            while windows.count < stages.count { windows.append(windows.last!) }
            cfg = SAM2Config(embedDim: pw[0], numHeads: 1, stages: stages, globalAttBlocks: [12, 16, 20].filter { $0 < depth },
                             windowSpec: Array(windows.prefix(stages.count)), windowPosEmbedBkgSize: pos[2])
            cfg.windowSpec[0] = posWin[2]
        }
        cfg.embedDim = pw[0]
        cfg.windowPosEmbedBkgSize = pos[2]
        cfg.qPool = stages.count - 1
        let mlp0 = try shape("\(t).blocks.0.mlp.layers.0.weight", rank: 2)
        cfg.mlpRatio = Double(mlp0[0]) / Double(pw[0])
        cfg.dModel = try shape("image_encoder.neck.convs.0.conv.weight", rank: 4)[0]
        cfg.maskInChans = try shape("sam_prompt_encoder.mask_downscaling.3.weight", rank: 4)[0]
        let d = "sam_mask_decoder"
        var dd = 0
        while dd <= SAMConfig.Bounds.depth, tensors["\(d).transformer.layers.\(dd).norm1.weight"] != nil { dd += 1 }
        cfg.decoderDepth = dd
        cfg.decoderMLPDim = try shape("\(d).transformer.layers.0.mlp.layers.0.weight", rank: 2)[0]
        cfg.numMultimaskOutputs = try shape("\(d).mask_tokens.weight", rank: 2)[0] - 1
        var ih = 0
        while ih <= SAMConfig.Bounds.depth, tensors["\(d).iou_prediction_head.layers.\(ih).weight"] != nil { ih += 1 }
        cfg.iouHeadDepth = ih
        cfg.iouHeadHiddenDim = try shape("\(d).iou_prediction_head.layers.0.weight", rank: 2)[0]
        cfg.predObjScores = tensors["\(d).obj_score_token.weight"] != nil
        cfg.predObjScoresMLP = tensors["\(d).pred_obj_score_head.layers.0.weight"] != nil
        cfg.useHighResFeatures = tensors["\(d).conv_s0.weight"] != nil
        try cfg.checkBounds()
        return cfg
    }

    /// Throws `cannotInferConfig` naming the first size that is not positive, inconsistent or out of bounds.
    public func checkBounds() throws {
        let need = ModelLoadError.require
        let B = SAMConfig.Bounds.self
        try need(imageSize == 1024, "image size \(imageSize): SAM 2's image predictor works at 1024 only")
        try need((1...B.channels).contains(embedDim), "Hiera embed dim \(embedDim) is not in 1...\(B.channels)")
        try need((1...8).contains(stages.count) && stages.allSatisfy { (1...B.depth).contains($0) } && depth <= B.depth,
                 "Hiera stages \(stages) are not 1 to 8 stages of 1...\(B.depth) blocks")
        try need(windowSpec.count == stages.count, "\(windowSpec.count) window sizes for \(stages.count) stages")
        try need(qPool >= 0 && qPool <= stages.count - 1 && (1...4).contains(qStride), "q-pool \(qPool) × stride \(qStride)")
        try need(numHeads >= 1 && numHeads <= embedDim, "\(numHeads) Hiera heads for embed dim \(embedDim)")
        try need((1...B.imageSize).contains(windowPosEmbedBkgSize), "pos_embed side \(windowPosEmbedBkgSize)")
        try need(globalAttBlocks.allSatisfy { (0..<depth).contains($0) }, "global blocks \(globalAttBlocks) outside 0..<\(depth)")
        try need(mlpRatio.isFinite && (1...B.mlpDim).contains(Int(mlpRatio * Double(embedDim))), "Hiera MLP ratio \(mlpRatio)")
        let specs = blockSpecs
        try need(specs.allSatisfy { $0.dimOut <= B.channels && $0.dimOut % $0.heads == 0 && $0.heads <= $0.dimOut },
                 "Hiera widths \(specs.map(\.dimOut)) with heads \(specs.map(\.heads))")
        try need(specs.allSatisfy { !$0.pooled || ($0.window == 0 || $0.window % qStride == 0) },
                 "a query-pooled block's window is not a multiple of the stride \(qStride)")
        try need(specs.allSatisfy { $0.window >= 0 && $0.window <= B.imageSize }, "window sizes \(windowSpec)")
        try need(stageGrids.allSatisfy { $0 >= 1 } && patchGrid % (1 << min(qPool, 20)) == 0, "stage grids \(stageGrids)")
        try need((1...stages.count).contains(levels) && (levels >= 3 || !useHighResFeatures),
                 "\(levels) feature levels kept (scalp \(scalp)); the decoder needs 3")
        try need(fpnTopDownLevels.allSatisfy { (0..<stages.count).contains($0) }, "FPN top-down levels \(fpnTopDownLevels)")
        try need((8...B.channels).contains(dModel) && dModel % 8 == 0, "neck width \(dModel) is not a multiple of 8 in 8...\(B.channels)")
        try need((4...B.channels).contains(maskInChans), "mask input channels \(maskInChans)")
        try need((1...B.depth).contains(decoderDepth), "decoder depth \(decoderDepth)")
        try need(decoderNumHeads >= 1 && dModel % (2 * decoderNumHeads) == 0, "\(decoderNumHeads) decoder heads for width \(dModel)")
        try need((1...B.mlpDim).contains(decoderMLPDim), "decoder MLP dim \(decoderMLPDim)")
        try need((1...B.multimaskOutputs).contains(numMultimaskOutputs), "\(numMultimaskOutputs) multimask outputs")
        try need((1...B.depth).contains(iouHeadDepth), "IoU head depth \(iouHeadDepth)")
        try need((1...B.channels).contains(iouHeadHiddenDim), "IoU head width \(iouHeadHiddenDim)")
    }
}
