// The hypernetwork and IoU-head MLP of the mask decoder: num_layers linears with ReLU between.
// ref: segment_anything/modeling/mask_decoder.py@dca509f (MLP)
import Foundation
import SAMTensor

public final class MLP {
    public let name: String
    /// `<name>.layers.0..num_layers−1`.
    public let layers: [Linear]
    /// SAM 2's MLP: a sigmoid after the last layer (`sigmoid_output`), and its ReLU is a module, `<name>.act`,
    /// recorded at its first call (ref: sam2/modeling/sam2_utils.py@1.1.0, MLP).
    public let sigmoidOutput: Bool, recordsAct: Bool

    public init(_ w: WeightStore, _ name: String, inputDim: Int, hiddenDim: Int, outputDim: Int, numLayers: Int,
                sigmoidOutput: Bool = false, recordsAct: Bool = false) {
        self.name = name
        self.sigmoidOutput = sigmoidOutput
        self.recordsAct = recordsAct
        let h = [Int](repeating: hiddenDim, count: numLayers - 1)
        let ins = [inputDim] + h, outs = h + [outputDim]
        layers = (0..<numLayers).map { Linear(w, "\(name).layers.\($0)", ins[$0], outs[$0]) }
    }

    public func callAsFunction(_ x: Tensor, _ rec: ActivationRecorder?) -> Tensor {
        var h = x
        for (i, layer) in layers.enumerated() {
            h = layer(h, rec)
            if i < layers.count - 1 {
                relu(&h)
                if recordsAct { rec.record("\(name).act", h) }
            }
        }
        // torch.sigmoid, 1 / (1 + exp(−x))
        if sigmoidOutput { h.apply { 1 / (1 + expf(-$0)) } }
        rec.record(name, h)
        return h
    }
}
