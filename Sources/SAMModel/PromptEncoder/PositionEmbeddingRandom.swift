// Positional encoding with random spatial frequencies.
// ref: segment_anything/modeling/prompt_encoder.py@dca509f (PositionEmbeddingRandom)
import Foundation
import SAMTensor

public final class PositionEmbeddingRandom {
    public let name: String
    /// `<name>.positional_encoding_gaussian_matrix`: 2×F (a buffer in the state dict), F = embed_dim / 2.
    public let gaussian: Tensor

    public init(_ w: WeightStore, _ name: String, numPosFeats: Int) {
        self.name = name
        gaussian = w.take("\(name).positional_encoding_gaussian_matrix", [2, numPosFeats])
    }

    /// Coordinates already in [0, 1]: [N, 2] → [N, 2F] = [sin(2π·(2c − 1)·G), cos(…)].
    public func peEncoding(_ coords: Tensor) -> Tensor {
        let n = coords.shape[0], f = gaussian.shape[1]
        var c = coords
        c.apply { 2 * $0 - 1 }
        var proj = matmul(c, gaussian, precision: .fp32)   // [N, F]; a coordinate transform, fp32 in both modes
        let twoPi = Float(2 * Double.pi)
        proj.apply { twoPi * $0 }
        return Tensor(shape: [n, 2 * f]) { o in
            for i in 0..<n {
                for j in 0..<f {
                    let v = proj.data[i * f + j]
                    o[i * 2 * f + j] = sinf(v)
                    o[i * 2 * f + f + j] = cosf(v)
                }
            }
        }
    }

    /// The dense positional encoding of an h×w grid (Meta's `forward(size)`): C×h×w, with pixel centres
    /// (cumsum − 0.5) / size.
    public func callAsFunction(height h: Int, width w: Int, _ rec: ActivationRecorder?) -> Tensor {
        let coords = Tensor(shape: [h * w, 2]) { p in
            for y in 0..<h { for x in 0..<w {
                p[(y * w + x) * 2] = (Float(x + 1) - 0.5) / Float(w)
                p[(y * w + x) * 2 + 1] = (Float(y + 1) - 0.5) / Float(h)
            } }
        }
        let pe = permute(peEncoding(coords).reshaped([h, w, -1]), [2, 0, 1])
        rec.record(name, pe)
        return pe
    }

    /// Point coordinates in the input frame [N, 2] (x, y) → [N, 2F], normalised by the image size first.
    public func forwardWithCoords(_ coords: Tensor, imageSize: (h: Int, w: Int)) -> Tensor {
        var c = coords
        for i in 0..<(c.count / 2) {
            c.data[2 * i] /= Float(imageSize.w)
            c.data[2 * i + 1] /= Float(imageSize.h)
        }
        return peEncoding(c)
    }
}
