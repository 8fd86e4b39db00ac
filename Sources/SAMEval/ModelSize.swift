// Model-size comparison: parameters, analytic FLOPs of the image encoder, measured encoder latency and peak memory.
import Foundation
import SAMInference
import SAMModel
import SAMTensor

/// Analytic floating-point operations (a multiply-add counts 2) of one image-encoder pass of `c`, following Meta's
/// `ImageEncoderViT` (modeling/image_encoder.py@dca509f) term by term. N = g² tokens (g = S/p):
/// - patch embedding: 2·N·C·3p²;
/// - each block: qkv 2·T·C·3C and proj 2·T·C², where T = N for global blocks and the padded token count
///   (⌈g/w⌉·w)² for windowed ones (Meta partitions after `norm1`, padding included); MLP 2·N·C·2M;
///   attention q·kᵀ and (attn)·v 2·2·L²·C per window of L tokens (L = N global, w² windowed);
///   decomposed relative position 2·2·L·s·C (s = g global, w windowed; the two einsums of `add_decomposed_rel_pos`);
/// - neck: 1×1 conv 2·N·C·D and 3×3 conv 2·N·D·D·9 (D = out_chans).
/// Softmax, norms, GELU and additions are left out (they are O(N·C), under 1 % here).
/// `asIssued`: the count this toolkit issues instead, whose windowed blocks project only the N real tokens (qkv of
/// a zero-padded token is the bias, and proj's outputs at the padding are dropped), T = N for every block; and whose
/// attentions over at most `keysMajorMaxTokens` (512, the windows) take each relative-position term from one product with the
/// table's 2s − 1 distinct rows, 2·2·L·(2s − 1)·C per window (`attentionDecomposedRelPos`, keys-major path).
/// TinyViT and EfficientViT-SAM encoders: their configurations' own analytic counts (`gflops`).
public func encoderFLOPs(_ c: SAMConfig, asIssued: Bool = false) -> Int {
    switch c.encoder {
    case .vit: break
    case .tinyViT(let t): return Int((t.gflops * 1e9).rounded())
    case .efficientViT(let e): return Int((e.gflops * 1e9).rounded())
    }
    let g = c.gridSize, n = g * g, ch = c.encoderEmbedDim, m = c.encoderMLPDim, w = c.windowSize
    var f = 2 * n * ch * 3 * c.patchSize * c.patchSize
    for b in 0..<c.encoderDepth {
        let global = c.encoderGlobalAttnIndexes.contains(b)
        let padded = ((g + w - 1) / w) * w
        let t = global || asIssued ? n : padded * padded
        let windows = global ? 1 : (padded / w) * (padded / w)
        let l = global ? n : w * w, s = global ? g : w
        f += 2 * t * ch * 3 * ch + 2 * t * ch * ch          // qkv, proj
        f += 2 * n * ch * 2 * m                            // MLP
        f += windows * (2 * 2 * l * l * ch)                // q·kᵀ, attn·v
        let relRows = asIssued && l <= keysMajorMaxTokens ? 2 * s - 1 : s   // keys-major: the table's 2s − 1 rows
        f += windows * (2 * 2 * l * relRows * ch)          // rel pos (h and w)
    }
    f += 2 * n * ch * c.outChans + 2 * n * c.outChans * c.outChans * 9
    return f
}

/// Analytic FLOPs of one SAM 2 image-encoder pass (Hiera trunk, FPN neck, `conv_s0`/`conv_s1`), as the reference
/// computes it (ref: sam2/modeling/backbones/hieradet.py@1.1.0), multiply-add = 2, N tokens on a stage's grid:
/// - patch embedding 2·N·C·3·49 (7×7, stride 4);
/// - each block: qkv 2·T·C·3C' over T tokens (the windows' padded token count: Meta partitions after `norm1`;
///   `asIssued`: the N real tokens), attention 2·2·Lq·Lk·C' per window (queries pooled in a stage's first block),
///   proj 2·Tq·C'², the shortcut's projection 2·N·C·C' where the width changes, MLP 2·N'·C'·2·(4C');
/// - neck: one 1×1 convolution per level 2·Nₗ·Cₗ·D; decoder convolutions on levels 0 and 1: 2·N₀·D·D/8 + 2·N₁·D·D/4.
public func encoderFLOPs(_ c: SAM2Config, asIssued: Bool = false) -> Int {
    var g = c.patchGrid, f = 2 * g * g * c.embedDim * 3 * 49
    for spec in c.blockSpecs {
        let s = spec.pooled ? c.qStride : 1, go = g / s, n = g * g, no = go * go, w = spec.window
        let padded = w > 0 ? (g + w - 1) / w * w : g
        let t = asIssued ? n : padded * padded
        let windows = w > 0 ? (padded / w) * (padded / w) : 1
        let lk = w > 0 ? w * w : n, lq = lk / (s * s)
        let paddedOut = w > 0 ? padded / s : go
        let tq = asIssued ? no : paddedOut * paddedOut
        f += 2 * t * spec.dim * 3 * spec.dimOut + windows * 2 * 2 * lq * lk * spec.dimOut + 2 * tq * spec.dimOut * spec.dimOut
        if spec.dim != spec.dimOut { f += 2 * n * spec.dim * spec.dimOut }
        f += 2 * no * spec.dimOut * 2 * Int(Double(spec.dimOut) * c.mlpRatio)
        g = go
    }
    for (ch, grid) in zip(c.stageChannels, c.stageGrids) { f += 2 * grid * grid * ch * c.dModel }
    if c.useHighResFeatures {
        let g0 = c.stageGrids[0], g1 = c.stageGrids[1], d = c.dModel
        f += 2 * g0 * g0 * d * (d / 8) + 2 * g1 * g1 * d * (d / 4)
    }
    return f
}

/// One row of the size comparison.
public struct ModelSizeRow: Sendable {
    public var name: String
    /// "SAM", "SAM 2.1", "MobileSAM", "HQ-SAM", "Light HQ-SAM" or "EfficientViT-SAM".
    public var family: String
    /// Encoder embedding dim (Hiera: of its first stage), blocks, heads ("12"; Hiera: first → last stage, "1→8"),
    /// global-attention blocks.
    public var embedDim: Int, depth: Int, heads: String, globalBlocks: [Int]
    public var parameters: Int
    public var encoderGFLOP: Double
    /// FLOPs issued to BLAS during the timed pass (the GEMM counter), to check the analytic count.
    public var measuredEncoderGFLOP: Double
    public var encoderSeconds: Double
    public var decoderSeconds: Double
    /// Peak resident memory while the model was loaded and run (VmHWM after a reset), bytes.
    public var peakBytes: Int
}

public enum ModelSize {
    /// Resets the process's peak-RSS mark (Linux: write 5 to /proc/self/clear_refs); false where unsupported.
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        do { try h.write(contentsOf: Data("5".utf8)); return true } catch { return false }
    }

    /// VmHWM of this process in bytes (falls back to getrusage's lifetime maximum).
    public static func peakBytes() -> Int {
        if let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "") {
            return kb * 1024
        }
        return Benchmark.peakRSS()
    }

    /// Loads `checkpoint` (either family), times `runs` encoder passes after one warm-up (median) and a point
    /// decode, and reports the peak memory of doing so.
    public static func measure(name: String, checkpoint: String, runs: Int = 2, precision: Precision = .fp32) throws -> ModelSizeRow {
        resetPeak()
        return measure(name: name, model: try ModelLoader.load(checkpoint: checkpoint, precision: precision), runs: runs)
    }

    /// The row of a loaded model (the peak is this process's since the last `resetPeak`).
    public static func measure(name: String, model: AnyModel, runs: Int = 2, batch: Int = 1) -> ModelSizeRow {
        let r = Benchmark.run(model: model, runs: max(1, runs), batch: batch)
        var row = describe(name: name, model: model)
        row.measuredEncoderGFLOP = Double(r.encoderFLOPs) / 1e9
        row.encoderSeconds = BenchmarkResult.median(r.encoderSeconds)
        row.decoderSeconds = BenchmarkResult.median(r.decoderSeconds) / Double(batch)
        row.peakBytes = peakBytes()
        return row
    }

    /// The architecture columns of a model's row, nothing measured yet.
    public static func describe(name: String, model: AnyModel) -> ModelSizeRow {
        switch model {
        case .sam(let m):
            let c = m.config
            var (embed, depth, heads, global) = (c.encoderEmbedDim, c.encoderDepth, "\(c.encoderNumHeads)", c.encoderGlobalAttnIndexes)
            switch c.encoder {
            case .vit: break
            case .tinyViT(let t):
                (embed, depth, global) = (t.embedDims.first ?? 0, t.depths.reduce(0, +), [])
                heads = "\(t.numHeads.first ?? 0)→\(t.numHeads.last ?? 0)"
            case .efficientViT(let e):
                (embed, depth, heads, global) = (e.stemWidth, e.blockCount, "–", [])
            }
            return ModelSizeRow(name: name, family: c.familyName, embedDim: embed, depth: depth,
                                heads: heads, globalBlocks: global, parameters: c.parameterCount,
                                encoderGFLOP: Double(encoderFLOPs(c)) / 1e9, measuredEncoderGFLOP: 0, encoderSeconds: 0,
                                decoderSeconds: 0, peakBytes: 0)
        case .sam2(let m):
            let c = m.config, specs = c.blockSpecs
            return ModelSizeRow(name: name, family: "SAM 2.1", embedDim: c.embedDim, depth: c.depth,
                                heads: "\(specs.first?.heads ?? 0)→\(specs.last?.heads ?? 0)", globalBlocks: c.globalAttBlocks,
                                parameters: c.parameterCount, encoderGFLOP: Double(encoderFLOPs(c)) / 1e9, measuredEncoderGFLOP: 0,
                                encoderSeconds: 0, decoderSeconds: 0, peakBytes: 0)
        }
    }
}
