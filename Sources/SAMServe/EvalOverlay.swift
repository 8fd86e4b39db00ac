// One evaluated object drawn: ground truth (green) against the served model's prediction (blue) for the prompt the
// evaluation protocol derives from that ground truth, with the prompt on top.
import Foundation
import SAMEval
import SAMIO
import SAMInference

public enum EvalOverlay {
    /// What was drawn: the prompt, the chosen mask's IoU with the ground truth, and the PNG.
    public struct Result: Sendable {
        public var prompt: Prompt
        public var multimask: Bool
        public var iou: Double
        public var png: [UInt8]
    }

    /// The protocol a name denotes ("clicks5", as CSV columns spell it, is "clicks:5").
    public static func evalProtocol(_ name: String) throws -> EvalProtocol {
        let p = EvalProtocol(name) ?? (name.hasPrefix("clicks") ? EvalProtocol("clicks:" + name.dropFirst(6)) : nil)
        guard let p else { throw ServeError.badRequest("unknown protocol \(name.debugDescription) (known: \(EvalProtocol.names))") }
        return p
    }

    /// The prompt of a single-step protocol, exactly as `EvalProtocol.evaluate` derives it, and whether the
    /// protocol asks for three masks (scored top-1 by predicted IoU) or one.
    /// - Throws: 400 for click protocols (several prompts per object: see `ClickSimulation`) and unknown names.
    public static func prompt(protocol name: String, truth gt: GroundTruth, id: String, seed: UInt64) throws -> (Prompt, Bool) {
        let p = try evalProtocol(name)
        let empty = ServeError.badRequest("object \(id) has no object pixels")
        func point(_ pt: (x: Int, y: Int)?) throws -> Prompt {
            guard let pt else { throw empty }
            return Prompt(points: [(Float(pt.x), Float(pt.y))], labels: [1])
        }
        switch p {
        case .box: guard let b = ProtocolPrompts.box(gt) else { throw empty }; return (b, false)
        case .point: return (try point(ProtocolPrompts.farthest(gt)), true)
        case .center: return (try point(ProtocolPrompts.center(gt)), true)
        case .random: return (try point(ProtocolPrompts.random(gt, seed: seed, id: id)), true)
        case .boxPoint:
            guard let b = ProtocolPrompts.box(gt) else { throw empty }
            var q = try point(ProtocolPrompts.farthest(gt))
            q.box = b.box
            return (q, false)
        case .jitteredBox: guard let b = ProtocolPrompts.jitteredBox(gt, seed: seed, id: id) else { throw empty }; return (b, false)
        case .clicks: throw ServeError.badRequest("\(name) is a click simulation, not one prompt")
        }
    }

    /// The mask the protocol scores: the only one, or the first with the highest predicted IoU (numpy's argmax).
    public static func scoredMask(_ pred: Prediction) -> Int {
        var best = 0
        for k in pred.iouPredictions.indices where pred.iouPredictions[k] > pred.iouPredictions[best] { best = k }
        return best
    }

    /// Draws the object: ground truth green, prediction blue (overlap cyan), prompt on top, IoU in the corner.
    public static func draw(image: RGBImage, truth gt: GroundTruth, prediction pred: Prediction, mask k: Int, prompt: Prompt,
                            caption: String) throws -> (iou: Double, png: [UInt8]) {
        try draw(image: image, truth: gt, mask: pred.mask(k), prompt: prompt, caption: caption)
    }

    /// The same for a mask given as H×W bytes (a click simulation's last mask, its clicks as the prompt's points).
    public static func draw<M: Collection>(image: RGBImage, truth gt: GroundTruth, mask m: M, prompt: Prompt,
                                           caption: String) throws -> (iou: Double, png: [UInt8]) where M.Element == UInt8 {
        let iou = gt.iou(m)
        var c = Canvas(image)
        c.blend(mask: gt.objectMask, color: (0, 200, 0), alpha: 0.45)
        c.blend(mask: m, color: (30, 100, 255), alpha: 0.45)
        let r = Float(max(5, min(image.width, image.height) / 40))
        if let b = prompt.box { c.rectangle(Int(b.x0), Int(b.y0), Int(b.x1), Int(b.y1), (255, 215, 0), thickness: max(2, Int(r / 4))) }
        for (p, l) in zip(prompt.points, prompt.labels) { c.star(p.x + 0.5, p.y + 0.5, radius: r, l == 1 ? (255, 215, 0) : (220, 0, 0)) }
        let scale = max(1, min(image.width, image.height) / 240)
        c.text(String(format: "IOU %.4f  %@", iou, caption.uppercased()), x: 6, y: 6, scale: scale)
        let o = c.image
        return (iou, try ImageWriter.encodePNG(width: o.width, height: o.height, channels: 3, pixels: o.pixels))
    }
}
