// The whole model: image encoder, prompt encoder, mask decoder, pixel normalisation and mask postprocessing; for
// every member of the SAM v1 family (SAM, MobileSAM, HQ-SAM, EfficientViT-SAM), which share the prompt encoder and
// the decoder's parts.
// ref: segment_anything/modeling/sam.py@dca509f (Sam)
// ref: segment_anything_hq/modeling/sam.py@0.3 (the encoder's interm_embeddings to MaskDecoderHQ)
// ref: efficientsam/models/efficientvit/sam.py@1.0.0 (EfficientViTSam: SamResize, Normalize on [0, 1], SamPad)
import SAMTensor

public final class Sam {
    public let config: SAMConfig
    public let imageEncoder: SamImageEncoder
    public let promptEncoder: PromptEncoder
    /// SAM's decoder; for HQ-SAM the parts it shares with `hqDecoder` (the same weights).
    public let maskDecoder: MaskDecoder
    /// HQ-SAM's decoder (`config.hqVitDim` set), nil otherwise.
    public let hqDecoder: MaskDecoderHQ?
    public static let pixelMean: [Float] = [123.675, 116.28, 103.53]
    public static let pixelStd: [Float] = [58.395, 57.12, 57.375]
    /// The same constants as Python's floats (EfficientViT-SAM divides them by 255 before they become float32).
    static let pixelMeanDouble: [Double] = [123.675, 116.28, 103.53], pixelStdDouble: [Double] = [58.395, 57.12, 57.375]
    /// Logits above this are mask pixels.
    public static let maskThreshold: Float = 0
    /// Identifies the weights (set by the loader; embedding caches record it).
    public var fingerprint = ""
    /// The precision of its matrix products (`--precision`); its weights were converted for it at load. Predictors run
    /// the model's passes under it (`Precision.with`).
    public var precision: Precision = .fp32
    /// HQ-SAM: what its predictors pass as `hq_token_only` unless told otherwise (`--hq-token-only`): the HQ token's
    /// mask alone instead of SAM's best mask plus it. Ignored by the other models.
    public var hqTokenOnly = false

    /// Builds the model, taking every parameter from `weights` (call `weights.finish()` afterwards to check keys).
    public init(config: SAMConfig, weights: WeightStore) {
        self.config = config
        // bf16: the encoder's product weights held as bf16 (most of the parameters); the decoder's small weights stay
        // float32, their products round them to bf16 as they run
        let storage = weights.matrixStorage
        imageEncoder = SamImageEncoder(weights, config: config)
        weights.matrixStorage = .fp32
        promptEncoder = PromptEncoder(weights, config: config)
        if let v = config.hqVitDim {
            let hq = MaskDecoderHQ(weights, config: config, vitDim: v)
            hqDecoder = hq
            maskDecoder = hq.base
        } else {
            hqDecoder = nil
            maskDecoder = MaskDecoder(weights, config: config)
        }
        weights.matrixStorage = storage
        precision = storage
    }

    /// Builds the model from a checkpoint's tensors (Meta's key names), inferring the size unless `config` is given.
    /// Strict: throws `ModelLoadError.keys` naming every missing, unexpected and mis-shaped key.
    public convenience init(tensors: [String: Tensor], config: SAMConfig? = nil, precision: Precision = .fp32) throws {
        let cfg = try config ?? SAMConfig.infer(from: tensors)
        let store = WeightStore(.tensors(tensors))
        store.matrixStorage = precision
        self.init(config: cfg, weights: store)
        try store.finish()
    }

    /// Normalises a resized H×W×3 uint8 RGB image with the pixel mean and std and pads it with zeros at the bottom
    /// and right to the encoder's input side (Meta's `Sam.preprocess`: padding after normalisation). Returns 1×3×S×S.
    /// EfficientViT-SAM normalises as torchvision does, on [0, 1]: (x / 255 − mean / 255) / (std / 255) in float32.
    public func preprocess(resized pixels: [UInt8], height h: Int, width w: Int) -> Tensor {
        let s = config.encoderInputSize
        if case .efficientViT = config.encoder {
            // ToTensor (x / 255), then Normalize with mean and std divided by 255 in double and held as float32
            precondition(h <= s && w <= s && pixels.count == h * w * 3, "preprocess: a \(h)×\(w) image does not fit \(s)²")
            return Tensor(shape: [1, 3, s, s]) { p in
                p.update(repeating: 0)
                for c in 0..<3 {
                    let mean = Float(Sam.pixelMeanDouble[c] / 255), std = Float(Sam.pixelStdDouble[c] / 255)
                    for y in 0..<h { for x in 0..<w {
                        p[(c * s + y) * s + x] = (Float(pixels[(y * w + x) * 3 + c]) / 255 - mean) / std
                    } }
                }
            }
        }
        precondition(h <= s && w <= s && pixels.count == h * w * 3, "preprocess: a \(h)×\(w) image does not fit \(s)²")
        return Tensor(shape: [1, 3, s, s]) { p in
            p.update(repeating: 0)
            for c in 0..<3 {
                let mean = Sam.pixelMean[c], std = Sam.pixelStd[c]
                for y in 0..<h { for x in 0..<w {
                    p[(c * s + y) * s + x] = (Float(pixels[(y * w + x) * 3 + c]) - mean) / std
                } }
            }
        }
    }

    /// Low-res logits B×K×M×M → logits at the original size: bilinear to imageSize², crop to the resized input
    /// size, bilinear to the original size (align_corners=False both times, no antialias).
    public func postprocessMasks(_ lowRes: Tensor, inputSize: (h: Int, w: Int), originalSize: (h: Int, w: Int)) -> Tensor {
        let s = config.imageSize
        // F.interpolate to imageSize², then [..., :h, :w]: only the kept corner is computed
        let cropped = interpolateBilinear(lowRes, height: s, width: s, keepRows: inputSize.h, keepColumns: inputSize.w)
        return interpolateBilinear(cropped, height: originalSize.h, width: originalSize.w)
    }

    /// `postprocessMasks` of one M×M plane of low-res logits, output rows `rows` of the original size handed to `row`
    /// one at a time (`upscaleCropResize`: the same values, without the full-size intermediates).
    public func postprocessMask(_ plane: UnsafePointer<Float>, lowResSize m: Int, inputSize: (h: Int, w: Int),
                                originalSize: (h: Int, w: Int), rows: Range<Int>, _ row: (Int, UnsafePointer<Float>) -> Void) {
        let s = config.imageSize
        upscaleCropResize(plane, height: m, width: m, first: (s, s), keep: inputSize, final: originalSize, rows: rows, row)
    }
}
