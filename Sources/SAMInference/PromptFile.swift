// Prompts from JSON (`sam segment --prompts FILE.json`), mask inputs from earlier runs or binary PNGs, and the
// embedding cache file.
import Foundation
import SAMIO
import SAMModel
import SAMTensor

/// One prompt of a prompt file: `{"points": [[x, y], …], "labels": [1, 0, …], "box": [x0, y0, x1, y1], "multimask": true}`.
public struct PromptSpec: Codable, Equatable, Sendable {
    public var points: [[Double]]?
    public var labels: [Int]?
    public var box: [Double]?
    public var multimask: Bool?

    public init(points: [[Double]]? = nil, labels: [Int]? = nil, box: [Double]? = nil, multimask: Bool? = nil) {
        self.points = points; self.labels = labels; self.box = box; self.multimask = multimask
    }

    /// The predictor prompt; labels default to 1 (positive) when absent.
    public func prompt(file: String, index: Int) throws -> Prompt {
        var p = Prompt()
        if let pts = points {
            for (k, pt) in pts.enumerated() {
                guard pt.count == 2, pt.allSatisfy(\.isFinite) else {
                    throw PromptFileError.bad(file, "prompt \(index): point \(k) must be [x, y] with finite numbers, got \(pt)")
                }
                p.points.append((Float(pt[0]), Float(pt[1])))
            }
            p.labels = labels ?? [Int](repeating: 1, count: pts.count)
        } else if labels != nil {
            throw PromptFileError.bad(file, "prompt \(index): labels given without points")
        }
        if let b = box {
            guard b.count == 4, b.allSatisfy(\.isFinite) else {
                throw PromptFileError.bad(file, "prompt \(index): box must be [x0, y0, x1, y1] with finite numbers, got \(b)")
            }
            p.box = (Float(b[0]), Float(b[1]), Float(b[2]), Float(b[3]))
        }
        if p.points.isEmpty && p.box == nil { throw PromptFileError.bad(file, "prompt \(index): needs points or a box") }
        return p
    }
}

public enum PromptFileError: Error, CustomStringConvertible {
    case bad(String, String)
    public var description: String {
        switch self { case .bad(let f, let why): return "\(f): \(why)" }
    }
}

public enum PromptFile {
    /// Largest prompt file accepted (bytes) and most prompts in one file.
    public static let maxBytes = 64 << 20
    public static let maxPrompts = 100_000

    /// Reads a JSON list of prompts.
    public static func read(path: String) throws -> [PromptSpec] {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path) else { throw IOError.fileNotFound(path) }
        if let size = attrs[.size] as? Int, size > maxBytes { throw IOError.tooLarge(path, "\(size) bytes, more than \(maxBytes)") }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let specs: [PromptSpec]
        do { specs = try JSONDecoder().decode([PromptSpec].self, from: data) } catch {
            throw PromptFileError.bad(path, "not a JSON list of prompts {\"points\", \"labels\", \"box\", \"multimask\"}: \(error)")
        }
        // JSONDecoder ignores unknown keys: a misspelt "lables" would silently make every point positive.
        if let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] {
            let known: Set<String> = ["points", "labels", "box", "multimask"]
            for (i, obj) in list.enumerated() {
                let unknown = obj.keys.filter { !known.contains($0) }.sorted()
                if !unknown.isEmpty {
                    throw PromptFileError.bad(path, "prompt \(i): unknown key(s) \(unknown.joined(separator: ", ")) (known: points, labels, box, multimask)")
                }
            }
        }
        guard !specs.isEmpty else { throw PromptFileError.bad(path, "the list of prompts is empty") }
        guard specs.count <= maxPrompts else { throw PromptFileError.bad(path, "\(specs.count) prompts, more than \(maxPrompts)") }
        return specs
    }
}

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
    public static func fromBinaryMask(_ mask: [UInt8], width w: Int, height h: Int, imageSize s: Int, lowRes m: Int) -> Tensor {
        let (nh, nw) = resizeLongestSideShape(height: h, width: w, target: s)
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

/// The embedding cache (`sam embed`): the image embedding plus what it belongs to.
public struct EmbeddingFile {
    public var embedding: Tensor
    public var checkpointFingerprint: String
    public var originalSize: (h: Int, w: Int)
    public var inputSize: (h: Int, w: Int)
    public var imageFile: String

    public init(embedding: Tensor, checkpointFingerprint: String, originalSize: (h: Int, w: Int), inputSize: (h: Int, w: Int), imageFile: String) {
        self.embedding = embedding; self.checkpointFingerprint = checkpointFingerprint
        self.originalSize = originalSize; self.inputSize = inputSize; self.imageFile = imageFile
    }

    public func write(path: String) throws {
        let f = try HDF5File.create(path: path)
        try f.write("image_embedding", embedding)
        try f.setAttribute("checkpoint_fingerprint", checkpointFingerprint)
        try f.setAttribute("image", imageFile)
        try f.setAttribute("original_height", originalSize.h)
        try f.setAttribute("original_width", originalSize.w)
        try f.setAttribute("input_height", inputSize.h)
        try f.setAttribute("input_width", inputSize.w)
        try f.close()
    }

    public static func read(path: String) throws -> EmbeddingFile {
        let f = try HDF5File.open(path: path)
        defer { try? f.close() }
        guard let fp = f.stringAttribute("checkpoint_fingerprint"), let oh = f.intAttribute("original_height"),
              let ow = f.intAttribute("original_width"), let ih = f.intAttribute("input_height"), let iw = f.intAttribute("input_width") else {
            throw IOError.corrupt(path, "not an embedding file of `sam embed` (attributes checkpoint_fingerprint, original_height/width, input_height/width missing)")
        }
        return EmbeddingFile(embedding: try f.readTensor("image_embedding"), checkpointFingerprint: fp, originalSize: (oh, ow),
                             inputSize: (ih, iw), imageFile: f.stringAttribute("image") ?? "")
    }
}
