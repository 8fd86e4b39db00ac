// `sam auto`: segment everything — Meta's automatic mask generator over one image or a folder.
import ArgumentParser
import Foundation
import SAMIO
import SAMInference
import SAMModel

/// The generator's options, one flag each, converted to `AMGOptions`. A flag left out takes the default of the
/// model's generator (`AMGOptions(family:)`): SamAutomaticMaskGenerator's for SAM v1, SAM2AutomaticMaskGenerator's
/// for SAM 2.
struct AutoGeneratorOptions: ParsableArguments {
    @Option(help: "Points sampled along one side of the image (points_per_side; default 32 unless --point-grids).")
    var pointsPerSide: Int?
    @Option(help: "Points decoded at once; bounds memory (points_per_batch; default 64).") var pointsPerBatch: Int?
    @Option(help: "Keep masks with predicted IoU > this; ≤ 0 disables the filter (pred_iou_thresh; default 0.88, SAM 2: 0.8).")
    var predIouThresh: Double?
    @Option(help: "Keep masks with stability score ≥ this; ≤ 0 disables the filter (stability_score_thresh; default 0.95).")
    var stabilityScoreThresh: Double?
    @Option(help: "Cutoff shift of the stability score (stability_score_offset; default 1).") var stabilityScoreOffset: Double?
    @Option(help: "SAM 2 only: cutoff of the mask logits, also the stability score's centre (mask_threshold; default 0).")
    var maskThreshold: Double?
    @Option(help: "Box IoU cutoff of the NMS within a crop (box_nms_thresh; default 0.7).") var boxNmsThresh: Double?
    @Option(help: "Crop layers beyond the whole image; layer i has (2^i)² crops (crop_n_layers; default 0).") var cropNLayers: Int?
    @Option(help: "Box IoU cutoff of the NMS between crops (crop_nms_thresh; default 0.7).") var cropNmsThresh: Double?
    @Option(help: "Overlap of first-layer crops, fraction of the short side (crop_overlap_ratio; default 512/1500).")
    var cropOverlapRatio: Double?
    @Option(help: "Points per side in crop layer n are divided by this^n (crop_n_points_downscale_factor; default 1).")
    var cropNPointsDownscaleFactor: Int?
    @Option(help: "JSON file: one list of [x, y] points in 0..1 per crop layer (point_grids); replaces --points-per-side.")
    var pointGrids: String?
    @Option(help: """
        SAM v1: remove holes and islands smaller than this many pixels, then re-run NMS; SAM 2: fill holes and remove \
        islands of at most this many pixels in the 256×256 low-res logits (min_mask_region_area; default 0).
        """)
    var minMaskRegionArea: Int?
    @Option(help: "binary_mask, uncompressed_rle or coco_rle (output_mode; default coco_rle for --format sa1b, binary_mask for amg).")
    var outputMode: String?
    @Flag(name: .customLong("use-m2m"),
          help: "SAM 2 only: decode every mask again with its own low-res logits as mask input, one mask out (use_m2m).")
    var useM2M = false
    @Flag(inversion: .prefixedNo,
          help: "SAM 2 only: three masks per point (default) or one, the decoder's choice by stability (multimask_output).")
    var multimaskOutput: Bool?

    func validate() throws {
        if pointsPerSide != nil && pointGrids != nil { throw ValidationError("give --points-per-side or --point-grids, not both") }
        if let m = outputMode, AMGOutputMode(rawValue: m) == nil {
            throw ValidationError("unknown --output-mode '\(m)'; known: \(AMGOutputMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// The SAM 2-only flags given with a value that would change what v1's generator does (it has none of them).
    var sam2OnlyFlags: [String] {
        (useM2M ? ["--use-m2m"] : []) + (multimaskOutput == false ? ["--no-multimask-output"] : [])
            + (maskThreshold.map { $0 != 0 } == true ? ["--mask-threshold"] : [])
    }

    /// Reads `--point-grids`: `[[[x, y], …], …]`.
    static func readPointGrids(_ path: String) throws -> [[AMGPoint]] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw InputError(path, "cannot be read (\(error.localizedDescription))")
        }
        do { return try AMGPointGrids.parse(text) } catch { throw InputError(path, "\(error)") }
    }

    /// The options for `family`'s generator: its defaults, then every flag given. `grids`: the contents of
    /// --point-grids, read by the caller.
    func options(format: AutoFormat, family: AMGFamily, grids: [[AMGPoint]]? = nil) throws -> AMGOptions {
        var o = AMGOptions(family: family)
        if let grids {
            o.pointsPerSide = nil
            o.pointGrids = grids
        } else if let pointsPerSide {
            o.pointsPerSide = pointsPerSide
        }
        func set<T>(_ v: T?, _ key: WritableKeyPath<AMGOptions, T>) { if let v { o[keyPath: key] = v } }
        set(pointsPerBatch, \.pointsPerBatch)
        set(predIouThresh, \.predIouThresh)
        set(stabilityScoreThresh, \.stabilityScoreThresh)
        set(stabilityScoreOffset, \.stabilityScoreOffset)
        set(maskThreshold, \.maskThreshold)
        set(boxNmsThresh, \.boxNmsThresh)
        set(cropNLayers, \.cropNLayers)
        set(cropNmsThresh, \.cropNmsThresh)
        set(cropOverlapRatio, \.cropOverlapRatio)
        set(cropNPointsDownscaleFactor, \.cropNPointsDownscaleFactor)
        set(minMaskRegionArea, \.minMaskRegionArea)
        o.useM2M = useM2M
        set(multimaskOutput, \.multimaskOutput)
        o.outputMode = outputMode.flatMap(AMGOutputMode.init(rawValue:)) ?? (format == .amg ? .binaryMask : .cocoRLE)
        try o.validate(for: family)
        return o
    }
}

/// A run-time error of `sam auto` (one line, exit status 3).
struct AutoError: Error, CustomStringConvertible {
    var description: String
}

enum AutoFormat: String, ExpressibleByArgument, CaseIterable {
    case sa1b, amg
}

struct Auto: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment everything: Meta's automatic mask generator (a grid of point prompts, filtered and de-duplicated).",
        discussion: """
        --format sa1b (default) writes OUT/<stem>.json in the SA-1B layout: {"image": {"file_name", "width", "height"}, \
        "annotations": [{"id", "segmentation", "area", "bbox" (XYWH), "predicted_iou", "point_coords", \
        "stability_score", "crop_box" (XYWH)}]}; segmentation is {"size": [h, w], "counts"}: pycocotools' string with \
        coco_rle, a list of column-major run lengths with uncompressed_rle. --format amg writes OUT/<stem>/ as Meta's \
        scripts/amg.py does: <i>.png masks, metadata.csv, plus overlay.png (every mask in a random colour, largest first).
        SAM 2.1 checkpoints (or --model-type sam2.1_hiera_t…, --model-config for other sizes) run Meta's \
        SAM2AutomaticMaskGenerator, SAM v1 ones its SamAutomaticMaskGenerator; a flag left out takes the default of \
        the model's generator (Meta's: for ViT-H and Hiera-L; they differ in --pred-iou-thresh, 0.88 and 0.8), and \
        --mask-threshold, --use-m2m and --no-multimask-output exist for SAM 2 only. The generator's call, every \
        option filled in, is printed to stderr. The demo checkpoints need lower thresholds, e.g. \
        --pred-iou-thresh 0.1 --stability-score-thresh 0.5 --stability-score-offset 0.1.
        """)

    @OptionGroup var model: ModelOptions
    @Option(help: "One image (JPEG, PNG, BMP).") var image: String?
    @Option(help: "A folder of images (.jpg .jpeg .png .bmp, any case), processed in name order with one model.") var images: String?
    @Option(help: "Output folder.") var out: String
    @Option(help: "sa1b (one JSON per image) or amg (a folder per image: PNG masks, metadata.csv, overlay.png).")
    var format: AutoFormat = .sa1b
    @OptionGroup var generator: AutoGeneratorOptions

    func validate() throws {
        try model.requireModel()
        if (image == nil) == (images == nil) { throw ValidationError("give exactly one of --image and --images") }
        if format == .sa1b && generator.outputMode == AMGOutputMode.binaryMask.rawValue {
            throw ValidationError("--output-mode binary_mask needs --format amg (PNG masks); the SA-1B JSON holds RLEs")
        }
        if format == .amg, let m = generator.outputMode, m != AMGOutputMode.binaryMask.rawValue {
            throw ValidationError("--format amg writes PNG masks: --output-mode must be binary_mask (or left out)")
        }
        // every option but the contents of --point-grids (a file: read in run, bad contents are bad input); the family
        // is known here only when no checkpoint is given
        let family: AMGFamily = model.checkpoint == nil && model.sam2Type == nil && model.modelConfig == nil ? .sam : .sam2
        if family == .sam, let flag = generator.sam2OnlyFlags.first {
            throw ValidationError("\(flag) is an option of SAM 2's generator; --model-type \(model.modelType ?? "") is SAM v1")
        }
        if generator.pointGrids == nil {
            do { _ = try generator.options(format: format, family: family) } catch let e as AMGError { throw ValidationError(e.description) }
        }
    }

    func inputFiles() throws -> [String] {
        if let image { return [image] }
        return try ImageFolder.list(images!)
    }

    func run() throws {
        try runReportingErrors {
            let grids = try generator.pointGrids.map(AutoGeneratorOptions.readPointGrids)
            _ = try generator.options(format: format, family: .sam2, grids: grids)  // bad grids before the model loads
            let files = try inputFiles()
            let model = try self.model.loadAny()
            let family = model.amgFamily
            if family == .sam, let flag = generator.sam2OnlyFlags.first {
                throw AutoError(description: "\(flag) is an option of SAM 2's generator; \(self.model.label) is a SAM v1 model")
            }
            let opts = try generator.options(format: format, family: family, grids: grids)
            let gen = try SamAutomaticMaskGenerator(model: model, options: opts)
            FileHandle.standardError.write(Data((opts.pythonCall(family: family) + "\n").utf8))
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let bar = AutoProgressBar(total: files.count)
            for (i, path) in files.enumerated() {
                let name = (path as NSString).lastPathComponent
                let stem = (name as NSString).deletingPathExtension
                let img = try ImageReader.readRGB(path: path)
                let t0 = Date()
                let records = gen.generate(img) { done, total in bar.show(image: i, name: name, points: done, of: total) }
                switch format {
                case .sa1b:
                    try AtomicFile.write(AMGOutput.sa1bJSON(records, fileName: name, width: img.width, height: img.height),
                                         to: (out as NSString).appendingPathComponent("\(stem).json"))
                case .amg:
                    let dest = (out as NSString).appendingPathComponent(stem)
                    let staging = (out as NSString).appendingPathComponent(".\(stem).partial-\(getpid())")
                    try? FileManager.default.removeItem(atPath: staging)
                    try AMGOutput.writeFolder(records, image: img, to: staging)
                    try AtomicFile.replaceDirectory(dest, with: staging)
                }
                bar.finish(image: i, name: name, masks: records.count, seconds: Date().timeIntervalSince(t0))
            }
            print("wrote \(files.count) image(s) to \(out)")
        }
    }
}

/// A progress bar over images on stderr (redrawn in place on a terminal, one line per image otherwise).
final class AutoProgressBar {
    let total: Int
    let tty = isatty(2) != 0
    var lastDraw = Date.distantPast

    init(total: Int) { self.total = total }

    func line(_ done: Int, _ suffix: String) -> String {
        let width = 24
        let filled = total == 0 ? width : min(width, done * width / total)
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(total) " + suffix
    }

    func show(image i: Int, name: String, points: Int, of allPoints: Int) {
        guard tty, Date().timeIntervalSince(lastDraw) > 0.2 || points == allPoints else { return }
        lastDraw = Date()
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line(i, "\(name): \(points)/\(allPoints) points")).utf8))
    }

    func finish(image i: Int, name: String, masks: Int, seconds: Double) {
        let s = line(i + 1, "\(name): \(masks) masks in \(String(format: "%.1f", seconds)) s")
        FileHandle.standardError.write(Data(((tty ? "\r\u{1B}[K" : "") + s + "\n").utf8))
    }
}
