// Segmentation metrics with ignore pixels, and the tight box of a region.

/// A ground-truth object: H×W labels where 1 is the object, 0 background and `ignore` pixels count in neither the
/// intersection nor the union (GrabCut's 128 band).
public struct GroundTruth: Sendable {
    public var width: Int, height: Int
    /// 1 object, 0 background, 2 ignore.
    public var labels: [UInt8]

    public init(width: Int, height: Int, labels: [UInt8]) { self.width = width; self.height = height; self.labels = labels }

    /// From raw mask values: `ignoreValue` → ignore, values ≥ 128 (or any non-zero with `nonZeroIsObject`) → object.
    public init(width: Int, height: Int, values: [UInt8], ignoreValue: UInt8? = nil, nonZeroIsObject: Bool = false) {
        self.width = width; self.height = height
        labels = values.map { v in
            if let iv = ignoreValue, v == iv { return 2 }
            return (nonZeroIsObject ? v != 0 : v >= 128) ? 1 : 0
        }
    }

    public var objectMask: [UInt8] { labels.map { $0 == 1 ? 1 : 0 } }
    public var area: Int { labels.reduce(0) { $0 + ($1 == 1 ? 1 : 0) } }

    /// Tight inclusive box (x0, y0, x1, y1) of the object pixels: x1 is the largest object column.
    public var box: (x0: Int, y0: Int, x1: Int, y1: Int)? {
        var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
        for y in 0..<height { for x in 0..<width where labels[y * width + x] == 1 {
            x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
        } }
        return x1 < 0 ? nil : (x0, y0, x1, y1)
    }

    /// IoU of a predicted binary mask (non-zero = inside) with the object, ignore pixels excluded.
    /// An empty union (no object, nothing predicted) counts as IoU 1.
    public func iou<C: Collection>(_ pred: C) -> Double where C.Element == UInt8 {
        var inter = 0, union = 0
        var i = 0
        for p in pred {
            let g = labels[i]
            i += 1
            if g == 2 { continue }
            let pp = p != 0, gg = g == 1
            if pp && gg { inter += 1 }
            if pp || gg { union += 1 }
        }
        return union == 0 ? 1 : Double(inter) / Double(union)
    }
}

/// NoC@t (RITM's `compute_noc_metric`): the 1-based index of the first click whose IoU reaches `threshold`
/// (`iou >= t`), else `cap` (RITM: 20; `sam eval --prompt clicks:N`: N).
public func numberOfClicks(_ ious: [Double], threshold: Double, cap: Int) -> Int {
    for (k, v) in ious.enumerated() where v >= threshold { return k + 1 }
    return cap
}

/// The mean of `values`, NaN for none.
public func mean(_ values: [Double]) -> Double {
    values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
}
