// The image encoders of the SAM v1 family: Meta's ViT (SAM, HQ-SAM), TinyViT (MobileSAM, Light HQ-SAM) and
// EfficientViT-SAM's backbone and neck. Each maps its preprocessed input to the 256×64×64 embedding SAM's prompt
// encoder and decoder read; HQ-SAM's decoder also reads an early feature (`encode`'s `interm`).
import SAMTensor

/// Which image encoder a model of the SAM v1 family has; its sizes.
public enum SAMEncoderKind: Codable, Equatable, Sendable {
    /// Meta's ViT (`image_encoder.blocks.*`), sized by SAMConfig's encoder fields.
    case vit
    /// TinyViT (`image_encoder.layers.*`, `image_encoder.patch_embed.seq.*`).
    case tinyViT(TinyViTConfig)
    /// EfficientViT-SAM (`image_encoder.backbone.*`, `image_encoder.neck.*`, `image_encoder.norm`).
    case efficientViT(EfficientViTSamConfig)
}

public enum SamImageEncoder {
    case vit(ImageEncoderViT)
    case tinyViT(TinyViT)
    case efficientViT(EfficientViTSamImageEncoder)

    /// Builds the encoder `config.encoder` names, taking its weights under "image_encoder".
    public init(_ w: WeightStore, config c: SAMConfig) {
        switch c.encoder {
        case .vit: self = .vit(ImageEncoderViT(w, config: c))
        case .tinyViT(let t): self = .tinyViT(TinyViT(w, config: t))
        case .efficientViT(let e): self = .efficientViT(EfficientViTSamImageEncoder(w, config: e))
        }
    }

    /// The module path ("image_encoder").
    public var name: String {
        switch self {
        case .vit(let e): return e.name
        case .tinyViT(let e): return e.name
        case .efficientViT(let e): return e.name
        }
    }

    /// Meta's ViT, when it is one.
    public var vit: ImageEncoderViT? { if case .vit(let e) = self { return e } else { return nil } }

    /// The image embedding (B×256×64×64) and, with `hq`, HQ-SAM's early feature (B×64×64×C: the first global block's
    /// output for ViT, layers[1]'s for TinyViT); `hq` also records the encoder's output under HQ's tuple names.
    public func encode(_ x: Tensor, _ rec: ActivationRecorder?, hq: Bool) -> (embedding: Tensor, interm: Tensor?) {
        switch self {
        case .vit(let e):
            return hq ? e.encode(x, rec, hqOutputs: true) : (e(x, rec), nil)
        case .tinyViT(let e):
            let (y, interm) = e(x, rec, hqOutputs: hq)
            return (y, hq ? interm : nil)
        case .efficientViT(let e):
            return (e(x, rec), nil)
        }
    }

    /// The image embedding alone.
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor { encode(x, rec, hq: false).embedding }
}

extension EfficientViTSamConfig {
    /// Width of the stem (stage 0), for the size table's embed-dim column.
    public var stemWidth: Int { widths.first ?? 0 }
    /// Blocks over all stages.
    public var blockCount: Int { depths.reduce(0, +) }
}
