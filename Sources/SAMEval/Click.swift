// RITM's click simulation (Sofiiuk et al., "Reviving Iterative Training with Mask Guidance for Interactive
// Segmentation", 2021): ref: SamsungLabs/ritm_interactive_segmentation isegm/inference/clicker.py@c05f992
// (Clicker._get_next_click) and isegm/inference/evaluation.py (evaluate_sample); the Python twin with cv2 is
// experiments/reference/clicks_reference.py.
import SAMInference
import SAMTensor

/// One simulated click, in pixel indices of the image.
public struct Click: Sendable, Equatable {
    public var x: Int, y: Int
    public var positive: Bool
    public init(x: Int, y: Int, positive: Bool) { self.x = x; self.y = y; self.positive = positive }
}

/// RITM's clicker on a ground truth with ignore pixels.
public struct Clicker: Sendable {
    public let truth: GroundTruth
    public private(set) var clicks: [Click] = []
    /// 1 where a click was already placed.
    private var clicked: [UInt8]

    public init(truth: GroundTruth) {
        self.truth = truth
        clicked = [UInt8](repeating: 0, count: truth.width * truth.height)
    }

    /// The next click for prediction `pred` (H×W, non-zero inside), as RITM places it: false negatives
    /// `gt ∧ ¬pred` and false positives `¬gt ∧ pred` (ignore pixels in neither), each padded by one pixel, exact
    /// Euclidean distance transform, cropped back, clicked pixels set to 0; positive iff the FN maximum is strictly
    /// larger than the FP maximum, at the first pixel (row-major) holding the chosen maximum. When both maxima
    /// are 0 this is a negative click at (0, 0), as in RITM. The click is recorded.
    @discardableResult
    public mutating func next<C: Collection>(prediction pred: C) -> Click where C.Element == UInt8 {
        let w = truth.width, h = truth.height
        var fn = [UInt8](repeating: 0, count: w * h), fp = [UInt8](repeating: 0, count: w * h)
        var i = 0
        for p in pred {
            let g = truth.labels[i]
            if g != 2 {
                if g == 1 && p == 0 { fn[i] = 1 }
                if g == 0 && p != 0 { fp[i] = 1 }
            }
            i += 1
        }
        let a = Clicker.maximum(fn, width: w, height: h, clicked: clicked)
        let b = Clicker.maximum(fp, width: w, height: h, clicked: clicked)
        let positive = a.squared > b.squared
        let c = positive ? Click(x: a.x, y: a.y, positive: true) : Click(x: b.x, y: b.y, positive: false)
        clicks.append(c)
        clicked[c.y * w + c.x] = 1
        return c
    }

    /// The largest squared distance of the padded, cropped distance transform outside clicked pixels, and the
    /// first pixel (row-major) holding it — (0, 0) when it is 0. Squared distances are integers, so comparing
    /// them orders exactly as RITM's float32 `sqrt` values do for images up to 2048 pixels a side.
    static func maximum(_ mask: [UInt8], width w: Int, height h: Int, clicked: [UInt8]) -> (squared: Double, x: Int, y: Int) {
        let pw = w + 2, ph = h + 2
        var padded = [UInt8](repeating: 0, count: pw * ph)
        var any = false
        for y in 0..<h { for x in 0..<w where mask[y * w + x] != 0 { padded[(y + 1) * pw + x + 1] = 1; any = true } }
        guard any else { return (0, 0, 0) }
        let d = squaredDistanceTransform(padded, width: pw, height: ph)
        var best = 0.0, bx = 0, by = 0
        for y in 0..<h {
            for x in 0..<w where clicked[y * w + x] == 0 {
                let v = d[(y + 1) * pw + x + 1]
                if v > best { best = v; bx = x; by = y }
            }
        }
        return (best, bx, by)
    }
}

/// What a click simulation produced for one object.
public struct ClickRun: Sendable {
    public var clicks: [Click]
    /// IoU after click 1…N.
    public var ious: [Double]
    /// The mask kept after the last click (H×W, 1 inside).
    public var mask: [UInt8]
}

/// SAM driven by RITM's clicker (issue 4's protocol): click 1 predicts with multimask on and keeps the mask with
/// the highest predicted IoU; each later click predicts with all clicks so far and the low-res logits of the mask
/// kept last round as mask input, multimask off. N clicks are always made (no early stop), so mIoU@k exists for
/// every k.
public enum ClickSimulation {
    public static func run(predictor: any PromptPredictor, truth gt: GroundTruth, clicks n: Int) throws -> ClickRun {
        var clicker = Clicker(truth: gt)
        var pred = [UInt8](repeating: 0, count: gt.width * gt.height)
        var previous: Tensor?
        var ious: [Double] = []
        for k in 0..<n {
            clicker.next(prediction: pred)
            let prompt = Prompt(points: clicker.clicks.map { (Float($0.x), Float($0.y)) },
                                labels: clicker.clicks.map { $0.positive ? 1 : 0 })
            let out: Prediction, keep: Int
            if k == 0 {
                out = try predictor.predict(prompt, multimaskOutput: true)
                keep = firstArgmax(out.iouPredictions)
            } else {
                out = try predictor.predict(prompt, maskInput: previous, multimaskOutput: false)
                keep = 0
            }
            pred = Array(out.mask(keep))
            let l = out.lowResLogits.shape[1], plane = l * out.lowResLogits.shape[2]
            previous = Tensor(shape: [1, l, out.lowResLogits.shape[2]], data: Array(out.lowResLogits.data[(keep * plane)..<((keep + 1) * plane)]))
            ious.append(gt.iou(pred))
        }
        return ClickRun(clicks: clicker.clicks, ious: ious, mask: pred)
    }
}
