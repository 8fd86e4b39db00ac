// The hypernetwork and IoU-head MLP of the mask decoder: num_layers linears with ReLU between.
// ref: segment_anything/modeling/mask_decoder.py@dca509f (MLP)
import SAMTensor

public final class MLP {
    public let name: String
    /// `<name>.layers.0..num_layers−1`.
    public let layers: [Linear]

    public init(_ w: WeightStore, _ name: String, inputDim: Int, hiddenDim: Int, outputDim: Int, numLayers: Int) {
        self.name = name
        let h = [Int](repeating: hiddenDim, count: numLayers - 1)
        let ins = [inputDim] + h, outs = h + [outputDim]
        layers = (0..<numLayers).map { Linear(w, "\(name).layers.\($0)", ins[$0], outs[$0]) }
    }

    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        var h = x
        for (i, layer) in layers.enumerated() {
            h = layer(h, rec)
            if i < layers.count - 1 { relu(&h) }
        }
        rec.record(name, h)
        return h
    }
}
