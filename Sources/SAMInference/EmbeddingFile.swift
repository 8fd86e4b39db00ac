// The embedding cache file of `sam embed`, read back by `sam segment --embedding`.
import Foundation
import SAMIO
import SAMModel
import SAMTensor

/// The embedding cache (`sam embed`): the image embedding plus what it belongs to.
public struct EmbeddingFile {
    public var embedding: Tensor
    public var checkpointFingerprint: String
    public var originalSize: (h: Int, w: Int)
    public var inputSize: (h: Int, w: Int)
    public var imageFile: String
    /// SAM 2: the two high-resolution feature levels the decoder adds in its upscaling (`high_res_feats:0/1`).
    public var highRes: [Tensor] = []
    /// HQ-SAM: the encoder's early feature its decoder fuses (`interm_embeddings:0`, 1×64×64×C).
    public var interm: Tensor?

    public init(embedding: Tensor, checkpointFingerprint: String, originalSize: (h: Int, w: Int), inputSize: (h: Int, w: Int),
                imageFile: String, highRes: [Tensor] = [], interm: Tensor? = nil) {
        self.embedding = embedding; self.checkpointFingerprint = checkpointFingerprint
        self.originalSize = originalSize; self.inputSize = inputSize; self.imageFile = imageFile; self.highRes = highRes
        self.interm = interm
    }

    /// Writes the file (atomically: `HDF5File` renames its temporary onto `path` when closed).
    public func write(path: String) throws {
        let f = try HDF5File.create(path: path)
        try f.write("image_embedding", embedding)
        for (i, t) in highRes.enumerated() { try f.write("high_res_feats:\(i)", t) }
        if let interm { try f.write("interm_embeddings:0", interm) }
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
        var high: [Tensor] = []
        while f.contains("high_res_feats:\(high.count)") { high.append(try f.readTensor("high_res_feats:\(high.count)")) }
        return EmbeddingFile(embedding: try f.readTensor("image_embedding"), checkpointFingerprint: fp, originalSize: (oh, ow),
                             inputSize: (ih, iw), imageFile: f.stringAttribute("image") ?? "", highRes: high,
                             interm: f.contains("interm_embeddings:0") ? try f.readTensor("interm_embeddings:0") : nil)
    }
}

extension EmbeddingFile {
    /// Throws unless this embedding (read from `path`) was computed with `model` for an image of `image`'s size.
    public func check(model: Sam, checkpoint: String, image: RGBImage, imagePath: String, path: String) throws {
        guard checkpointFingerprint == model.fingerprint else {
            throw InputError(path, "was computed with another checkpoint (fingerprint \(checkpointFingerprint), \(checkpoint) has \(model.fingerprint))")
        }
        guard originalSize == (image.height, image.width) else {
            throw InputError(path, "belongs to a \(originalSize.w)×\(originalSize.h) image, \(imagePath) is \(image.width)×\(image.height)")
        }
        let g = model.config.gridSize
        guard embedding.shape == [1, model.config.outChans, g, g] else {
            throw InputError(path, "image_embedding has shape \(embedding.shape), expected \([1, model.config.outChans, g, g])")
        }
        if let v = model.config.hqVitDim {
            guard let interm, interm.shape == [1, g, g, v] else {
                throw InputError(path, "interm_embeddings:0 is \(interm.map { "of shape \($0.shape)" } ?? "missing"); this HQ-SAM model needs \([1, g, g, v])")
            }
        }
    }

    /// Reads the embedding at `path`, checks it (`check`) and sets it on `predictor`.
    public static func load(path: String, into predictor: SamPredictor, checkpoint: String, image: RGBImage, imagePath: String) throws {
        let e = try read(path: path)
        try e.check(model: predictor.model, checkpoint: checkpoint, image: image, imagePath: imagePath, path: path)
        predictor.setEmbedding(e.embedding, originalSize: e.originalSize, inputSize: e.inputSize,
                               interm: predictor.model.hqDecoder != nil ? e.interm : nil)
    }
}

extension EmbeddingFile {
    /// The current image's features of either predictor as an embedding file.
    public static func of(_ predictor: any PromptPredictor, fingerprint: String, imageFile: String) -> EmbeddingFile? {
        if let p = predictor as? SamPredictor, let f = p.features {
            return EmbeddingFile(embedding: f, checkpointFingerprint: fingerprint, originalSize: p.originalSize,
                                 inputSize: p.inputSize, imageFile: imageFile, interm: p.intermFeatures)
        }
        if let p = predictor as? SAM2Predictor, let f = p.features {
            return EmbeddingFile(embedding: f.imageEmbed, checkpointFingerprint: fingerprint, originalSize: p.originalSize,
                                 inputSize: (p.model.config.imageSize, p.model.config.imageSize), imageFile: imageFile, highRes: f.highRes)
        }
        return nil
    }

    /// Reads the embedding at `path`, checks it against the model and the image, and sets it on `predictor`.
    public static func load(path: String, into predictor: any PromptPredictor, checkpoint: String, image: RGBImage,
                            imagePath: String) throws {
        if let p = predictor as? SamPredictor {
            try load(path: path, into: p, checkpoint: checkpoint, image: image, imagePath: imagePath)
            return
        }
        guard let p = predictor as? SAM2Predictor else { return }
        let e = try read(path: path)
        let m = p.model
        guard e.checkpointFingerprint == m.fingerprint else {
            throw InputError(path, "was computed with another checkpoint (fingerprint \(e.checkpointFingerprint), \(checkpoint) has \(m.fingerprint))")
        }
        guard e.originalSize == (image.height, image.width) else {
            throw InputError(path, "belongs to a \(e.originalSize.w)×\(e.originalSize.h) image, \(imagePath) is \(image.width)×\(image.height)")
        }
        let g = m.config.gridSize, d = m.config.dModel
        guard e.embedding.shape == [1, d, g, g] else {
            throw InputError(path, "image_embedding has shape \(e.embedding.shape), expected \([1, d, g, g])")
        }
        let want = m.config.useHighResFeatures ? [[1, d / 8, 4 * g, 4 * g], [1, d / 4, 2 * g, 2 * g]] : []
        guard e.highRes.map(\.shape) == want else {
            throw InputError(path, "high_res_feats have shapes \(e.highRes.map(\.shape)), this SAM 2 model needs \(want) (an embedding of a v1 model?)")
        }
        p.setFeatures(SAM2Features(imageEmbed: e.embedding, highRes: e.highRes), originalSize: e.originalSize)
    }
}
