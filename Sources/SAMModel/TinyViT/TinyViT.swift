// TinyViT, the image encoder of MobileSAM and Light HQ-SAM: a convolutional patch embedding (two 3×3 stride-2
// Conv2d_BN), a layer of MBConv blocks, attention layers of windowed attention with learned offset biases + a 3×3
// depthwise local convolution + MLP, patch merging between layers, and SAM's neck.
// ref: mobile_sam/modeling/tiny_vit_sam.py@mobilesam-mirror 1.0.0 (Conv2d_BN, PatchEmbed, MBConv, PatchMerging,
// ConvLayer, Mlp, Attention, TinyViTBlock, BasicLayer, LayerNorm2d, TinyViT); segment_anything_hq/modeling/
// tiny_vit_sam.py@0.3 (the same code, returning (x, [layers[1]'s output viewed B×64×64×C]))
//
// Everything runs on channels-last tensors (B×H×W×C, the tokens' B×L×C layout): 1×1 convolutions are products over
// the channels, depthwise convolutions and the windows read runs of C contiguous floats, and no transposition sits
// between the attention layers and their local convolutions. The recorder gets every module's output in the
// reference's layout (B×C×H×W for the convolutions, B×L×C for the tokens, (B·windows)×ws²×C inside attention).
// Without a recorder each Conv2d_BN runs as one convolution with the BatchNorm folded into its weight and bias, its
// GELU fused after it; MBConv and patch merging run by bands of rows and the MLPs by chunks of tokens, so that their
// wide hidden layers stay in cache; the windows' projections skip the padding tokens (whose qkv is a constant row).
// With a recorder, convolution and norm run apart and the windows are padded as in the reference, so that every
// module's output can be recorded.
import Foundation
import SAMTensor

/// `Conv2d_BN(a, b, ks, stride, pad, groups)`: `<name>.c` (Conv2d, no bias) then `<name>.bn` (BatchNorm2d, eps
/// 1e-5, eval mode). Channels-last output; channels-last input, but for the patch embedding's first convolution,
/// which reads the image B×3×S×S.
public final class TinyViTConv2dBN {
    public enum Kind: Sendable { case pointwise, depthwise, dense }
    public let name: String
    public let kind: Kind
    /// The input is B×C×H×W (the image) rather than channels-last.
    public let channelsFirstInput: Bool
    /// `<name>.c.weight`: [out, in / groups, k, k].
    public let weight: Tensor
    public let bn: BatchNorm2d
    public let stride: Int, padding: Int
    /// The convolution with the norm folded in: weight × bn.scale per output channel (a matrix [out, in] for the
    /// pointwise form, held as `WeightStore.matrixStorage` says) and bn.shift as its bias.
    public let fusedWeight: Tensor, fusedBias: Tensor
    /// The folded depthwise form laid out for `depthwiseConv2dNHWC`'s rows (depthwise only, not in a shapes-only walk).
    public let depthwiseKernel: DepthwiseKernel?

    init(_ w: WeightStore, _ name: String, _ a: Int, _ b: Int, kernel: Int = 1, stride: Int = 1, padding: Int = 0,
         depthwise: Bool = false, channelsFirstInput: Bool = false) {
        self.name = name
        self.channelsFirstInput = channelsFirstInput
        self.stride = stride
        self.padding = padding
        kind = depthwise ? .depthwise : (kernel == 1 && stride == 1 && padding == 0 ? .pointwise : .dense)
        let shape = [b, depthwise ? 1 : a, kernel, kernel]
        let weight = w.take("\(name).c.weight", shape), bn = BatchNorm2d(w, "\(name).bn", b)
        self.weight = weight
        self.bn = bn
        let per = shape[1] * kernel * kernel
        guard weight.count == b * per else {  // a shapes-only walk: nothing to fold
            fusedWeight = Tensor(shape: [0])
            fusedBias = Tensor(shape: [0])
            depthwiseKernel = nil
            return
        }
        let fw = Tensor(shape: kind == .pointwise ? [b, a] : shape) { p in
            for o in 0..<b { for j in 0..<per { p[o * per + j] = weight.data[o * per + j] * bn.scale[o] } }
        }
        fusedWeight = kind == .pointwise && w.matrixStorage == .bf16 ? fw.convertedToBF16() : fw
        fusedBias = Tensor(shape: [b], data: bn.shift)
        depthwiseKernel = kind == .depthwise ? DepthwiseKernel(weight: fw, bias: fusedBias, stride: stride, padding: padding) : nil
    }

    /// The bare convolution `<name>.c`, or with `fused` the folded one (norm included), channels-last output.
    func conv(_ x: Tensor, fused: Bool) -> Tensor {
        let wt = fused ? fusedWeight : weight, bias = fused ? fusedBias : nil
        switch kind {
        case .pointwise:
            return linear(x, weight: fused ? wt : wt.reshaped([wt.shape[0], wt.shape[1]]), bias: bias)
        case .depthwise:
            return depthwiseConv2dNHWC(x, weight: wt, bias: bias, stride: stride, padding: padding)
        case .dense where channelsFirstInput:
            return conv2dToNHWC(x, weight: wt, bias: bias, stride: stride, padding: padding)
        case .dense:
            return conv2dNHWC(x, weight: wt, bias: bias, stride: stride, padding: padding)
        }
    }

    /// Channels-last out. Without a recorder: the folded convolution, then the exact GELU when `gelu` (the module
    /// after it). With one: `<name>.c`, `<name>.bn` and `<name>` recorded B×C×H×W, and the GELU left to the caller
    /// (it is a module of its own).
    func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?, gelu: Bool = false) -> Tensor {
        guard let rec else {
            switch kind {
            case .pointwise where gelu: return linearGELU(x, weight: fusedWeight, bias: fusedBias)
            case .depthwise:
                guard let depthwiseKernel else { preconditionFailure("\(name): no weights (a shapes-only walk)") }
                return depthwiseConv2dNHWC(x, kernel: depthwiseKernel, gelu: gelu)
            default:
                var y = conv(x, fused: true)
                if gelu { SAMTensor.gelu(&y) }
                return y
            }
        }
        var y = conv(x, fused: false)
        recordNCHW(rec, "\(name).c", y)
        batchNormNHWC(&y, scale: bn.scale, shift: bn.shift)
        recordNCHW(rec, bn.name, y)
        recordNCHW(rec, name, y)
        return y
    }
}

/// `PatchEmbed`: seq.0 Conv2d_BN(3, C/2, 3, 2, 1) → seq.1 GELU → seq.2 Conv2d_BN(C/2, C, 3, 2, 1). B×3×S×S →
/// B×(S/4)×(S/4)×C channels-last.
public final class TinyViTPatchEmbed {
    public let name: String
    public let conv0: TinyViTConv2dBN, conv2: TinyViTConv2dBN

    init(_ w: WeightStore, _ name: String, embedDim n: Int) {
        self.name = name
        conv0 = TinyViTConv2dBN(w, "\(name).seq.0", 3, n / 2, kernel: 3, stride: 2, padding: 1, channelsFirstInput: true)
        conv2 = TinyViTConv2dBN(w, "\(name).seq.2", n / 2, n, kernel: 3, stride: 2, padding: 1)
    }

    func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        guard let rec else { return conv2(conv0(x, nil, gelu: true), nil) }
        var h = conv0(x, rec)
        geluRecorded(&h, "\(name).seq.1", rec)
        let y = conv2(h, rec)
        recordNCHW(rec, "\(name).seq", y)
        recordNCHW(rec, name, y)
        return y
    }
}

/// `MBConv(C, C, expand_ratio)`: conv1 (1×1 to the hidden width) → act1 → conv2 (3×3 depthwise) → act2 → conv3
/// (1×1 back) → drop_path (identity) → + x → act3, all GELU. Channels-last.
public final class TinyViTMBConv {
    public let name: String
    public let conv1: TinyViTConv2dBN, conv2: TinyViTConv2dBN, conv3: TinyViTConv2dBN

    init(_ w: WeightStore, _ name: String, dim: Int, hidden: Int) {
        self.name = name
        conv1 = TinyViTConv2dBN(w, "\(name).conv1", dim, hidden)
        conv2 = TinyViTConv2dBN(w, "\(name).conv2", hidden, hidden, kernel: 3, padding: 1, depthwise: true)
        conv3 = TinyViTConv2dBN(w, "\(name).conv3", hidden, dim)
    }

    func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        guard let rec else { return pointwiseDepthwisePointwise(x, conv1, conv2, conv3, residual: true) }
        var h = conv1(x, rec)
        geluRecorded(&h, "\(name).act1", rec)
        h = conv2(h, rec)
        geluRecorded(&h, "\(name).act2", rec)
        var y = conv3(h, rec)
        recordNCHW(rec, "\(name).drop_path", y)
        y.add(x)
        geluRecorded(&y, "\(name).act3", rec)
        recordNCHW(rec, name, y)
        return y
    }
}

/// `PatchMerging(dim, out_dim)`: conv1 (1×1) → act → conv2 (3×3 depthwise, stride 2, or 1 for out_dim 320, 448,
/// 576) → act → conv3 (1×1) → flatten to tokens. Channels-last in and out; recorded as tokens B×L×C.
public final class TinyViTPatchMerging {
    public let name: String
    public let conv1: TinyViTConv2dBN, conv2: TinyViTConv2dBN, conv3: TinyViTConv2dBN

    init(_ w: WeightStore, _ name: String, dim: Int, outDim: Int, stride: Int) {
        self.name = name
        conv1 = TinyViTConv2dBN(w, "\(name).conv1", dim, outDim)
        conv2 = TinyViTConv2dBN(w, "\(name).conv2", outDim, outDim, kernel: 3, stride: stride, padding: 1, depthwise: true)
        conv3 = TinyViTConv2dBN(w, "\(name).conv3", outDim, outDim)
    }

    func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        guard let rec else { return pointwiseDepthwisePointwise(x, conv1, conv2, conv3, residual: false) }
        // `act` runs twice; the recorder keeps its first call, after conv1
        var h = conv1(x, rec)
        geluRecorded(&h, "\(name).act", rec)
        h = conv2(h, rec)
        geluRecorded(&h, "\(name).act", rec)
        let y = conv3(h, rec)
        recordTokens(rec, name, y)
        return y
    }
}

/// TinyViT's `Attention(dim, key_dim = dim / heads, heads, attn_ratio=1, resolution=(ws, ws))` on windows:
/// norm (LayerNorm, eps 1e-5) → qkv (per token heads × (q, k, v)) → softmax(q kᵀ · key_dim^−½ + bias) v → proj, the
/// bias of query i and key j `attention_biases[:, attention_bias_idxs[i, j]]`.
public final class TinyViTAttention {
    public let name: String
    public let heads: Int, keyDim: Int, window: Int
    public let norm: LayerNorm, qkv: Linear, proj: Linear
    /// `<name>.attention_biases`: [heads, ws²], one value per head and distinct offset (|Δy|, |Δx|).
    public let attentionBiases: Tensor
    /// `attention_bias_idxs` as the reference computes it, [ws², ws²] (empty in a shapes-only walk, as are `bias` and
    /// `padRow`).
    public let biasIndices: [Int]
    /// The biases gathered by the index table: [heads, ws², ws²] (the reference's `ab`).
    public let bias: [Float]
    /// `key_dim ** -0.5`, rounded to float32 as torch applies a Python scalar to a float32 tensor.
    public let scale: Float
    /// The qkv row of a padding token: the reference pads the tokens with zeros before `norm`, which maps a zero row
    /// to norm.bias; qkv(norm.bias).
    public let padRow: [Float]

    init(_ w: WeightStore, _ name: String, dim: Int, heads: Int, window ws: Int) {
        self.name = name
        self.heads = heads
        keyDim = dim / heads
        window = ws
        norm = LayerNorm(w, "\(name).norm", dim, eps: 1e-5)
        qkv = Linear(w, "\(name).qkv", dim, 3 * dim)
        proj = Linear(w, "\(name).proj", dim, dim)
        let n = ws * ws
        attentionBiases = w.take("\(name).attention_biases", [heads, n])
        // an older TinyViT saved the index table (a persistent buffer); it must be the computed one
        let idxKey = "\(name).attention_bias_idxs"
        if let saved = w.takeOptional(idxKey, [n, n]), saved.count == n * n,
           let why = TinyViTConfig.biasIndicesMismatch(saved, window: ws) {
            w.reject(idxKey, why)
        }
        scale = Float(pow(Double(keyDim), -0.5))
        guard attentionBiases.count == heads * n else {  // a shapes-only walk: nothing to gather
            biasIndices = []
            bias = []
            padRow = []
            return
        }
        let idx = TinyViTConfig.attentionBiasIndices(window: ws), table = attentionBiases.data
        biasIndices = idx
        bias = [Float](unsafeUninitializedCapacity: heads * n * n) { p, count in
            for h in 0..<heads { for i in 0..<(n * n) { p[h * n * n + i] = table[h * n + idx[i]] } }
            count = heads * n * n
        }
        padRow = linear(Tensor(shape: [1, dim], data: norm.bias.data), weight: qkv.weight, bias: qkv.bias).data
    }

    /// The attention between the projections: qkv [B, H, W, 3·dim] → [B, H, W, dim], windows cut from the grid and
    /// padded with `padRow`.
    func attend(_ q: Tensor, padRow pad: [Float]? = nil) -> Tensor {
        windowAttentionWithBias(qkv: q, heads: heads, keyDim: keyDim, valueDim: keyDim, window: window,
                                padRow: pad ?? padRow, bias: bias, scale: scale)
    }
}

/// TinyViT's `Mlp`: norm (LayerNorm, eps 1e-5) → fc1 → GELU (act) → drop (identity) → fc2 → drop.
public final class TinyViTMlp {
    public let name: String
    public let norm: LayerNorm, fc1: Linear, fc2: Linear

    init(_ w: WeightStore, _ name: String, dim: Int, hidden: Int) {
        self.name = name
        norm = LayerNorm(w, "\(name).norm", dim, eps: 1e-5)
        fc1 = Linear(w, "\(name).fc1", dim, hidden)
        fc2 = Linear(w, "\(name).fc2", hidden, dim)
    }

    /// x + mlp(x) on [B, H, W, C] without a recorder: fc1, its bias and GELU, and fc2 (its output starting as x +
    /// fc2.bias) by chunks of tokens, one chunk per job on one core, so that the hidden layer (mlp_ratio · C wide) stays in
    /// cache instead of making a round trip through memory.
    func residual(_ x: Tensor) -> Tensor {
        let n = Profiler.measure("encoder: layer norms") { norm(x, nil) }
        let c = x.shape[x.rank - 1], hidden = fc1.weight.shape[0], rows = x.count / c
        let chunk = max(16, (1 << 17) / hidden), chunks = (rows + chunk - 1) / chunk
        let b1 = fc1.bias?.data ?? [Float](repeating: 0, count: hidden), b2 = fc2.bias?.data ?? [Float](repeating: 0, count: c)
        return Profiler.measure("encoder: MLP") {
            Tensor(shape: x.shape) { out in
                n.data.withUnsafeBufferPointer { np in
                x.data.withUnsafeBufferPointer { xp in
                b1.withUnsafeBufferPointer { b1p in
                b2.withUnsafeBufferPointer { b2p in
                    parallelItems(chunks) { j in
                        let r0 = j * chunk, m = min(chunk, rows - r0)
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: m * hidden) { hb in
                            let hp = hb.baseAddress!
                            fc1.weight.withMatrix { wp in
                                gemm(transB: true, m: m, n: hidden, k: c, a: .f32(np.baseAddress! + r0 * c), lda: c, b: wp,
                                     ldb: c, c: hp, ldc: hidden)
                            }
                            biasGELUInPlace(hp, rows: m, cols: hidden, bias: b1p.baseAddress!)
                            let dst = out.baseAddress! + r0 * c, src = xp.baseAddress! + r0 * c, bb = b2p.baseAddress!
                            for i in 0..<m { for k in 0..<c { dst[i * c + k] = src[i * c + k] + bb[k] } }
                            fc2.weight.withMatrix { wp in
                                gemm(transB: true, m: m, n: c, k: hidden, a: .f32(hp), lda: hidden, b: wp, ldb: hidden,
                                     beta: 1, c: dst, ldc: c)
                            }
                        }
                    }
                }}}}
            }
        }
    }

    /// mlp(x) on tokens [B, L, C], every module recorded.
    func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder) -> Tensor {
        var h = fc1(norm(x, rec), rec)
        gelu(&h)
        rec.record("\(name).act", h)
        rec.record("\(name).drop", h)
        let y = fc2(h, rec)
        rec.record(name, y)
        return y
    }
}

/// `TinyViTBlock(dim, input_resolution, heads, window)`: x + attn(windows of x) (zero-padded to whole windows), then
/// local_conv (Conv2d_BN, depthwise k×k), then + mlp. Channels-last [B, H, W, C].
public final class TinyViTBlock {
    public let name: String
    public let attn: TinyViTAttention, localConv: TinyViTConv2dBN, mlp: TinyViTMlp

    init(_ w: WeightStore, _ name: String, dim: Int, heads: Int, window: Int, mlpHidden: Int, localConvSize k: Int) {
        self.name = name
        attn = TinyViTAttention(w, "\(name).attn", dim: dim, heads: heads, window: window)
        localConv = TinyViTConv2dBN(w, "\(name).local_conv", dim, dim, kernel: k, padding: k / 2, depthwise: true)
        mlp = TinyViTMlp(w, "\(name).mlp", dim: dim, hidden: mlpHidden)
    }

    func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        let b = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3], ws = attn.window
        guard let rec else {
            // the projections on the real tokens only (a padding token's qkv is `padRow`, its proj output is cropped)
            let xn = Profiler.measure("encoder: layer norms") { attn.norm(x, nil) }
            let q = Profiler.measure("encoder: qkv + proj") { linear(xn, weight: attn.qkv.weight, bias: attn.qkv.bias) }
            let a = Profiler.measure("encoder: windowed attention") { attn.attend(q) }
            let x1 = Profiler.measure("encoder: qkv + proj") { linearAdding(a, weight: attn.proj.weight, bias: attn.proj.bias, to: x) }
            let y = Profiler.measure("encoder: local conv") { localConv(x1, nil) }
            return mlp.residual(y)
        }
        // as the reference: zero-padded windows through norm, qkv, attention and proj, padding tokens included
        let (windows, padded) = windowPartition(x, windowSize: ws)
        let nw = windows.shape[0], n = ws * ws
        let xn = attn.norm(windows.reshaped([nw, n, c]), rec)
        let q = attn.qkv(xn, rec)
        let a = attn.attend(q.reshaped([nw, ws, ws, 3 * c]), padRow: [Float](repeating: 0, count: 3 * c))
        let p = attn.proj(a.reshaped([nw, n, c]), rec)
        rec.record(attn.name, p)
        var x1 = windowUnpartition(p.reshaped([nw, ws, ws, c]), windowSize: ws, padded: padded, original: (h, wd))
        recordTokens(rec, "\(name).drop_path", x1)
        x1.add(x)
        let y = localConv(x1, rec)
        let tokens = y.reshaped([b, h * wd, c])
        var out = mlp(tokens, rec)
        out.add(tokens)
        rec.record(name, out)
        return out.reshaped([b, h, wd, c])
    }
}

/// `ConvLayer` (layer 0: MBConv blocks) or `BasicLayer` (TinyViT blocks), then the patch merging when it is not the
/// last layer. Channels-last in and out; its output recorded as tokens B×L×C.
public final class TinyViTLayer {
    public let name: String
    public let mbconvs: [TinyViTMBConv]
    public let blocks: [TinyViTBlock]
    public let downsample: TinyViTPatchMerging?

    init(_ w: WeightStore, _ name: String, index i: Int, config c: TinyViTConfig) {
        self.name = name
        let dim = c.embedDims[i]
        if i == 0 {
            mbconvs = (0..<c.depths[i]).map { TinyViTMBConv(w, "\(name).blocks.\($0)", dim: dim, hidden: c.mbconvHidden) }
            blocks = []
        } else {
            mbconvs = []
            blocks = (0..<c.depths[i]).map {
                TinyViTBlock(w, "\(name).blocks.\($0)", dim: dim, heads: c.numHeads[i], window: c.windowSizes[i],
                             mlpHidden: c.mlpHidden(i), localConvSize: c.localConvSize)
            }
        }
        downsample = i < c.layerCount - 1
            ? TinyViTPatchMerging(w, "\(name).downsample", dim: dim, outDim: c.outputDim(i), stride: c.mergeStride(i)) : nil
    }

    func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        var h = x
        for blk in mbconvs { h = Profiler.measure("encoder: MBConv") { blk(h, rec) } }
        for blk in blocks { h = blk(h, rec) }
        if let downsample { h = Profiler.measure("encoder: patch merging") { downsample(h, rec) } }
        recordTokens(rec, name, h)
        return h
    }
}

/// `TinyViT` as MobileSAM builds it (`build_sam_vit_t`), with SAM's neck: patch embedding, layers, the last tokens
/// viewed as B×64×64×C, neck (1×1 conv → LayerNorm2d → 3×3 conv → LayerNorm2d, eps 1e-6, no biases).
public final class TinyViT {
    public let name: String, config: TinyViTConfig
    public let patchEmbed: TinyViTPatchEmbed
    public let layers: [TinyViTLayer]
    public let neck0: Conv2d, neck1: LayerNorm2d, neck2: Conv2d, neck3: LayerNorm2d

    /// Takes every key of the encoder's state dict under `name`, the unused classifier (`norm_head`, `head`) included
    /// so that strict loading accepts a checkpoint. `config` must pass `checkBounds()`.
    public init(_ w: WeightStore, _ name: String = "image_encoder", config c: TinyViTConfig) {
        self.name = name
        config = c
        patchEmbed = TinyViTPatchEmbed(w, "\(name).patch_embed", embedDim: c.embedDims[0])
        layers = (0..<c.layerCount).map { TinyViTLayer(w, "\(name).layers.\($0)", index: $0, config: c) }
        let last = c.embedDims[c.layerCount - 1]
        // the classifier head: in the state dict, never run by SAM
        _ = w.take("\(name).norm_head.weight", [last], init: .ones)
        _ = w.take("\(name).norm_head.bias", [last], init: .zeros)
        if c.numClasses > 0 {
            _ = w.take("\(name).head.weight", [c.numClasses, last])
            _ = w.take("\(name).head.bias", [c.numClasses], init: .zeros)
        }
        neck0 = Conv2d(w, "\(name).neck.0", last, c.outChans, kernel: 1, bias: false, asMatrix: true)
        neck1 = LayerNorm2d(w, "\(name).neck.1", c.outChans)
        neck2 = Conv2d(w, "\(name).neck.2", c.outChans, c.outChans, kernel: 3, padding: 1, bias: false)
        neck3 = LayerNorm2d(w, "\(name).neck.3", c.outChans)
    }

    /// x: B×3×S×S normalised (SAM's pixel mean/std, padded) → (embedding B×256×64×64, interm B×64×64×C1 = layers[1]'s
    /// output viewed as the HQ copy does). `hqOutputs`: record the encoder's own output as the HQ copy's tuple
    /// (`NAME:0` embedding, `NAME:1:0` interm) instead of MobileSAM's single `NAME`.
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?, hqOutputs: Bool = false) -> (embedding: Tensor, interm: Tensor) {
        precondition(x.rank == 4 && x.shape[1] == 3 && x.shape[2] == config.imageSize && x.shape[3] == config.imageSize,
                     "TinyViT: input \(x.shape) is not B×3×\(config.imageSize)×\(config.imageSize)")
        let b = x.shape[0], g = TinyViTConfig.embeddingGrid
        var h = Profiler.measure("encoder: patch embedding") { patchEmbed(x, rec) }
        var interm = h
        for (i, layer) in layers.enumerated() {
            h = layer(h, rec)
            // HQ's interm_embeddings: layers[1]'s output `x.view(B, 64, 64, -1)`
            if i == 1 { interm = h.reshaped([b, g, g, -1]) }
        }
        // `x.view(B, 64, 64, C)`: the tokens already are B×64×64×C channels-last
        h = h.reshaped([b, g, g, -1])
        let y = Profiler.measure("encoder: neck") { () -> Tensor in
            // channels-last: the 1×1 convolution is a product over channels, LayerNorm2d a norm over each pixel's
            // channels, the 3×3 convolution `conv2dNHWC` by bands of rows; one transposition to B×C×H×W at the end
            let co = neck0.weight.shape[0]
            var y = linear(h, weight: neck0.weight.reshaped([co, neck0.weight.shape[1]]), bias: nil)
            recordNCHW(rec, neck0.name, y)
            y = layerNorm(y, weight: neck1.weight, bias: neck1.bias, eps: neck1.eps)
            recordNCHW(rec, neck1.name, y)
            y = conv2dNHWC(y, weight: neck2.weight, bias: nil, stride: 1, padding: neck2.padding)
            recordNCHW(rec, neck2.name, y)
            y = layerNorm(y, weight: neck3.weight, bias: neck3.bias, eps: neck3.eps)
            let out = channelsFirst(y)
            rec.record(neck3.name, out)
            return out
        }
        rec.record("\(name).neck", y)
        if hqOutputs {
            rec.record("\(name):0", y)
            rec.record("\(name):1:0", interm)
        } else {
            rec.record(name, y)
        }
        return (y, interm)
    }
}

// MARK: - Channels-last helpers

/// The fast path of MBConv and PatchMerging on channels-last x: conv1 (1×1) → GELU → conv2 (depthwise, its stride)
/// → GELU → conv3 (1×1), the BatchNorms folded; `residual` (MBConv): conv3's output starts as x + its bias and ends
/// with the GELU act3. By bands of output rows, one band per job on one core: the band's conv1 rows (with the rows
/// above and below that conv2 reads, computed by both neighbours) and its conv2 rows live only in the job's buffers
/// (about 8 MB, in cache) instead of two whole hidden tensors (67 MB each for MobileSAM's MBConv). Each value is the
/// same sum as in the unbanded chain (`linearGELU`, `depthwiseConv2dNHWC`, `linearAdding`).
func pointwiseDepthwisePointwise(_ x: Tensor, _ conv1: TinyViTConv2dBN, _ conv2: TinyViTConv2dBN, _ conv3: TinyViTConv2dBN,
                                 residual: Bool) -> Tensor {
    let b = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    let hid = conv1.fusedWeight.shape[0], oc = conv3.fusedWeight.shape[0]
    guard let dk = conv2.depthwiseKernel else { preconditionFailure("\(conv2.name): no weights") }
    let (oh, ow) = dk.outputSize(height: h, width: w)
    precondition(conv1.fusedWeight.shape[1] == c && dk.channels == hid && conv3.fusedWeight.shape[1] == hid
                 && (!residual || (oc == c && oh == h && ow == w)), "\(conv1.name): input \(x.shape)")
    // output rows per band: about 2^20 floats in each buffer, and at least 4 bands per image for the cores
    let perRow = max(ow * hid, w * hid * dk.stride)
    let bandRows = max(1, min((1 << 20) / perRow, (oh + 3) / 4)), bands = (oh + bandRows - 1) / bandRows
    return Tensor(shape: [b, oh, ow, oc]) { out in
        x.data.withUnsafeBufferPointer { xp in
        conv1.fusedBias.data.withUnsafeBufferPointer { b1 in
        conv3.fusedBias.data.withUnsafeBufferPointer { b3 in
            parallelItems(b * bands) { job in
                let bi = job / bands, y0 = (job % bands) * bandRows, y1 = min(oh, y0 + bandRows)
                let inRows = dk.inputRows(for: y0..<y1, height: h)
                let m1 = inRows.count * w, m2 = (y1 - y0) * ow
                withUnsafeTemporaryAllocation(of: Float.self, capacity: (m1 + m2) * hid) { buf in
                    let h1 = buf.baseAddress!, h2 = h1 + m1 * hid
                    conv1.fusedWeight.withMatrix { wp in
                        gemm(transB: true, m: m1, n: hid, k: c, a: .f32(xp.baseAddress! + (bi * h + inRows.lowerBound) * w * c),
                             lda: c, b: wp, ldb: c, c: h1, ldc: hid)
                    }
                    biasGELUInPlace(h1, rows: m1, cols: hid, bias: b1.baseAddress!)
                    dk.rows(y0..<y1, of: h1, rows: inRows, height: h, width: w, into: h2, gelu: true)
                    let dst = out.baseAddress! + (bi * oh + y0) * ow * oc, bb = b3.baseAddress!
                    if residual {
                        let src = xp.baseAddress! + (bi * h + y0) * w * c
                        for i in 0..<m2 { for k in 0..<oc { dst[i * oc + k] = src[i * oc + k] + bb[k] } }
                    } else {
                        for i in 0..<m2 { (dst + i * oc).update(from: bb, count: oc) }
                    }
                    conv3.fusedWeight.withMatrix { wp in
                        gemm(transB: true, m: m2, n: oc, k: hid, a: .f32(h2), lda: hid, b: wp, ldb: hid, beta: 1, c: dst, ldc: oc)
                    }
                    if residual { geluInPlace(dst, count: m2 * oc) }
                }
            }
        }}}
    }
}

/// B×H×W×C → B×C×H×W (blocked transposes of each image's H·W×C matrix).
func channelsFirst(_ y: Tensor) -> Tensor {
    let b = y.shape[0], h = y.shape[1], w = y.shape[2], c = y.shape[3]
    return permute(y.reshaped([b, h * w, c]), [0, 2, 1]).reshaped([b, c, h, w])
}

/// Records a channels-last tensor B×H×W×C as the reference's B×C×H×W.
func recordNCHW(_ rec: ActivationRecorder?, _ name: String, _ y: Tensor) {
    if let rec, rec.wants(name) { rec.record(name, channelsFirst(y)) }
}

/// Records a channels-last tensor B×H×W×C as tokens B×(H·W)×C.
func recordTokens(_ rec: ActivationRecorder?, _ name: String, _ y: Tensor) {
    rec.record(name, y.reshaped([y.shape[0], y.shape[1] * y.shape[2], y.shape[3]]))
}

/// The exact GELU in place, recorded B×C×H×W under `name` (an `nn.GELU` module of a convolution stage).
func geluRecorded(_ y: inout Tensor, _ name: String, _ rec: ActivationRecorder) {
    gelu(&y)
    recordNCHW(rec, name, y)
}

/// BatchNorm2d in eval mode on channels-last x: x · scale[c] + shift[c].
func batchNormNHWC(_ x: inout Tensor, scale: [Float], shift: [Float]) {
    let c = scale.count, rows = x.count / max(1, c)
    precondition(x.shape.last == c, "batchNormNHWC: \(x.shape) does not have \(c) channels last")
    x.data.withUnsafeMutableBufferPointer { p in
        scale.withUnsafeBufferPointer { sp in
            shift.withUnsafeBufferPointer { tp in
                let base = p.baseAddress!, s = sp.baseAddress!, t = tp.baseAddress!
                parallelChunks(rows, minChunk: max(1, 16384 / max(1, c))) { r in
                    for row in r {
                        let line = base + row * c
                        for j in 0..<c { line[j] = line[j] * s[j] + t[j] }
                    }
                }
            }
        }
    }
}

/// residual + (x @ weightᵀ + bias) over the last axis: the output starts as residual + bias and the product adds onto
/// it (beta = 1), one pass for the residual connection instead of a separate addition. weight: [out, in] (float32 or
/// bf16); residual: x's shape with `out` last.
func linearAdding(_ x: Tensor, weight: Tensor, bias: Tensor?, to residual: Tensor) -> Tensor {
    let inF = weight.shape[1], outF = weight.shape[0], rows = x.count / inF
    let bias = bias?.data ?? [Float](repeating: 0, count: outF)
    precondition(x.shape.last == inF && residual.count == rows * outF && bias.count == outF,
                 "linearAdding: input \(x.shape), weight \(weight.shape), residual \(residual.shape)")
    return Tensor(shape: residual.shape) { out in
        residual.data.withUnsafeBufferPointer { rp in
            bias.withUnsafeBufferPointer { bp in
                let o = out.baseAddress!, r = rp.baseAddress!, bb = bp.baseAddress!
                parallelChunks(rows, minChunk: max(1, 16384 / outF)) { range in
                    for i in range {
                        let dst = o + i * outF, src = r + i * outF
                        for j in 0..<outF { dst[j] = src[j] + bb[j] }
                    }
                }
            }
        }
        x.data.withUnsafeBufferPointer { xp in
            weight.withMatrix { wp in
                gemm(transB: true, m: rows, n: outF, k: inF, a: .f32(xp.baseAddress!), lda: inF, b: wp, ldb: inF,
                     beta: 1, c: out.baseAddress!, ldc: outF)
            }
        }
    }
}

extension TinyViT {
    /// Every key of the encoder's state dict under `name` with its shape, as the reference's `state_dict()` holds
    /// them (the BatchNorms' `num_batches_tracked` included; `attention_bias_idxs`, a non-persistent buffer there, not),
    /// from a shapes-only walk: nothing sized by the configuration is allocated.
    public static func stateDictShapes(config: TinyViTConfig, name: String = "image_encoder") -> [String: [Int]] {
        let store = WeightStore(.shapesOnly)
        _ = TinyViT(store, name, config: config)
        return Dictionary(store.requested.filter { !$0.key.hasSuffix(".attention_bias_idxs") }.map { ($0.key, $0.shape) },
                          uniquingKeysWith: { a, _ in a })
    }
}

extension TinyViTConfig {
    /// Number of values in the encoder's state dict (classifier head and BatchNorm counters included).
    public var parameterCount: Int { TinyViT.stateDictShapes(config: self).values.reduce(0) { $0 + $1.reduce(1, *) } }
}
