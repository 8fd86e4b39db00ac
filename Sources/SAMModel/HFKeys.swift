// The one key table between Hugging Face's `facebook/sam-vit-*` checkpoints and Meta's state-dict names.
// ref: huggingface/transformers src/transformers/models/sam/convert_sam_to_hf.py (KEYS_TO_MODIFY_MAPPING)
import SAMTensor

public enum HFKeys {
    /// Meta name fragment → Hugging Face name fragment, applied in this order to go from Meta to HF.
    static let fragments: [(meta: String, hf: String)] = [
        ("iou_prediction_head.layers.0", "iou_prediction_head.proj_in"),
        ("iou_prediction_head.layers.1", "iou_prediction_head.layers.0"),
        ("iou_prediction_head.layers.2", "iou_prediction_head.proj_out"),
        ("mask_decoder.output_upscaling.0", "mask_decoder.upscale_conv1"),
        ("mask_decoder.output_upscaling.1", "mask_decoder.upscale_layer_norm"),
        ("mask_decoder.output_upscaling.3", "mask_decoder.upscale_conv2"),
        ("mask_downscaling.0", "mask_embed.conv1"),
        ("mask_downscaling.1", "mask_embed.layer_norm1"),
        ("mask_downscaling.3", "mask_embed.conv2"),
        ("mask_downscaling.4", "mask_embed.layer_norm2"),
        ("mask_downscaling.6", "mask_embed.conv3"),
        ("point_embeddings", "point_embed"),
        ("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", "shared_image_embedding.positional_embedding"),
        ("image_encoder", "vision_encoder"),
        ("neck.0", "neck.conv1"),
        ("neck.1", "neck.layer_norm1"),
        ("neck.2", "neck.conv2"),
        ("neck.3", "neck.layer_norm2"),
        ("patch_embed.proj", "patch_embed.projection"),
        (".norm", ".layer_norm"),
        ("blocks", "layers"),
    ]

    /// The Hugging Face name of a Meta key.
    public static func hfName(_ meta: String) -> String {
        var k = meta
        // output_hypernetworks_mlps.N.layers.{0,1,2} → proj_in, layers.0, proj_out
        if k.contains("output_hypernetworks_mlps.") {
            k = k.replacingOccurrences(of: ".layers.0.", with: ".proj_in.")
                .replacingOccurrences(of: ".layers.1.", with: ".layers.0.")
                .replacingOccurrences(of: ".layers.2.", with: ".proj_out.")
        }
        for (m, h) in fragments where k.contains(m) {
            k = k.replacingOccurrences(of: m, with: h)
        }
        return k
    }

    /// Whether a checkpoint uses Hugging Face's names.
    public static func isHuggingFace(_ tensors: [String: Tensor]) -> Bool {
        tensors.keys.contains { $0.hasPrefix("vision_encoder.") }
    }

    /// Renames a Hugging Face checkpoint's tensors to Meta's keys, for every key a SAM of the inferred size has.
    /// Keys with no Meta counterpart are kept under their HF name, so strict loading reports them as unexpected.
    public static func toMeta(_ tensors: [String: Tensor]) -> [String: Tensor] {
        // Build the reverse table from the key list of the model size the HF tensors describe.
        var out: [String: Tensor] = [:]
        var remaining = tensors
        let candidates = metaKeyCandidates(tensors)
        for meta in candidates {
            let hf = hfName(meta)
            if let t = remaining.removeValue(forKey: hf) { out[meta] = t }
        }
        for (k, v) in remaining { out[k] = v }
        return out
    }

    /// Meta keys of every module a checkpoint of up to 64 encoder blocks could have.
    static func metaKeyCandidates(_ tensors: [String: Tensor]) -> [String] {
        var depth = 0
        while tensors["vision_encoder.layers.\(depth).layer_norm1.weight"] != nil { depth += 1 }
        var cfg = SAMConfig(encoderEmbedDim: 8, encoderDepth: max(depth, 1), encoderNumHeads: 1, encoderGlobalAttnIndexes: [])
        var dd = 0
        while tensors["mask_decoder.transformer.layers.\(dd).layer_norm1.weight"] != nil { dd += 1 }
        cfg.decoderDepth = max(dd, 1)
        var ih = 0
        while tensors["mask_decoder.iou_prediction_head.layers.\(ih).weight"] != nil { ih += 1 }
        cfg.iouHeadDepth = ih + 2
        let mt = tensors["mask_decoder.mask_tokens.weight"]?.shape.first ?? 4
        cfg.numMultimaskOutputs = mt - 1
        return Array(WeightStore.shapes(for: cfg).keys)
    }
}
