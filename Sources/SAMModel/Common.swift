// Building blocks shared by the encoder and decoder: Linear, LayerNorm, LayerNorm2d, MLPBlock, Conv2d, ConvTranspose2d.
// ref: segment_anything/modeling/common.py@dca509f (MLPBlock, LayerNorm2d) and torch.nn
import SAMTensor

/// `nn.Linear(inFeatures, outFeatures)`; weight `<name>.weight` [out, in], bias `<name>.bias` [out].
public final class Linear {
    public let name: String
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ w: WeightStore, _ name: String, _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        self.name = name
        weight = w.takeMatrix("\(name).weight", [outFeatures, inFeatures])
        self.bias = bias ? w.take("\(name).bias", [outFeatures], init: .zeros) : nil
    }

    /// x: [..., in] → [..., out].
    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        let y = linear(x, weight: weight, bias: bias)
        rec.record(name, y)
        return y
    }
}

/// `nn.LayerNorm(dim, eps)` over the last axis.
public final class LayerNorm {
    public let name: String
    public let weight: Tensor, bias: Tensor
    public let eps: Float

    public init(_ w: WeightStore, _ name: String, _ dim: Int, eps: Float) {
        self.name = name
        self.eps = eps
        weight = w.take("\(name).weight", [dim], init: .ones)
        bias = w.take("\(name).bias", [dim], init: .zeros)
    }

    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        let y = layerNorm(x, weight: weight, bias: bias, eps: eps)
        rec.record(name, y)
        return y
    }

    /// norm(x + y), the residual addition fused into the norm's pass.
    public func callAsFunction(_ x: Tensor, plus y: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        let out = layerNorm(x, plus: y, weight: weight, bias: bias, eps: eps)
        rec.record(name, out)
        return out
    }
}

/// Meta's `LayerNorm2d(channels)`: layer norm over the channel axis of N×C×H×W, eps 1e-6.
public final class LayerNorm2d {
    public let name: String
    public let weight: Tensor, bias: Tensor
    public let eps: Float

    public init(_ w: WeightStore, _ name: String, _ channels: Int, eps: Float = 1e-6) {
        self.name = name
        self.eps = eps
        weight = w.take("\(name).weight", [channels], init: .ones)
        bias = w.take("\(name).bias", [channels], init: .zeros)
    }

    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        let y = layerNorm2d(x, weight: weight, bias: bias, eps: eps)
        rec.record(name, y)
        return y
    }
}

/// An activation module (`nn.GELU()` exact erf, or `nn.ReLU()`), recorded under its own name like the reference's.
public struct Activation {
    public enum Kind: Sendable { case gelu, relu }
    public let name: String
    public let kind: Kind

    public init(_ name: String, _ kind: Kind) { self.name = name; self.kind = kind }

    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        var y = x
        switch kind {
        case .gelu: gelu(&y)
        case .relu: relu(&y)
        }
        rec.record(name, y)
        return y
    }
}

/// Meta's `MLPBlock(embedding_dim, mlp_dim, act)`: lin1 → act → lin2. SAM 2 uses the same two-layer MLP under
/// the keys `layers.0`, `layers.1` (its `MLP(dim, mlp_dim, dim, num_layers=2)`, ref: sam2/modeling/sam2_utils.py@1.1.0).
public final class MLPBlock {
    public let name: String
    public let lin1: Linear, act: Activation, lin2: Linear

    /// The key names of the two linears: v1's `lin1`, `lin2` or SAM 2's `layers.0`, `layers.1`.
    public enum Keys: Sendable { case v1, sam2 }

    public init(_ w: WeightStore, _ name: String, embeddingDim: Int, mlpDim: Int, act: Activation.Kind, keys: Keys = .v1) {
        self.name = name
        let (k1, k2) = keys == .v1 ? ("lin1", "lin2") : ("layers.0", "layers.1")
        lin1 = Linear(w, "\(name).\(k1)", embeddingDim, mlpDim)
        self.act = Activation("\(name).act", act)
        lin2 = Linear(w, "\(name).\(k2)", mlpDim, embeddingDim)
    }

    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        if rec == nil && act.kind == .gelu {
            if Precision.products == .bf16 {
                // bf16: the hidden layer goes from the GELU straight to bf16, the second product's operand
                return linearGELULinearBF16(x, w1: lin1.weight, b1: lin1.bias, w2: lin2.weight, b2: lin2.bias)
            }
            // inference: lin1's bias and the GELU in one pass (no copy of the 4·C-wide activation)
            return lin2(linearGELU(x, weight: lin1.weight, bias: lin1.bias), nil)
        }
        let y = lin2(act(lin1(x, rec), rec), rec)
        rec.record(name, y)
        return y
    }
}

/// `nn.Conv2d(inChannels, outChannels, kernel, stride, padding, bias)` on N×C×H×W.
public final class Conv2d {
    public let name: String
    public let weight: Tensor, bias: Tensor?
    public let stride: Int, padding: Int

    /// `asMatrix`: the weight is read only by products that take bf16 weights (`linear` of its reshaped form,
    /// `patchConv2dNHWC`, `conv2dToNHWC`), so `WeightStore.matrixStorage` may hold it as bf16.
    public init(_ w: WeightStore, _ name: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1,
                padding: Int = 0, bias: Bool = true, asMatrix: Bool = false) {
        self.name = name
        self.stride = stride
        self.padding = padding
        let shape = [outChannels, inChannels, kernel, kernel]
        weight = asMatrix ? w.takeMatrix("\(name).weight", shape) : w.take("\(name).weight", shape)
        self.bias = bias ? w.take("\(name).bias", [outChannels], init: .zeros) : nil
    }

    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        let y = conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
        rec.record(name, y)
        return y
    }
}

/// `nn.ConvTranspose2d(inChannels, outChannels, kernel_size=2, stride=2)`.
public final class ConvTranspose2d {
    public let name: String
    public let weight: Tensor, bias: Tensor

    public init(_ w: WeightStore, _ name: String, _ inChannels: Int, _ outChannels: Int) {
        self.name = name
        weight = w.take("\(name).weight", [inChannels, outChannels, 2, 2])
        bias = w.take("\(name).bias", [outChannels], init: .zeros)
    }

    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        let y = convTranspose2x2(x, weight: weight, bias: bias)
        rec.record(name, y)
        return y
    }
}

/// `nn.BatchNorm2d(channels, eps)` in eval mode on N×C×H×W: (x − running_mean) / √(running_var + eps) · weight + bias,
/// applied as one scale and shift per channel. `num_batches_tracked` is read when the file has it (PyTorch saves it;
/// evaluation does not use it). Random weights: weight and running_var 1, bias and running_mean 0.
public final class BatchNorm2d {
    public let name: String
    public let weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor
    public let eps: Float
    /// weight / √(running_var + eps) and bias − running_mean · scale, per channel.
    public let scale: [Float], shift: [Float]

    public init(_ w: WeightStore, _ name: String, _ channels: Int, eps: Float = 1e-5) {
        self.name = name
        self.eps = eps
        weight = w.take("\(name).weight", [channels], init: .ones)
        bias = w.take("\(name).bias", [channels], init: .zeros)
        runningMean = w.take("\(name).running_mean", [channels], init: .zeros)
        runningVar = w.take("\(name).running_var", [channels], init: .ones)
        _ = w.takeOptional("\(name).num_batches_tracked", [])
        var s = [Float](repeating: 0, count: channels), t = s
        if weight.count == channels {  // not a shapes-only walk
            for c in 0..<channels {
                s[c] = weight.data[c] / (runningVar.data[c] + eps).squareRoot()
                t[c] = bias.data[c] - runningMean.data[c] * s[c]
            }
        }
        scale = s
        shift = t
    }

    /// x · scale + shift per channel, in place, on N×C×H×W.
    public func apply(_ x: inout Tensor) {
        let c = scale.count, n = x.shape[0], plane = x.count / max(1, n * c)
        precondition(x.rank == 4 && x.shape[1] == c, "\(name): input \(x.shape) does not have \(c) channels")
        x.data.withUnsafeMutableBufferPointer { p in
            parallelItems(n * c) { i in
                let ch = i % c, sc = scale[ch], sh = shift[ch]
                let base = p.baseAddress! + i * plane
                for j in 0..<plane { base[j] = base[j] * sc + sh }
            }
        }
    }

    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        var y = x
        apply(&y)
        rec.record(name, y)
        return y
    }
}
