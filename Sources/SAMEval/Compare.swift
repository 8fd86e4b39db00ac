// Closeness of two tensors, reported the way a port is checked: max-abs, relative L2, cosine and the worst element.
import Foundation
import SAMTensor

/// Tolerances of the verification, each with its formula and reason.
public enum Tolerance {
    /// Module outputs pass when rel-L2 = ‖ours − ref‖₂ / ‖ref‖₂ ≤ this. float32 products summed in another order
    /// (OpenBLAS vs MKL/oneDNN blocking), erf/exp from another libm, and 16 to 32 layers of accumulation leave
    /// rel-L2 around 1e-6 on the demo checkpoints and below 1e-5 on ViT-B; 1e-4 leaves a margin while any real bug
    /// (a wrong eps, a missing residual, a transposed table) shows up at 1e-3 or far above.
    public static let moduleRelL2: Double = 1e-4
    /// The preprocessed input must match almost exactly: the resize is an exact port of Pillow's integer
    /// arithmetic, so only the float normalisation can differ (one ulp).
    public static let inputMaxAbs: Double = 1e-5
    /// Final masks: fraction of pixels that must agree (pixels whose logit is within rounding of 0 may flip).
    public static let maskAgreement: Double = 0.999
    /// IoU predictions: absolute difference.
    public static let iouMaxAbs: Double = 1e-4
}

/// One row of a comparison table.
public struct Comparison: Sendable {
    public var name: String
    public var shape: [Int]
    public var referenceShape: [Int]
    public var maxAbs: Double
    public var relL2: Double
    public var cosine: Double
    /// Flat index of the largest absolute difference.
    public var worstIndex: Int
    public var tolerance: Double
    public var passed: Bool
    public var note: String = ""

    /// Compares `ours` with `reference`; a shape mismatch fails (the element counts are not compared then).
    public init(name: String, ours: Tensor, reference: Tensor, tolerance: Double = Tolerance.moduleRelL2) {
        self.name = name
        shape = ours.shape
        referenceShape = reference.shape
        self.tolerance = tolerance
        guard ours.shape == reference.shape else {
            maxAbs = .nan; relL2 = .nan; cosine = .nan; worstIndex = -1; passed = false
            note = "shape mismatch"
            return
        }
        var m = 0.0, wi = 0, diff2 = 0.0, ref2 = 0.0, our2 = 0.0, dot = 0.0
        for i in 0..<ours.count {
            let a = Double(ours.data[i]), b = Double(reference.data[i])
            let d = abs(a - b)
            if d > m || d.isNaN { m = d; wi = i }
            diff2 += d * d; ref2 += b * b; our2 += a * a; dot += a * b
        }
        maxAbs = m
        worstIndex = wi
        relL2 = ref2 > 0 ? (diff2 / ref2).squareRoot() : (diff2 == 0 ? 0 : .infinity)
        cosine = (ref2 > 0 && our2 > 0) ? dot / (ref2.squareRoot() * our2.squareRoot()) : (diff2 == 0 ? 1 : 0)
        passed = relL2 <= tolerance
    }

    /// A row that is not a tensor comparison (pixel agreement of masks, for example).
    public init(name: String, shape: [Int], value: Double, tolerance: Double, passed: Bool, note: String) {
        self.name = name
        self.shape = shape
        referenceShape = shape
        maxAbs = value; relL2 = .nan; cosine = .nan; worstIndex = -1
        self.tolerance = tolerance
        self.passed = passed
        self.note = note
    }

    /// The worst element's index in the tensor's shape, e.g. `[0, 3, 17]`.
    public var worstPosition: [Int] {
        guard worstIndex >= 0 else { return [] }
        var rest = worstIndex
        var pos = [Int](repeating: 0, count: shape.count)
        for d in stride(from: shape.count - 1, through: 0, by: -1) { pos[d] = rest % shape[d]; rest /= shape[d] }
        return pos
    }
}

/// Tolerances of `sam verify --precision bf16` against a float32 reference dump: the drift that rounding the
/// products' operands to bf16 (8 significant bits) leaves, measured on every dump the toolkit verifies (ViT-B and
/// the four SAM 2.1 sizes with random weights, the demo checkpoint, the v1 and SAM 2 test fixtures: 18 dumps,
/// reports/precision/README.md) and set at 2 to 3 times the worst value measured for each part. They bound the
/// drift of the mode; bugs of a port are what the fp32 verification (`Tolerance`, 1e-4) catches.
public enum BF16Tolerance {
    /// Image-encoder modules (ViT, Hiera, the necks, the image embedding): measured worst 8.6e-3
    /// (sam2.1_hiera_l's `trunk.blocks.37.mlp.layers.1`), ViT-B 6.4e-3.
    public static let encoderRelL2 = 2e-2
    /// Prompt encoder: fp32 position encodings; products only in the mask-input convolutions (worst 5.2e-3,
    /// `sam_prompt_encoder.mask_downscaling.6`).
    public static let promptEncoderRelL2 = 1.5e-2
    /// Mask-decoder modules and the low-res logits: the encoder's drift plus the decoder's own products; outputs of
    /// a few values spread wider (worst 2.5e-2, sam2.1_hiera_l's `pred_obj_score_head.layers.2`, 1 value per prompt;
    /// the low-res logits ≤ 9.8e-3).
    public static let decoderRelL2 = 6e-2
    /// Final masks: fraction of pixels equal to the fp32 reference's (worst measured 99.67 %, only pixels near the
    /// 0 logit flip).
    public static let maskAgreement = 0.99
    /// IoU predictions and object-score logits: absolute difference (worst 4.9e-4, the demo checkpoint's IoU).
    public static let scoreMaxAbs = 2e-3

    /// The rel-L2 tolerance of a module output by its (Meta) name.
    public static func relL2(module name: String) -> Double {
        if name.hasPrefix("image_encoder") || name.contains("image_embed") || name.contains("high_res_feats") { return encoderRelL2 }
        if name.hasPrefix("prompt_encoder") || name.hasPrefix("sam_prompt_encoder") { return promptEncoderRelL2 }
        return decoderRelL2
    }
}

extension VerifyReport {
    /// The rows judged again for a run in `precision` against a float32 dump: unchanged in fp32; in bf16 each row
    /// against `BF16Tolerance` (module rows by part, or `moduleTolerance` for all when given). The preprocessed input
    /// keeps its fp32 tolerance (no products run before it).
    public func judged(for precision: Precision, moduleTolerance: Double? = nil) -> VerifyReport {
        guard precision == .bf16 else { return self }
        var out = self
        out.rows = rows.map { r in
            var r = r
            var name = r.name
            for prefix in ["fast path: ", "batch: "] where name.hasPrefix(prefix) { name.removeFirst(prefix.count) }
            if name == "inputs/input_image" { return r }
            let shapeOK = r.shape == r.referenceShape
            if name == "outputs/masks" {
                if r.note.hasPrefix("shape mismatch") { return r }
                r.tolerance = 1 - BF16Tolerance.maskAgreement
                r.passed = r.maxAbs <= r.tolerance
            } else if name == "outputs/iou_predictions" || name == "outputs/object_score_logits" {
                r.tolerance = BF16Tolerance.scoreMaxAbs
                r.passed = shapeOK && r.maxAbs <= r.tolerance
                r.note = "max-abs ≤ \(BF16Tolerance.scoreMaxAbs)"
            } else {
                r.tolerance = moduleTolerance ?? BF16Tolerance.relL2(module: name)
                r.passed = shapeOK && r.relL2 <= r.tolerance
                if r.passed || shapeOK { r.note = "bf16: rel-L2 ≤ \(r.tolerance)" }
            }
            return r
        }
        return out
    }
}
