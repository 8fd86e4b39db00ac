// The one configuration type of the model: every size decision of Meta's build_sam.py, plus custom sizes.
// ref: segment_anything/build_sam.py@dca509f
import SAMTensor

public struct SAMConfig: Codable, Equatable, Sendable {
    public var imageSize = 1024
    public var patchSize = 16
    public var encoderEmbedDim: Int
    public var encoderDepth: Int
    public var encoderNumHeads: Int
    public var encoderGlobalAttnIndexes: [Int]
    public var windowSize = 14
    public var mlpRatio: Double = 4
    /// Channels of the neck, i.e. of the image embedding (Meta: prompt_embed_dim = 256).
    public var outChans = 256
    public var promptEmbedDim = 256
    public var maskInChans = 16
    public var decoderDepth = 2
    public var decoderNumHeads = 8
    public var decoderMLPDim = 2048
    public var numMultimaskOutputs = 3
    public var iouHeadDepth = 3
    public var iouHeadHiddenDim = 256

    public init(encoderEmbedDim: Int, encoderDepth: Int, encoderNumHeads: Int, encoderGlobalAttnIndexes: [Int]) {
        self.encoderEmbedDim = encoderEmbedDim
        self.encoderDepth = encoderDepth
        self.encoderNumHeads = encoderNumHeads
        self.encoderGlobalAttnIndexes = encoderGlobalAttnIndexes
    }

    /// Tokens per side of the image embedding (64 for 1024 / 16).
    public var gridSize: Int { imageSize / patchSize }
    /// Side of the low-resolution masks and of the mask input (4 × grid: 256).
    public var lowResSize: Int { 4 * gridSize }
    public var encoderMLPDim: Int { Int(Double(encoderEmbedDim) * mlpRatio) }
    public var numMaskTokens: Int { numMultimaskOutputs + 1 }

    public static let vitB = SAMConfig(encoderEmbedDim: 768, encoderDepth: 12, encoderNumHeads: 12, encoderGlobalAttnIndexes: [2, 5, 8, 11])
    public static let vitL = SAMConfig(encoderEmbedDim: 1024, encoderDepth: 24, encoderNumHeads: 16, encoderGlobalAttnIndexes: [5, 11, 17, 23])
    public static let vitH = SAMConfig(encoderEmbedDim: 1280, encoderDepth: 32, encoderNumHeads: 16, encoderGlobalAttnIndexes: [7, 15, 23, 31])
    /// `../shared/checkpoints/sam_demo_tiny*.pth`.
    public static let demoTiny = SAMConfig(encoderEmbedDim: 192, encoderDepth: 6, encoderNumHeads: 3, encoderGlobalAttnIndexes: [1, 3, 5])
    /// `../shared/checkpoints/sam_demo_small_fp16.pth`.
    public static let demoSmall = SAMConfig(encoderEmbedDim: 384, encoderDepth: 8, encoderNumHeads: 6, encoderGlobalAttnIndexes: [1, 3, 5, 7])

    /// The presets by the names the CLI and the reference scripts use.
    public static let presets: [String: SAMConfig] = [
        "vit_b": .vitB, "vit_l": .vitL, "vit_h": .vitH, "demo_tiny": .demoTiny, "demo_small": .demoSmall,
    ]

    /// The preset name whose sizes equal this configuration, if any.
    public var presetName: String? { Self.presets.first { $0.value == self }?.key }

    /// Number of values in the state dict of a model of this size (parameters plus the 2×F Fourier buffer).
    public var parameterCount: Int {
        WeightStore.shapes(for: self).values.reduce(0) { $0 + $1.reduce(1, *) }
    }

    /// Infers the configuration from a checkpoint's tensors (Meta's key names): embed dim from the patch embedding,
    /// depth from the block count, heads from the relative-position tables (their width is the head dim), global
    /// blocks from the tables' length (2·grid − 1 for global, 2·window − 1 for windowed), image size from `pos_embed`,
    /// and the prompt encoder / decoder sizes from their weights. Decoder heads cannot be seen in the weights: 8, as
    /// in every SAM.
    ///
    /// Nothing in the file is trusted: every tensor read here must have the rank its module gives it (a scalar in
    /// place of `neck.0.weight` has no dimension 0 to read), and the sizes found are checked by `checkBounds()`
    /// before anything is built from them.
    public static func infer(from tensors: [String: Tensor]) throws -> SAMConfig {
        /// The shape of `key`, which must have `rank` dimensions, each ≥ 1.
        func shape(_ key: String, rank: Int) throws -> [Int] {
            guard let t = tensors[key] else { throw ModelLoadError.cannotInferConfig("missing key \(key)") }
            guard t.shape.count == rank, t.shape.allSatisfy({ $0 >= 1 }) else {
                throw ModelLoadError.cannotInferConfig("\(key) has shape \(t.shape), expected \(rank) dimensions of at least 1")
            }
            return t.shape
        }
        let pw = try shape("image_encoder.patch_embed.proj.weight", rank: 4)
        var depth = 0
        while depth <= Bounds.depth, tensors["image_encoder.blocks.\(depth).norm1.weight"] != nil { depth += 1 }
        guard depth > 0 else { throw ModelLoadError.cannotInferConfig("no image_encoder.blocks.N found") }
        let pos = try shape("image_encoder.pos_embed", rank: 4)
        let grid = pos[1]
        var cfg = SAMConfig(encoderEmbedDim: pw[0], encoderDepth: depth, encoderNumHeads: 1, encoderGlobalAttnIndexes: [])
        cfg.patchSize = pw[2]
        let (side, overflow) = grid.multipliedReportingOverflow(by: pw[2])
        cfg.imageSize = overflow ? Int.max : side
        let rel = try shape("image_encoder.blocks.0.attn.rel_pos_h", rank: 2)
        guard pw[0] % rel[1] == 0 else {
            throw ModelLoadError.cannotInferConfig("image_encoder.blocks.0.attn.rel_pos_h has shape \(rel): its width does not divide the embedding dim \(pw[0])")
        }
        cfg.encoderNumHeads = pw[0] / rel[1]
        var window: Int?
        for i in 0..<min(depth, Bounds.depth) {
            let l = try shape("image_encoder.blocks.\(i).attn.rel_pos_h", rank: 2)[0]
            if l == 2 * grid - 1 { cfg.encoderGlobalAttnIndexes.append(i) } else { window = (l + 1) / 2 }
        }
        cfg.windowSize = window ?? 14
        let lin1 = try shape("image_encoder.blocks.0.mlp.lin1.weight", rank: 2)
        cfg.mlpRatio = Double(lin1[0]) / Double(pw[0])
        cfg.outChans = try shape("image_encoder.neck.0.weight", rank: 4)[0]
        cfg.promptEmbedDim = try shape("prompt_encoder.point_embeddings.0.weight", rank: 2)[1]
        cfg.maskInChans = try shape("prompt_encoder.mask_downscaling.3.weight", rank: 4)[0]
        var dd = 0
        while dd <= Bounds.depth, tensors["mask_decoder.transformer.layers.\(dd).norm1.weight"] != nil { dd += 1 }
        cfg.decoderDepth = dd
        cfg.decoderMLPDim = try shape("mask_decoder.transformer.layers.0.mlp.lin1.weight", rank: 2)[0]
        cfg.numMultimaskOutputs = try shape("mask_decoder.mask_tokens.weight", rank: 2)[0] - 1
        var ih = 0
        while ih <= Bounds.depth, tensors["mask_decoder.iou_prediction_head.layers.\(ih).weight"] != nil { ih += 1 }
        cfg.iouHeadDepth = ih
        cfg.iouHeadHiddenDim = try shape("mask_decoder.iou_prediction_head.layers.0.weight", rank: 2)[0]
        try cfg.checkBounds()
        return cfg
    }

    /// Upper bounds on sizes inferred from a file, far above ViT-H's (image 1024, embed 1280, depth 32, MLP 5120):
    /// a model is only built, and its activations only sized, from a configuration within them.
    public enum Bounds {
        public static let imageSize = 4096
        public static let patchSize = 64
        public static let channels = 8192
        public static let depth = 256
        public static let mlpDim = 65536
        public static let multimaskOutputs = 64
    }

    /// Throws `cannotInferConfig` naming the first size that is not positive, is inconsistent with another, or
    /// exceeds `Bounds`: what a shape-only check of the weights cannot see (a division by a head count of 0, a grid
    /// that is not a whole number of patches) and what would size allocations before any weight is compared.
    public func checkBounds() throws {
        func need(_ ok: Bool, _ what: @autoclosure () -> String) throws {
            if !ok { throw ModelLoadError.cannotInferConfig(what()) }
        }
        try need((1...Bounds.patchSize).contains(patchSize), "patch size \(patchSize) is not in 1...\(Bounds.patchSize)")
        try need((1...Bounds.imageSize).contains(imageSize) && imageSize % patchSize == 0,
                 "image size \(imageSize) is not a multiple of the patch size \(patchSize) in 1...\(Bounds.imageSize)")
        try need((1...Bounds.channels).contains(encoderEmbedDim), "encoder embedding dim \(encoderEmbedDim) is not in 1...\(Bounds.channels)")
        try need((1...Bounds.depth).contains(encoderDepth), "encoder depth \(encoderDepth) is not in 1...\(Bounds.depth)")
        try need(encoderNumHeads >= 1 && encoderEmbedDim % encoderNumHeads == 0,
                 "\(encoderNumHeads) encoder heads do not divide the embedding dim \(encoderEmbedDim)")
        try need(encoderGlobalAttnIndexes.allSatisfy { (0..<encoderDepth).contains($0) },
                 "global attention blocks \(encoderGlobalAttnIndexes) outside 0..<\(encoderDepth)")
        try need((1...Bounds.imageSize).contains(windowSize), "window size \(windowSize) is not in 1...\(Bounds.imageSize)")
        try need(mlpRatio.isFinite && (1...Bounds.mlpDim).contains(encoderMLPDim),
                 "encoder MLP dim \(mlpRatio) × \(encoderEmbedDim) is not in 1...\(Bounds.mlpDim)")
        try need((1...Bounds.channels).contains(outChans), "neck channels \(outChans) are not in 1...\(Bounds.channels)")
        try need((2...Bounds.channels).contains(promptEmbedDim) && promptEmbedDim % 2 == 0,
                 "prompt embedding dim \(promptEmbedDim) is not even in 2...\(Bounds.channels)")
        try need((4...Bounds.channels).contains(maskInChans), "mask input channels \(maskInChans) are not in 4...\(Bounds.channels)")
        try need((1...Bounds.depth).contains(decoderDepth), "decoder depth \(decoderDepth) is not in 1...\(Bounds.depth)")
        try need(decoderNumHeads >= 1 && promptEmbedDim % (2 * decoderNumHeads) == 0,
                 "\(decoderNumHeads) decoder heads do not divide the prompt embedding dim \(promptEmbedDim) halved")
        try need((1...Bounds.mlpDim).contains(decoderMLPDim), "decoder MLP dim \(decoderMLPDim) is not in 1...\(Bounds.mlpDim)")
        try need((0...Bounds.multimaskOutputs).contains(numMultimaskOutputs),
                 "\(numMultimaskOutputs) multimask outputs are not in 0...\(Bounds.multimaskOutputs)")
        try need((1...Bounds.depth).contains(iouHeadDepth), "IoU head depth \(iouHeadDepth) is not in 1...\(Bounds.depth)")
        try need((1...Bounds.channels).contains(iouHeadHiddenDim), "IoU head width \(iouHeadHiddenDim) is not in 1...\(Bounds.channels)")
    }
}
