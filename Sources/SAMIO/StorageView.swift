// Tensors as strided views of checkpoint storages (torch's as_strided), with checked size arithmetic: every index a
// view touches is proven to lie in its storage before anything is read.

import SAMTensor

/// Checked arithmetic on sizes read from files: nil on overflow or negative input.
enum SizeMath {
    /// Product of `dims` (each ≥ 0), nil on overflow or a negative dimension.
    static func product(_ dims: [Int]) -> Int? {
        var p = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (r, o) = p.multipliedReportingOverflow(by: d)
            if o { return nil }
            p = r
        }
        return p
    }
}

/// Largest element count of one tensor that the readers accept (2^31), far above any SAM weight (ViT-H's largest has 4.2 M).
let maxTensorElements = 1 << 31

/// Builds the float32 tensor viewing `storage` (of `storageNumel` elements of `dtype`) at `offset` with `shape` and
/// element `strides`, as torch's `as_strided` does. Checks that every index the view touches lies in the storage.
/// `what` names the tensor in errors.
func materializeView(path: String, what: String, dtype: StorageDType, storage: UnsafeRawBufferPointer, storageNumel: Int,
                     offset: Int, shape: [Int], strides: [Int]) throws -> Tensor {
    guard shape.count == strides.count else {
        throw IOError.corrupt(path, "tensor '\(what)': size \(shape) and stride \(strides) differ in rank")
    }
    guard shape.count <= 16 else { throw IOError.tooLarge(path, "tensor '\(what)' has rank \(shape.count) (at most 16)") }
    guard shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }), offset >= 0 else {
        throw IOError.corrupt(path, "tensor '\(what)': negative size, stride or offset (size \(shape), stride \(strides), offset \(offset))")
    }
    guard let n = SizeMath.product(shape), n <= maxTensorElements else {
        throw IOError.tooLarge(path, "tensor '\(what)' of shape \(shape) has more than \(maxTensorElements) elements")
    }
    let (storageBytes, bytesOverflow) = storageNumel.multipliedReportingOverflow(by: dtype.size)
    guard storageNumel >= 0, !bytesOverflow, storageBytes <= storage.count else {
        throw IOError.truncated(path, "storage of tensor '\(what)' declares \(storageNumel) \(dtype.rawValue) elements but holds \(storage.count) bytes")
    }
    if n == 0 { return Tensor(shape: shape, data: []) }
    // Largest index touched: offset + Σ (size_k − 1)·stride_k, with overflow checks.
    var maxIndex = offset
    for (s, st) in zip(shape, strides) {
        let (m, o1) = (s - 1).multipliedReportingOverflow(by: st)
        let (a, o2) = maxIndex.addingReportingOverflow(m)
        guard !o1, !o2 else { throw IOError.corrupt(path, "tensor '\(what)': strides \(strides) overflow") }
        maxIndex = a
    }
    guard maxIndex < storageNumel else {
        throw IOError.corrupt(path, "tensor '\(what)' (offset \(offset), size \(shape), stride \(strides)) reaches element \(maxIndex) of a storage of \(storageNumel)")
    }
    let src = storage.baseAddress!
    // Row-major strides of the shape, for the contiguous fast path.
    var contiguous = true
    var acc = 1
    for k in stride(from: shape.count - 1, through: 0, by: -1) {
        if shape[k] != 1 && strides[k] != acc { contiguous = false; break }
        acc *= shape[k]
    }
    if contiguous {
        var bad: Int?
        let t = Tensor(shape: shape) { dst in
            bad = dtype.convert(src + offset * dtype.size, count: n, into: dst.baseAddress!)
        }
        if let i = bad { throw badValue(path: path, key: what, dtype: dtype, index: i, shape: shape, value: t.data[i]) }
        return t
    }
    // Strided gather: an odometer over all but the last dimension, the last one walked by its stride.
    let t = Tensor(shape: shape) { dst in
        let rank = shape.count
        let inner = shape[rank - 1], innerStride = strides[rank - 1]
        var idx = [Int](repeating: 0, count: rank)
        var base = offset
        var out = 0
        while out < n {
            var e = base
            for _ in 0..<inner {
                dst[out] = dtype.element(src, e)
                out += 1
                e += innerStride
            }
            // Advance the outer dimensions.
            var k = rank - 2
            while k >= 0 {
                idx[k] += 1
                base += strides[k]
                if idx[k] < shape[k] { break }
                base -= strides[k] * shape[k]
                idx[k] = 0
                k -= 1
            }
        }
    }
    if let i = t.data.firstIndex(where: { !$0.isFinite }) {
        throw badValue(path: path, key: what, dtype: dtype, index: i, shape: shape, value: t.data[i])
    }
    return t
}

/// The error for element `index` that `StorageDType.convert` refused: a non-finite float, or an int64 that float32 does
/// not hold exactly.
func badValue(path: String, key: String, dtype: StorageDType, index: Int, shape: [Int], value: Float) -> IOError {
    if dtype == .int64 {
        return .unsupported(path, "tensor '\(key)': int64 element \(index) of shape \(shape) is beyond ±\(StorageDType.exactIntegerLimit), "
                            + "which float32 does not hold exactly")
    }
    return .nonFinite(path, key: key, index: index, shape: shape, value: value)
}
