// Mask inputs (`sam segment --mask-input`): low-res logits from an earlier run, or a binary PNG mask.
import Foundation
import SAMIO
import SAMModel
import SAMTensor

public enum MaskInput {
    /// Logit given to mask pixels (and its negative to the rest) when a binary PNG is the mask input.
    public static let binaryLogit: Float = 10

    /// Mask `index` (default: the highest predicted IoU) of a `low_res_logits.h5` written by `sam segment`:
    /// dataset `low_res_logits` C×M×M (and `iou_predictions` C). Returns 1×M×M.
    public static func fromLogitsFile(_ path: String, index: Int?, expectedSize m: Int) throws -> Tensor {
        let f = try HDF5File.open(path: path)
        defer { try? f.close() }
        let t = try f.readTensor("low_res_logits")
        guard t.rank == 3, t.shape[1] == m, t.shape[2] == m else {
            throw PromptFileError.bad(path, "low_res_logits has shape \(t.shape), this model needs C×\(m)×\(m) (the file is from a model of another size?)")
        }
        var k = index ?? 0
        if index == nil, f.contains("iou_predictions") {
            let iou = try f.readTensor("iou_predictions")
            k = iou.data.indices.max { iou.data[$0] < iou.data[$1] } ?? 0
        }
        guard k >= 0, k < t.shape[0] else {
            throw PromptFileError.bad(path, "--mask-index \(k) but the file holds \(t.shape[0]) masks")
        }
        return Tensor(shape: [1, m, m], data: Array(t.data[(k * m * m)..<((k + 1) * m * m)]))
    }

    /// A binary mask of the image's size as low-res logits, the documented conversion: the M×M grid covers the
    /// model's S×S input frame (the image resized so its longest side is S, then padded bottom/right); each cell's
    /// centre ((j + ½)·S/M, (i + ½)·S/M) is mapped back to original pixels (÷ the resize factors, floor) and gets
    /// +10 where the mask is non-zero there, −10 elsewhere and in the padding.
    /// `stretched`: SAM 2's frame, the whole image stretched to S×S (no padding).
    public static func fromBinaryMask(_ mask: [UInt8], width w: Int, height h: Int, imageSize s: Int, lowRes m: Int,
                                      stretched: Bool = false) -> Tensor {
        let (nh, nw) = stretched ? (s, s) : resizeLongestSideShape(height: h, width: w, target: s)
        return Tensor(shape: [1, m, m]) { p in
            for i in 0..<m {
                for j in 0..<m {
                    let fx = (Double(j) + 0.5) * Double(s) / Double(m), fy = (Double(i) + 0.5) * Double(s) / Double(m)
                    var v = -binaryLogit
                    if fx < Double(nw) && fy < Double(nh) {
                        let ox = min(w - 1, Int(fx * Double(w) / Double(nw))), oy = min(h - 1, Int(fy * Double(h) / Double(nh)))
                        if mask[oy * w + ox] != 0 { v = binaryLogit }
                    }
                    p[i * m + j] = v
                }
            }
        }
    }
}

extension MaskInput {
    /// A mask input by its kind: a `.png` is a binary mask of the image's size (`fromBinaryMask`), anything else an
    /// earlier `low_res_logits.h5` (`fromLogitsFile`, mask `index` or the best by predicted IoU). Returns 1×M×M.
    public static func read(path: String, index: Int?, image: RGBImage, config: SAMConfig) throws -> Tensor {
        try read(path: path, index: index, image: image, imageSize: config.imageSize, lowResSize: config.lowResSize)
    }

    /// `read` for a model of input size `s` and low-res size `l`; `stretched` for SAM 2's frame.
    public static func read(path: String, index: Int?, image: RGBImage, imageSize s: Int, lowResSize l: Int,
                            stretched: Bool = false) throws -> Tensor {
        guard path.lowercased().hasSuffix(".png") else { return try fromLogitsFile(path, index: index, expectedSize: l) }
        let m = try ImageReader.readLabels(path: path)
        guard m.width == image.width, m.height == image.height else {
            throw InputError(path, "mask input is \(m.width)×\(m.height), the image \(image.width)×\(image.height)")
        }
        if !m.values.contains(where: { $0 != 0 }) { throw InputError(path, "mask input is empty (no non-zero pixel)") }
        return fromBinaryMask(m.values, width: m.width, height: m.height, imageSize: s, lowRes: l, stretched: stretched)
    }
}
