// What `sam segment` and `sam auto` do beyond parsing their options: decoding a list of prompts in batches, writing
// output folders through a staging folder that never outlives a failure, listing a folder of images; and the
// neutral error for bad input that is no file format's fault. (Checking a cached embedding is
// `EmbeddingFile.check`, reading a mask input `MaskInput.read`.)
import Foundation
import SAMIO
import SAMModel
import SAMTensor

/// Bad input that is not a file format's fault: an output path that is a file, a folder without images, an
/// embedding of another model. The message names the path and what is wrong.
public struct InputError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var why: String
    public init(_ path: String, _ why: String) { self.path = path; self.why = why }
    public var description: String { "\(path): \(why)" }
}

extension PromptPredictor {
    /// Decodes `prompts` (prompt i with `multimask[i]` outputs) against the current image in as few decoder passes as
    /// the batch rules allow: prompts with the same number of points, box or not, and multimask setting share one
    /// pass (`predictBatch`). Every prompt is validated first, so nothing runs when one is bad; the error names the
    /// prompt's index. `body` gets each pass's results with the prompts' indices, in the order of their first prompt.
    public func predictPrompts(_ prompts: [Prompt], multimask: [Bool], maskInput: Tensor? = nil,
                               _ body: (_ indices: [Int], _ predictions: [Prediction]) throws -> Void) throws {
        precondition(prompts.count == multimask.count, "predictPrompts: one multimask flag per prompt")
        for (i, p) in prompts.enumerated() {
            do { try validate(p, maskInput: maskInput) } catch let e as PromptError { throw PromptListError(index: i, error: e) }
        }
        var groups: [String: [Int]] = [:]
        for (i, p) in prompts.enumerated() { groups["\(p.points.count)-\(p.box != nil)-\(multimask[i])", default: []].append(i) }
        for idx in groups.values.sorted(by: { $0[0] < $1[0] }) {
            let preds = try predictBatch(idx.map { prompts[$0] }, maskInputs: maskInput.map { t in idx.map { _ in t } },
                                         multimaskOutput: multimask[idx[0]], nil)
            try body(idx, preds)
        }
    }
}

/// A prompt of a list that cannot run, with its index.
public struct PromptListError: Error, CustomStringConvertible {
    public var index: Int
    public var error: PromptError
    public var description: String { "prompt \(index): \(error)" }
}

extension SegmentOutput {
    /// Writes a folder (`out`) through a staging folder beside it (`OUT.partial-PID`) that `body` fills and that
    /// replaces `out` in one step when `body` returns. On any failure the staging folder is removed and `out` is left
    /// as it was. Refuses an `out` that exists and is not a folder.
    public static func writeFolder(_ out: String, _ body: (_ staging: String) throws -> Void) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDir), !isDir.boolValue {
            throw InputError(out, "exists and is not a folder; give --out a folder path (nothing was written)")
        }
        let staging = out + ".partial-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        do {
            try body(staging)
            try AtomicFile.replaceDirectory(out, with: staging)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// Writes one folder per prediction, `dir/<index>/`, on all cores (PNG encoding dominates); the first failure in
    /// index order is thrown after every folder has been tried.
    public static func writeEach(_ predictions: [Prediction], indices: [Int], prompts: [Prompt], multimask: Bool,
                                 image: RGBImage, in dir: String) throws {
        let failures = FailureList()
        DispatchQueue.concurrentPerform(iterations: predictions.count) { j in
            do {
                try write(predictions[j], prompt: prompts[indices[j]], multimask: multimask, image: image,
                          to: (dir as NSString).appendingPathComponent("\(indices[j])"))
            } catch { failures.add(indices[j], error) }
        }
        if let first = failures.first { throw first }
    }
}

/// Errors of parallel work, keyed by item; `first` is the lowest key's.
final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Int: Error] = [:]
    func add(_ key: Int, _ e: Error) { lock.lock(); errors[key] = e; lock.unlock() }
    var first: Error? { lock.lock(); defer { lock.unlock() }; return errors.min(by: { $0.key < $1.key })?.value }
}

/// Image files of a folder, as `sam auto --images` and `sam serve --images` take them.
public enum ImageFolder {
    /// Extensions read as images (any case).
    public static let extensions: Set<String> = ["jpg", "jpeg", "png", "bmp"]

    /// The images directly in `dir`, in name order, as paths; throws when `dir` is not a folder, holds no image, or
    /// two images share a stem (they would write the same output).
    public static func list(_ dir: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw InputError(dir, "is not a folder")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
        if names.isEmpty { throw InputError(dir, "holds no .jpg, .jpeg, .png or .bmp image") }
        var seen: [String: String] = [:]
        for n in names {
            let stem = (n as NSString).deletingPathExtension
            if let other = seen[stem] { throw InputError(dir, "\(other) and \(n) would both write \(stem)") }
            seen[stem] = n
        }
        return names.map { (dir as NSString).appendingPathComponent($0) }
    }
}
