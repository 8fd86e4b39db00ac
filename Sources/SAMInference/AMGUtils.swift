// Weight-free pieces of the automatic mask generator: point grids, crop boxes, stability score, mask boxes,
// crop-edge test and small-region removal — each a free function matching Meta's function of the same name.
// ref: segment_anything/utils/amg.py@dca509f

/// A point (x, y) in float64, as Meta's generator keeps grid points (numpy float64).
public struct AMGPoint: Equatable, Sendable {
    public var x: Double, y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

/// A crop box (x0, y0, x1, y1) in integer pixels of the original image, x1/y1 exclusive (`generate_crop_boxes`).
public struct CropBox: Equatable, Sendable {
    public var x0: Int, y0: Int, x1: Int, y1: Int
    public init(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
    public var width: Int { x1 - x0 }
    public var height: Int { y1 - y0 }
    /// [x0, y0, w, h] (`box_xyxy_to_xywh`).
    public var xywh: [Int] { [x0, y0, x1 - x0, y1 - y0] }
}

/// numpy's `linspace(start, stop, num)` (endpoint=True) in float64: `i·step + start` with `step = (stop − start)/(num − 1)`,
/// the last value set to `stop` exactly; `[start]` for num = 1.
public func linspace(_ start: Double, _ stop: Double, _ num: Int) -> [Double] {
    guard num > 0 else { return [] }
    if num == 1 { return [start] }
    let delta = stop - start
    let step = delta / Double(num - 1)
    var y = (0..<num).map { step == 0 ? Double($0) / Double(num - 1) * delta + start : Double($0) * step + start }
    y[num - 1] = stop
    return y
}

/// `build_point_grid(n)`: n² points evenly spaced in [0, 1]², `linspace(1/(2n), 1 − 1/(2n), n)` on each side, x varying
/// fastest (row-major over (y, x)).
public func buildPointGrid(_ n: Int) -> [AMGPoint] {
    let offset = 1 / (2 * Double(n))
    let side = linspace(offset, 1 - offset, n)
    var pts: [AMGPoint] = []
    pts.reserveCapacity(n * n)
    for y in side { for x in side { pts.append(AMGPoint(x, y)) } }
    return pts
}

/// `build_all_layer_point_grids`: layer i (0…nLayers) has `int(n / scale**i)` points per side.
public func buildAllLayerPointGrids(nPerSide: Int, nLayers: Int, scalePerLayer: Int) -> [[AMGPoint]] {
    (0...max(0, nLayers)).map { i in
        var p = 1.0
        for _ in 0..<i { p *= Double(scalePerLayer) }
        return buildPointGrid(Int(Double(nPerSide) / p))
    }
}

/// `generate_crop_boxes`: the whole image (layer 0), then for layer i ≥ 1 a 2^i × 2^i tiling with
/// `overlap = int(ratio · short_side · (2 / n))`, `crop_len = ceil((overlap·(n−1) + len) / n)`, origins
/// `int((crop_len − overlap)·k)`, clipped to the image; x origins outer, y inner (itertools.product order).
public func generateCropBoxes(imageHeight imH: Int, imageWidth imW: Int, nLayers: Int,
                              overlapRatio: Double) -> (boxes: [CropBox], layers: [Int]) {
    var boxes = [CropBox(0, 0, imW, imH)]
    var layers = [0]
    let shortSide = Double(min(imH, imW))
    func cropLen(_ origLen: Int, _ nCrops: Int, _ overlap: Int) -> Int {
        Int((Double(overlap * (nCrops - 1) + origLen) / Double(nCrops)).rounded(.up))
    }
    if nLayers > 0 {
        for iLayer in 0..<nLayers {
            let nPerSide = 1 << (iLayer + 1)
            let overlap = Int(overlapRatio * shortSide * (2 / Double(nPerSide)))
            let cw = cropLen(imW, nPerSide, overlap), ch = cropLen(imH, nPerSide, overlap)
            let xs = (0..<nPerSide).map { (cw - overlap) * $0 }
            let ys = (0..<nPerSide).map { (ch - overlap) * $0 }
            for x0 in xs { for y0 in ys {
                boxes.append(CropBox(x0, y0, min(x0 + cw, imW), min(y0 + ch, imH)))
                layers.append(iLayer + 1)
            } }
        }
    }
    return (boxes, layers)
}

/// `calculate_stability_score` for one mask's logits: `count(logit > t + offset) / count(logit > t − offset)`, the
/// thresholds rounded to float32 as PyTorch compares a float32 tensor with a Python float; the ratio in float32
/// (NaN for 0/0, when no logit exceeds t − offset).
public func stabilityScore<C: Collection>(logits: C, maskThreshold: Double, offset: Double) -> Float where C.Element == Float {
    let hi = Float(maskThreshold + offset), lo = Float(maskThreshold - offset)
    var inter = 0, union = 0
    for v in logits {
        if v > hi { inter += 1 }
        if v > lo { union += 1 }
    }
    return Float(inter) / Float(union)
}

/// `batched_mask_to_box` for one H×W mask: [x0, y0, x1, y1] of the set pixels, max inclusive; [0, 0, 0, 0] if empty.
public func maskToBoxXYXY<C: Collection>(_ mask: C, width w: Int, height h: Int) -> [Int] where C.Element == UInt8 {
    let b = maskBoxXYWH(mask, width: w, height: h)
    return [b[0], b[1], b[0] + b[2], b[1] + b[3]]
}

/// `is_box_near_crop_edge`: the box (x0, y0, x1, y1, in the crop's frame) moved to the image frame is within `atol` of
/// one of the crop box's sides (coordinate by coordinate: x0 with x0, …, the inclusive x1 with the exclusive x1) while
/// that coordinate is not also within `atol` of the image's side.
public func isBoxNearCropEdge(_ box: [Int], cropBox: CropBox, imageWidth: Int, imageHeight: Int, atol: Int = 20) -> Bool {
    let b = [box[0] + cropBox.x0, box[1] + cropBox.y0, box[2] + cropBox.x0, box[3] + cropBox.y0]
    let crop = [cropBox.x0, cropBox.y0, cropBox.x1, cropBox.y1]
    let orig = [0, 0, imageWidth, imageHeight]
    for k in 0..<4 where abs(b[k] - crop[k]) <= atol && !(abs(b[k] - orig[k]) <= atol) { return true }
    return false
}

/// Connected components of the set pixels of an H×W mask with 8-connectivity, labelled as OpenCV's
/// `connectedComponentsWithStats(mask, 8)` labels them: 0 is the background (unset pixels), components are numbered
/// from 1 in the order of their first 2×2 block in block-raster order (OpenCV's default 8-way algorithm, Spaghetti,
/// scans 2×2 blocks and its union-find keeps the smallest label as root; every set pixel of a 2×2 block is in one
/// 8-component). Returns the label image and the size of each label (index 0 = background count).
public func connectedComponents8(_ mask: [UInt8], width w: Int, height h: Int) -> (labels: [Int32], sizes: [Int]) {
    var parent: [Int32] = []
    func find(_ a: Int32) -> Int32 {
        var r = a
        while parent[Int(r)] != r { r = parent[Int(r)] }
        var x = a
        while parent[Int(x)] != r { let n = parent[Int(x)]; parent[Int(x)] = r; x = n }
        return r
    }
    func union(_ a: Int32, _ b: Int32) -> Int32 {
        let ra = find(a), rb = find(b)
        if ra == rb { return ra }
        if ra < rb { parent[Int(rb)] = ra; return ra }
        parent[Int(ra)] = rb; return rb
    }
    // first pass: provisional labels (1-based) in pixel-raster order, merged through the union-find
    var prov = [Int32](repeating: 0, count: w * h)
    parent.append(0)
    for y in 0..<h {
        let row = y * w, up = row - w
        for x in 0..<w where mask[row + x] != 0 {
            var l: Int32 = 0
            @inline(__always) func see(_ nl: Int32) { if nl != 0 { l = l == 0 ? find(nl) : union(l, nl) } }
            if x > 0 { see(prov[row + x - 1]) }
            if y > 0 {
                if x > 0 { see(prov[up + x - 1]) }
                see(prov[up + x])
                if x + 1 < w { see(prov[up + x + 1]) }
            }
            if l == 0 { l = Int32(parent.count); parent.append(l) }
            prov[row + x] = l
        }
    }
    // final labels in the order of each component's first 2×2 block, blocks visited in block-raster order
    var final = [Int32](repeating: 0, count: parent.count)
    var next: Int32 = 1
    let quad = [(0, 0), (0, 1), (1, 0), (1, 1)]
    for by in stride(from: 0, to: h, by: 2) {
        for bx in stride(from: 0, to: w, by: 2) {
            for (dy, dx) in quad where by + dy < h && bx + dx < w {
                let p = prov[(by + dy) * w + bx + dx]
                if p != 0 {
                    let r = Int(find(p))
                    if final[r] == 0 { final[r] = next; next += 1 }
                }
            }
        }
    }
    var labels = [Int32](repeating: 0, count: w * h)
    var sizes = [Int](repeating: 0, count: Int(next))
    for i in 0..<(w * h) {
        let p = prov[i]
        let l = p == 0 ? 0 : final[Int(find(p))]
        labels[i] = l
        sizes[Int(l)] += 1
    }
    return (labels, sizes)
}

/// Which regions `removeSmallRegions` works on.
public enum SmallRegionMode: String, Sendable { case holes, islands }

/// `remove_small_regions`: in `holes` mode, unset 8-components with fewer than `areaThresh` pixels are filled (also
/// those touching the border); in `islands` mode, set 8-components below it are removed — keeping the largest (the
/// first in OpenCV's label order on a tie) when all are small. Returns the new mask and whether anything changed
/// (true as soon as a small region exists, as in Meta's code).
public func removeSmallRegions(_ mask: [UInt8], width w: Int, height h: Int, areaThresh: Double,
                               mode: SmallRegionMode) -> (mask: [UInt8], changed: Bool) {
    let holes = mode == .holes
    let working = mask.map { (($0 != 0) != holes) ? UInt8(1) : 0 }
    let (labels, sizes) = connectedComponents8(working, width: w, height: h)
    let small = (1..<sizes.count).filter { Double(sizes[$0]) < areaThresh }
    if small.isEmpty { return (mask, false) }
    var fill = [Bool](repeating: false, count: sizes.count)
    if holes {
        fill[0] = true
        for s in small { fill[s] = true }
    } else {
        let isSmall = Set(small)
        var any = false
        for l in 1..<sizes.count where !isSmall.contains(l) { fill[l] = true; any = true }
        if !any {
            var best = 1
            for l in 1..<sizes.count where sizes[l] > sizes[best] { best = l }
            fill[best] = true
        }
    }
    return (labels.map { fill[Int($0)] ? 1 : 0 }, true)
}
