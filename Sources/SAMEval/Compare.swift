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
