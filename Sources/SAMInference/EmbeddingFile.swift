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
    }

    /// Reads the embedding at `path`, checks it (`check`) and sets it on `predictor`.
    public static func load(path: String, into predictor: SamPredictor, checkpoint: String, image: RGBImage, imagePath: String) throws {
        let e = try read(path: path)
        try e.check(model: predictor.model, checkpoint: checkpoint, image: image, imagePath: imagePath, path: path)
        predictor.setEmbedding(e.embedding, originalSize: e.originalSize, inputSize: e.inputSize)
    }
}
