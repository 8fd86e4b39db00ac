// A dense float32 tensor in row-major (C) order, with PyTorch's shape conventions.
// Storage is a Swift array (copy-on-write), so tensors are values; kernels work on raw buffers.

public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]

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

    public var count: Int { data.count }
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
