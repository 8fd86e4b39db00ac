// `sam auto`: segment everything — Meta's automatic mask generator over one image or a folder.
import ArgumentParser
import Foundation
import SAMIO
import SAMInference
import SAMModel

/// The generator's options, one flag each, converted to `AMGOptions`.
struct AutoGeneratorOptions: ParsableArguments {
    @Option(help: "Points sampled along one side of the image (points_per_side; default 32 unless --point-grids).")
    var pointsPerSide: Int?
    @Option(help: "Points decoded at once; bounds memory (points_per_batch).") var pointsPerBatch = 64
    @Option(help: "Keep masks with predicted IoU > this; ≤ 0 disables the filter (pred_iou_thresh).") var predIouThresh = 0.88
    @Option(help: "Keep masks with stability score ≥ this; ≤ 0 disables the filter (stability_score_thresh).")
    var stabilityScoreThresh = 0.95
    @Option(help: "Cutoff shift of the stability score (stability_score_offset).") var stabilityScoreOffset = 1.0
    @Option(help: "Box IoU cutoff of the NMS within a crop (box_nms_thresh).") var boxNmsThresh = 0.7
    @Option(help: "Crop layers beyond the whole image; layer i has (2^i)² crops (crop_n_layers).") var cropNLayers = 0
    @Option(help: "Box IoU cutoff of the NMS between crops (crop_nms_thresh).") var cropNmsThresh = 0.7
    @Option(help: "Overlap of first-layer crops, fraction of the short side (crop_overlap_ratio; default 512/1500).")
    var cropOverlapRatio = 512.0 / 1500.0
    @Option(help: "Points per side in crop layer n are divided by this^n (crop_n_points_downscale_factor).")
    var cropNPointsDownscaleFactor = 1
    @Option(help: "JSON file: one list of [x, y] points in 0..1 per crop layer (point_grids); replaces --points-per-side.")
    var pointGrids: String?
    @Option(help: "Remove holes and islands smaller than this many pixels, then re-run NMS (min_mask_region_area).")
    var minMaskRegionArea = 0
    @Option(help: "binary_mask, uncompressed_rle or coco_rle (output_mode; default coco_rle for --format sa1b, binary_mask for amg).")
    var outputMode: String?

    func validate() throws {
        if pointsPerSide != nil && pointGrids != nil { throw ValidationError("give --points-per-side or --point-grids, not both") }
        if let m = outputMode, AMGOutputMode(rawValue: m) == nil {
            throw ValidationError("unknown --output-mode '\(m)'; known: \(AMGOutputMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// Reads `--point-grids`: `[[[x, y], …], …]`.
    static func readPointGrids(_ path: String) throws -> [[AMGPoint]] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw InputError(path, "cannot be read (\(error.localizedDescription))")
        }
        do { return try AMGPointGrids.parse(text) } catch { throw InputError(path, "\(error)") }
    }

    func options(format: AutoFormat) throws -> AMGOptions {
        var o = AMGOptions()
        if let pointGrids {
            o.pointsPerSide = nil
            o.pointGrids = try Self.readPointGrids(pointGrids)
        } else {
            o.pointsPerSide = pointsPerSide ?? 32
        }
        o.pointsPerBatch = pointsPerBatch
        o.predIouThresh = predIouThresh
        o.stabilityScoreThresh = stabilityScoreThresh
        o.stabilityScoreOffset = stabilityScoreOffset
        o.boxNmsThresh = boxNmsThresh
        o.cropNLayers = cropNLayers
        o.cropNmsThresh = cropNmsThresh
        o.cropOverlapRatio = cropOverlapRatio
        o.cropNPointsDownscaleFactor = cropNPointsDownscaleFactor
        o.minMaskRegionArea = minMaskRegionArea
        o.outputMode = outputMode.flatMap(AMGOutputMode.init(rawValue:)) ?? (format == .amg ? .binaryMask : .cocoRLE)
        try o.validate()
        return o
    }
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
        Defaults are Meta's (chosen for ViT-H); the demo checkpoints need lower thresholds, e.g. \
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
        // every option but the contents of --point-grids (a file: read in run, bad contents are bad input)
        if generator.pointGrids == nil {
            do { _ = try generator.options(format: format) } catch let e as AMGError { throw ValidationError(e.description) }
        }
    }

    func inputFiles() throws -> [String] {
        if let image { return [image] }
        return try ImageFolder.list(images!)
    }

    func run() throws {
        try runReportingErrors {
            let opts = try generator.options(format: format)
            let files = try inputFiles()
            let model = try self.model.load()
            let gen = try SamAutomaticMaskGenerator(model: model, options: opts)
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
