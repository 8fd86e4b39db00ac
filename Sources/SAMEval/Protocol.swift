// Prompt protocols: how a prompt is derived from a ground-truth object, and how the prediction is scored.
// Exact conventions (issue 4; ../shared/REFERENCE.md "Evaluation protocols"); the Python twin is
// experiments/reference/eval_reference.py, which must give the same prompts bit for bit.
import Foundation
import SAMInference
import SAMTensor

/// A prompt protocol of `sam eval`.
public enum EvalProtocol: Sendable, Hashable, CustomStringConvertible {
    /// The tight inclusive box of the object pixels (ignore excluded; x1 is the largest object column), one mask.
    case box
    /// The point farthest from the boundary (EDT of the mask padded by one background pixel, first maximum in
    /// row-major order), multimask; scored top-1 by predicted IoU (`iou`) and oracle (`iou_oracle`).
    case point
    /// The centre of mass rounded half up (`⌊mean + 0.5⌋`); `point`'s point when that pixel is not object.
    /// Multimask, top-1.
    case center
    /// An object pixel drawn uniformly: SplitMix64 seeded with `seed ^ FNV-1a-64(id)`, first output modulo the
    /// object's pixel count, pixels in row-major order. Multimask, top-1.
    case random
    /// The tight box and the farthest point together, one mask.
    case boxPoint
    /// The tight box with each side moved by an integer drawn uniformly in [−r, r], r = ⌊side / 10⌋ (side = x1−x0+1
    /// for x0 and x1, y1−y0+1 for y0 and y1), from outputs 1…4 of the object's SplitMix64 (x0, y0, x1, y1), clipped
    /// to the image and re-ordered so that x0 ≤ x1, y0 ≤ y1. One mask.
    case jitteredBox
    /// RITM's click simulation with N clicks (Click.swift).
    case clicks(Int)

    /// The command-line name: `box`, `point`, `center`, `random`, `box+point`, `jbox`, `clicks:N`.
    public var description: String {
        switch self {
        case .box: return "box"
        case .point: return "point"
        case .center: return "center"
        case .random: return "random"
        case .boxPoint: return "box+point"
        case .jitteredBox: return "jbox"
        case .clicks(let n): return "clicks:\(n)"
        }
    }

    /// The name in file names (`clicks:5` → `clicks5`).
    public var fileName: String { description.replacingOccurrences(of: ":", with: "") }

    public init?(_ s: String) {
        switch s {
        case "box": self = .box
        case "point": self = .point
        case "center": self = .center
        case "random": self = .random
        case "box+point": self = .boxPoint
        case "jbox": self = .jitteredBox
        default:
            guard s.hasPrefix("clicks:"), let n = Int(s.dropFirst(7)), n >= 1, n <= 100 else { return nil }
            self = .clicks(n)
        }
    }

    public static let names = "box, point, center, random, box+point, jbox, clicks:N (N = 1…100)"

    /// CSV columns after `id`.
    public var columns: [String] {
        switch self {
        case .point: return ["iou", "iou_oracle"]
        case .clicks(let n): return (1...n).map { "iou_\($0)" } + ["noc85", "noc90"]
        default: return ["iou"]
        }
    }
}

/// The protocols' draws use SAMTensor's SplitMix64, one generator per object.
extension SplitMix64 {
    /// The generator of one object: `seed ^ FNV-1a-64(id as UTF-8)`, so an object's draws do not depend on the
    /// objects before it (shards and resumed runs draw the same).
    public init(seed: UInt64, id: String) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in id.utf8 { h ^= UInt64(b); h &*= 0x0000_0100_0000_01B3 }
        self.init(seed: seed ^ h)
    }
}

/// Prompt geometry of the protocols, free functions of the ground truth.
public enum ProtocolPrompts {
    /// The tight inclusive box as a prompt.
    public static func box(_ gt: GroundTruth) -> Prompt? {
        guard let b = gt.box else { return nil }
        return Prompt(box: (Float(b.x0), Float(b.y0), Float(b.x1), Float(b.y1)))
    }

    /// The farthest point from the boundary (pixel indices).
    public static func farthest(_ gt: GroundTruth) -> (x: Int, y: Int)? {
        farthestPoint(gt.objectMask, width: gt.width, height: gt.height).map { ($0.x, $0.y) }
    }

    /// Centre of mass rounded half up, or the farthest point when that pixel is not object.
    public static func center(_ gt: GroundTruth) -> (x: Int, y: Int)? {
        var sx = 0, sy = 0, n = 0
        for y in 0..<gt.height { for x in 0..<gt.width where gt.labels[y * gt.width + x] == 1 { sx += x; sy += y; n += 1 } }
        guard n > 0 else { return nil }
        // numpy's mean is a float64 sum divided by n; the sums are exact integers here.
        let cx = Int((Double(sx) / Double(n) + 0.5).rounded(.down)), cy = Int((Double(sy) / Double(n) + 0.5).rounded(.down))
        if gt.labels[cy * gt.width + cx] == 1 { return (cx, cy) }
        return farthest(gt)
    }

    /// A uniformly drawn object pixel (see `EvalProtocol.random`).
    public static func random(_ gt: GroundTruth, seed: UInt64, id: String) -> (x: Int, y: Int)? {
        let n = gt.area
        guard n > 0 else { return nil }
        var rng = SplitMix64(seed: seed, id: id)
        var k = Int(rng.next() % UInt64(n))
        for i in 0..<gt.labels.count where gt.labels[i] == 1 {
            if k == 0 { return (i % gt.width, i / gt.width) }
            k -= 1
        }
        return nil
    }

    /// The jittered box (see `EvalProtocol.jitteredBox`).
    public static func jitteredBox(_ gt: GroundTruth, seed: UInt64, id: String) -> Prompt? {
        guard let b = gt.box else { return nil }
        var rng = SplitMix64(seed: seed, id: id)
        _ = rng.next()      // output 0 is the random protocol's point
        let rx = (b.x1 - b.x0 + 1) / 10, ry = (b.y1 - b.y0 + 1) / 10
        func jit(_ r: Int) -> Int { Int(rng.next() % UInt64(2 * r + 1)) - r }
        let nx0 = min(max(b.x0 + jit(rx), 0), gt.width - 1)
        let ny0 = min(max(b.y0 + jit(ry), 0), gt.height - 1)
        let nx1 = min(max(b.x1 + jit(rx), 0), gt.width - 1)
        let ny1 = min(max(b.y1 + jit(ry), 0), gt.height - 1)
        return Prompt(box: (Float(min(nx0, nx1)), Float(min(ny0, ny1)), Float(max(nx0, nx1)), Float(max(ny0, ny1))))
    }
}

/// Index of the first maximum (numpy's `argmax`).
func firstArgmax(_ v: [Float]) -> Int {
    var best = 0
    for i in v.indices where v[i] > v[best] { best = i }
    return best
}

extension EvalProtocol {
    /// Runs the protocol on one object with `predictor` holding its image; returns the values of `columns`.
    public func evaluate(predictor: any PromptPredictor, truth gt: GroundTruth, id: String, seed: UInt64) throws -> [Double] {
        func single(_ p: Prompt) throws -> [Double] {
            [gt.iou(try predictor.predict(p, multimaskOutput: false).mask(0))]
        }
        func multi(_ pt: (x: Int, y: Int)) throws -> (top1: Double, oracle: Double) {
            let pred = try predictor.predict(Prompt(points: [(Float(pt.x), Float(pt.y))], labels: [1]), multimaskOutput: true)
            let ious = (0..<pred.maskCount).map { gt.iou(pred.mask($0)) }
            return (ious[firstArgmax(pred.iouPredictions)], ious.max()!)
        }
        let empty = DatasetError.emptyObject(id: id, source: "ground truth")
        switch self {
        case .box:
            guard let p = ProtocolPrompts.box(gt) else { throw empty }
            return try single(p)
        case .point:
            guard let pt = ProtocolPrompts.farthest(gt) else { throw empty }
            let r = try multi(pt)
            return [r.top1, r.oracle]
        case .center:
            guard let pt = ProtocolPrompts.center(gt) else { throw empty }
            return [try multi(pt).top1]
        case .random:
            guard let pt = ProtocolPrompts.random(gt, seed: seed, id: id) else { throw empty }
            return [try multi(pt).top1]
        case .boxPoint:
            guard let b = ProtocolPrompts.box(gt), let pt = ProtocolPrompts.farthest(gt) else { throw empty }
            return try single(Prompt(points: [(Float(pt.x), Float(pt.y))], labels: [1], box: b.box))
        case .jitteredBox:
            guard let p = ProtocolPrompts.jitteredBox(gt, seed: seed, id: id) else { throw empty }
            return try single(p)
        case .clicks(let n):
            let ious = try ClickSimulation.run(predictor: predictor, truth: gt, clicks: n).ious
            return ious + [Double(numberOfClicks(ious, threshold: 0.85, cap: n)), Double(numberOfClicks(ious, threshold: 0.90, cap: n))]
        }
    }
}
