// A SAM 2.1 image model: Hiera trunk, FPN neck, prompt encoder (v1's, with box corners as labelled points), SAM 2
// mask decoder and `no_mem_embed`; the video-only weights of the checkpoint are read, checked and kept unused.
// ref: sam2/modeling/sam2_base.py@1.1.0 (SAM2Base.forward_image, _prepare_backbone_features),
// sam2/sam2_image_predictor.py@1.1.0 (set_image: no_mem_embed added to the lowest-resolution kept level)
import SAMTensor

/// The image features the decoder reads: the embedding (1×C×g×g, `no_mem_embed` added) and the two
/// high-resolution levels after `conv_s0` / `conv_s1` (1×C/8×4g×4g, 1×C/4×2g×2g): the predictor's `_features`.
public struct SAM2Features: Sendable {
    public var imageEmbed: Tensor
    public var highRes: [Tensor]
    public init(imageEmbed: Tensor, highRes: [Tensor]) { self.imageEmbed = imageEmbed; self.highRes = highRes }
}

public final class SAM2Model {
    public let config: SAM2Config
    public let trunk: Hiera
    public let neck: FpnNeck
    public let promptEncoder: PromptEncoder
    public let maskDecoder: SAM2MaskDecoder
    /// `no_mem_embed` [1, 1, C].
    public let noMemEmbed: Tensor
    /// The video-only weights (memory attention and encoder, object pointers, …), checked, unused by images.
    public let videoWeights: [String: Tensor]
    /// SAM2Transforms' Normalize: ImageNet mean and std of RGB in [0, 1].
    public static let pixelMean: [Float] = [0.485, 0.456, 0.406]
    public static let pixelStd: [Float] = [0.229, 0.224, 0.225]
    public static let maskThreshold: Float = 0
    public var fingerprint = ""
    /// The precision of its matrix products (`--precision`); predictors run the model's passes under it.
    public var precision: Precision = .fp32

    /// The SAMConfig fields the shared prompt encoder reads (embed dim, grid, input size, mask channels).
    static func promptConfig(_ c: SAM2Config) -> SAMConfig {
        var p = SAMConfig(encoderEmbedDim: 1, encoderDepth: 1, encoderNumHeads: 1, encoderGlobalAttnIndexes: [])
        p.imageSize = c.imageSize
        p.patchSize = c.imageSize / c.gridSize
        p.promptEmbedDim = c.dModel
        p.maskInChans = c.maskInChans
        return p
    }

    public init(config: SAM2Config, weights: WeightStore, video: [(key: String, shape: [Int])] = []) {
        self.config = config
        // bf16: the trunk's and neck's product weights held as bf16; the decoder's stay float32 (see `Sam.init`)
        let storage = weights.matrixStorage
        trunk = Hiera(weights, config: config)
        neck = FpnNeck(weights, config: config)
        weights.matrixStorage = .fp32
        defer { weights.matrixStorage = storage }
        precision = storage
        promptEncoder = PromptEncoder(weights, "sam_prompt_encoder", config: Self.promptConfig(config))
        promptEncoder.embedsCornerLabels = true
        maskDecoder = SAM2MaskDecoder(weights, config: config)
        noMemEmbed = weights.take("no_mem_embed", [1, 1, config.dModel])
        var v: [String: Tensor] = [:]
        for (key, shape) in video { v[key] = weights.take(key, shape) }
        videoWeights = v
    }

    /// Builds the model from a checkpoint's tensors (SAM 2 key names), inferring its size unless `config` is
    /// given; strict (`ModelLoadError.keys` names every missing, unexpected and mis-shaped key).
    public convenience init(tensors: [String: Tensor], config: SAM2Config? = nil, precision: Precision = .fp32) throws {
        let cfg = try config ?? SAM2Config.infer(from: tensors)
        let video = try SAM2VideoWeights.expected(from: tensors, dModel: cfg.dModel)
        try SAM2WeightShapes.check(tensors, against: cfg, video: video)
        let store = WeightStore(.tensors(tensors))
        store.matrixStorage = precision
        self.init(config: cfg, weights: store, video: video)
        try store.finish()
    }

    /// RGB uint8 pixels already resized to S×S → 1×3×S×S: /255, then (x − mean) / std (ToTensor, Normalize).
    public static func normalize(resized: [Float], size s: Int) -> Tensor {
        // `resized`: 3×S×S values in [0, 1] (the resize runs on ToTensor's floats)
        Tensor(shape: [1, 3, s, s]) { p in
            for c in 0..<3 {
                let m = pixelMean[c], sd = pixelStd[c]
                for i in 0..<(s * s) { p[c * s * s + i] = (resized[c * s * s + i] - m) / sd }
            }
        }
    }

    /// `forward_image` + `_prepare_backbone_features` + the predictor's no_mem_embed: x 1×3×S×S → features.
    /// The recorder gets the trunk, neck and conv_s0/conv_s1 outputs under Meta's names.
    public func encode(_ x: Tensor, _ rec: ActivationRecorder?) -> SAM2Features {
        let stages = trunk(x, rec)
        let last = config.levels - 1
        if rec == nil, let s0 = maskDecoder.convS0, let s1 = maskDecoder.convS1, last == 2,
           !config.fpnTopDownLevels.contains(0), !config.fpnTopDownLevels.contains(1) {
            // the path users run: the two finest levels only through conv_s0 / conv_s1, by bands of rows
            return Profiler.measure("encoder: neck") {
                SAM2Features(imageEmbed: addNoMemEmbed(neck.levels(stages, from: last)[last]!),
                             highRes: [neck.lateral(stages[0], level: 0, then: s0), neck.lateral(stages[1], level: 1, then: s1)])
            }
        }
        let feats = Profiler.measure("encoder: neck") { neck(stages, rec) }
        let kept = Array(feats.prefix(config.levels))
        let embed = addNoMemEmbed(kept[last])
        var high: [Tensor] = []
        if let s0 = maskDecoder.convS0, let s1 = maskDecoder.convS1 {
            high = [s0(kept[0], rec), s1(kept[1], rec)]
        }
        return SAM2Features(imageEmbed: embed, highRes: high)
    }

    /// The lowest kept level plus `no_mem_embed` (the image predictor's `directly_add_no_mem_embed`).
    func addNoMemEmbed(_ level: Tensor) -> Tensor {
        var embed = level
        if config.directlyAddNoMemEmbed {
            let c = config.dModel, hw = embed.shape[2] * embed.shape[3]
            for ch in 0..<c { let v = noMemEmbed.data[ch]; for i in 0..<hw { embed.data[ch * hw + i] += v } }
        }
        return embed
    }
}

/// Key and shape lists of a SAM 2 model, from modules built without values.
public enum SAM2WeightShapes {
    /// Every image-model key with its shape.
    public static func imageShapes(_ c: SAM2Config) -> [String: [Int]] {
        let store = WeightStore(.shapesOnly)
        _ = SAM2Model(config: c, weights: store)
        return Dictionary(store.requested.map { ($0.key, $0.shape) }, uniquingKeysWith: { a, _ in a })
    }

    /// Compares the tensors with every key and shape the model of `c` takes, video weights included, before
    /// anything is built.
    public static func check(_ tensors: [String: Tensor], against c: SAM2Config, video: [(key: String, shape: [Int])]) throws {
        let store = WeightStore(.shapesOnly)
        _ = SAM2Model(config: c, weights: store, video: video)
        try store.compare(tensors)
    }
}

/// The video-only weights of a SAM 2.1 checkpoint: their keys and shapes follow from the hidden width C, the
/// memory width M (`maskmem_tpos_enc`'s last dimension), the number of memories, and the layer counts and
/// feed-forward widths the file shows. Every one is checked like an image weight; none is used.
/// ref: sam2/modeling/sam2_base.py, memory_attention.py, memory_encoder.py@1.1.0; configs/sam2.1/*.yaml
public enum SAM2VideoWeights {
    public static func expected(from t: [String: Tensor], dModel c: Int) throws -> [(key: String, shape: [Int])] {
        func dim(_ key: String, _ axis: Int, rank: Int) throws -> Int {
            guard let x = t[key] else { throw ModelLoadError.keys(missing: [key], unexpected: [], misshaped: []) }
            guard x.rank == rank, x.shape[axis] >= 1, x.shape[axis] <= SAMConfig.Bounds.mlpDim else {
                throw ModelLoadError.keys(missing: [], unexpected: [], misshaped: ["\(key) (expected \(rank) dimensions, found \(x.shape))"])
            }
            return x.shape[axis]
        }
        func count(_ prefix: String) -> Int {
            var n = 0
            while n <= SAMConfig.Bounds.depth, t.keys.contains(where: { $0.hasPrefix("\(prefix).\(n).") }) { n += 1 }
            return n
        }
        let m = try dim("maskmem_tpos_enc", 3, rank: 4), nMem = try dim("maskmem_tpos_enc", 0, rank: 4)
        var out: [(String, [Int])] = [
            ("maskmem_tpos_enc", [nMem, 1, 1, m]), ("no_mem_pos_enc", [1, 1, c]), ("no_obj_ptr", [1, c]),
            ("no_obj_embed_spatial", [1, m]), ("mask_downsample.weight", [1, 1, 4, 4]), ("mask_downsample.bias", [1]),
            ("obj_ptr_tpos_proj.weight", [m, c]), ("obj_ptr_tpos_proj.bias", [m]),
        ]
        func linear(_ n: String, _ i: Int, _ o: Int) { out += [("\(n).weight", [o, i]), ("\(n).bias", [o])] }
        func norm(_ n: String, _ d: Int) { out += [("\(n).weight", [d]), ("\(n).bias", [d])] }
        func conv(_ n: String, _ i: Int, _ o: Int, _ k: Int) { out += [("\(n).weight", [o, i, k, k]), ("\(n).bias", [o])] }
        for i in 0..<count("obj_ptr_proj.layers") { linear("obj_ptr_proj.layers.\(i)", c, c) }
        // memory attention: self-attention (C), cross-attention to memories (keys and values of width M), FFN
        let ma = "memory_attention"
        let ff = try dim("\(ma).layers.0.linear1.weight", 0, rank: 2)
        for l in 0..<count("\(ma).layers") {
            let p = "\(ma).layers.\(l)"
            for a in ["q_proj", "k_proj", "v_proj", "out_proj"] { linear("\(p).self_attn.\(a)", c, c) }
            linear("\(p).cross_attn_image.q_proj", c, c); linear("\(p).cross_attn_image.k_proj", m, c)
            linear("\(p).cross_attn_image.v_proj", m, c); linear("\(p).cross_attn_image.out_proj", c, c)
            linear("\(p).linear1", c, ff); linear("\(p).linear2", ff, c)
            for n in ["norm1", "norm2", "norm3"] { norm("\(p).\(n)", c) }
        }
        norm("\(ma).norm", c)
        // memory encoder: mask downsampler (conv 3×3 stride 2 → LayerNorm2d → GELU, channels ×4 each, then a 1×1
        // conv to C), pixel-feature projection, fuser (CXBlocks), output projection to M
        let me = "memory_encoder"
        var ch = 1, layer = 0
        let dsEmbed = c
        while t["\(me).mask_downsampler.encoder.\(layer).weight"]?.shape.count == 4,
              t["\(me).mask_downsampler.encoder.\(layer + 1).weight"]?.shape.count == 1, layer <= 3 * 16 {
            conv("\(me).mask_downsampler.encoder.\(layer)", ch, ch * 4, 3)
            norm("\(me).mask_downsampler.encoder.\(layer + 1)", ch * 4)
            ch *= 4; layer += 3
        }
        conv("\(me).mask_downsampler.encoder.\(layer)", ch, dsEmbed, 1)
        conv("\(me).pix_feat_proj", c, c, 1)
        let fh = try dim("\(me).fuser.layers.0.pwconv1.weight", 0, rank: 2)
        for l in 0..<count("\(me).fuser.layers") {
            let p = "\(me).fuser.layers.\(l)"
            out += [("\(p).gamma", [c]), ("\(p).dwconv.weight", [c, 1, 7, 7]), ("\(p).dwconv.bias", [c])]
            norm("\(p).norm", c)
            linear("\(p).pwconv1", c, fh); linear("\(p).pwconv2", fh, c)
        }
        conv("\(me).out_proj", c, m, 1)
        return out.map { (key: $0.0, shape: $0.1) }
    }
}
