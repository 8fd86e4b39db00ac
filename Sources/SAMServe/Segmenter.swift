// The one predictor of `sam serve`, used by one request at a time, with the embeddings of the last few images kept.
import Dispatch
import Foundation
import SAMIO
import SAMEval
import SAMInference
import SAMModel
import SAMTensor

/// Serialises every use of the predictor (v1's or SAM 2's) on one queue (the predictor holds the current image's embedding, so two
/// requests must never interleave) off Swift's cooperative threads, and keeps an LRU of image embeddings so that only
/// the first prompt on an image pays for the encoder.
public final class Segmenter: @unchecked Sendable {

    /// Timing of one call, in milliseconds.
    public struct Timing: Sendable {
        /// Encoder time (0 when the embedding was cached).
        public var embedMs: Double
        /// Prompt encoder + decoder + upscaling to the image's size.
        public var decodeMs: Double
        /// CPU time of the whole process during the decode, all cores together (what the decode costs, whatever
        /// else competes for the cores).
        public var decodeCPUMs: Double
        public var cached: Bool
    }

    private let queue = DispatchQueue(label: "sam.serve.predictor")
    // everything below is touched only on `queue`
    private let predictor: any PromptPredictor
    private var cache: [String: PredictorImageState] = [:]
    private var order: [String] = []   // least recently used first
    private var current: String?
    public let capacity: Int
    public let model: AnyModel

    public init(model: AnyModel, capacity: Int = 4) {
        self.model = model
        predictor = model.makePredictor()
        self.capacity = max(1, capacity)
    }

    private func perform<T>(_ body: @escaping () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            queue.async {
                do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
            }
        }
    }

    /// Makes `key`'s embedding current, running the encoder on `image()` when it is not cached. On `queue`.
    private func select(_ key: String, image: () throws -> RGBImage) throws -> (ms: Double, cached: Bool) {
        if let e = cache[key] {
            touch(key)
            if current != key {
                predictor.restore(e)
                current = key
            }
            return (0, true)
        }
        let img = try image()
        let t0 = DispatchTime.now().uptimeNanoseconds
        predictor.setImage(img)
        let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        cache[key] = predictor.imageState
        current = key
        touch(key)
        while order.count > capacity { cache[order.removeFirst()] = nil }
        return (ms, false)
    }

    private func touch(_ key: String) {
        order.removeAll { $0 == key }
        order.append(key)
    }

    /// Computes (or finds) the embedding of the image called `key`; `image` decodes it when needed.
    public func embed(key: String, image: @escaping () throws -> RGBImage) async throws -> (size: (h: Int, w: Int), timing: Timing) {
        try await perform {
            let (ms, cached) = try self.select(key, image: image)
            return (self.predictor.originalSize, Timing(embedMs: ms, decodeMs: 0, decodeCPUMs: 0, cached: cached))
        }
    }

    /// The predictor's `predict` on the image called `key`.
    public func predict(key: String, image: @escaping () throws -> RGBImage, prompt: Prompt, multimask: Bool) async throws
        -> (Prediction, Timing) {
        try await perform {
            let (ms, cached) = try self.select(key, image: image)
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuMs(CLOCK_PROCESS_CPUTIME_ID)
            let p = try self.predictor.predict(prompt, multimaskOutput: multimask)
            let dms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            return (p, Timing(embedMs: ms, decodeMs: dms, decodeCPUMs: cpuMs(CLOCK_PROCESS_CPUTIME_ID) - c0, cached: cached))
        }
    }

    /// `ClickSimulation.run` (issue 4's protocol) on the image called `key` against `truth`, `clicks` clicks.
    public func clickRun(key: String, image: @escaping () throws -> RGBImage, truth: GroundTruth, clicks: Int) async throws -> ClickRun {
        try await perform {
            _ = try self.select(key, image: image)
            return try ClickSimulation.run(predictor: self.predictor, truth: truth, clicks: clicks)
        }
    }

    /// Names whose embeddings are cached, least recently used first.
    public func cachedKeys() async -> [String] {
        (try? await perform { self.order }) ?? []
    }
}

/// CPU time of a clock (`CLOCK_PROCESS_CPUTIME_ID`, `CLOCK_THREAD_CPUTIME_ID`) in milliseconds.
func cpuMs(_ clock: clockid_t) -> Double {
    var t = timespec()
    clock_gettime(clock, &t)
    return Double(t.tv_sec) * 1e3 + Double(t.tv_nsec) / 1e6
}
