// The predictor: set an image once, then prompt it with points, boxes and mask inputs. One predictor for the SAM v1
// family: MobileSAM's and HQ-SAM's predictors are SAM's (HQ-SAM adds the encoder's early feature and hq_token_only);
// EfficientViT-SAM's resizes the image for its encoder to 512 or 1024 while prompts and masks keep the 1024 frame.
// ref: segment_anything/predictor.py@dca509f (SamPredictor), segment_anything/utils/transforms.py (ResizeLongestSide)
// ref: segment_anything_hq/predictor.py@0.3 (interm_features, hq_token_only)
// ref: efficientsam/models/efficientvit/sam.py@1.0.0 (EfficientViTSamPredictor.set_image, apply_coords)
import SAMIO
import SAMModel
import SAMTensor

/// A prompt in the original image's pixel coordinates, as given to Meta's `SamPredictor.predict`.
public struct Prompt: Sendable, Equatable {
    /// Points (x, y) in pixels of the original image, with labels 1 (positive) or 0 (negative).
    public var points: [(x: Float, y: Float)]
    public var labels: [Int]
    /// Box (x0, y0, x1, y1) in pixels of the original image.
    public var box: (x0: Float, y0: Float, x1: Float, y1: Float)?

    public init(points: [(x: Float, y: Float)] = [], labels: [Int] = [], box: (x0: Float, y0: Float, x1: Float, y1: Float)? = nil) {
        self.points = points; self.labels = labels; self.box = box
    }

    public static func == (a: Prompt, b: Prompt) -> Bool {
        a.points.map { [$0.x, $0.y] } == b.points.map { [$0.x, $0.y] } && a.labels == b.labels
            && a.box.map { [$0.x0, $0.y0, $0.x1, $0.y1] } == b.box.map { [$0.x0, $0.y0, $0.x1, $0.y1] }
    }
}

/// What one prompt yields: C masks at the original size, their predicted IoU, and the low-res logits.
public struct Prediction: Sendable {
    /// C×H×W, 1 inside the mask, 0 outside.
    public var masks: [UInt8]
    public var maskCount: Int
    public var height: Int, width: Int
    public var iouPredictions: [Float]
    /// C×M×M logits (M = 256 for 1024 inputs), to feed back as mask input.
    public var lowResLogits: Tensor
    /// SAM 2: the decoder's object-score logit (> 0: an object is present); nil for v1.
    public var objectScoreLogit: Float? = nil

    /// Mask k as H×W bytes.
    public func mask(_ k: Int) -> ArraySlice<UInt8> { masks[(k * height * width)..<((k + 1) * height * width)] }
}

/// Errors a prompt can raise before the model runs.
public enum PromptError: Error, CustomStringConvertible, Equatable {
    case noImage
    case empty
    case labelsMismatch(points: Int, labels: Int)
    case badLabel(Int)
    case pointOutside(x: Float, y: Float, width: Int, height: Int)
    case boxOutside(x0: Float, y0: Float, x1: Float, y1: Float, width: Int, height: Int)
    case boxInverted(x0: Float, y0: Float, x1: Float, y1: Float)
    case maskInputShape(expected: [Int], found: [Int])
    case batchMismatch(String)
    /// The model needs an encoder output that a cached embedding does not hold (HQ-SAM's early feature).
    case missingFeature(String)

    public var description: String {
        switch self {
        case .noImage: return "no image set: call setImage first"
        case .empty: return "empty prompt: give at least one point or a box"
        case .labelsMismatch(let p, let l): return "\(p) points but \(l) labels"
        case .badLabel(let l): return "point label \(l) is not 0 (negative) or 1 (positive)"
        case .pointOutside(let x, let y, let w, let h):
            return "point (\(x), \(y)) lies outside the \(w)×\(h) image (valid x in 0..<\(w), y in 0..<\(h))"
        case .boxOutside(let x0, let y0, let x1, let y1, let w, let h):
            return "box (\(x0), \(y0), \(x1), \(y1)) lies outside the \(w)×\(h) image"
        case .boxInverted(let x0, let y0, let x1, let y1):
            return "box (\(x0), \(y0), \(x1), \(y1)) has x1 < x0 or y1 < y0"
        case .maskInputShape(let e, let f): return "mask input has shape \(f), expected \(e)"
        case .batchMismatch(let why): return "prompts cannot share one batch: \(why)"
        case .missingFeature(let what): return "\(what) is not set: set the image (a cached embedding does not hold it)"
        }
    }
}

extension Prompt {
    /// The checks of a prompt against an image of `originalSize` (both families): a prompt at all, matching labels,
    /// labels 0 or 1, points inside, boxes ordered and inside, a mask input of the model's low-res size.
    public static func validate(_ p: Prompt, maskInput: Tensor?, originalSize: (h: Int, w: Int), lowResSize l: Int) throws {
        let (h, w) = originalSize
        if p.points.isEmpty && p.box == nil && maskInput == nil { throw PromptError.empty }
        if p.points.count != p.labels.count { throw PromptError.labelsMismatch(points: p.points.count, labels: p.labels.count) }
        for l in p.labels where l != 0 && l != 1 { throw PromptError.badLabel(l) }
        for pt in p.points where !(pt.x >= 0 && pt.y >= 0 && pt.x < Float(w) && pt.y < Float(h)) {
            throw PromptError.pointOutside(x: pt.x, y: pt.y, width: w, height: h)
        }
        if let b = p.box {
            if !(b.x1 >= b.x0 && b.y1 >= b.y0) { throw PromptError.boxInverted(x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1) }
            if !(b.x0 >= 0 && b.y0 >= 0 && b.x1 <= Float(w) && b.y1 <= Float(h)) {
                throw PromptError.boxOutside(x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1, width: w, height: h)
            }
        }
        if let m = maskInput, m.shape != [1, 1, l, l] && m.shape != [1, l, l] && m.shape != [l, l] {
            throw PromptError.maskInputShape(expected: [1, l, l], found: m.shape)
        }
    }

    /// Throws unless the prompts can share one decoder pass: one mask input per prompt when any, and the same
    /// number of decoder tokens (`tokens`, which differs between the families) for every prompt.
    static func checkBatch(_ prompts: [Prompt], maskInputs: [Tensor]?, tokens: (Prompt) -> Int) throws {
        if let m = maskInputs, m.count != prompts.count {
            throw PromptError.batchMismatch("\(m.count) mask inputs for \(prompts.count) prompts")
        }
        let t = prompts.map(tokens)
        if let i = t.firstIndex(where: { $0 != t[0] }) {
            throw PromptError.batchMismatch("prompt \(i) has \(prompts[i].points.count) points\(prompts[i].box != nil ? " and a box" : ""), "
                + "prompt 0 \(prompts[0].points.count)\(prompts[0].box != nil ? " and a box" : ""): give every prompt of a batch the same number of points, all or none a box")
        }
    }
}

/// Meta's `SamPredictor`: `setImage` runs the encoder once; `predict` runs prompt encoder and decoder.
public final class SamPredictor {
    public let model: Sam
    public private(set) var features: Tensor?
    public private(set) var originalSize: (h: Int, w: Int) = (0, 0)
    public private(set) var inputSize: (h: Int, w: Int) = (0, 0)
    /// The preprocessed input of the encoder (1×3×S×S), kept for verification.
    public private(set) var inputImage: Tensor?

    /// HQ-SAM: the encoder's early feature of the current image (1×64×64×C), which its decoder fuses.
    public private(set) var intermFeatures: Tensor?
    /// HQ-SAM: return the HQ token's mask alone (`hq_token_only=True`) instead of SAM's best mask plus it; starts as
    /// the model's `hqTokenOnly`.
    public var hqTokenOnly: Bool

    /// The decoder's view of the current image (see `MaskDecoder.Image`), made on the first prompt.
    private var preparedImage: MaskDecoder.Image?
    /// HQ-SAM's (see `MaskDecoderHQ.Image`).
    private var preparedHQImage: MaskDecoderHQ.Image?

    public init(model: Sam) { self.model = model; hqTokenOnly = model.hqTokenOnly }

    /// HQ-SAM's early feature of the current image.
    func requireInterm() throws -> Tensor {
        guard let t = intermFeatures else { throw PromptError.missingFeature("HQ-SAM's early encoder feature (interm_embeddings)") }
        return t
    }

    /// The current image prepared for HQ-SAM's decoder, made once per image.
    func hqDecoderImage(_ hq: MaskDecoderHQ, _ features: Tensor) throws -> MaskDecoderHQ.Image {
        if let p = preparedHQImage { return p }
        let interm = try requireInterm()
        let p = Precision.with(model.precision) {
            hq.prepare(imageEmbedding: features, interm: interm, imagePE: model.promptEncoder.densePE(nil),
                       sharedDense: model.promptEncoder.noMaskDense())
        }
        preparedHQImage = p
        return p
    }

    /// The current image prepared for the mask decoder; made once per image (`features` is that image's embedding).
    func decoderImage(_ features: Tensor) -> MaskDecoder.Image {
        if let p = preparedImage { return p }
        let p = Precision.with(model.precision) { model.maskDecoder.prepare(imageEmbedding: features, imagePE: model.promptEncoder.densePE(nil),
                                          sharedDense: model.promptEncoder.noMaskDense()) }
        preparedImage = p
        return p
    }

    /// Resizes the longest side to the encoder's input side with Pillow's bilinear filter (antialiased when
    /// shrinking, uint8 result), normalises, pads, and runs the image encoder. The input size the prompts and masks
    /// are scaled to is the longest side at `imageSize` (1024), which for EfficientViT-SAM's L models (512 input)
    /// differs from the encoder's.
    public func setImage(_ image: RGBImage, _ rec: ActivationRecorder? = nil) {
        let s = model.config.encoderInputSize
        let (nh, nw) = resizeLongestSideShape(height: image.height, width: image.width, target: s)
        // EfficientViT-SAM's SamResize leaves an image whose longest side already is the target as it is; SAM's
        // ResizeLongestSide resizes to the same size, which Pillow returns unchanged too
        let resized = resizeBilinearPIL(image.pixels, width: image.width, height: image.height, channels: 3,
                                        newWidth: nw, newHeight: nh)
        let input = model.preprocess(resized: resized, height: nh, width: nw)
        let frame = resizeLongestSideShape(height: image.height, width: image.width, target: model.config.imageSize)
        setPreprocessed(input, originalSize: (image.height, image.width), inputSize: (frame.height, frame.width), rec)
    }

    /// Uses an already preprocessed input (1×3×S×S) and runs the encoder.
    public func setPreprocessed(_ input: Tensor, originalSize: (h: Int, w: Int), inputSize: (h: Int, w: Int),
                                _ rec: ActivationRecorder? = nil) {
        inputImage = input
        self.originalSize = originalSize
        self.inputSize = inputSize
        preparedImage = nil
        preparedHQImage = nil
        (features, intermFeatures) = Precision.with(model.precision) { model.imageEncoder.encode(input, rec, hq: model.hqDecoder != nil) }
    }

    /// Uses a cached image embedding (1×C×g×g) for an image of the given sizes.
    public func setEmbedding(_ embedding: Tensor, originalSize: (h: Int, w: Int), inputSize: (h: Int, w: Int),
                             interm: Tensor? = nil) {
        features = embedding
        intermFeatures = interm
        preparedImage = nil
        preparedHQImage = nil
        inputImage = nil
        self.originalSize = originalSize
        self.inputSize = inputSize
    }

    /// Checks a prompt against the image before anything runs.
    public func validate(_ p: Prompt, maskInput: Tensor?) throws {
        guard features != nil else { throw PromptError.noImage }
        try Prompt.validate(p, maskInput: maskInput, originalSize: originalSize, lowResSize: model.config.lowResSize)
    }

    /// Meta's `ResizeLongestSide.apply_coords`: x·(neww/w), y·(newh/h), in double precision, then float32.
    func transformCoords(_ pts: [(x: Float, y: Float)]) -> Tensor {
        let sx = Double(inputSize.w) / Double(originalSize.w), sy = Double(inputSize.h) / Double(originalSize.h)
        return Tensor(shape: [pts.count, 2], data: pts.flatMap { [Float(Double($0.x) * sx), Float(Double($0.y) * sy)] })
    }

    func modelPrompt(_ p: Prompt) -> ModelPrompt {
        var mp = ModelPrompt()
        if !p.points.isEmpty { mp.points = transformCoords(p.points); mp.labels = p.labels }
        if let b = p.box { mp.box = transformCoords([(b.x0, b.y0), (b.x1, b.y1)]).reshaped([4]) }
        return mp
    }

    /// Predicts a batch of prompts against the one embedding in a single decoder pass (Meta's `predict_torch` with
    /// B prompts). Prompts of a batch must have the same number of points and all or none a box.
    public func predictBatch(_ prompts: [Prompt], maskInputs: [Tensor]? = nil, multimaskOutput: Bool = true,
                             _ rec: ActivationRecorder? = nil) throws -> [Prediction] {
        // thrown here rather than trapping in the prompt encoder (precondition) or on an index out of range
        guard !prompts.isEmpty else { return [] }
        try checkBatch(prompts, maskInputs: maskInputs) { $0.points.count + ($0.box != nil ? 2 : ($0.points.isEmpty ? 0 : 1)) }
        return try Precision.with(model.precision) { try decodeBatch(prompts, maskInputs: maskInputs, multimaskOutput: multimaskOutput, rec) }
    }

    /// `predictBatch` on prompts already checked, under the model's precision.
    func decodeBatch(_ prompts: [Prompt], maskInputs: [Tensor]?, multimaskOutput: Bool,
                     _ rec: ActivationRecorder?) throws -> [Prediction] {
        guard let features else { throw PromptError.noImage }
        let l = model.config.lowResSize
        let masks = maskInputs.map { ms in Tensor(shape: [ms.count, 1, l, l], data: ms.flatMap(\.data)) }
        let lowRes: Tensor, iou: Tensor
        if let hq = model.hqDecoder {
            if rec == nil {
                let image = try hqDecoderImage(hq, features)
                let (sparse, dense) = Profiler.measure("prompt encoder") {
                    (model.promptEncoder.sparseEmbeddings(prompts.map(modelPrompt)), masks.map { model.promptEncoder.maskEmbeddings($0, nil) })
                }
                (lowRes, iou) = Profiler.measure("mask decoder") {
                    hq.decode(image, sparse: sparse, dense: dense, multimaskOutput: multimaskOutput, hqTokenOnly: hqTokenOnly)
                }
            } else {
                let interm = try requireInterm()
                let (sparse, dense) = model.promptEncoder(prompts.map(modelPrompt), masks: masks, rec)
                (lowRes, iou) = hq(imageEmbedding: features, interm: interm, imagePE: model.promptEncoder.densePE(rec),
                                   sparse: sparse, dense: dense, multimaskOutput: multimaskOutput, hqTokenOnly: hqTokenOnly, rec)
            }
        } else if rec == nil {
            // the image as the decoder reads it, kept for every later prompt of this image
            let image = decoderImage(features)
            let (sparse, dense) = Profiler.measure("prompt encoder") {
                (model.promptEncoder.sparseEmbeddings(prompts.map(modelPrompt)), masks.map { model.promptEncoder.maskEmbeddings($0, nil) })
            }
            (lowRes, iou) = Profiler.measure("mask decoder") {
                model.maskDecoder.decode(image, sparse: sparse, dense: dense,
                                         outputs: multimaskOutput ? 1..<model.config.numMaskTokens : 0..<1)
            }
        } else {
            let (sparse, dense) = model.promptEncoder(prompts.map(modelPrompt), masks: masks, rec)
            (lowRes, iou) = model.maskDecoder(imageEmbedding: features, imagePE: model.promptEncoder.densePE(rec),
                                              sparse: sparse, dense: dense, multimaskOutput: multimaskOutput, rec)
        }
        // Prompt by prompt, spread over the cores, each mask upscaled, cropped, resized and thresholded row by row;
        // a single prompt's masks are split into bands of rows for the cores instead. The threads write through raw
        // pointers taken once, outside the parallel region (never one Swift array from two threads).
        let c = lowRes.shape[1], h = originalSize.h, w = originalSize.w, hw = h * w
        let (inputSize, originalSize) = (self.inputSize, self.originalSize)
        var bins = [[UInt8]](repeating: [], count: prompts.count)
        Profiler.measure("mask postprocessing") {
            let model = self.model, t = Sam.maskThreshold
            lowRes.data.withUnsafeBufferPointer { lp in
                let low = lp.baseAddress!
                // planes `planes`, rows `rows` of prompt b's masks into dst (C×H×W bytes, 1 inside)
                func fill(_ b: Int, _ dst: UnsafeMutablePointer<UInt8>, planes: Range<Int>, rows: Range<Int>) {
                    for k in planes {
                        let plane = dst + k * hw
                        model.postprocessMask(low + (b * c + k) * l * l, lowResSize: l, inputSize: inputSize,
                                              originalSize: originalSize, rows: rows) { oy, v in
                            let d = plane + oy * w
                            for x in 0..<w { d[x] = v[x] > t ? 1 : 0 }
                        }
                    }
                }
                if prompts.count == 1 {
                    let bands = 2
                    bins[0] = [UInt8](unsafeUninitializedCapacity: c * hw) { buf, n in
                        let dst = buf.baseAddress!
                        parallelItems(c * bands) { job in
                            let band = job % bands
                            fill(0, dst, planes: (job / bands)..<(job / bands + 1), rows: (band * h / bands)..<((band + 1) * h / bands))
                        }
                        n = c * hw
                    }
                } else {
                    bins.withUnsafeMutableBufferPointer { bp in
                        let base = bp.baseAddress!
                        parallelItems(prompts.count) { b in
                            base[b] = [UInt8](unsafeUninitializedCapacity: c * hw) { buf, n in
                                fill(b, buf.baseAddress!, planes: 0..<c, rows: 0..<h)
                                n = c * hw
                            }
                        }
                    }
                }
            }
        }
        return (0..<prompts.count).map { b in
            Prediction(masks: bins[b], maskCount: c, height: h, width: w,
                       iouPredictions: Array(iou.data[(b * c)..<((b + 1) * c)]),
                       lowResLogits: Tensor(shape: [c, l, l], data: Array(lowRes.data[(b * c * l * l)..<((b + 1) * c * l * l)])))
        }
    }
}
