// The decoding side of Meta's SAM2AutomaticMaskGenerator; the rest (grids, crops, filters, NMS, records) is the v1
// generator's (AutomaticMaskGenerator.swift) with `family: .sam2`.
// ref: sam2/automatic_mask_generator.py@1.1.0 (_process_batch, refine_with_m2m),
// sam2/sam2_image_predictor.py@1.1.0 (_predict), sam2/utils/transforms.py@1.1.0 (SAM2Transforms.postprocess_masks)
import SAMIO
import SAMModel
import SAMTensor

/// The model behind `_process_batch`'s `predictor._predict(points, labels=1, multimask_output, return_logits=True)`
/// and, with `use_m2m`, `refine_with_m2m`. `setImage` stretches the crop to the model's square input (SAM2Transforms);
/// points are normalised by the crop's size. Only the low-res logits of a batch are kept; a mask is upscaled to the
/// crop's size (one bilinear resize, `postprocess_masks`) when the generator asks for it.
final class SAM2PointDecoder: AMGPointDecoder {
    let predictor: SAM2Predictor
    let multimaskOutput: Bool, useM2M: Bool, pointsPerBatch: Int
    /// `SAM2ImagePredictor(max_hole_area=, max_sprinkle_area=)`, both `min_mask_region_area`.
    let maxRegionArea: Int

    init(model: SAM2Model, options: AMGOptions) {
        predictor = SAM2Predictor(model: model)
        multimaskOutput = options.multimaskOutput
        useM2M = options.useM2M
        pointsPerBatch = options.pointsPerBatch
        maxRegionArea = options.minMaskRegionArea
    }

    func setImage(_ image: RGBImage) { predictor.setImage(image) }

    func decode(_ points: [AMGPoint]) -> AMGDecodedBatch {
        let prompts = points.map { Prompt(points: [(Float($0.x), Float($0.y))], labels: [1]) }
        let first = predictor.decodeLowRes(prompts, maskInputs: nil, multimaskOutput: multimaskOutput)
        let c = first.masks.shape[1], l = first.masks.shape[2]
        var lowRes = first.masks.data, iou = first.iou.data
        if useM2M { (lowRes, iou) = refine(prompts, lowRes: lowRes, masksPerPoint: c, side: l) }
        let (h, w) = predictor.originalSize
        let area = maxRegionArea
        return AMGDecodedBatch(masksPerPoint: c, iouPredictions: iou) { i in
            var plane = Array(lowRes[(i * l * l)..<((i + 1) * l * l)])
            if area > 0 { fillHolesAndSprinkles(&plane, side: l, maxHoleArea: area, maxSprinkleArea: area) }
            return [Float](unsafeUninitializedCapacity: h * w) { out, n in
                plane.withUnsafeBufferPointer { p in
                    upscaleCropResize(p.baseAddress!, height: l, width: l, first: (h, w), keep: (h, w), final: (h, w),
                                      rows: 0..<h) { oy, v in (out.baseAddress! + oy * w).update(from: v, count: w) }
                }
                n = h * w
            }
        }
    }

    /// `refine_with_m2m`: every mask of the batch (point-major, before any filter) decoded again from its point with
    /// its own low-res logits, clamped to ±32, as mask input and one mask out; `points_per_batch` masks at a time.
    /// Returns the new low-res logits and IoU predictions in the same order.
    func refine(_ prompts: [Prompt], lowRes: [Float], masksPerPoint c: Int, side l: Int) -> ([Float], [Float]) {
        let n = prompts.count * c, plane = l * l
        var masks = [Float](), iou = [Float]()
        masks.reserveCapacity(n * plane)
        for start in stride(from: 0, to: n, by: pointsPerBatch) {
            let idx = start..<min(start + pointsPerBatch, n)
            var input = Tensor(shape: [idx.count, 1, l, l], data: Array(lowRes[(idx.lowerBound * plane)..<(idx.upperBound * plane)]))
            input.apply { min(max($0, -32), 32) }
            let out = predictor.decodeLowRes(idx.map { prompts[$0 / c] }, maskInputs: input, multimaskOutput: false)
            masks += out.masks.data
            iou += out.iou.data
        }
        return (masks, iou)
    }
}

/// `SAM2Transforms.postprocess_masks`' clean-up of one M×M plane of low-res logits, as with its CUDA kernel
/// (`get_connected_components`, 8-connected): background components (logit ≤ 0) of at most `maxHoleArea` pixels
/// become 10 (foreground), foreground components (logit > 0) of at most `maxSprinkleArea` pixels become −10; both sets
/// are found on the plane as given. A zero area skips its half. Meta's code skips the whole step, with a warning,
/// where the kernel is not built (a CPU-only install).
public func fillHolesAndSprinkles(_ plane: inout [Float], side l: Int, maxHoleArea: Int, maxSprinkleArea: Int) {
    let t = SAM2Model.maskThreshold
    func small(_ fg: Bool, _ maxArea: Int) -> (labels: [Int32], small: [Bool])? {
        guard maxArea > 0 else { return nil }
        let (labels, sizes) = connectedComponents8(plane.map { ($0 > t) == fg ? 1 : 0 }, width: l, height: l)
        return (labels, sizes.indices.map { $0 > 0 && sizes[$0] <= maxArea })
    }
    let holes = small(false, maxHoleArea), sprinkles = small(true, maxSprinkleArea)
    for i in 0..<plane.count {
        if let h = holes, h.small[Int(h.labels[i])] { plane[i] = t + 10 }
        if let s = sprinkles, s.small[Int(s.labels[i])] { plane[i] = t - 10 }
    }
}

extension AnyModel {
    /// Whose automatic mask generator runs this model.
    public var amgFamily: AMGFamily {
        switch self {
        case .sam: return .sam
        case .sam2: return .sam2
        }
    }
}

extension SamAutomaticMaskGenerator {
    /// The generator of the model's family (`AMGOptions(family: model.amgFamily)` has its defaults).
    public convenience init(model: AnyModel, options: AMGOptions) throws {
        switch model {
        case .sam(let m): try self.init(model: m, options: options)
        case .sam2(let m): try self.init(model: m, options: options)
        }
    }
}

extension AMGOptions {
    /// The generator's constructor call in Python with every keyword, e.g. `SAM2AutomaticMaskGenerator(model,
    /// points_per_side=32, …, multimask_output=True)`: what runs, in a form that can be pasted to run Meta's.
    /// Explicit point grids are summarised (`point_grids=[<49 points>, …]`).
    public func pythonCall(family: AMGFamily) -> String {
        func f(_ v: Double) -> String { AMGOutput.pythonFloat(v) }
        func b(_ v: Bool) -> String { v ? "True" : "False" }
        var kw = ["points_per_side=\(pointsPerSide.map(String.init) ?? "None")", "points_per_batch=\(pointsPerBatch)",
                  "pred_iou_thresh=\(f(predIouThresh))", "stability_score_thresh=\(f(stabilityScoreThresh))",
                  "stability_score_offset=\(f(stabilityScoreOffset))"]
        if family == .sam2 { kw.append("mask_threshold=\(f(maskThreshold))") }
        kw += ["box_nms_thresh=\(f(boxNmsThresh))", "crop_n_layers=\(cropNLayers)", "crop_nms_thresh=\(f(cropNmsThresh))",
               "crop_overlap_ratio=\(f(cropOverlapRatio))", "crop_n_points_downscale_factor=\(cropNPointsDownscaleFactor)",
               "point_grids=\(pointGrids.map { "[" + $0.map { "<\($0.count) points>" }.joined(separator: ", ") + "]" } ?? "None")",
               "min_mask_region_area=\(minMaskRegionArea)", "output_mode='\(outputMode.rawValue)'"]
        if family == .sam2 { kw += ["use_m2m=\(b(useM2M))", "multimask_output=\(b(multimaskOutput))"] }
        return (family == .sam ? "SamAutomaticMaskGenerator" : "SAM2AutomaticMaskGenerator") + "(model, " + kw.joined(separator: ", ") + ")"
    }
}
