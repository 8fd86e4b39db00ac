// The sizes of TinyViT, MobileSAM's (and Light HQ-SAM's) image encoder, and their inference from a checkpoint.
// ref: mobile_sam/modeling/tiny_vit_sam.py@mobilesam-mirror 1.0.0 (TinyViT, BasicLayer, PatchMerging, Attention),
// mobile_sam/build_sam.py@mobilesam-mirror 1.0.0 (build_sam_vit_t); segment_anything_hq/build_sam.py@0.3 (vit_tiny: the
// same sizes)
import SAMTensor

/// TinyViT's constructor arguments (`TinyViT(img_size, embed_dims, depths, num_heads, window_sizes, mlp_ratio,
/// mbconv_expand_ratio, local_conv_size, num_classes)`) and the neck's width. Layer 0 is convolutional (MBConv
/// blocks): its head count and window size are not used.
public struct TinyViTConfig: Codable, Equatable, Sendable {
    public var imageSize: Int            // 1024
    public var embedDims: [Int]          // [64, 128, 160, 320]
    public var depths: [Int]             // [2, 2, 6, 2]
    public var numHeads: [Int]           // [2, 4, 5, 10]
    public var windowSizes: [Int]        // [7, 7, 14, 7]
    public var mlpRatio: Double          // 4
    public var mbconvExpandRatio: Double // 4
    public var localConvSize: Int        // 3
    public var outChans: Int             // 256 (the neck)
    /// Width of the classifier head the state dict carries but SAM never runs (`head`: Linear(embed_dims[-1],
    /// num_classes), 1000 in both builders; 0: no head keys). Absent from a decoded configuration: 1000.
    public var numClasses: Int

    public init(imageSize: Int = 1024, embedDims: [Int], depths: [Int], numHeads: [Int], windowSizes: [Int],
                mlpRatio: Double = 4, mbconvExpandRatio: Double = 4, localConvSize: Int = 3, outChans: Int = 256,
                numClasses: Int = 1000) {
        self.imageSize = imageSize
        self.embedDims = embedDims
        self.depths = depths
        self.numHeads = numHeads
        self.windowSizes = windowSizes
        self.mlpRatio = mlpRatio
        self.mbconvExpandRatio = mbconvExpandRatio
        self.localConvSize = localConvSize
        self.outChans = outChans
        self.numClasses = numClasses
    }

    /// `build_sam_vit_t` (MobileSAM) and HQ-SAM's `vit_tiny`.
    public static let mobileSAM = TinyViTConfig(embedDims: [64, 128, 160, 320], depths: [2, 2, 6, 2], numHeads: [2, 4, 5, 10],
                                                windowSizes: [7, 7, 14, 7])

    enum CodingKeys: String, CodingKey {
        case imageSize, embedDims, depths, numHeads, windowSizes, mlpRatio, mbconvExpandRatio, localConvSize, outChans, numClasses
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(imageSize: try c.decode(Int.self, forKey: .imageSize), embedDims: try c.decode([Int].self, forKey: .embedDims),
                  depths: try c.decode([Int].self, forKey: .depths), numHeads: try c.decode([Int].self, forKey: .numHeads),
                  windowSizes: try c.decode([Int].self, forKey: .windowSizes), mlpRatio: try c.decode(Double.self, forKey: .mlpRatio),
                  mbconvExpandRatio: try c.decode(Double.self, forKey: .mbconvExpandRatio),
                  localConvSize: try c.decode(Int.self, forKey: .localConvSize), outChans: try c.decode(Int.self, forKey: .outChans),
                  numClasses: try c.decodeIfPresent(Int.self, forKey: .numClasses) ?? 1000)
    }

    // MARK: - Derived sizes

    public var layerCount: Int { embedDims.count }
    /// Side of the patch embedding's output grid (`patches_resolution`, img_size // 4).
    public var patchGrid: Int { imageSize / 4 }
    /// Side of each layer's input grid, as the reference sets `input_resolution`: patches // 2^(i − 1 if i == 3 else i)
    /// (the SAM variant's third merging keeps the resolution).
    public var layerResolutions: [Int] {
        (0..<layerCount).map { i in
            let e = i == 3 ? i - 1 : i
            return e >= 62 ? 0 : patchGrid >> e
        }
    }
    /// The depthwise stride of layer i's patch merging (i < layerCount − 1): 1 when its output width is 320, 448 or
    /// 576 (`stride_c`), else 2.
    public func mergeStride(_ i: Int) -> Int { [320, 448, 576].contains(embedDims[min(i + 1, layerCount - 1)]) ? 1 : 2 }
    /// Side of layer i's output (after its patch merging, if any).
    public func outputResolution(_ i: Int) -> Int {
        let r = layerResolutions[i]
        return i < layerCount - 1 ? (r - 1) / mergeStride(i) + 1 : r
    }
    /// Width of layer i's output.
    public func outputDim(_ i: Int) -> Int { embedDims[min(i + 1, layerCount - 1)] }
    /// The MLP's hidden width in attention layer i: int(dim · mlp_ratio).
    public func mlpHidden(_ i: Int) -> Int { Int(Double(embedDims[i]) * mlpRatio) }
    /// MBConv's hidden width: int(dim · expand_ratio).
    public var mbconvHidden: Int { Int(Double(embedDims[0]) * mbconvExpandRatio) }
    /// The side `forward_features` views the last layer's tokens as (hard-coded 64 in the reference).
    public static let embeddingGrid = 64

    /// Attention's `attention_bias_idxs` for a ws×ws window, computed as the reference does: for every pair of
    /// points (row-major), the index of their offset (|Δy|, |Δx|) in the order offsets are first met. [ws², ws²].
    public static func attentionBiasIndices(window ws: Int) -> [Int] {
        var offsets: [Int: Int] = [:]
        var idxs: [Int] = []
        idxs.reserveCapacity(ws * ws * ws * ws)
        for p1 in 0..<(ws * ws) {
            for p2 in 0..<(ws * ws) {
                let key = abs(p1 / ws - p2 / ws) * ws + abs(p1 % ws - p2 % ws)
                if offsets[key] == nil { offsets[key] = offsets.count }
                idxs.append(offsets[key]!)
            }
        }
        return idxs
    }

    /// Multiply-adds × 2 / 1e9 of one image through the encoder, counting what the reference computes: every
    /// convolution (depthwise included), the projections of the padded windows, q kᵀ and attn·v per window and head,
    /// the MLPs and the neck (torch.utils.flop_counter's count).
    public var gflops: Double {
        var macs = 0.0
        let g0 = Double(imageSize / 2), g1 = Double(patchGrid), c0 = Double(embedDims[0])
        macs += g0 * g0 * Double(embedDims[0] / 2) * 27 + g1 * g1 * c0 * Double(embedDims[0] / 2) * 9
        let k2 = Double(localConvSize * localConvSize)
        for i in 0..<layerCount {
            let r = Double(layerResolutions[i]), hw = r * r, c = Double(embedDims[i])
            if i == 0 {
                let hid = Double(mbconvHidden)
                macs += Double(depths[0]) * hw * (c * hid + hid * 9 + hid * c)
            } else {
                let ws = windowSizes[i], heads = numHeads[i], hd = embedDims[i] / max(1, heads)
                let nw = Double((layerResolutions[i] + ws - 1) / ws), tokens = nw * nw * Double(ws * ws)
                let n2 = Double(ws * ws * ws * ws)
                let attention = tokens * c * 3 * c + nw * nw * Double(heads) * n2 * Double(2 * hd) + tokens * c * c
                macs += Double(depths[i]) * (attention + hw * c * k2 + 2 * hw * c * Double(mlpHidden(i)))
            }
            if i < layerCount - 1 {
                let ro = Double(outputResolution(i)), o = Double(outputDim(i))
                macs += hw * c * o + ro * ro * o * 9 + ro * ro * o * o
            }
        }
        let e = Double(Self.embeddingGrid * Self.embeddingGrid), last = Double(embedDims[layerCount - 1]), out = Double(outChans)
        macs += e * last * out + e * out * out * 9
        return 2 * macs / 1e9
    }

    // MARK: - Inference from a checkpoint

    /// Everything inferred from the tensors under `prefix` ("image_encoder"): dims from patch_embed / layers.N,
    /// depths from block counts, heads from attention_biases' first dimension, windows from the bias table size /
    /// attention_bias_idxs, ratios from the MLP/MBConv widths. Checks ranks and bounds; throws
    /// ModelLoadError.cannotInferConfig naming the key at fault.
    ///
    /// The bias table of a ws×ws window has ws² columns (one per distinct offset); a saved `attention_bias_idxs`
    /// (older TinyViT kept it in the state dict) must be [ws², ws²] and equal to the table the reference computes.
    /// Layer 0 has no attention: its head count and window are MobileSAM's (2, 7), which nothing reads.
    public static func infer(from tensors: [String: Tensor], prefix p: String) throws -> TinyViTConfig {
        func shape(_ key: String, rank: Int) throws -> [Int] {
            guard let t = tensors[key] else { throw ModelLoadError.cannotInferConfig("missing key \(key)") }
            guard t.shape.count == rank, t.shape.allSatisfy({ $0 >= 1 }) else {
                throw ModelLoadError.cannotInferConfig("\(key) has shape \(t.shape), expected \(rank) dimensions of at least 1")
            }
            return t.shape
        }
        let B = SAMConfig.Bounds.self
        // layers and their block counts from the keys `<p>.layers.<i>.blocks.<j>.…`
        var blocks: [Int: Int] = [:]
        let layersPrefix = "\(p).layers."
        for key in tensors.keys where key.hasPrefix(layersPrefix) {
            let parts = key.dropFirst(layersPrefix.count).split(separator: ".", maxSplits: 3)
            guard parts.count >= 3, let i = Int(parts[0]), i >= 0, i < 8 else {
                throw ModelLoadError.cannotInferConfig("\(key) is not under \(p).layers.<0…7>")
            }
            guard parts[1] == "blocks" else { blocks[i] = blocks[i] ?? 0; continue }
            guard let j = Int(parts[2]), j >= 0, j < B.depth else {
                throw ModelLoadError.cannotInferConfig("\(key): block index is not in 0..<\(B.depth)")
            }
            blocks[i] = max(blocks[i] ?? 0, j + 1)
        }
        let count = (blocks.keys.max() ?? -1) + 1
        guard count >= 2 else { throw ModelLoadError.cannotInferConfig("no \(p).layers.1.blocks.N found (TinyViT has a convolutional layer and attention layers)") }
        var dims: [Int] = [], depths: [Int] = [], heads: [Int] = [2], windows: [Int] = [7]
        var cfg = TinyViTConfig.mobileSAM
        for i in 0..<count {
            guard let n = blocks[i], n > 0 else { throw ModelLoadError.cannotInferConfig("no \(p).layers.\(i).blocks.0 found") }
            depths.append(n)
            let b0 = "\(p).layers.\(i).blocks.0"
            if i == 0 {
                let conv1 = try shape("\(b0).conv1.c.weight", rank: 4)
                dims.append(conv1[1])
                cfg.mbconvExpandRatio = Double(conv1[0]) / Double(conv1[1])
                continue
            }
            let qkv = try shape("\(b0).attn.qkv.weight", rank: 2)
            dims.append(qkv[1])
            let biasKey = "\(b0).attn.attention_biases"
            let table = try shape(biasKey, rank: 2)
            let ws = Int(Double(table[1]).squareRoot().rounded())
            guard ws * ws == table[1], (1...maxWindow).contains(ws) else {
                throw ModelLoadError.cannotInferConfig("\(biasKey) has shape \(table): \(table[1]) offsets is not the square of a window size in 1...\(maxWindow)")
            }
            heads.append(table[0])
            windows.append(ws)
            if i == 1 {
                cfg.mlpRatio = Double(try shape("\(b0).mlp.fc1.weight", rank: 2)[0]) / Double(qkv[1])
                cfg.localConvSize = try shape("\(b0).local_conv.c.weight", rank: 4)[2]
            }
            // a saved index table must be the one the reference computes for this window (every block's)
            for j in 0..<n {
                let key = "\(p).layers.\(i).blocks.\(j).attn.attention_bias_idxs"
                guard let idx = tensors[key] else { continue }
                try checkBiasIndices(idx, key: key, window: ws)
            }
        }
        cfg.embedDims = dims
        cfg.depths = depths
        cfg.numHeads = heads
        cfg.windowSizes = windows
        cfg.outChans = try shape("\(p).neck.0.weight", rank: 4)[0]
        cfg.numClasses = tensors["\(p).head.weight"] != nil ? try shape("\(p).head.weight", rank: 2)[0] : 0
        try cfg.checkBounds()
        return cfg
    }

    /// Largest window accepted (tiny_vit_21m_512 uses 32): the bias of a window is heads × ws⁴ values.
    public static let maxWindow = 32

    /// Throws unless `idx` is the [ws², ws²] table `attentionBiasIndices(window: ws)` (values exact in float32).
    static func checkBiasIndices(_ idx: Tensor, key: String, window ws: Int) throws {
        let n = ws * ws
        guard idx.shape == [n, n] else {
            throw ModelLoadError.cannotInferConfig("\(key) has shape \(idx.shape), expected [\(n), \(n)] for a \(ws)×\(ws) window")
        }
        if let why = biasIndicesMismatch(idx, window: ws) { throw ModelLoadError.cannotInferConfig("\(key) \(why)") }
    }

    /// Why a saved `attention_bias_idxs` of the right shape is not the table of a ws×ws window, or nil if it is.
    static func biasIndicesMismatch(_ idx: Tensor, window ws: Int) -> String? {
        let expected = attentionBiasIndices(window: ws)
        let values = idx.floatValues
        guard values.count == expected.count else { return "has \(values.count) values, expected \(expected.count)" }
        for (i, e) in expected.enumerated() where values[i] != Float(e) {
            return "differs from the offset table of a \(ws)×\(ws) window at [\(i / (ws * ws)), \(i % (ws * ws))]: \(values[i]) instead of \(e)"
        }
        return nil
    }

    /// Throws `cannotInferConfig` naming the first size that is not positive, inconsistent or out of bounds: what the
    /// reference would reject (an assertion, a view that does not fit) and what would size allocations.
    public func checkBounds() throws {
        let need = ModelLoadError.require
        let B = SAMConfig.Bounds.self
        let n = embedDims.count
        try need((2...8).contains(n), "TinyViT with \(n) layers: 2 to 8 expected")
        try need(depths.count == n && numHeads.count == n && windowSizes.count == n,
                 "TinyViT sizes for \(n) layers: depths \(depths), heads \(numHeads), windows \(windowSizes)")
        try need((4...B.imageSize).contains(imageSize) && imageSize % 4 == 0, "image size \(imageSize) is not a multiple of 4 in 4...\(B.imageSize)")
        try need(embedDims.allSatisfy { (2...B.channels).contains($0) }, "TinyViT widths \(embedDims) are not in 2...\(B.channels)")
        try need(depths.allSatisfy { (1...B.depth).contains($0) }, "TinyViT depths \(depths) are not in 1...\(B.depth)")
        try need(mbconvExpandRatio.isFinite && mbconvExpandRatio > 0 && (1...B.mlpDim).contains(Int(min(1e9, Double(embedDims[0]) * mbconvExpandRatio))),
                 "MBConv expand ratio \(mbconvExpandRatio) for width \(embedDims[0])")
        try need(mlpRatio.isFinite && mlpRatio > 0, "TinyViT MLP ratio \(mlpRatio)")
        try need(localConvSize >= 1 && localConvSize <= 15 && localConvSize % 2 == 1, "local convolution size \(localConvSize) is not odd in 1...15")
        try need((1...B.channels).contains(outChans), "neck channels \(outChans) are not in 1...\(B.channels)")
        try need((0...B.mlpDim).contains(numClasses), "classifier head width \(numClasses) is not in 0...\(B.mlpDim)")
        for i in 1..<n {
            let d = embedDims[i], h = numHeads[i]
            try need(h >= 1 && d % h == 0, "layer \(i): \(h) heads do not divide the width \(d)")
            try need((1...Self.maxWindow).contains(windowSizes[i]), "layer \(i): window \(windowSizes[i]) is not in 1...\(Self.maxWindow)")
            try need((1...B.mlpDim).contains(Int(min(1e9, Double(d) * mlpRatio))), "layer \(i): MLP width \(mlpRatio) × \(d) is not in 1...\(B.mlpDim)")
        }
        // the grids: each layer's merging must produce the next layer's input_resolution, and the last grid must be
        // the 64×64 that forward_features views the tokens as
        let res = layerResolutions
        try need(res.allSatisfy { $0 >= 1 }, "layer grids \(res) for image size \(imageSize)")
        for i in 0..<(n - 1) {
            try need(outputResolution(i) == res[i + 1],
                     "layer \(i)'s patch merging (stride \(mergeStride(i))) gives a \(outputResolution(i))² grid, layer \(i + 1) expects \(res[i + 1])²")
        }
        let g = Self.embeddingGrid
        try need(res[n - 1] == g, "the last layer's grid is \(res[n - 1])², the reference views it as \(g)×\(g) (image size 1024)")
        let interm = outputResolution(1) * outputResolution(1) * outputDim(1)
        try need(interm % (g * g) == 0, "layer 1's output (\(interm) values) cannot be viewed as B×\(g)×\(g)×C")
    }
}
