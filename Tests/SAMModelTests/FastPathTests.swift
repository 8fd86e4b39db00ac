// The inference-only paths (no recorder) against the reference-form paths that the module dumps verify
// (VerifyFixtureTests): the decoder's folded cross-attentions and the encoder's windowed blocks projecting only the
// real tokens. Both forms must agree to float32 rounding on real weights.
import SAMInference
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

final class FastPathTests: XCTestCase {
    /// The bundled demo checkpoint (real trained weights, in every clone).
    func demoTiny() throws -> Sam { try TestModels.demoTiny() }

    func seeded(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var g = SplitMix64(seed: seed)
        return Tensor(shape: shape) { p in for i in 0..<p.count { p[i] = (g.nextFloat() * 2 - 1) * scale } }
    }

    /// Decoder outputs without a recorder (folded attentions when H·T < internal width, per-prompt decoding) against
    /// Meta's batched form (any recorder, here one that keeps nothing), for prompts of 7 tokens (folded) and 18
    /// tokens (not folded), one and several prompts, a real checkpoint's decoder.
    func testFoldedDecoderEqualsReferenceForm() throws {
        let m = try demoTiny()
        let dec = m.maskDecoder, pe = m.promptEncoder
        let grid = pe.imageEmbeddingSize
        let embedding = seeded([1, dec.transformerDim, grid, grid], seed: 7, scale: 0.5)
        let densePE = pe.densePE(nil)
        let cross = dec.transformer.layers[0].crossAttnTokenToImage
        let onePoint = ModelPrompt(points: Tensor(shape: [1, 2], data: [412, 300]), labels: [1])
        let box = ModelPrompt(box: Tensor(shape: [4], data: [100, 150, 700, 820]))
        let negative = ModelPrompt(points: Tensor(shape: [1, 2], data: [512, 512]), labels: [0])
        var many = [Float](), labels = [Int]()
        for k in 0..<12 { many += [Float(80 * k + 30), Float(900 - 70 * k)]; labels.append(k % 3 == 0 ? 0 : 1) }
        let manyPoints = ModelPrompt(points: Tensor(shape: [12, 2], data: many), labels: labels)
        let nothing = ActivationRecorder(filter: { _ in false })
        for (label, prompts) in [("one point", [onePoint]), ("box", [box]), ("three prompts", [onePoint, negative, onePoint]),
                                 ("12 points", [manyPoints])] {
            let sparse = pe.sparseEmbeddings(prompts)
            let tokens = 1 + dec.numMaskTokens + sparse.shape[1]
            XCTAssertEqual(cross.foldingPays(tokens: tokens), label != "12 points", "\(label): \(tokens) tokens")
            let dense = pe.noMaskDense(count: prompts.count)
            for multimask in [true, false] {
                let fast = dec(imageEmbedding: embedding, imagePE: densePE, sparse: sparse, dense: dense,
                               multimaskOutput: multimask, nil)
                let ref = dec(imageEmbedding: embedding, imagePE: densePE, sparse: sparse, dense: dense,
                              multimaskOutput: multimask, nothing)
                assertClose(fast.masks, ref.masks, rtol: 2e-6, "\(label) masks, multimask \(multimask)")
                assertClose(fast.iou, ref.iou, rtol: 2e-6, "\(label) IoU, multimask \(multimask)")
                let agree = zip(fast.masks.data, ref.masks.data).filter { ($0 > 0) == ($1 > 0) }.count
                XCTAssertGreaterThanOrEqual(Double(agree) / Double(ref.masks.count), 0.99999, "\(label): thresholded masks")
            }
        }
    }

    /// The encoder without a recorder (windowed blocks project the 4096 real tokens and give the padding the qkv
    /// bias; global blocks the same products) against the reference form (zero-padded windows projected), on the
    /// demo checkpoint at 1024² (64×64 tokens, 14×14 windows padded to 70×70).
    func testEncoderWithoutPaddedProjectionsEqualsReferenceForm() throws {
        let m = try demoTiny()
        let x = seeded([1, 3, 1024, 1024], seed: 11, scale: 2)
        let fast = m.imageEncoder(x, nil)
        let ref = m.imageEncoder(x, ActivationRecorder(filter: { _ in false }))
        assertClose(fast, ref, rtol: 1e-6, "image embedding")
    }
}
