// The one key table between Hugging Face's `facebook/sam-vit-*` checkpoints and Meta's state-dict names.
// ref: huggingface/transformers src/transformers/models/sam/convert_sam_to_hf.py@09cb93d (KEYS_TO_MODIFY_MAPPING,
//      replace_keys) and src/transformers/models/sam/modeling_sam.py (SamModel, transformers 5.24.0)
import SAMTensor

/// Renames between Hugging Face `SamModel` checkpoints and Meta's state-dict keys.
///
/// Validated on `Tests/Fixtures/hf/tiny_random_hf.safetensors`, written by transformers 5.24.0 `save_pretrained` from
/// Meta's `tiny_random.pth` renamed by transformers' own conversion logic (`Tests/Fixtures/hf/make_hf_fixture.py`):
/// `hfName` maps Meta's 174 keys one-to-one onto the file's 174 keys, and the values round-trip bit for bit.
///
/// Hugging Face specifics handled here:
/// - **The tied Fourier matrix.** Meta has one `prompt_encoder.pe_layer.positional_encoding_gaussian_matrix`, used for
///   the dense image PE and for point/box embeddings. `SamModel` holds it twice, `shared_image_embedding.
///   positional_embedding` and `prompt_encoder.shared_embedding.positional_embedding`, tied
///   (`_tied_weights_keys`), and `save_pretrained` writes only the first. `hfName` gives the first; `toMeta`
///   accepts either (a file with only the prompt encoder's copy, as some older exports have, loads too) and drops the
///   second when both are present with identical bits. If both are present and differ, the checkpoint is not a SAM
///   Meta's code can express, so the prompt encoder's copy is kept under its HF name and strict loading reports it.
/// - **MLP layer indices.** `SamFeedForward` names an N-layer MLP `proj_in`, `layers.0 … layers.(N-3)`, `proj_out`,
///   where Meta has `layers.0 … layers.(N-1)`. Hypernetwork MLPs always have 3 layers; the IoU head has
///   `iou_head_depth` (3 in every released SAM; transformers' converter only handles 3, `hfName` handles any).
/// - Meta's `pixel_mean`/`pixel_std` are non-persistent buffers (in no checkpoint); HF has no counterpart either.
/// - Every other HF key is a plain rename; an HF key with no Meta counterpart is kept under its HF name, so strict
///   loading reports it as unexpected.
public enum HFKeys {
    /// Meta name fragment → Hugging Face name fragment, applied in this order to go from Meta to HF
    /// (KEYS_TO_MODIFY_MAPPING without its IoU-head entries, which `mlpRename` handles for any depth).
    static let fragments: [(meta: String, hf: String)] = [
        ("mask_decoder.output_upscaling.0", "mask_decoder.upscale_conv1"),
        ("mask_decoder.output_upscaling.1", "mask_decoder.upscale_layer_norm"),
        ("mask_decoder.output_upscaling.3", "mask_decoder.upscale_conv2"),
        ("mask_downscaling.0", "mask_embed.conv1"),
        ("mask_downscaling.1", "mask_embed.layer_norm1"),
        ("mask_downscaling.3", "mask_embed.conv2"),
        ("mask_downscaling.4", "mask_embed.layer_norm2"),
        ("mask_downscaling.6", "mask_embed.conv3"),
        ("point_embeddings", "point_embed"),
        // transformers' converter writes `prompt_encoder.shared_embedding.positional_embedding` and copies it to this
        // key, the one `save_pretrained` keeps (see the type's comment).
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

    /// HF's name of the Fourier matrix as `save_pretrained` writes it, and the name of its tied copy.
    static let sharedPE = "shared_image_embedding.positional_embedding"
    static let tiedPE = "prompt_encoder.shared_embedding.positional_embedding"

    /// The Hugging Face name of a Meta key. `iouHeadDepth` is the model's IoU-head depth (3 for every released SAM).
    public static func hfName(_ meta: String, iouHeadDepth: Int = 3) -> String {
        var k = meta
        if let r = mlpRename(k, prefix: "mask_decoder.iou_prediction_head.layers.", depth: iouHeadDepth) {
            k = r
        } else if k.hasPrefix("mask_decoder.output_hypernetworks_mlps."),
                  let dot = k.dropFirst("mask_decoder.output_hypernetworks_mlps.".count).firstIndex(of: "."),
                  let r = mlpRename(k, prefix: String(k[..<dot]) + ".layers.", depth: 3) {
            k = r
        }
        for (m, h) in fragments where k.contains(m) {
            k = k.replacingOccurrences(of: m, with: h)
        }
        return k
    }

    /// `<prefix>I.rest` of a `depth`-layer Meta MLP → SamFeedForward's `proj_in` / `layers.(I-1)` / `proj_out`.
    static func mlpRename(_ key: String, prefix: String, depth: Int) -> String? {
        guard key.hasPrefix(prefix) else { return nil }
        let tail = key.dropFirst(prefix.count)
        guard let dot = tail.firstIndex(of: "."), let i = Int(tail[..<dot]) else { return nil }
        let head = String(prefix.dropLast("layers.".count))
        let name = i == 0 ? "proj_in" : i == depth - 1 ? "proj_out" : "layers.\(i - 1)"
        return head + name + String(tail[dot...])
    }

    /// Whether a checkpoint uses Hugging Face's names.
    public static func isHuggingFace(_ tensors: [String: Tensor]) -> Bool {
        tensors.keys.contains { $0.hasPrefix("vision_encoder.") }
    }

    /// Renames a Hugging Face checkpoint's tensors to Meta's keys, for every key a SAM of the inferred size has.
    /// The tied copy of the Fourier matrix is used when the shared one is absent and dropped when it equals it.
    /// Keys with no Meta counterpart are kept under their HF name, so strict loading reports them as unexpected.
    public static func toMeta(_ tensors: [String: Tensor]) -> [String: Tensor] {
        var remaining = tensors
        if remaining[sharedPE] == nil, let t = remaining.removeValue(forKey: tiedPE) {
            remaining[sharedPE] = t
        } else if let a = remaining[sharedPE], let b = remaining[tiedPE], a.shape == b.shape,
                  a.data.elementsEqual(b.data, by: { $0.bitPattern == $1.bitPattern }) {
            remaining.removeValue(forKey: tiedPE)
        }
        var out: [String: Tensor] = [:]
        let (candidates, iouHeadDepth) = metaKeyCandidates(tensors)
        for meta in candidates {
            if let t = remaining.removeValue(forKey: hfName(meta, iouHeadDepth: iouHeadDepth)) { out[meta] = t }
        }
        for (k, v) in remaining { out[k] = v }
        return out
    }

    /// Meta keys of a model with the block counts the HF tensors describe (encoder and decoder depths, IoU-head depth,
    /// mask tokens), and that IoU-head depth. Widths do not change key names, so they are left at placeholders.
    static func metaKeyCandidates(_ tensors: [String: Tensor]) -> (keys: [String], iouHeadDepth: Int) {
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
        cfg.numMultimaskOutputs = max(mt - 1, 1)
        return (Array(WeightStore.shapes(for: cfg).keys), cfg.iouHeadDepth)
    }
}
