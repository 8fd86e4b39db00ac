// Prompts from JSON (`sam segment --prompts FILE.json`).
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
