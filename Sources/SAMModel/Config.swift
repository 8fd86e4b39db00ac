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
    public static func infer(from tensors: [String: Tensor]) throws -> SAMConfig {
        func shape(_ key: String) throws -> [Int] {
            guard let t = tensors[key] else { throw ModelLoadError.cannotInferConfig("missing key \(key)") }
            return t.shape
        }
        let pw = try shape("image_encoder.patch_embed.proj.weight")
        guard pw.count == 4 else { throw ModelLoadError.cannotInferConfig("image_encoder.patch_embed.proj.weight has shape \(pw)") }
        var depth = 0
        while tensors["image_encoder.blocks.\(depth).norm1.weight"] != nil { depth += 1 }
        guard depth > 0 else { throw ModelLoadError.cannotInferConfig("no image_encoder.blocks.N found") }
        let pos = try shape("image_encoder.pos_embed")
        guard pos.count == 4 else { throw ModelLoadError.cannotInferConfig("image_encoder.pos_embed has shape \(pos)") }
        let grid = pos[1]
        var cfg = SAMConfig(encoderEmbedDim: pw[0], encoderDepth: depth, encoderNumHeads: 1, encoderGlobalAttnIndexes: [])
        cfg.patchSize = pw[2]
        cfg.imageSize = grid * pw[2]
        let rel = try shape("image_encoder.blocks.0.attn.rel_pos_h")
        guard rel.count == 2, rel[1] > 0, pw[0] % rel[1] == 0 else {
            throw ModelLoadError.cannotInferConfig("image_encoder.blocks.0.attn.rel_pos_h has shape \(rel)")
        }
        cfg.encoderNumHeads = pw[0] / rel[1]
        var window: Int?
        for i in 0..<depth {
            let l = try shape("image_encoder.blocks.\(i).attn.rel_pos_h")[0]
            if l == 2 * grid - 1 { cfg.encoderGlobalAttnIndexes.append(i) } else { window = (l + 1) / 2 }
        }
        cfg.windowSize = window ?? 14
        let lin1 = try shape("image_encoder.blocks.0.mlp.lin1.weight")
        cfg.mlpRatio = Double(lin1[0]) / Double(pw[0])
        cfg.outChans = try shape("image_encoder.neck.0.weight")[0]
        cfg.promptEmbedDim = try shape("prompt_encoder.point_embeddings.0.weight")[1]
        cfg.maskInChans = try shape("prompt_encoder.mask_downscaling.3.weight")[0]
        var dd = 0
        while tensors["mask_decoder.transformer.layers.\(dd).norm1.weight"] != nil { dd += 1 }
        cfg.decoderDepth = dd
        cfg.decoderMLPDim = try shape("mask_decoder.transformer.layers.0.mlp.lin1.weight")[0]
        cfg.numMultimaskOutputs = try shape("mask_decoder.mask_tokens.weight")[0] - 1
        var ih = 0
        while tensors["mask_decoder.iou_prediction_head.layers.\(ih).weight"] != nil { ih += 1 }
        cfg.iouHeadDepth = ih
        cfg.iouHeadHiddenDim = try shape("mask_decoder.iou_prediction_head.layers.0.weight")[0]
        return cfg
    }
}
