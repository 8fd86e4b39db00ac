// The main job on bundled defaults: verify a reference dump, segment a few labelled images with box and
// farthest-point prompts, score them against their masks, and write a report with pictures.
import Foundation
import SAMIO
import SAMInference
import SAMModel
import SAMTensor

public struct DemoOptions {
    public var checkpoint: String
    public var imagesDir: String
    public var masksDir: String
    public var dump: String?
    public var outDir: String

    public init(checkpoint: String, imagesDir: String, masksDir: String, dump: String?, outDir: String) {
        self.checkpoint = checkpoint; self.imagesDir = imagesDir; self.masksDir = masksDir; self.dump = dump; self.outDir = outDir
    }
}

/// One image's results in the demo.
public struct DemoRow {
    public var stem: String
    public var width: Int, height: Int
    public var boxIoU: Double
    public var pointTop1IoU: Double
    public var pointOracleIoU: Double
    public var encoderSeconds: Double
}

public enum Demo {
    /// Runs the demo, printing progress with `log`, and returns the report's path.
    public static func run(_ o: DemoOptions, log: (String) -> Void) throws -> String {
        let t0 = Date()
        let model = try SamLoader.load(checkpoint: o.checkpoint)
        let cfgName = model.config.presetName ?? "custom"
        log("loaded \(o.checkpoint): \(cfgName), \(model.config.parameterCount) values, in \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
        try FileManager.default.createDirectory(atPath: o.outDir, withIntermediateDirectories: true)

        var verifyReport: VerifyReport?
        if let dump = o.dump {
            log("verifying against \(dump) …")
            let r = try Verifier.verify(model: model, dumpPath: dump, checkpointName: (o.checkpoint as NSString).lastPathComponent)
            log("  \(r.rows.filter(\.passed).count)/\(r.rows.count) outputs within tolerance, worst rel-L2 \(fmt(r.worstRelL2))")
            verifyReport = r
        }

        let stems = try FileManager.default.contentsOfDirectory(atPath: o.imagesDir)
            .filter { !$0.hasPrefix(".") }.sorted()
        var rows: [DemoRow] = []
        let predictor = SamPredictor(model: model)
        for file in stems {
            let stem = (file as NSString).deletingPathExtension
            let maskPath = (o.masksDir as NSString).appendingPathComponent(stem + ".png")
            guard FileManager.default.fileExists(atPath: maskPath) else { log("  \(file): no mask \(maskPath), skipped"); continue }
            let image = try ImageReader.readRGB(path: (o.imagesDir as NSString).appendingPathComponent(file))
            let m = try ImageReader.readLabels(path: maskPath)
            guard m.width == image.width, m.height == image.height else {
                throw EvalError.sizeMismatch(image: file, mask: maskPath, imageSize: (image.width, image.height), maskSize: (m.width, m.height))
            }
            let gt = GroundTruth(width: m.width, height: m.height, values: m.values)
            guard let b = gt.box, let fp = farthestPoint(gt.objectMask, width: gt.width, height: gt.height) else {
                throw EvalError.emptyMask(maskPath)
            }
            let te = Date()
            predictor.setImage(image)
            let enc = Date().timeIntervalSince(te)
            let boxPrompt = Prompt(box: (Float(b.x0), Float(b.y0), Float(b.x1), Float(b.y1)))
            let boxPred = try predictor.predict(boxPrompt, multimaskOutput: false)
            let pointPrompt = Prompt(points: [(Float(fp.x), Float(fp.y))], labels: [1])
            let pointPred = try predictor.predict(pointPrompt, multimaskOutput: true)
            let ious = (0..<pointPred.maskCount).map { gt.iou(pointPred.mask($0)) }
            let top = pointPred.iouPredictions.indices.max { pointPred.iouPredictions[$0] < pointPred.iouPredictions[$1] }!
            let row = DemoRow(stem: stem, width: image.width, height: image.height, boxIoU: gt.iou(boxPred.mask(0)),
                              pointTop1IoU: ious[top], pointOracleIoU: ious.max()!, encoderSeconds: enc)
            rows.append(row)
            let gtMask = gt.objectMask
            let boxPic = Overlay.draw(image: image, mask: boxPred.mask(0), prompt: boxPrompt,
                                      caption: String(format: "BOX  IOU %.3f  PRED %.3f", row.boxIoU, boxPred.iouPredictions[0]), groundTruth: gtMask)
            let pointPic = Overlay.draw(image: image, mask: pointPred.mask(top), prompt: pointPrompt,
                                        caption: String(format: "POINT  MASK %d  IOU %.3f  PRED %.3f", top, ious[top], pointPred.iouPredictions[top]),
                                        color: maskPalette[1], groundTruth: gtMask)
            try ImageWriter.writePNG(path: (o.outDir as NSString).appendingPathComponent("\(stem)_box.png"), width: boxPic.width, height: boxPic.height, channels: 3, pixels: boxPic.pixels)
            try ImageWriter.writePNG(path: (o.outDir as NSString).appendingPathComponent("\(stem)_point.png"), width: pointPic.width, height: pointPic.height, channels: 3, pixels: pointPic.pixels)
            log(String(format: "  %@: box IoU %.3f, point IoU %.3f (oracle %.3f), encoder %.2f s", stem, row.boxIoU, row.pointTop1IoU, row.pointOracleIoU, enc))
        }
        let report = markdown(options: o, model: model, rows: rows, verify: verifyReport, seconds: Date().timeIntervalSince(t0),
                              machine: machineDescription(), date: t0)
        let path = (o.outDir as NSString).appendingPathComponent("README.md")
        try AtomicFile.write(report, to: path)
        return path
    }

    /// The command that writes this report again: `sam demo` with every option spelled out.
    static func command(_ o: DemoOptions) -> String {
        "sam demo --checkpoint \(o.checkpoint) --images \(o.imagesDir) --masks \(o.masksDir)"
            + (o.dump.map { " --dump \($0)" } ?? "") + " --out \(o.outDir)"
    }

    /// "2-core Intel(R) Xeon(R) Processor (AVX-512), Linux" from /proc/cpuinfo where it exists.
    static func machineDescription() -> String {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var model = "CPU", isa = ""
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
            let lines = info.split(separator: "\n")
            if let m = lines.first(where: { $0.hasPrefix("model name") }), let v = m.split(separator: ":", maxSplits: 1).last {
                model = v.trimmingCharacters(in: .whitespaces)
            }
            if let f = lines.first(where: { $0.hasPrefix("flags") }) {
                let flags = Set(f.split(separator: " ").map(String.init))
                isa = flags.contains("avx512f") ? "AVX-512" : (flags.contains("avx2") ? "AVX2" : "")
            }
        }
        #if os(Linux)
        let os = "Linux"
        #else
        let os = "macOS"
        #endif
        return "\(cores)-core \(model)" + (isa.isEmpty ? "" : " (\(isa))") + ", \(os)"
    }

    static func markdown(options o: DemoOptions, model: Sam, rows: [DemoRow], verify: VerifyReport?, seconds: Double,
                         machine: String, date: Date) -> String {
        let c = model.config
        let df = DateFormatter()
        df.locale = Locale(identifier: "en_US_POSIX"); df.timeZone = TimeZone(identifier: "UTC"); df.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        var s = "# SAMSwift demo report\n\n"
        s += "Regenerate: `\(command(o))` (what `make demo` runs). Run on \(machine), \(df.string(from: date)).\n\n"
        s += "Written by `sam demo` on the bundled defaults. Checkpoint `\(o.checkpoint)`: image encoder embed \(c.encoderEmbedDim), "
        s += "depth \(c.encoderDepth), heads \(c.encoderNumHeads), global blocks \(c.encoderGlobalAttnIndexes.map(String.init).joined(separator: ", ")), "
        s += "\(c.parameterCount) values. **Not Meta's weights**: a briefly trained demo checkpoint whose masks are weak but real "
        s += "(see `notebooks-data/demo/ATTRIBUTION.md`).\n\n"
        if let v = verify {
            s += "## Verification against Meta's reference\n\n"
            s += "`\(o.dump ?? "")`, a dump written by Meta's `segment_anything` (`experiments/reference/dump.py`): "
            s += "**\(v.rows.filter(\.passed).count) of \(v.rows.count) outputs within tolerance**, worst rel-L2 \(fmt(v.worstRelL2)). "
            s += "Every output the dump holds:\n\n"
            // The verifier's own table (shape, max-abs, rel-L2, cosine, worst index, tolerance), without its title.
            let table = v.markdown(title: "")
            s += String(table.drop(while: { $0 != "|" })) + "\n"
        }
        s += "## Segmentation of the bundled images\n\n"
        s += "Prompts from each ground-truth mask: the tight box (one mask) and the point farthest from the boundary "
        s += "(three masks; top-1 by predicted IoU, and the oracle best of three). IoU against the mask.\n\n"
        s += "| image | size | box IoU | point IoU (top-1) | point IoU (oracle) | encoder s |\n|---|---|---|---|---|---|\n"
        for r in rows {
            s += String(format: "| %@ | %d×%d | %.3f | %.3f | %.3f | %.2f |\n", r.stem, r.width, r.height, r.boxIoU, r.pointTop1IoU, r.pointOracleIoU, r.encoderSeconds)
        }
        let n = Double(max(rows.count, 1))
        s += String(format: "| **mean** | | **%.3f** | **%.3f** | **%.3f** | |\n\n", rows.map(\.boxIoU).reduce(0, +) / n,
                    rows.map(\.pointTop1IoU).reduce(0, +) / n, rows.map(\.pointOracleIoU).reduce(0, +) / n)
        s += "Pictures: ground truth in yellow, the predicted mask in blue (box) or orange (point), the box in green, "
        s += "the positive point as a green star; the caption gives the IoU and the model's own predicted IoU.\n\n"
        for r in rows { s += "![\(r.stem) box](\(r.stem)_box.png) ![\(r.stem) point](\(r.stem)_point.png)\n\n" }
        s += String(format: "Total time %.1f s.\n", seconds)
        return s
    }
}
