// The one configuration type of the SAM v1 family: every size decision of Meta's build_sam.py, plus custom sizes,
// and the members that swap the image encoder (MobileSAM, EfficientViT-SAM) or the decoder (HQ-SAM).
// ref: segment_anything/build_sam.py@dca509f
// ref: mobile_sam/build_sam.py@mobilesam-mirror 1.0.0 (build_sam_vit_t)
// ref: segment_anything_hq/build_sam.py@0.3 (vit_dim of MaskDecoderHQ)
// ref: efficientsam/models/efficientvit/sam.py@1.0.0 (efficientvit_sam_l0 … xl1)
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
    /// The image encoder: Meta's ViT (the encoder fields above), TinyViT or EfficientViT-SAM's.
    public var encoder: SAMEncoderKind = .vit
    /// HQ-SAM: the decoder is `MaskDecoderHQ`, fusing an encoder feature of this many channels (the ViT's embed dim,
    /// TinyViT's second stage); nil for SAM's decoder.
    public var hqVitDim: Int?

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

    /// MobileSAM: TinyViT-5M's SAM variant and SAM's prompt encoder and decoder.
    public static let mobileSAM: SAMConfig = {
        var c = SAMConfig.vitB
        c.encoder = .tinyViT(.mobileSAM)
        return c
    }()

    /// HQ-SAM on `base` (vit_b/l/h: the ViT's embed dim as the HQ feature; MobileSAM's TinyViT: its 160-channel stage).
    public static func hq(_ base: SAMConfig) -> SAMConfig {
        var c = base
        switch base.encoder {
        case .vit: c.hqVitDim = base.encoderEmbedDim
        case .tinyViT(let t): c.hqVitDim = t.embedDims[min(2, t.embedDims.count - 1)]
        case .efficientViT: preconditionFailure("HQ-SAM has no EfficientViT variant")
        }
        return c
    }

    /// EfficientViT-SAM of an `EfficientViTSamConfig` preset.
    public static func efficientViT(_ e: EfficientViTSamConfig) -> SAMConfig {
        var c = SAMConfig.vitB
        c.encoder = .efficientViT(e)
        return c
    }

    /// The presets by the names the CLI and the reference scripts use.
    public static let presets: [String: SAMConfig] = {
        var p: [String: SAMConfig] = [
            "vit_b": .vitB, "vit_l": .vitL, "vit_h": .vitH, "demo_tiny": .demoTiny, "demo_small": .demoSmall,
            "mobilesam": .mobileSAM,
            "sam_hq_vit_b": .hq(.vitB), "sam_hq_vit_l": .hq(.vitL), "sam_hq_vit_h": .hq(.vitH), "sam_hq_vit_tiny": .hq(.mobileSAM),
        ]
        for (name, e) in EfficientViTSamConfig.presets { p[name] = .efficientViT(e) }
        return p
    }()

    /// The model family by its members' names: "SAM", "MobileSAM", "HQ-SAM", "Light HQ-SAM", "EfficientViT-SAM".
    public var familyName: String {
        switch (encoder, hqVitDim) {
        case (.vit, nil): return "SAM"
        case (.vit, _): return "HQ-SAM"
        case (.tinyViT, nil): return "MobileSAM"
        case (.tinyViT, _): return "Light HQ-SAM"
        case (.efficientViT, _): return "EfficientViT-SAM"
        }
    }

    /// eps of the two-way transformer's LayerNorms: nn.LayerNorm's 1e-5, except in EfficientViT-SAM, whose builder sets
    /// 1e-6 on every nn.LayerNorm of the model (ref: efficientsam/sam_model_zoo.py@1.0.0, set_norm_eps).
    public var decoderLayerNormEps: Float {
        if case .efficientViT = encoder { return 1e-6 }
        return 1e-5
    }

    /// Side of the square the image encoder reads: `imageSize` for ViT and TinyViT, 512 or 1024 for EfficientViT-SAM
    /// (its images are resized to that side while prompts and masks stay in the `imageSize` frame).
    public var encoderInputSize: Int {
        if case .efficientViT(let e) = encoder { return e.inputSize }
        return imageSize
    }

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
        var cfg: SAMConfig
        switch encoderFamily(of: tensors) {
        case "TinyViT":
            cfg = .vitB
            cfg.encoder = .tinyViT(try TinyViTConfig.infer(from: tensors, prefix: "image_encoder"))
        case "EfficientViT":
            cfg = .vitB
            let e = try EfficientViTSamConfig.infer(from: tensors, prefix: "image_encoder")
            cfg.encoder = .efficientViT(e)
            cfg.outChans = e.outDim
        default:
            cfg = try inferViT(tensors, shape)
        }
        cfg.promptEmbedDim = try shape("prompt_encoder.point_embeddings.0.weight", rank: 2)[1]
        if case .vit = cfg.encoder {} else { cfg.outChans = cfg.promptEmbedDim }
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
        // HQ-SAM: compress_vit_feat.0 is ConvTranspose2d(vit_dim, transformer_dim, 2, 2), weight [vit_dim, C, 2, 2].
        // A file with some of the HQ decoder's keys but not its token is a broken HQ-SAM file, not a SAM one.
        let hqParts = ["hf_token", "hf_mlp", "compress_vit_feat", "embedding_encoder", "embedding_maskfeature"]
        if tensors["mask_decoder.hf_token.weight"] == nil,
           let k = tensors.keys.sorted().first(where: { k in hqParts.contains { k.hasPrefix("mask_decoder.\($0).") } }) {
            throw ModelLoadError.cannotInferConfig("mask_decoder.hf_token.weight is missing, but \(k) is an HQ-SAM decoder key: "
                                                   + "an HQ-SAM file without its HQ token")
        }
        if tensors["mask_decoder.hf_token.weight"] != nil {
            cfg.hqVitDim = try shape("mask_decoder.compress_vit_feat.0.weight", rank: 4)[0]
            if case .efficientViT = cfg.encoder {
                throw ModelLoadError.cannotInferConfig("mask_decoder.hf_token.weight: an HQ-SAM decoder beside an EfficientViT-SAM encoder, which no reference builds")
            }
        }
        try cfg.checkBounds()
        return cfg
    }

    /// The image encoder a checkpoint's keys show: "TinyViT" (`image_encoder.layers.*` or
    /// `image_encoder.patch_embed.seq.*`), "EfficientViT" (`image_encoder.backbone.*`), else "ViT".
    public static func encoderFamily(of tensors: [String: Tensor]) -> String {
        if tensors.keys.contains(where: { $0.hasPrefix("image_encoder.backbone.") }) { return "EfficientViT" }
        if tensors.keys.contains(where: { $0.hasPrefix("image_encoder.layers.") || $0.hasPrefix("image_encoder.patch_embed.seq.") }) {
            return "TinyViT"
        }
        return "ViT"
    }

    /// The ViT encoder's sizes (see `infer`).
    static func inferViT(_ tensors: [String: Tensor], _ shapeOf: (String, Int) throws -> [Int]) throws -> SAMConfig {
        func shape(_ key: String, rank: Int) throws -> [Int] { try shapeOf(key, rank) }
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
        let need = ModelLoadError.require
        switch encoder {
        case .vit: try checkViTBounds(need)
        case .tinyViT(let t):
            try t.checkBounds()
            try need(imageSize == t.imageSize && imageSize / patchSize == 64 && t.outChans == promptEmbedDim,
                     "TinyViT's \(t.imageSize)² input and \(t.outChans) output channels do not fit a \(imageSize)² model with \(promptEmbedDim)-channel prompts")
        case .efficientViT(let e):
            try e.checkBounds()
            try need(imageSize == 1024 && patchSize == 16 && promptEmbedDim == e.outDim && outChans == e.outDim,
                     "EfficientViT-SAM's \(e.outDim)×64×64 embedding does not fit a \(imageSize)² model with \(promptEmbedDim)-channel prompts")
        }
        if let v = hqVitDim {
            try need((1...Bounds.channels).contains(v), "HQ feature channels \(v) are not in 1...\(Bounds.channels)")
            try need(promptEmbedDim % 8 == 0, "HQ-SAM's decoder needs prompt embedding dim \(promptEmbedDim) divisible by 8")
        }
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

    /// The ViT encoder's sizes against `Bounds` (see `checkBounds`).
    func checkViTBounds(_ need: (Bool, @autoclosure () -> String) throws -> Void) throws {
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
    }
}
