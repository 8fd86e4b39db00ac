// Element-wise kernels and normalisations over float32 tensors.
import CSAMKernels
import Foundation

/// Runs `body(range)` over `0..<count` split into chunks on both cores (or serially when small, or when the calling
/// thread is one of `parallelItems`'s workers).
@inline(__always)
public func parallelChunks(_ count: Int, minChunk: Int = 16384, _ body: (Range<Int>) -> Void) {
    let workers = min(ProcessInfo.processInfo.activeProcessorCount, max(1, count / minChunk))
    if workers <= 1 || SerialThread.isOn { body(0..<count); return }
    let step = (count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let lo = w * step, hi = min(count, lo + step)
        if lo < hi { body(lo..<hi) }
    }
}

/// Marks the threads of `parallelItems`: every kernel called from them (products, element-wise passes) runs on that
/// one thread, so that independent items, not the kernels inside one item, share the cores.
public enum SerialThread {
    static let key: pthread_key_t = {
        var k = pthread_key_t()
        precondition(pthread_key_create(&k, nil) == 0, "pthread_key_create failed")
        return k
    }()

    /// True on a thread inside `parallelItems`.
    @inline(__always)
    public static var isOn: Bool { pthread_getspecific(key) != nil }

    /// Runs `body` with the mark set on the current thread (restored afterwards: pool threads are reused).
    public static func run<T>(_ body: () throws -> T) rethrows -> T {
        let before = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(key, before) }
        return try body()
    }
}

/// Runs `body(i)` for every i in `0..<count`, the items spread over the cores, each item on one thread with its
/// kernels single-threaded (`SerialThread`). For many equal, independent items (the prompts of a decoder batch) this
/// keeps both cores busy without the per-kernel split and join, and each item's working set stays in cache.
/// Worker w takes items w, w + W, w + 2W, ….
public func parallelItems(_ count: Int, _ body: (Int) -> Void) {
    let workers = min(ProcessInfo.processInfo.activeProcessorCount, count)
    if workers <= 1 || SerialThread.isOn {
        // one item (or one core, or already inside a worker): the kernels keep whatever threads they may use
        for i in 0..<count { body(i) }
        return
    }
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        SerialThread.run { for i in stride(from: w, to: count, by: workers) { body(i) } }
    }
}

extension Tensor {
    /// Applies `f` to every element, in place.
    @inline(__always)
    public mutating func apply(_ f: (Float) -> Float) {
        let n = count
        data.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            parallelChunks(n) { r in for i in r { base[i] = f(base[i]) } }
        }
    }

    /// Element-wise sum with a tensor of the same shape (one pass into new storage, both cores for large tensors).
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.shape == rhs.shape, "add: \(lhs.shape) vs \(rhs.shape)")
        return Tensor(shape: lhs.shape) { out in
            lhs.data.withUnsafeBufferPointer { p in
                rhs.data.withUnsafeBufferPointer { q in
                    let o = out.baseAddress!, pb = p.baseAddress!, qb = q.baseAddress!
                    parallelChunks(out.count, minChunk: 65536) { r in for i in r { o[i] = pb[i] + qb[i] } }
                }
            }
        }
    }

    /// In-place element-wise addition of a same-shaped tensor (both cores for large tensors).
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "add: \(shape) vs \(other.shape)")
        let n = count
        data.withUnsafeMutableBufferPointer { p in
            other.data.withUnsafeBufferPointer { q in
                let pb = p.baseAddress!, qb = q.baseAddress!
                parallelChunks(n, minChunk: 65536) { r in for i in r { pb[i] += qb[i] } }
            }
        }
    }

    /// In-place multiplication by a scalar.
    public mutating func scale(by s: Float) {
        let n = count
        data.withUnsafeMutableBufferPointer { p in for i in 0..<n { p[i] *= s } }
    }
}

/// Exact (erf) GELU, PyTorch's `nn.GELU()` default: x · ½ · (1 + erf(x / √2)).
@inline(__always)
public func geluScalar(_ x: Float) -> Float { x * 0.5 * (1 + erff(x * Float(0.70710678118654752440))) }

/// Exact GELU in place (vectorised erf, see FastMath.swift).
public func gelu(_ t: inout Tensor) {
    let n = t.count
    t.data.withUnsafeMutableBufferPointer { p in
        let base = p.baseAddress!
        parallelChunks(n) { r in geluInPlace(base + r.lowerBound, count: r.count) }
    }
}

/// ReLU in place.
public func relu(_ t: inout Tensor) { t.apply { max($0, 0) } }

/// Softmax over the last axis, in place (max-subtracted, as PyTorch).
public func softmaxLastAxis(_ t: inout Tensor) {
    let n = t.shape.last!
    let rows = t.count / n
    t.data.withUnsafeMutableBufferPointer { p in
        softmaxRows(p.baseAddress!, rows: rows, cols: n)
    }
}

/// Softmax of each of `rows` contiguous rows of length `cols`, in place.
@inline(__always)
public func softmaxRows(_ base: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
    parallelChunks(rows, minChunk: max(1, 8192 / max(cols, 1))) { r in
        for row in r { softmaxRow(base + row * cols, count: cols) }
    }
}

/// Layer norm over the last axis (PyTorch `nn.LayerNorm(C, eps)`): (x − mean) / √(var + eps) · weight + bias,
/// with the biased variance. x: [..., C]; weight, bias: [C].
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
    layerNorm(x, plus: nil, weight: weight, bias: bias, eps: eps)
}

/// layerNorm(x + y) in one pass over the rows (the residual additions before the decoder's norms): each row's sum is
/// formed, then normalised while in cache. The same operations on the same values as adding, then normalising.
/// Rows go to `sam_layernorm_row` (CSAMKernels): mean and variance in 16 partial sums.
public func layerNorm(_ x: Tensor, plus y: Tensor?, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
    let c = x.shape.last!
    precondition(weight.count == c && bias.count == c, "layerNorm: weight \(weight.shape) for input \(x.shape)")
    if let y { precondition(y.shape == x.shape, "layerNorm: \(x.shape) plus \(y.shape)") }
    let rows = x.count / c
    return Tensor(shape: x.shape) { out in
        x.data.withUnsafeBufferPointer { xp in
        (y ?? x).data.withUnsafeBufferPointer { yp in
            weight.data.withUnsafeBufferPointer { wp in
                bias.data.withUnsafeBufferPointer { bp in
                    let o = out.baseAddress!, xi = xp.baseAddress!, yi = yp.baseAddress!
                    let wv = wp.baseAddress!, bv = bp.baseAddress!
                    let plus = y != nil
                    parallelChunks(rows, minChunk: max(1, 16384 / c)) { r in
                        for row in r {
                            sam_layernorm_row(xi + row * c, plus ? yi + row * c : nil, o + row * c, c, wv, bv, eps)
                        }
                    }
                }
            }
        }}
    }
}

/// Meta's `LayerNorm2d` (segment_anything/modeling/common.py@dca509f): normalises each pixel over the channel axis
/// of an N×C×H×W tensor: u = mean_c x, s = mean_c (x − u)², y = (x − u) / √(s + eps) · w[c] + b[c].
public func layerNorm2d(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
    precondition(x.rank == 4, "layerNorm2d expects N×C×H×W, got \(x.shape)")
    let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3]
    precondition(weight.count == c && bias.count == c, "layerNorm2d: weight \(weight.shape) for input \(x.shape)")
    return Tensor(shape: x.shape) { out in
        x.data.withUnsafeBufferPointer { xp in
            let xi = xp.baseAddress!, o = out.baseAddress!
            for b in 0..<n {
                let src = xi + b * c * hw, dst = o + b * c * hw
                parallelChunks(hw, minChunk: 256) { r in
                    let len = r.count
                    var mean = [Float](repeating: 0, count: len)
                    var vs = [Float](repeating: 0, count: len)
                    for ch in 0..<c { let s = src + ch * hw + r.lowerBound; for i in 0..<len { mean[i] += s[i] } }
                    for i in 0..<len { mean[i] /= Float(c) }
                    for ch in 0..<c {
                        let s = src + ch * hw + r.lowerBound
                        for i in 0..<len { let d = s[i] - mean[i]; vs[i] += d * d }
                    }
                    for i in 0..<len { vs[i] = 1 / (vs[i] / Float(c) + eps).squareRoot() }
                    for ch in 0..<c {
                        let s = src + ch * hw + r.lowerBound, d = dst + ch * hw + r.lowerBound
                        let w = weight.data[ch], bb = bias.data[ch]
                        for i in 0..<len { d[i] = (s[i] - mean[i]) * vs[i] * w + bb }
                    }
                }
            }
        }
    }
}

/// Permutes the axes of a tensor (PyTorch `permute`), returning a contiguous copy.
public func permute(_ x: Tensor, _ perm: [Int]) -> Tensor {
    precondition(perm.count == x.rank && Set(perm).count == x.rank, "permute: bad permutation \(perm) for \(x.shape)")
    let newShape = perm.map { x.shape[$0] }
    // The swap of the last two axes ([..., M, N] → [..., N, M], token sequences ↔ channel planes in the decoder and
    // the neck) as blocked transposes: the element loop below reads with a stride of N floats, a cache miss each.
    if x.rank >= 2 && Array(perm.dropLast(2)) == Array(0..<(x.rank - 2)) && perm[x.rank - 2] == x.rank - 1 {
        let m = x.shape[x.rank - 2], n = x.shape[x.rank - 1], mats = x.count / max(m * n, 1)
        return Tensor(shape: newShape) { out in
            x.data.withUnsafeBufferPointer { xp in
                let src = xp.baseAddress!, dst = out.baseAddress!
                let tile = 32, rowTiles = (m + tile - 1) / tile
                parallelChunks(mats * rowTiles, minChunk: 8) { r in
                    for job in r {
                        let b = job / rowTiles, i0 = (job % rowTiles) * tile
                        let sb = src + b * m * n, db = dst + b * m * n, i1 = min(i0 + tile, m)
                        var j0 = 0
                        while j0 < n {
                            let j1 = min(j0 + tile, n)
                            for i in i0..<i1 { for j in j0..<j1 { db[j * m + i] = sb[i * n + j] } }
                            j0 = j1
                        }
                    }
                }
            }
        }
    }
    let inStrides = x.strides
    let srcStrides = perm.map { inStrides[$0] }
    let rank = x.rank
    return Tensor(shape: newShape) { out in
        x.data.withUnsafeBufferPointer { xp in
            let src = xp.baseAddress!
            let inner = newShape[rank - 1], innerStride = srcStrides[rank - 1]
            let outer = x.count / max(inner, 1)
            var idx = [Int](repeating: 0, count: rank)
            var o = 0
            for _ in 0..<outer {
                var base = 0
                for d in 0..<(rank - 1) { base += idx[d] * srcStrides[d] }
                for j in 0..<inner { out[o + j] = src[base + j * innerStride] }
                o += inner
                var d = rank - 2
                while d >= 0 { idx[d] += 1; if idx[d] < newShape[d] { break }; idx[d] = 0; d -= 1 }
            }
        }
    }
}

/// Concatenates tensors along axis `axis` (all other dimensions equal).
public func concat(_ ts: [Tensor], axis: Int) -> Tensor {
    let first = ts[0]
    let outer = first.shape[..<axis].reduce(1, *)
    let inner = first.shape[(axis + 1)...].reduce(1, *)
    var shape = first.shape
    shape[axis] = ts.map { $0.shape[axis] }.reduce(0, +)
    var data = [Float]()
    data.reserveCapacity(shape.reduce(1, *))
    for o in 0..<outer {
        for t in ts {
            let len = t.shape[axis] * inner
            data.append(contentsOf: t.data[(o * len)..<((o + 1) * len)])
        }
    }
    return Tensor(shape: shape, data: data)
}

/// Rows `range` of axis 0 (PyTorch `x[a:b]`).
public func sliceFirst(_ x: Tensor, _ range: Range<Int>) -> Tensor {
    let inner = x.count / max(x.shape[0], 1)
    var shape = x.shape
    shape[0] = range.count
    return Tensor(shape: shape, data: Array(x.data[(range.lowerBound * inner)..<(range.upperBound * inner)]))
}

/// Slice `range` of axis `axis` (PyTorch `x[..., a:b, ...]`), contiguous copy.
public func slice(_ x: Tensor, axis: Int, _ range: Range<Int>) -> Tensor {
    let outer = x.shape[..<axis].reduce(1, *)
    let inner = x.shape[(axis + 1)...].reduce(1, *)
    let len = x.shape[axis]
    var shape = x.shape
    shape[axis] = range.count
    var data = [Float]()
    data.reserveCapacity(outer * range.count * inner)
    for o in 0..<outer {
        let base = (o * len + range.lowerBound) * inner
        data.append(contentsOf: x.data[base..<(base + range.count * inner)])
    }
    return Tensor(shape: shape, data: data)
}
