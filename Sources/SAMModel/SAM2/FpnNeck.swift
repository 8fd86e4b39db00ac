// SAM 2's FPN neck and the image encoder around trunk and neck.
// ref: sam2/modeling/backbones/image_encoder.py@1.1.0 (ImageEncoder, FpnNeck),
// sam2/modeling/position_encoding.py@1.1.0 (PositionEmbeddingSine)
import Foundation
import SAMTensor

/// `PositionEmbeddingSine(num_pos_feats, temperature 10000, normalize, scale 2π)` of an H×W grid: 1×D×H×W, the
/// first D/2 channels from y, the rest from x, sin and cos interleaved. Computed in float32 as the reference.
public func positionEmbeddingSine(channels: Int, height h: Int, width w: Int) -> Tensor {
    let npf = channels / 2
    let scale = Float(2 * Double.pi), eps: Float = 1e-6
    let dimT = (0..<npf).map { i -> Float in powf(10000, Float(2 * (i / 2)) / Float(npf)) }
    let yEmbed = (0..<h).map { Float($0 + 1) / (Float(h) + eps) * scale }
    let xEmbed = (0..<w).map { Float($0 + 1) / (Float(w) + eps) * scale }
    return Tensor(shape: [1, 2 * npf, h, w]) { o in
        for j in 0..<npf {
            for y in 0..<h {
                let vy = yEmbed[y] / dimT[j]
                let py = j % 2 == 0 ? sinf(vy) : cosf(vy)
                for x in 0..<w {
                    let vx = xEmbed[x] / dimT[j]
                    // torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=4).flatten(3): channel j is
                    // sin of feature j (even j) or cos of feature j (odd j)
                    o[(j * h + y) * w + x] = py
                    o[((npf + j) * h + y) * w + x] = j % 2 == 0 ? sinf(vx) : cosf(vx)
                }
            }
        }
    }
}

/// `FpnNeck`: a 1×1 lateral convolution per level to `d_model` channels (`convs.0` takes the lowest resolution),
/// top-down from the lowest resolution: a level in `fpn_top_down_levels` adds the nearest-neighbour doubling of the
/// level below it.
public final class FpnNeck {
    public let name: String
    public let config: SAM2Config
    /// `<name>.convs.k.conv`, k = 0 for the last (lowest-resolution) stage.
    public let convs: [Conv2d]

    public init(_ w: WeightStore, _ name: String = "image_encoder.neck", config c: SAM2Config) {
        self.name = name
        config = c
        convs = c.stageChannels.reversed().enumerated().map { k, ch in
            Conv2d(w, "\(name).convs.\(k).conv", ch, c.dModel, kernel: 1, asMatrix: true)
        }
    }

    /// Levels `lowest…` only, without a recorder (the fast path): the top-down chain from the lowest resolution
    /// down to `lowest`, B×D×H×W each, keyed by level.
    public func levels(_ xs: [Tensor], from lowest: Int) -> [Int: Tensor] {
        let n = convs.count - 1
        var out: [Int: Tensor] = [:]
        var prev: Tensor?
        for i in stride(from: n, through: lowest, by: -1) {
            var feat = lateral(xs[i], level: i)
            if config.fpnTopDownLevels.contains(i), let p = prev { feat.add(upsampleNearest2x(p)) }
            prev = feat
            out[i] = feat
        }
        return out
    }

    /// Level i's 1×1 lateral convolution of stage output xs[i] (channels-last) as a linear map, B×D×H×W.
    func lateral(_ x: Tensor, level i: Int) -> Tensor {
        let conv = convs[convs.count - 1 - i], co = conv.weight.shape[0]
        return permute(linear(x, weight: conv.weight.reshaped([co, conv.weight.shape[1]]), bias: conv.bias), [0, 3, 1, 2])
    }

    /// `then(lateral(x))` for a level without top-down input, where `then` is a 1×1 convolution (the decoder's
    /// conv_s0 / conv_s1), by bands of rows: per pixel the same two linear maps, without the level's D-channel
    /// map at full resolution (1×256×256×256 floats, 67 MB, at level 0). Returns B×O×H×W.
    public func lateral(_ x: Tensor, level i: Int, then next: Conv2d) -> Tensor {
        precondition(!config.fpnTopDownLevels.contains(i), "FPN level \(i) has top-down input")
        let conv = convs[convs.count - 1 - i], d = conv.weight.shape[0], o = next.weight.shape[0]
        let b = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
        let wl = conv.weight.reshaped([d, c]), wn = next.weight.reshaped([o, d])
        let bandRows = max(1, 4096 / w)
        return Tensor(shape: [b, o, h, w]) { out in
            for bi in 0..<b {
                for y0 in stride(from: 0, to: h, by: bandRows) {
                    let r = min(bandRows, h - y0), start = (bi * h + y0) * w * c
                    let band = Tensor(shape: [r * w, c], data: Array(x.data[start..<(start + r * w * c)]))
                    let y = linear(linear(band, weight: wl, bias: conv.bias), weight: wn, bias: next.bias)   // (r·w)×o
                    for ch in 0..<o { for p in 0..<(r * w) {
                        out[((bi * o + ch) * h + y0) * w + p] = y.data[p * o + ch]
                    } }
                }
            }
        }
    }

    /// Stage outputs (channels-last, highest resolution first) → features B×D×H×W per level, highest resolution first.
    /// Levels at or above `keep` are computed only when they feed a kept level (the scalp drops them).
    public func callAsFunction(_ xs: [Tensor], _ rec: ActivationRecorder?) -> [Tensor] {
        let n = convs.count - 1
        var out = [Tensor?](repeating: nil, count: convs.count)
        var prev: Tensor?
        for i in stride(from: n, through: 0, by: -1) {
            // the 1×1 convolution as a linear map over the channels of the channels-last tokens
            let lat = lateral(xs[i], level: i)
            rec.record(convs[n - i].name, lat)
            var feat = lat
            if config.fpnTopDownLevels.contains(i), let p = prev {
                let up = upsampleNearest2x(p)
                feat.add(up)
            }
            prev = feat
            out[i] = feat
        }
        let feats = out.map { $0! }
        if let rec {
            // the sine position encodings of every level (the image predictor does not use them); its module is
            // first called on the lowest resolution
            let pos = feats.map { positionEmbeddingSine(channels: config.dModel, height: $0.shape[2], width: $0.shape[3]) }
            rec.record("\(name).position_encoding", pos[n])
            for (j, f) in feats.enumerated() { rec.record("\(name):0:\(j)", f) }
            for (j, p) in pos.enumerated() { rec.record("\(name):1:\(j)", p) }
        }
        return feats
    }
}
