// What `sam segment` writes for one prompt: binary mask PNGs, result.json, low_res_logits.h5 and overlay.png.
import Foundation
import SAMIO
import SAMTensor

/// Box of a binary mask as Meta's generator computes it (`batched_mask_to_box` then `box_xyxy_to_xywh`):
/// x0, y0 the first set column/row, x1, y1 the last (inclusive), width x1 − x0; [0, 0, 0, 0] for an empty mask.
public func maskBoxXYWH<C: Collection>(_ mask: C, width w: Int, height h: Int) -> [Int] where C.Element == UInt8 {
    var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
    var i = 0
    for v in mask {
        if v != 0 { let x = i % w, y = i / w; x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y) }
        i += 1
    }
    return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1 - x0, y1 - y0]
}

public enum SegmentOutput {
    struct MaskRecord: Encodable { var file: String; var area: Int; var bbox: [Int] }
    struct Result: Encodable {
        var iou_predictions: [Float]; var masks: [MaskRecord]; var multimask: Bool; var prompt: PromptSpec
        /// SAM 2: the decoder's object-score logit (absent for v1).
        var object_score_logit: Float?
    }

    /// Writes one prompt's results into `dir` (created). Every file is written atomically.
    public static func write(_ pred: Prediction, prompt: Prompt, multimask: Bool, image: RGBImage, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var records: [MaskRecord] = []
        var canvas = Canvas(image)
        for k in 0..<pred.maskCount {
            let m = pred.mask(k)
            let file = "mask_\(k).png"
            try AtomicFile.write(Data(try maskPNG(pred, index: k)), to: (dir as NSString).appendingPathComponent(file))
            records.append(MaskRecord(file: file, area: m.reduce(0) { $0 + Int($1) }, bbox: maskBoxXYWH(m, width: pred.width, height: pred.height)))
            canvas.blend(mask: m, color: maskPalette[k % maskPalette.count], alpha: 0.35)
        }
        let spec = PromptSpec(points: prompt.points.isEmpty ? nil : prompt.points.map { [Double($0.x), Double($0.y)] },
                              labels: prompt.points.isEmpty ? nil : prompt.labels,
                              box: prompt.box.map { [Double($0.x0), Double($0.y0), Double($0.x1), Double($0.y1)] }, multimask: multimask)
        let resultPath = (dir as NSString).appendingPathComponent("result.json")
        for (k, v) in pred.iouPredictions.enumerated() where !v.isFinite {
            JSONNumbers.warn("\(resultPath): iou_predictions[\(k)] is \(v), written as null (JSON has no \(v))")
        }
        let (json, _) = try JSONNumbers.encode(Result(iou_predictions: pred.iouPredictions, masks: records, multimask: multimask, prompt: spec,
                                                                      object_score_logit: pred.objectScoreLogit),
                                               formatting: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(json, to: resultPath)
        let h5 = try HDF5File.create(path: (dir as NSString).appendingPathComponent("low_res_logits.h5"))
        try h5.write("low_res_logits", pred.lowResLogits)
        try h5.write("iou_predictions", Tensor(shape: [pred.iouPredictions.count], data: pred.iouPredictions))
        if let o = pred.objectScoreLogit { try h5.write("object_score_logits", Tensor(shape: [1, 1], data: [o])) }
        try h5.close()
        // overlay: every mask in its colour, prompts on top, scores in the corner
        let r = Float(max(6, min(image.width, image.height) / 40))
        if let b = prompt.box { canvas.rectangle(Int(b.x0), Int(b.y0), Int(b.x1), Int(b.y1), (0, 200, 0), thickness: max(2, Int(r / 4))) }
        for (p, l) in zip(prompt.points, prompt.labels) { canvas.star(p.x + 0.5, p.y + 0.5, radius: r, l == 1 ? (0, 200, 0) : (220, 0, 0)) }
        let scale = max(1, min(image.width, image.height) / 240)
        for (k, s) in pred.iouPredictions.enumerated() {
            let c = maskPalette[k % maskPalette.count]
            canvas.text(String(format: "MASK %d  IOU %.3f", k, s), x: 6, y: 6 + k * (7 * scale + 6), scale: scale, color: c)
        }
        let o = canvas.image
        try ImageWriter.writePNG(path: (dir as NSString).appendingPathComponent("overlay.png"), width: o.width, height: o.height,
                                 channels: 3, pixels: o.pixels, fast: true)
    }
}

/// JSON has no NaN or infinity: outputs write a non-finite number as `null` (with a warning), never fail on it.
public enum JSONNumbers {
    /// Where warnings go: stderr, as `warning: <file>: …` (a test or a server may redirect them).
    nonisolated(unsafe) public static var warn: (String) -> Void = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }

    /// What JSONEncoder writes for a non-finite Float or Double before it is turned into `null`: a string no output
    /// of this package holds otherwise.
    static let marker = "\"sam.non-finite.9d41c7\""

    /// `value` as JSON with every non-finite Float and Double written as `null`, and how many there were.
    public static func encode<T: Encodable>(_ value: T, formatting: JSONEncoder.OutputFormatting = []) throws -> (data: Data, nonFinite: Int) {
        let enc = JSONEncoder()
        enc.outputFormatting = formatting
        let m = String(marker.dropFirst().dropLast())
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: m, negativeInfinity: m, nan: m)
        var data = try enc.encode(value), n = 0
        let needle = Data(marker.utf8), null = Data("null".utf8)
        var from = data.startIndex
        while let r = data.range(of: needle, in: from..<data.endIndex) {
            data.replaceSubrange(r, with: null)
            from = r.lowerBound + null.count
            n += 1
        }
        return (data, n)
    }
}

/// Mask `k` of a prediction as an 8-bit gray PNG, 255 inside (zlib level 1) — the bytes of `sam segment`'s
/// mask_<k>.png and of `sam serve`'s mask download.
public func maskPNG(_ pred: Prediction, index k: Int) throws -> [UInt8] {
    let n = pred.width * pred.height, base = k * n
    let pixels = [UInt8](unsafeUninitializedCapacity: n) { out, count in
        pred.masks.withUnsafeBufferPointer { m in for i in 0..<n { out[i] = m[base + i] != 0 ? 255 : 0 } }
        count = n
    }
    return try ImageWriter.encodePNG(width: pred.width, height: pred.height, channels: 1, pixels: pixels, fast: true)
}
