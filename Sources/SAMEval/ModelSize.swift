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
public func encoderFLOPs(_ c: SAMConfig, asIssued: Bool = false) -> Int {
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

/// One row of the size comparison.
public struct ModelSizeRow: Sendable {
    public var name: String
    public var config: SAMConfig
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

    /// Loads `checkpoint`, times `runs` encoder passes after one warm-up (median) and a point decode, and
    /// reports the peak memory of doing so.
    public static func measure(name: String, checkpoint: String, runs: Int = 2) throws -> ModelSizeRow {
        resetPeak()
        let model = try SamLoader.load(checkpoint: checkpoint)
        let r = Benchmark.run(model: model, runs: max(1, runs), batch: 1)
        return ModelSizeRow(name: name, config: model.config, parameters: model.config.parameterCount,
                            encoderGFLOP: Double(encoderFLOPs(model.config)) / 1e9,
                            measuredEncoderGFLOP: Double(r.encoderFLOPs) / 1e9,
                            encoderSeconds: BenchmarkResult.median(r.encoderSeconds),
                            decoderSeconds: BenchmarkResult.median(r.decoderSeconds), peakBytes: peakBytes())
    }
}
