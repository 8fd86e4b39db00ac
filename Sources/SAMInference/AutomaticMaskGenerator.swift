// "Segment everything": prompt SAM with a grid of single points over the image (and over crops of it), keep the
// confident and stable masks, and remove duplicates by box NMS — Meta's SamAutomaticMaskGenerator, and with a SAM 2
// model its SAM2AutomaticMaskGenerator (the decoding side is in SAM2AutomaticMaskGenerator.swift).
// ref: segment_anything/automatic_mask_generator.py@dca509f (SamAutomaticMaskGenerator),
// sam2/automatic_mask_generator.py@1.1.0 (SAM2AutomaticMaskGenerator)
import SAMIO
import SAMModel
import SAMTensor

/// How `generate` returns each mask (`output_mode`).
public enum AMGOutputMode: String, CaseIterable, Sendable {
    /// H×W bytes, 1 inside.
    case binaryMask = "binary_mask"
    /// `{"size": [h, w], "counts": [Int]}`, column-major.
    case uncompressedRLE = "uncompressed_rle"
    /// `{"size": [h, w], "counts": String}`, pycocotools' compressed string.
    case cocoRLE = "coco_rle"
}

/// Which of Meta's generators runs: SamAutomaticMaskGenerator (SAM v1) or SAM2AutomaticMaskGenerator (SAM 2.1).
public enum AMGFamily: String, Sendable {
    case sam, sam2
}

/// Every option of Meta's generators, with the defaults of SamAutomaticMaskGenerator (chosen by Meta for ViT-H);
/// `init(family: .sam2)` gives SAM2AutomaticMaskGenerator's (for Hiera-L), which differ in `predIouThresh` only.
public struct AMGOptions: Equatable, Sendable {
    /// Points sampled along one side (points_per_side² in all); nil when `pointGrids` is given.
    public var pointsPerSide: Int? = 32
    /// Points decoded at once; bounds memory (full-resolution logits are never held for more than one batch).
    public var pointsPerBatch = 64
    /// Keep masks whose predicted IoU is `>` this; ≤ 0 skips the filter.
    public var predIouThresh = 0.88
    /// Keep masks whose stability score is `>=` this; ≤ 0 skips the filter.
    public var stabilityScoreThresh = 0.95
    /// How far the cutoff moves (both ways) for the stability score.
    public var stabilityScoreOffset = 1.0
    /// Box IoU cutoff of the NMS within one crop.
    public var boxNmsThresh = 0.7
    /// Crop layers beyond the whole image; layer i has (2^i)² crops.
    public var cropNLayers = 0
    /// Box IoU cutoff of the NMS between crops.
    public var cropNmsThresh = 0.7
    /// Overlap of first-layer crops as a fraction of the image's short side.
    public var cropOverlapRatio = 512.0 / 1500.0
    /// Points per side in layer n are divided by factor^n.
    public var cropNPointsDownscaleFactor = 1
    /// Explicit point grids in [0, 1]², one per crop layer; exclusive with `pointsPerSide`.
    public var pointGrids: [[AMGPoint]]? = nil
    /// v1: holes and islands of the final masks smaller than this are removed (then NMS is re-run). SAM 2: holes and
    /// islands of at most this many pixels of the 256×256 low-res logits are cleaned before upscaling
    /// (`fillHolesAndSprinkles`). 0 skips either.
    public var minMaskRegionArea = 0
    public var outputMode: AMGOutputMode = .binaryMask
    /// SAM 2 only: the cutoff that binarises the mask logits and centres the stability score (v1's is fixed at 0).
    public var maskThreshold = 0.0
    /// SAM 2 only: decode every mask a second time, its own low-res logits as mask input with its point, one mask out.
    public var useM2M = false
    /// SAM 2 only: three masks per point; false: one, the decoder's choice by stability.
    public var multimaskOutput = true

    public init() {}

    /// Meta's defaults for the generator of `family`.
    public init(family: AMGFamily) {
        if family == .sam2 { predIouThresh = 0.8 }
    }

    /// The point grid of each crop layer (`build_all_layer_point_grids`, or the explicit grids).
    public var layerPointGrids: [[AMGPoint]] {
        if let g = pointGrids { return g }
        return buildAllLayerPointGrids(nPerSide: pointsPerSide ?? 0, nLayers: cropNLayers, scalePerLayer: cropNPointsDownscaleFactor)
    }

    /// Checks what Meta's constructor asserts, plus what would fail later in its code (a missing layer grid, a batch of 0).
    public func validate() throws {
        if (pointsPerSide == nil) == (pointGrids == nil) {
            throw AMGError.badOption("give exactly one of points_per_side and point_grids")
        }
        if let n = pointsPerSide, n < 1 { throw AMGError.badOption("points_per_side must be ≥ 1, got \(n)") }
        if pointsPerBatch < 1 { throw AMGError.badOption("points_per_batch must be ≥ 1, got \(pointsPerBatch)") }
        if cropNLayers < 0 { throw AMGError.badOption("crop_n_layers must be ≥ 0, got \(cropNLayers)") }
        if cropNPointsDownscaleFactor < 1 {
            throw AMGError.badOption("crop_n_points_downscale_factor must be ≥ 1, got \(cropNPointsDownscaleFactor)")
        }
        if minMaskRegionArea < 0 { throw AMGError.badOption("min_mask_region_area must be ≥ 0, got \(minMaskRegionArea)") }
        for (name, v) in [("pred_iou_thresh", predIouThresh), ("stability_score_thresh", stabilityScoreThresh),
                          ("mask_threshold", maskThreshold),
                          ("stability_score_offset", stabilityScoreOffset), ("box_nms_thresh", boxNmsThresh),
                          ("crop_nms_thresh", cropNmsThresh), ("crop_overlap_ratio", cropOverlapRatio)] where !v.isFinite {
            throw AMGError.badOption("\(name) must be a finite number, got \(v)")
        }
        if let g = pointGrids {
            if g.count < cropNLayers + 1 {
                throw AMGError.badOption("point_grids has \(g.count) grid(s); crop_n_layers \(cropNLayers) needs \(cropNLayers + 1)")
            }
            for (i, grid) in g.enumerated() {
                if grid.isEmpty { throw AMGError.badOption("point grid \(i) is empty") }
                for p in grid where !(p.x >= 0 && p.x <= 1 && p.y >= 0 && p.y <= 1) {
                    throw AMGError.badOption("point grid \(i) has (\(p.x), \(p.y)) outside [0, 1]²")
                }
            }
        } else if layerPointGrids.contains(where: \.isEmpty) {
            throw AMGError.badOption("points_per_side \(pointsPerSide ?? 0) / crop_n_points_downscale_factor^\(cropNLayers) leaves no point")
        }
    }

    /// `validate()`, and that the options exist in `family`'s generator (v1's has no mask_threshold, use_m2m or
    /// multimask_output).
    public func validate(for family: AMGFamily) throws {
        try validate()
        guard family == .sam else { return }
        for (name, set) in [("mask_threshold", maskThreshold != 0), ("use_m2m", useM2M), ("multimask_output", !multimaskOutput)] where set {
            throw AMGError.badOption("\(name) is an option of SAM2AutomaticMaskGenerator; the model is SAM v1")
        }
    }
}

public enum AMGError: Error, CustomStringConvertible, Equatable {
    case badOption(String)
    public var description: String {
        switch self { case .badOption(let s): return "automatic mask generator: \(s)" }
    }
}

/// A mask as `output_mode` asks for it.
public enum AMGSegmentation: Sendable {
    case binaryMask([UInt8])
    case uncompressedRLE(RLE)
    /// pycocotools' `{"size": [h, w], "counts": "<string>"}`.
    case cocoRLE(height: Int, width: Int, counts: String)
}

/// One generated mask, with the fields of Meta's records.
public struct AMGRecord: Sendable {
    public var segmentation: AMGSegmentation
    /// The mask as an uncompressed RLE, whatever the output mode.
    public var rle: RLE
    /// Set pixels.
    public var area: Int
    /// [x0, y0, w, h] with w = x1 − x0 of the inclusive max (`box_xyxy_to_xywh` of `batched_mask_to_box`).
    public var bbox: [Int]
    public var predictedIoU: Float
    /// The point prompt (x, y) in original pixels, float64 as Meta's records give it.
    public var pointCoords: AMGPoint
    public var stabilityScore: Float
    /// [x0, y0, w, h] of the crop the mask came from.
    public var cropBox: [Int]

    public init(segmentation: AMGSegmentation, rle: RLE, area: Int, bbox: [Int], predictedIoU: Float, pointCoords: AMGPoint,
                stabilityScore: Float, cropBox: [Int]) {
        self.segmentation = segmentation; self.rle = rle; self.area = area; self.bbox = bbox
        self.predictedIoU = predictedIoU; self.pointCoords = pointCoords; self.stabilityScore = stabilityScore; self.cropBox = cropBox
    }
}

/// Meta's `MaskData` for what survives the filters: one entry per mask, the mask itself as an RLE of the full image.
struct AMGMaskData {
    var rles: [RLE] = []
    /// [x0, y0, x1, y1], max inclusive.
    var boxes: [[Int]] = []
    var iouPreds: [Float] = []
    var points: [AMGPoint] = []
    var stability: [Float] = []
    var cropBoxes: [CropBox] = []

    var count: Int { rles.count }

    mutating func append(contentsOf o: AMGMaskData) {
        rles += o.rles; boxes += o.boxes; iouPreds += o.iouPreds; points += o.points; stability += o.stability
        cropBoxes += o.cropBoxes
    }

    /// Keeps the entries at `idx`, in that order (`MaskData.filter` with an index tensor).
    func filtered(_ idx: [Int]) -> AMGMaskData {
        AMGMaskData(rles: idx.map { rles[$0] }, boxes: idx.map { boxes[$0] }, iouPreds: idx.map { iouPreds[$0] },
                    points: idx.map { points[$0] }, stability: idx.map { stability[$0] },
                    cropBoxes: idx.isEmpty || cropBoxes.isEmpty ? [] : idx.map { cropBoxes[$0] })
    }

    var nmsBoxes: [NMSBox] { boxes.map { NMSBox(Float($0[0]), Float($0[1]), Float($0[2]), Float($0[3])) } }
}

/// One decoded batch: `masksPerPoint` masks for each point, their predicted IoUs (point-major), and the
/// full-resolution logits of mask i (crop height × width, row-major), computed on demand.
struct AMGDecodedBatch {
    var masksPerPoint: Int
    var iouPredictions: [Float]
    var logits: (Int) -> [Float]
}

/// What the generator needs from a model: embed a crop as an image of its own, then decode a batch of single positive
/// points (crop pixels, float64) with multimask output. `SamPointDecoder` is the model; tests substitute formulas.
protocol AMGPointDecoder: AnyObject {
    func setImage(_ image: RGBImage)
    func decode(_ points: [AMGPoint]) -> AMGDecodedBatch
}

/// The model behind Meta's `predictor.predict_torch(points, labels=1, multimask_output=True, return_logits=True)`.
/// Only the B×C low-res logits of a batch are kept; each mask is upsampled to the crop's size when asked for, so
/// memory is bounded by `points_per_batch` low-res maps plus one full-resolution map.
final class SamPointDecoder: AMGPointDecoder {
    let model: Sam
    let predictor: SamPredictor

    init(model: Sam) { self.model = model; predictor = SamPredictor(model: model) }

    func setImage(_ image: RGBImage) { predictor.setImage(image) }

    func decode(_ points: [AMGPoint]) -> AMGDecodedBatch {
        guard let features = predictor.features else { preconditionFailure("decode before setImage") }
        let inSize = predictor.inputSize, cropSize = predictor.originalSize
        // ResizeLongestSide.apply_coords in float64, then float32 for the prompt encoder
        let sx = Double(inSize.w) / Double(cropSize.w), sy = Double(inSize.h) / Double(cropSize.h)
        let prompts = points.map { p in
            ModelPrompt(points: Tensor(shape: [1, 2], data: [Float(p.x * sx), Float(p.y * sy)]), labels: [1])
        }
        let sparse = model.promptEncoder.sparseEmbeddings(prompts)
        let model = self.model
        let lowRes: Tensor, iou: Tensor
        if let hq = model.hqDecoder {
            // HQ-SAM's generator: predict_torch(multimask_output=True, hq_token_only=False), one mask per point (the
            // best of SAM's three plus the HQ mask)
            // ref: segment_anything_hq/automatic_mask_generator.py@0.3 (_process_batch)
            guard let image = try? predictor.hqDecoderImage(hq, features) else { preconditionFailure("decode before setImage") }
            (lowRes, iou) = Precision.with(model.precision) {
                hq.decode(image, sparse: sparse, dense: nil, multimaskOutput: true, hqTokenOnly: predictor.hqTokenOnly)
            }
        } else {
            let image = predictor.decoderImage(features)
            (lowRes, iou) = Precision.with(model.precision) {
                model.maskDecoder.decode(image, sparse: sparse, dense: nil, outputs: 1..<model.config.numMaskTokens)
            }
        }
        let l = lowRes.shape[2]
        return AMGDecodedBatch(masksPerPoint: lowRes.shape[1], iouPredictions: iou.data) { i in
            let (h, w) = cropSize
            return [Float](unsafeUninitializedCapacity: h * w) { out, n in
                lowRes.data.withUnsafeBufferPointer { lp in
                    model.postprocessMask(lp.baseAddress! + i * l * l, lowResSize: l, inputSize: inSize, originalSize: cropSize,
                                          rows: 0..<h) { oy, v in (out.baseAddress! + oy * w).update(from: v, count: w) }
                }
                n = h * w
            }
        }
    }
}

/// Meta's `SamAutomaticMaskGenerator`, or with a SAM 2 model its `SAM2AutomaticMaskGenerator`: `generate(image)`
/// returns records for the whole image. The two differ in decoding (`SAM2PointDecoder`), in `mask_threshold`, in
/// keeping the points as float32, and in where `min_mask_region_area` acts (v1: holes and islands of the final masks,
/// then NMS again; SAM 2: in the decoder's low-res logits).
public final class SamAutomaticMaskGenerator {
    public let options: AMGOptions
    /// Whose generator this one follows.
    public let family: AMGFamily
    let decoder: AMGPointDecoder
    let pointGrids: [[AMGPoint]]

    public convenience init(model: Sam, options: AMGOptions = AMGOptions()) throws {
        try self.init(decoder: SamPointDecoder(model: model), options: options)
    }

    /// `SAM2AutomaticMaskGenerator(model, **options)`.
    public convenience init(model: SAM2Model, options: AMGOptions = AMGOptions(family: .sam2)) throws {
        try self.init(decoder: SAM2PointDecoder(model: model, options: options), options: options, family: .sam2)
    }

    init(decoder: AMGPointDecoder, options: AMGOptions, family: AMGFamily = .sam) throws {
        try options.validate(for: family)
        self.options = options
        self.family = family
        self.decoder = decoder
        self.pointGrids = options.layerPointGrids
    }

    /// A point as the generator keeps it: float64 in v1, float32 in SAM 2 (`torch.as_tensor(points, dtype=float32)`
    /// in `_process_batch`, and float32 plus the crop's integer offset in `uncrop_points`).
    func kept(_ p: AMGPoint) -> AMGPoint {
        family == .sam ? p : AMGPoint(Double(Float(p.x)), Double(Float(p.y)))
    }

    /// Progress within one image: (points decoded so far, points in all crops).
    public typealias Progress = (_ done: Int, _ total: Int) -> Void

    /// Generates masks for an RGB image (`generate`).
    public func generate(_ image: RGBImage, progress: Progress? = nil) -> [AMGRecord] {
        var data = generateMasks(image, progress: progress)
        if family == .sam && options.minMaskRegionArea > 0 {
            data = Self.postprocessSmallRegions(data, minArea: options.minMaskRegionArea,
                                                nmsThresh: max(options.boxNmsThresh, options.cropNmsThresh))
        }
        return (0..<data.count).map { i in
            let rle = data.rles[i]
            let seg: AMGSegmentation
            switch options.outputMode {
            case .binaryMask: seg = .binaryMask(rle.decode())
            case .uncompressedRLE: seg = .uncompressedRLE(rle)
            case .cocoRLE: seg = .cocoRLE(height: rle.height, width: rle.width, counts: rle.cocoString)
            }
            let b = data.boxes[i]
            return AMGRecord(segmentation: seg, rle: rle, area: rle.area, bbox: [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                             predictedIoU: data.iouPreds[i], pointCoords: data.points[i],
                             stabilityScore: data.stability[i], cropBox: data.cropBoxes[i].xywh)
        }
    }

    /// `_generate_masks`: every crop, then NMS between crops preferring smaller crops (score 1/crop area).
    func generateMasks(_ image: RGBImage, progress: Progress?) -> AMGMaskData {
        let (cropBoxes, layers) = generateCropBoxes(imageHeight: image.height, imageWidth: image.width,
                                                    nLayers: options.cropNLayers, overlapRatio: options.cropOverlapRatio)
        let total = layers.reduce(0) { $0 + pointGrids[$1].count }
        var done = 0
        var data = AMGMaskData()
        for (box, layer) in zip(cropBoxes, layers) {
            data.append(contentsOf: processCrop(image, cropBox: box, layer: layer) { n in
                done += n
                progress?(done, total)
            })
        }
        if cropBoxes.count > 1 {
            let scores = data.cropBoxes.map { Float(1) / Float($0.width * $0.height) }
            data = data.filtered(batchedNMS(boxes: data.nmsBoxes, scores: scores, iouThreshold: options.cropNmsThresh))
        }
        return data
    }

    /// `_process_crop`: embed the crop as its own image, decode its grid in batches, NMS within the crop, uncrop.
    func processCrop(_ image: RGBImage, cropBox: CropBox, layer: Int, advanced: (Int) -> Void) -> AMGMaskData {
        let crop = cropBox == CropBox(0, 0, image.width, image.height) ? image : image.cropped(cropBox)
        decoder.setImage(crop)
        let w = Double(crop.width), h = Double(crop.height)
        let points = pointGrids[layer].map { kept(AMGPoint($0.x * w, $0.y * h)) }
        var data = AMGMaskData()
        var start = 0
        while start < points.count {
            let batch = Array(points[start..<min(start + options.pointsPerBatch, points.count)])
            data.append(contentsOf: processBatch(batch, cropBox: cropBox, imageWidth: image.width, imageHeight: image.height))
            start += batch.count
            advanced(batch.count)
        }
        data = data.filtered(batchedNMS(boxes: data.nmsBoxes, scores: data.iouPreds, iouThreshold: options.boxNmsThresh))
        // back to the image frame (the RLEs already cover the whole image)
        data.boxes = data.boxes.map { [$0[0] + cropBox.x0, $0[1] + cropBox.y0, $0[2] + cropBox.x0, $0[3] + cropBox.y0] }
        data.points = data.points.map { kept(AMGPoint($0.x + Double(cropBox.x0), $0.y + Double(cropBox.y0))) }
        data.cropBoxes = [CropBox](repeating: cropBox, count: data.count)
        return data
    }

    /// `_process_batch`: one positive point per prompt, three masks each (SAM 2: or one; with m2m, each refined once);
    /// predicted-IoU filter, stability score on the full-resolution logits and its filter, binarise, box, crop-edge
    /// filter, RLE of the uncropped mask. A mask that fails the IoU filter is never upsampled.
    func processBatch(_ points: [AMGPoint], cropBox: CropBox, imageWidth: Int, imageHeight: Int) -> AMGMaskData {
        let batch = decoder.decode(points)
        let c = batch.masksPerPoint
        let ch = cropBox.height, cw = cropBox.width
        let maskThreshold = family == .sam ? Double(Sam.maskThreshold) : options.maskThreshold
        let binary = Float(maskThreshold)  // a float32 tensor compared with a Python float
        var out = AMGMaskData()
        for b in 0..<points.count {
            for k in 0..<c {
                let i = b * c + k
                let score = batch.iouPredictions[i]
                if options.predIouThresh > 0 && !(score > Float(options.predIouThresh)) { continue }
                let logits = batch.logits(i)
                precondition(logits.count == ch * cw, "decoder returned \(logits.count) logits for a \(cw)×\(ch) crop")
                let stab = stabilityScore(logits: logits, maskThreshold: maskThreshold, offset: options.stabilityScoreOffset)
                if options.stabilityScoreThresh > 0 && !(stab >= Float(options.stabilityScoreThresh)) { continue }
                let mask = logits.map { $0 > binary ? UInt8(1) : 0 }
                let box = maskToBoxXYXY(mask, width: cw, height: ch)
                if isBoxNearCropEdge(box, cropBox: cropBox, imageWidth: imageWidth, imageHeight: imageHeight) { continue }
                out.rles.append(RLE(uncropped: mask, cropBox: cropBox, imageHeight: imageHeight, imageWidth: imageWidth))
                out.boxes.append(box)
                out.iouPreds.append(score)
                out.points.append(points[b])
                out.stability.append(stab)
            }
        }
        return out
    }

    /// `postprocess_small_regions`: fill small holes, then remove small islands (8-connectivity); NMS again with score
    /// 1 for unchanged masks and 0 for changed ones; kept changed masks get their new RLE and box.
    static func postprocessSmallRegions(_ data: AMGMaskData, minArea: Int, nmsThresh: Double) -> AMGMaskData {
        if data.count == 0 { return data }
        var newRLEs: [RLE] = [], boxes: [[Int]] = [], scores: [Float] = []
        for rle in data.rles {
            let (h, w) = (rle.height, rle.width)
            let (m1, c1) = removeSmallRegions(rle.decode(), width: w, height: h, areaThresh: Double(minArea), mode: .holes)
            let (m2, c2) = removeSmallRegions(m1, width: w, height: h, areaThresh: Double(minArea), mode: .islands)
            let unchanged = !c1 && !c2
            scores.append(unchanged ? 1 : 0)
            boxes.append(maskToBoxXYXY(m2, width: w, height: h))
            newRLEs.append(unchanged ? rle : RLE(mask: m2, height: h, width: w))
        }
        let keep = batchedNMS(boxes: boxes.map { NMSBox(Float($0[0]), Float($0[1]), Float($0[2]), Float($0[3])) },
                              scores: scores, iouThreshold: nmsThresh)
        var out = data
        for i in keep where scores[i] == 0 {
            out.rles[i] = newRLEs[i]
            out.boxes[i] = boxes[i]
        }
        return out.filtered(keep)
    }
}

extension RGBImage {
    /// The pixels inside `box` (`image[y0:y1, x0:x1]`).
    func cropped(_ box: CropBox) -> RGBImage {
        var px = [UInt8](repeating: 0, count: box.width * box.height * 3)
        for y in 0..<box.height {
            let src = ((box.y0 + y) * width + box.x0) * 3
            px.replaceSubrange((y * box.width * 3)..<((y + 1) * box.width * 3), with: pixels[src..<(src + box.width * 3)])
        }
        return RGBImage(width: box.width, height: box.height, pixels: px)
    }
}

extension RLE {
    /// The RLE of a crop's H'×W' mask placed at the crop box inside an H×W image of zeros (`uncrop_masks` then
    /// `mask_to_rle_pytorch`), without building the full-size mask.
    public init(uncropped mask: [UInt8], cropBox: CropBox, imageHeight h: Int, imageWidth w: Int) {
        let cw = cropBox.width, ch = cropBox.height
        precondition(mask.count == cw * ch, "uncropped RLE: mask has \(mask.count) pixels, crop is \(cw)×\(ch)")
        var counts: [Int] = []
        var current = false
        var run = 0
        @inline(__always) func push(_ v: Bool, _ n: Int) {
            if n == 0 { return }
            if v != current { counts.append(run); run = 0; current = v }
            run += n
        }
        for x in 0..<w {
            guard x >= cropBox.x0 && x < cropBox.x1 else { push(false, h); continue }
            push(false, cropBox.y0)
            let cx = x - cropBox.x0
            for y in 0..<ch { push(mask[y * cw + cx] != 0, 1) }
            push(false, h - cropBox.y1)
        }
        counts.append(run)
        self.init(height: h, width: w, counts: counts)
    }
}
