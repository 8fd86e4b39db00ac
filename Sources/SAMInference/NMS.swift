// Box non-maximum suppression exactly as torchvision computes it on the CPU, which Meta's generator calls through
// `batched_nms` with every box in one category.
// ref: segment_anything/automatic_mask_generator.py@dca509f (batched_nms calls)
// ref: pytorch/vision torchvision/csrc/ops/cpu/nms_kernel.cpp (nms_kernel_impl), torchvision/ops/boxes.py (batched_nms)

/// A box (x0, y0, x1, y1) as torchvision's NMS reads it, in float32.
public struct NMSBox: Equatable, Sendable {
    public var x0: Float, y0: Float, x1: Float, y1: Float
    public init(_ x0: Float, _ y0: Float, _ x1: Float, _ y1: Float) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
}

/// Greedy NMS (torchvision `nms`): boxes are visited by score, highest first — a stable sort, so equal scores keep
/// their input order — and each kept box suppresses every later box whose IoU with it is `> iouThreshold`.
/// Areas are `(x1 − x0)·(y1 − y0)` with no +1; IoU = inter / (area_i + area_j − inter) in float32, compared in double
/// with the threshold (C++ promotes the float). A degenerate pair (0/0 = NaN) never suppresses.
/// Returns the kept indices in visiting order (score descending).
public func nms(boxes: [NMSBox], scores: [Float], iouThreshold: Double) -> [Int] {
    precondition(boxes.count == scores.count, "nms: \(boxes.count) boxes, \(scores.count) scores")
    let n = boxes.count
    if n == 0 { return [] }
    // torch.sort(stable=True, descending=True): NaN sorts first (as the largest), then by value, ties by index
    let order = (0..<n).sorted { a, b in
        let sa = scores[a], sb = scores[b]
        if sa.isNaN || sb.isNaN { return sa.isNaN && !sb.isNaN ? true : (sa.isNaN == sb.isNaN ? a < b : false) }
        return sa != sb ? sa > sb : a < b
    }
    let areas = boxes.map { ($0.x1 - $0.x0) * ($0.y1 - $0.y0) }
    var suppressed = [Bool](repeating: false, count: n)
    var keep: [Int] = []
    for (oi, i) in order.enumerated() {
        if suppressed[i] { continue }
        keep.append(i)
        let bi = boxes[i], ai = areas[i]
        for j in order[(oi + 1)...] where !suppressed[j] {
            let bj = boxes[j]
            let w = max(Float(0), min(bi.x1, bj.x1) - max(bi.x0, bj.x0))
            let h = max(Float(0), min(bi.y1, bj.y1) - max(bi.y0, bj.y0))
            let inter = w * h
            let ovr = inter / (ai + areas[j] - inter)
            if Double(ovr) > iouThreshold { suppressed[j] = true }
        }
    }
    return keep
}

/// torchvision `batched_nms` with every box in category 0, as Meta's generator calls it. Up to 1000 boxes
/// (`numel ≤ 4000` on the CPU) torchvision offsets boxes by category (here by 0) and returns `nms` directly: kept
/// indices by score, descending, ties in input order. Above that (`_batched_nms_vanilla`) it runs `nms`, takes the kept
/// indices in ascending order and re-sorts them with `scores.sort(descending=True)` — PyTorch's non-stable CPU sort,
/// `std::sort` — so equal scores come out in the order libstdc++'s introsort leaves them (`torchSortDescending`).
/// The kept set is the same either way; only the order of tied scores differs, which later steps see (the record order,
/// the tie order of the NMS after small-region removal).
public func batchedNMS(boxes: [NMSBox], scores: [Float], iouThreshold: Double) -> [Int] {
    let keep = nms(boxes: boxes, scores: scores, iouThreshold: iouThreshold)
    if boxes.count * 4 <= 4000 { return keep }
    let byIndex = keep.sorted()
    return torchSortDescending(byIndex.map { scores[$0] }).map { byIndex[$0] }
}

/// The permutation `torch.sort(values, descending=True)` (stable=False) returns on the CPU: `std::sort` over
/// (value, index) pairs with PyTorch's `KeyValueCompDesc` (NaN first, then greater values), using libstdc++'s
/// introsort — median-of-three quicksort down to runs of 16, heapsort past depth 2·log2(n), then insertion sort.
public func torchSortDescending(_ values: [Float]) -> [Int] {
    var v = values
    var idx = Array(0..<values.count)
    @inline(__always) func less(_ a: Float, _ b: Float) -> Bool { (a.isNaN && !b.isNaN) || a > b }
    @inline(__always) func lessAt(_ i: Int, _ j: Int) -> Bool { less(v[i], v[j]) }
    @inline(__always) func swapAt(_ i: Int, _ j: Int) { v.swapAt(i, j); idx.swapAt(i, j) }
    let threshold = 16

    // std::__adjust_heap / __push_heap, for the heapsort fallback
    func adjustHeap(_ first: Int, _ holeIndex: Int, _ len: Int, _ value: (Float, Int)) {
        var hole = holeIndex
        let top = holeIndex
        var child = holeIndex
        while child < (len - 1) / 2 {
            child = 2 * (child + 1)
            if less(v[first + child], v[first + child - 1]) { child -= 1 }
            v[first + hole] = v[first + child]; idx[first + hole] = idx[first + child]
            hole = child
        }
        if len & 1 == 0 && child == (len - 2) / 2 {
            child = 2 * (child + 1)
            v[first + hole] = v[first + child - 1]; idx[first + hole] = idx[first + child - 1]
            hole = child - 1
        }
        var parent = (hole - 1) / 2
        while hole > top && less(v[first + parent], value.0) {
            v[first + hole] = v[first + parent]; idx[first + hole] = idx[first + parent]
            hole = parent
            parent = (hole - 1) / 2
        }
        v[first + hole] = value.0; idx[first + hole] = value.1
    }
    func heapSort(_ first: Int, _ last: Int) {
        let len = last - first
        if len < 2 { return }
        var parent = (len - 2) / 2
        while true {  // std::__make_heap
            adjustHeap(first, parent, len, (v[first + parent], idx[first + parent]))
            if parent == 0 { break }
            parent -= 1
        }
        var end = last
        while end - first > 1 {  // std::__sort_heap via __pop_heap
            end -= 1
            let value = (v[end], idx[end])
            v[end] = v[first]; idx[end] = idx[first]
            adjustHeap(first, 0, end - first, value)
        }
    }
    func moveMedianToFirst(_ result: Int, _ a: Int, _ b: Int, _ c: Int) {
        if lessAt(a, b) {
            if lessAt(b, c) { swapAt(result, b) } else if lessAt(a, c) { swapAt(result, c) } else { swapAt(result, a) }
        } else if lessAt(a, c) { swapAt(result, a) } else if lessAt(b, c) { swapAt(result, c) } else { swapAt(result, b) }
    }
    func unguardedPartition(_ firstIn: Int, _ lastIn: Int, _ pivot: Int) -> Int {
        var first = firstIn, last = lastIn
        while true {
            while lessAt(first, pivot) { first += 1 }
            last -= 1
            while lessAt(pivot, last) { last -= 1 }
            if !(first < last) { return first }
            swapAt(first, last)
            first += 1
        }
    }
    func introsortLoop(_ first: Int, _ lastIn: Int, _ depthIn: Int) {
        var last = lastIn, depth = depthIn
        while last - first > threshold {
            if depth == 0 { heapSort(first, last); return }
            depth -= 1
            let mid = first + (last - first) / 2
            moveMedianToFirst(first, first + 1, mid, last - 1)
            let cut = unguardedPartition(first + 1, last, first)
            introsortLoop(cut, last, depth)
            last = cut
        }
    }
    func unguardedLinearInsert(_ lastIn: Int) {
        let val = (v[lastIn], idx[lastIn])
        var last = lastIn, next = lastIn - 1
        while less(val.0, v[next]) {
            v[last] = v[next]; idx[last] = idx[next]
            last = next; next -= 1
        }
        v[last] = val.0; idx[last] = val.1
    }
    func insertionSort(_ first: Int, _ last: Int) {
        if first == last { return }
        var i = first + 1
        while i < last {
            if lessAt(i, first) {
                let val = (v[i], idx[i])
                var k = i
                while k > first { v[k] = v[k - 1]; idx[k] = idx[k - 1]; k -= 1 }
                v[first] = val.0; idx[first] = val.1
            } else {
                unguardedLinearInsert(i)
            }
            i += 1
        }
    }
    let n = values.count
    if n < 2 { return idx }
    var lg = 0
    while (n >> (lg + 1)) > 0 { lg += 1 }
    introsortLoop(0, n, 2 * lg)
    if n > threshold {
        insertionSort(0, threshold)
        for i in threshold..<n { unguardedLinearInsert(i) }
    } else {
        insertionSort(0, n)
    }
    return idx
}
