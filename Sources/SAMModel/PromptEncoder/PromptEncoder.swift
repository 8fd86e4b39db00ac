// Encodes points, boxes and masks into sparse and dense prompt embeddings.
// ref: segment_anything/modeling/prompt_encoder.py@dca509f (PromptEncoder)
import Foundation
import SAMTensor

/// Prompts for one batch item of the decoder, in the model's input frame (already scaled to the resized image).
public struct ModelPrompt: Sendable {
    /// Points [N, 2] (x, y) and their labels (1 positive, 0 negative, −1 padding).
    public var points: Tensor?
    public var labels: [Int]?
    /// Box [4] (x0, y0, x1, y1).
    public var box: Tensor?

    public init(points: Tensor? = nil, labels: [Int]? = nil, box: Tensor? = nil) {
        self.points = points; self.labels = labels; self.box = box
    }
}

public final class PromptEncoder {
    public let name: String
    public let embedDim: Int
    public let imageEmbeddingSize: Int
    public let inputImageSize: Int
    public let peLayer: PositionEmbeddingRandom
    /// `<name>.point_embeddings.0..3.weight`: negative, positive, box top-left, box bottom-right.
    public let pointEmbeddings: [Tensor]
    public let notAPointEmbed: Tensor
    public let noMaskEmbed: Tensor
    private let densePELock = NSLock()
    private var cachedDensePE: Tensor?
    /// `<name>.mask_downscaling.0..6`.
    public let md0: Conv2d, md1: LayerNorm2d, md2: Activation, md3: Conv2d, md4: LayerNorm2d, md5: Activation, md6: Conv2d
    /// SAM 2's prompt encoder also embeds point labels 2 and 3 (a box's corners given as points) with
    /// point_embeddings 2 and 3; v1's adds nothing to them (ref: sam2/modeling/sam/prompt_encoder.py@1.1.0, _embed_points).
    public var embedsCornerLabels = false

    public init(_ w: WeightStore, _ name: String = "prompt_encoder", config c: SAMConfig) {
        self.name = name
        embedDim = c.promptEmbedDim
        imageEmbeddingSize = c.gridSize
        inputImageSize = c.imageSize
        peLayer = PositionEmbeddingRandom(w, "\(name).pe_layer", numPosFeats: c.promptEmbedDim / 2)
        pointEmbeddings = (0..<4).map { w.take("\(name).point_embeddings.\($0).weight", [1, c.promptEmbedDim]) }
        notAPointEmbed = w.take("\(name).not_a_point_embed.weight", [1, c.promptEmbedDim])
        let m = c.maskInChans
        md0 = Conv2d(w, "\(name).mask_downscaling.0", 1, m / 4, kernel: 2, stride: 2)
        md1 = LayerNorm2d(w, "\(name).mask_downscaling.1", m / 4)
        md2 = Activation("\(name).mask_downscaling.2", .gelu)
        md3 = Conv2d(w, "\(name).mask_downscaling.3", m / 4, m, kernel: 2, stride: 2)
        md4 = LayerNorm2d(w, "\(name).mask_downscaling.4", m)
        md5 = Activation("\(name).mask_downscaling.5", .gelu)
        md6 = Conv2d(w, "\(name).mask_downscaling.6", m, c.promptEmbedDim, kernel: 1)
        noMaskEmbed = w.take("\(name).no_mask_embed.weight", [1, c.promptEmbedDim])
    }

    /// The dense positional encoding of the image embedding grid, 1×C×grid×grid (Meta's `get_dense_pe`).
    /// It depends only on the weights: computed once (about 20 ms of sines and cosines) and kept, except when a
    /// recorder asks for its intermediates.
    public func densePE(_ rec: ActivationRecorder?) -> Tensor {
        if rec != nil { return computeDensePE(rec) }
        densePELock.lock(); defer { densePELock.unlock() }
        if let pe = cachedDensePE { return pe }
        let pe = computeDensePE(nil)
        cachedDensePE = pe
        return pe
    }

    private func computeDensePE(_ rec: ActivationRecorder?) -> Tensor {
        peLayer(height: imageEmbeddingSize, width: imageEmbeddingSize, rec).reshaped([1, embedDim, imageEmbeddingSize, imageEmbeddingSize])
    }

    /// The dense embeddings of `count` prompts without mask input, count×C×grid×grid: no_mask_embed broadcast over
    /// the grid.
    public func noMaskDense(count: Int = 1) -> Tensor {
        let g = imageEmbeddingSize
        return Tensor(shape: [count, embedDim, g, g]) { p in
            for bi in 0..<count { for c in 0..<embedDim {
                (p.baseAddress! + (bi * embedDim + c) * g * g).update(repeating: noMaskEmbed.data[c], count: g * g)
            } }
        }
    }

    /// Sparse embeddings of a batch of prompts (all with the same number of tokens), B×T×C.
    public func sparseEmbeddings(_ prompts: [ModelPrompt]) -> Tensor {
        let sparseRows = prompts.map(embedSparse)
        let t = sparseRows.first?.shape[0] ?? 0
        precondition(sparseRows.allSatisfy { $0.shape[0] == t }, "every prompt of a batch needs the same number of points")
        return concat(sparseRows.map { $0.reshaped([1, t, embedDim]) }, axis: 0)
    }

    /// Dense embeddings of mask inputs (B×1×M×M logits), B×C×grid×grid (`mask_downscaling`).
    public func maskEmbeddings(_ masks: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        var h = md0(masks, rec); h = md1(h, rec); h = md2(h, rec)
        h = md3(h, rec); h = md4(h, rec); h = md5(h, rec)
        let dense = md6(h, rec)
        rec.record("\(name).mask_downscaling", dense)
        return dense
    }

    /// Sparse embeddings of one prompt: [T, C]. Points get +0.5 (pixel centres); without a box a padding point
    /// (0, 0) with label −1 is appended.
    func embedSparse(_ p: ModelPrompt) -> Tensor {
        var rows: [Tensor] = []
        if var pts = p.points, var labels = p.labels {
            pts.apply { $0 + 0.5 }
            if p.box == nil {
                pts = Tensor(shape: [pts.shape[0] + 1, 2], data: pts.data + [0, 0])
                labels.append(-1)
            }
            var e = peLayer.forwardWithCoords(pts, imageSize: (inputImageSize, inputImageSize))
            for (i, l) in labels.enumerated() {
                let row = i * embedDim
                let add: Tensor? = l == -1 ? notAPointEmbed : (l == 0 || l == 1 || (embedsCornerLabels && (l == 2 || l == 3))
                                                                  ? pointEmbeddings[l] : nil)
                if l == -1 { for j in 0..<embedDim { e.data[row + j] = 0 } }
                if let add { for j in 0..<embedDim { e.data[row + j] += add.data[j] } }
            }
            rows.append(e)
        }
        if var box = p.box {
            box.apply { $0 + 0.5 }
            var e = peLayer.forwardWithCoords(box.reshaped([2, 2]), imageSize: (inputImageSize, inputImageSize))
            for j in 0..<embedDim {
                e.data[j] += pointEmbeddings[2].data[j]
                e.data[embedDim + j] += pointEmbeddings[3].data[j]
            }
            rows.append(e)
        }
        return rows.isEmpty ? Tensor(shape: [0, embedDim]) : concat(rows, axis: 0)
    }

    /// Embeds a batch of prompts (all with the same number of tokens) and optional mask inputs (B×1×M×M logits).
    /// Returns sparse B×T×C and dense B×C×grid×grid, recorded as `<name>:0` and `<name>:1`.
    public func callAsFunction(_ prompts: [ModelPrompt], masks: Tensor?, _ rec: ActivationRecorder?) -> (sparse: Tensor, dense: Tensor) {
        let sparse = sparseEmbeddings(prompts)
        let dense = masks.map { maskEmbeddings($0, rec) } ?? noMaskDense(count: prompts.count)
        rec.record("\(name):0", sparse)
        rec.record("\(name):1", dense)
        return (sparse, dense)
    }
}
