// A dense float32 tensor in row-major (C) order, with PyTorch's shape conventions.
// Storage is a Swift array (copy-on-write), so tensors are values; kernels work on raw buffers.
import CSAMKernels

public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]
    /// A weight held as bfloat16 (`convertedToBF16`) for the bf16 products; `data` is empty then, and only the
    /// products (`linear`, `linearGELU`, `gemm` through `withMatrix`) and `reshaped` take such a tensor.
    public var bf16: [UInt16]? = nil

    /// A tensor of the given shape holding `data` in row-major order; `data.count` must equal the product of `shape`.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) needs \(shape.reduce(1, *)) elements, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// A tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        self.shape = shape
        self.data = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor whose storage is written once by `body` (no zero-fill pass is needed when the body writes every element).
    public init(shape: [Int], unsafeUninitializedCapacity body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let n = shape.reduce(1, *)
        self.shape = shape
        self.data = [Float](unsafeUninitializedCapacity: n) { buf, count in
            body(buf)
            count = n
        }
    }

    public var count: Int { bf16?.count ?? data.count }
    public var rank: Int { shape.count }

    /// The same elements under another shape; one dimension may be -1 and is inferred.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            s[i] = count / known
        }
        precondition(s.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        if let bf16 { return Tensor(shape: s, bf16: bf16) }
        return Tensor(shape: s, data: data)
    }

    /// Row-major strides of the shape.
    public var strides: [Int] {
        var st = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { st[i] = acc; acc *= shape[i] }
        return st
    }
}

extension Tensor {
    /// The same values rounded to bfloat16 (nearest even) and held as such; the float32 storage is dropped. For
    /// weights of the bf16 products, converted once at load.
    public func convertedToBF16() -> Tensor {
        if bf16 != nil { return self }
        return Tensor(shape: shape, bf16: [UInt16](unsafeUninitializedCapacity: data.count) { buf, n in
            data.withUnsafeBufferPointer { sam_f32_to_bf16($0.baseAddress!, 1, data.count, data.count, buf.baseAddress!) }
            n = data.count
        })
    }

    /// A tensor held as bf16 values (no float32 storage).
    init(shape: [Int], bf16 values: [UInt16]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) needs \(shape.reduce(1, *)) elements, got \(values.count)")
        self.shape = shape
        self.data = []
        self.bf16 = values
    }

    /// The tensor as a product's operand: its bf16 values when it holds them, else its float32 ones.
    @inline(__always)
    public func withMatrix<R>(_ body: (MatrixOperand) throws -> R) rethrows -> R {
        if let bf16 { return try bf16.withUnsafeBufferPointer { try body(.bf16($0.baseAddress!)) } }
        return try data.withUnsafeBufferPointer { try body(.f32($0.baseAddress!)) }
    }

    /// Float32 values of a tensor held either way (a bf16 weight widened exactly).
    public var floatValues: [Float] {
        guard let bf16 else { return data }
        return [Float](unsafeUninitializedCapacity: bf16.count) { buf, n in
            bf16.withUnsafeBufferPointer { sam_bf16_to_f32($0.baseAddress!, bf16.count, buf.baseAddress!) }
            n = bf16.count
        }
    }
}
