// What `sam auto` writes: the SA-1B annotation layout (one JSON per image), or the folder of Meta's scripts/amg.py
// (`<i>.png` masks + metadata.csv) with an overlay drawn as the notebooks' `show_anns` draws it.
// ref: segment_anything scripts/amg.py@dca509f (write_masks_to_folder), notebooks/automatic_mask_generator_example.ipynb (show_anns)
import Foundation
import SAMIO
import SAMTensor

public enum AMGOutput {
    /// The header of Meta's `scripts/amg.py` metadata.csv.
    public static let metadataHeader =
        "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,crop_box_x0,crop_box_y0,crop_box_w,crop_box_h"

    /// A float64 as Python's `repr`/`str`/`json.dumps` write it (shortest round trip; `NaN`, `Infinity` as json.dumps).
    public static func pythonFloat(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "Infinity" : "-Infinity" }
        return v.description
    }

    /// A JSON string literal.
    static func jsonString(_ s: String) -> String {
        var o = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": o += "\\\""
            case "\\": o += "\\\\"
            case "\n": o += "\\n"
            case "\r": o += "\\r"
            case "\t": o += "\\t"
            default:
                if u.value < 0x20 { o += String(format: "\\u%04x", u.value) } else { o.unicodeScalars.append(u) }
            }
        }
        return o + "\""
    }

    /// The JSON of one record, keys in Meta's order. A binary mask is written as its uncompressed RLE (JSON has no
    /// bitmap); NaN stability scores (possible only with the stability filter off) as `NaN`, as Python's json writes them.
    public static func recordJSON(_ r: AMGRecord, id: Int) -> String {
        let seg: String
        switch r.segmentation {
        case .cocoRLE(let h, let w, let counts): seg = "{\"size\":[\(h),\(w)],\"counts\":\(jsonString(counts))}"
        case .uncompressedRLE(let rle): seg = "{\"size\":[\(rle.height),\(rle.width)],\"counts\":[\(rle.counts.map(String.init).joined(separator: ","))]}"
        case .binaryMask: seg = "{\"size\":[\(r.rle.height),\(r.rle.width)],\"counts\":[\(r.rle.counts.map(String.init).joined(separator: ","))]}"
        }
        let ints = { (a: [Int]) in "[" + a.map(String.init).joined(separator: ",") + "]" }
        return "{\"id\":\(id),\"segmentation\":\(seg),\"area\":\(r.area),\"bbox\":\(ints(r.bbox)),"
            + "\"predicted_iou\":\(pythonFloat(Double(r.predictedIoU))),"
            + "\"point_coords\":[[\(pythonFloat(r.pointCoords.x)),\(pythonFloat(r.pointCoords.y))]],"
            + "\"stability_score\":\(pythonFloat(Double(r.stabilityScore))),\"crop_box\":\(ints(r.cropBox))}"
    }

    /// SA-1B layout: `{"image": {"file_name", "width", "height"}, "annotations": [records]}`.
    public static func sa1bJSON(_ records: [AMGRecord], fileName: String, width: Int, height: Int) -> String {
        var s = "{\"image\":{\"file_name\":\(jsonString(fileName)),\"width\":\(width),\"height\":\(height)},\"annotations\":[\n"
        s += records.enumerated().map { recordJSON($0.element, id: $0.offset) }.joined(separator: ",\n")
        return s + "\n]}\n"
    }

    /// metadata.csv as Meta's `write_masks_to_folder` writes it (rows joined by newlines, none at the end).
    public static func metadataCSV(_ records: [AMGRecord]) -> String {
        var lines = [metadataHeader]
        for (i, r) in records.enumerated() {
            var f = [String(i), String(r.area)] + r.bbox.map(String.init)
            f += [pythonFloat(r.pointCoords.x), pythonFloat(r.pointCoords.y)]
            f += [pythonFloat(Double(r.predictedIoU)), pythonFloat(Double(r.stabilityScore))]
            f += r.cropBox.map(String.init)
            lines.append(f.joined(separator: ","))
        }
        return lines.joined(separator: "\n")
    }

    /// Every mask over the image in a random colour at opacity `alpha`, largest first so smaller masks stay visible
    /// (`show_anns`: an RGBA layer where each later mask overwrites, composited once over the image).
    /// Colours come from a generator seeded with `seed`, three uniform values per mask in sorted order.
    public static func overlay(image: RGBImage, records: [AMGRecord], alpha: Float = 0.35, seed: UInt64 = 0) -> RGBImage {
        let n = image.width * image.height
        var top = [Int32](repeating: -1, count: n)
        let order = records.indices.sorted { records[$0].area != records[$1].area ? records[$0].area > records[$1].area : $0 < $1 }
        var rng = SplitMix64(seed: seed)
        var colours: [[Float]] = []
        for (rank, i) in order.enumerated() {
            colours.append((0..<3).map { _ in Float(rng.nextDouble()) * 255 })
            let rle = records[i].rle
            var idx = 0, parity = false
            for c in rle.counts {
                if parity {
                    for k in idx..<(idx + c) { top[(k % image.height) * image.width + k / image.height] = Int32(rank) }
                }
                idx += c
                parity.toggle()
            }
        }
        var px = image.pixels
        for p in 0..<n where top[p] >= 0 {
            let col = colours[Int(top[p])]
            for k in 0..<3 {
                px[p * 3 + k] = UInt8(max(0, min(255, (alpha * col[k] + (1 - alpha) * Float(px[p * 3 + k])).rounded())))
            }
        }
        return RGBImage(width: image.width, height: image.height, pixels: px)
    }

    /// Writes Meta's amg folder into `dir` (created): `<i>.png` (0/255), metadata.csv and overlay.png, each atomically.
    public static func writeFolder(_ records: [AMGRecord], image: RGBImage, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (i, r) in records.enumerated() {
            let m = r.rle.decode()
            try ImageWriter.writePNG(path: (dir as NSString).appendingPathComponent("\(i).png"), width: r.rle.width,
                                     height: r.rle.height, channels: 1, pixels: m.map { $0 != 0 ? 255 : 0 })
        }
        try AtomicFile.write(metadataCSV(records), to: (dir as NSString).appendingPathComponent("metadata.csv"))
        let o = overlay(image: image, records: records)
        try ImageWriter.writePNG(path: (dir as NSString).appendingPathComponent("overlay.png"), width: o.width,
                                 height: o.height, channels: 3, pixels: o.pixels)
    }
}

