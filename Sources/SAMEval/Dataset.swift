// Labelled data sets for evaluation: a folder of images/ + masks/ paired by stem (GrabCut, Berkeley, DAVIS,
// COCO_MVal as distributed by RITM), COCO instances JSON and SA-1B JSON (DatasetCOCO.swift).
// Conventions: ../shared/data/*/SOURCE.md; the reference twin is experiments/reference/eval_reference.py.
import Foundation
import SAMIO

/// How a mask's values become objects.
public enum InstanceMode: String, CaseIterable, Sendable {
    /// One object per mask: value ≥ 128 is the object (GrabCut, Berkeley, COCO_MVal; Berkeley's stray 105s are
    /// background, as in RITM's readers, which threshold at 128).
    case binary
    /// One object per mask: every non-zero value (DAVIS's published protocol: all instances as one object).
    case merged
    /// One object per distinct non-zero value (DAVIS instance ids); the id gets `#<value>`, other instances are
    /// background.
    case separate
}

/// Where an object's ground truth comes from.
public enum ObjectSource: Sendable, Hashable {
    /// A mask image; `value` selects one instance id in `separate` mode.
    case maskFile(path: String, value: UInt8?)
    /// A COCO / SA-1B segmentation of an image of `height`×`width` pixels.
    case segmentation(Segmentation, height: Int, width: Int)
}

/// One object to evaluate: its id (the CSV key), its image and its ground truth.
public struct DatasetObject: Sendable, Hashable {
    /// The mask file's stem (`189011a`), with `#<value>` in separate mode; `<image stem>#<annotation id>` for JSON.
    public var id: String
    public var imagePath: String
    public var source: ObjectSource

    public init(id: String, imagePath: String, source: ObjectSource) {
        self.id = id; self.imagePath = imagePath; self.source = source
    }
}

/// A data set's problems, each naming the file at fault.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    case missingFolder(String)
    case duplicateStem(String, String)
    case unpairedMask(String)
    case sizeMismatch(image: String, mask: String, imageWidth: Int, imageHeight: Int, maskWidth: Int, maskHeight: Int)
    case emptyObject(id: String, source: String)
    case badJSON(String, String)
    case badSegmentation(id: String, detail: String)
    case noObjects(String)

    public var description: String {
        switch self {
        case .missingFolder(let p): return "\(p): no such folder (a folder data set needs images/ and masks/)"
        case .duplicateStem(let a, let b): return "two files with the same stem: \(a) and \(b)"
        case .unpairedMask(let m):
            return "mask \(m) has no image: no image with its stem, nor with its stem minus a trailing letter (NAMEa → NAME)"
        case .sizeMismatch(let i, let m, let iw, let ih, let mw, let mh):
            return "image \(i) is \(iw)×\(ih) but its mask \(m) is \(mw)×\(mh)"
                + (iw == mh && ih == mw ? " (transposed: --rotate-mismatched turns such images 90° counter-clockwise)" : "")
        case .emptyObject(let id, let s): return "object \(id) (\(s)) has no object pixels"
        case .badJSON(let p, let d): return "\(p): \(d)"
        case .badSegmentation(let id, let d): return "object \(id): bad segmentation: \(d)"
        case .noObjects(let p): return "\(p): no objects to evaluate"
        }
    }
}

/// A list of objects and how to load each one's image and ground truth.
public struct Dataset: Sendable {
    public var name: String
    /// Objects in evaluation order: sorted by id (UTF-8 byte order, which is Unicode code point order).
    public var objects: [DatasetObject]
    public var ignoreValue: UInt8?
    public var instances: InstanceMode
    /// Berkeley's fix: when an image's transpose has its mask's size, turn the image 90° counter-clockwise.
    public var rotateMismatched: Bool

    public init(name: String, objects: [DatasetObject], ignoreValue: UInt8? = nil, instances: InstanceMode = .binary,
                rotateMismatched: Bool = false) {
        self.name = name; self.objects = objects; self.ignoreValue = ignoreValue; self.instances = instances
        self.rotateMismatched = rotateMismatched
    }

    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "bmp"]

    /// Opens `path`: a folder with `images/` and `masks/`, a COCO instances JSON file (images in `imagesDir`,
    /// default the JSON's folder), or an SA-1B folder (`NAME.jpg` + `NAME.json` pairs).
    public static func open(path: String, imagesDir: String? = nil, ignoreValue: UInt8? = nil,
                            instances: InstanceMode = .binary, rotateMismatched: Bool = false) throws -> Dataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw DatasetError.missingFolder(path) }
        if !isDir.boolValue {
            return try cocoInstances(jsonPath: path, imagesDir: imagesDir ?? (path as NSString).deletingLastPathComponent)
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: (path as NSString).appendingPathComponent("masks")) {
            return try folder(path, ignoreValue: ignoreValue, instances: instances, rotateMismatched: rotateMismatched)
        }
        return try sa1b(folder: path)
    }

    /// A folder of `images/` and `masks/`. A mask pairs with the image of the same stem, or — when there is none and
    /// the stem ends with a lowercase letter — with the image named by the stem minus that letter (Berkeley's extra
    /// objects `189011a`, `189011b` of `189011.jpg`). Extensions (jpg, jpeg, png, bmp, any case) may differ
    /// between an image and its mask; two files of one folder with the same stem are an error, and so is a mask
    /// without an image. Images without masks are ignored. Hidden files and other extensions are skipped.
    public static func folder(_ root: String, ignoreValue: UInt8? = nil, instances: InstanceMode = .binary,
                              rotateMismatched: Bool = false) throws -> Dataset {
        let imagesDir = (root as NSString).appendingPathComponent("images")
        let masksDir = (root as NSString).appendingPathComponent("masks")
        let images = try stems(in: imagesDir)
        let masks = try stems(in: masksDir)
        var objects: [DatasetObject] = []
        for (stem, maskFile) in masks {
            let maskPath = (masksDir as NSString).appendingPathComponent(maskFile)
            let imageFile: String
            if let f = images[stem] {
                imageFile = f
            } else if let last = stem.unicodeScalars.last, stem.unicodeScalars.count > 1, ("a"..."z").contains(last),
                      let f = images[String(stem.unicodeScalars.dropLast())] {
                imageFile = f
            } else {
                throw DatasetError.unpairedMask(maskPath)
            }
            let imagePath = (imagesDir as NSString).appendingPathComponent(imageFile)
            if instances == .separate {
                let m = try ImageReader.readLabels(path: maskPath)
                var present = [Bool](repeating: false, count: 256)
                for v in m.values { present[Int(v)] = true }
                for v in 1..<256 where present[v] && UInt8(v) != ignoreValue {
                    objects.append(DatasetObject(id: "\(stem)#\(v)", imagePath: imagePath,
                                                 source: .maskFile(path: maskPath, value: UInt8(v))))
                }
            } else {
                objects.append(DatasetObject(id: stem, imagePath: imagePath, source: .maskFile(path: maskPath, value: nil)))
            }
        }
        objects.sort { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        return Dataset(name: (root as NSString).lastPathComponent, objects: objects, ignoreValue: ignoreValue,
                       instances: instances, rotateMismatched: rotateMismatched)
    }

    /// stem → file name of the image files in `dir`.
    static func stems(in dir: String) throws -> [String: String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError.missingFolder(dir)
        }
        var out: [String: String] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where !f.hasPrefix(".") {
            let ext = (f as NSString).pathExtension.lowercased()
            guard imageExtensions.contains(ext) else { continue }
            let stem = (f as NSString).deletingPathExtension
            if let other = out[stem] {
                throw DatasetError.duplicateStem((dir as NSString).appendingPathComponent(other), (dir as NSString).appendingPathComponent(f))
            }
            out[stem] = f
        }
        return out
    }

    /// The objects of shard `k` of `n` (1-based): a contiguous block, `[⌊(k−1)·N/n⌋, ⌊k·N/n⌋)`, so that the shards
    /// of a run partition it in order and consecutive objects of one image stay together for the encoder.
    public func shard(_ k: Int, of n: Int) -> [DatasetObject] {
        let c = objects.count
        return Array(objects[((k - 1) * c / n)..<(k * c / n)])
    }

    /// Reads an object's image and ground truth (labels 1 object, 0 background, 2 ignore). The image key names
    /// the encoder input: objects with equal keys share one image embedding.
    public func load(_ o: DatasetObject) throws -> (image: RGBImage, truth: GroundTruth) {
        var image = try ImageReader.readRGB(path: o.imagePath)
        let truth: GroundTruth
        switch o.source {
        case .maskFile(let maskPath, let value):
            let m = try ImageReader.readLabels(path: maskPath)
            if m.width != image.width || m.height != image.height {
                if rotateMismatched && m.width == image.height && m.height == image.width {
                    image = rotateCounterClockwise(image)
                } else {
                    throw DatasetError.sizeMismatch(image: o.imagePath, mask: maskPath, imageWidth: image.width,
                                                    imageHeight: image.height, maskWidth: m.width, maskHeight: m.height)
                }
            }
            truth = groundTruth(values: m.values, width: m.width, height: m.height, value: value)
        case .segmentation(let seg, let h, let w):
            if h != image.height || w != image.width {
                throw DatasetError.sizeMismatch(image: o.imagePath, mask: "segmentation of \(o.id)", imageWidth: image.width,
                                                imageHeight: image.height, maskWidth: w, maskHeight: h)
            }
            let mask = try seg.decode(height: h, width: w, id: o.id)
            truth = GroundTruth(width: w, height: h, labels: mask)
        }
        guard truth.labels.contains(1) else {
            throw DatasetError.emptyObject(id: o.id, source: { if case .maskFile(let p, _) = o.source { return p }; return o.imagePath }())
        }
        return (image, truth)
    }

    /// Labels from mask values under this data set's instance mode and ignore value.
    public func groundTruth(values: [UInt8], width: Int, height: Int, value: UInt8? = nil) -> GroundTruth {
        let ignore = ignoreValue
        let labels: [UInt8]
        switch instances {
        case .binary: labels = values.map { $0 == ignore ? 2 : ($0 >= 128 ? 1 : 0) }
        case .merged: labels = values.map { $0 == ignore ? 2 : ($0 != 0 ? 1 : 0) }
        case .separate:
            let target = value ?? 1
            labels = values.map { $0 == ignore ? 2 : ($0 == target ? 1 : 0) }
        }
        return GroundTruth(width: width, height: height, labels: labels)
    }
}

/// Turns an image 90° counter-clockwise (`np.rot90(image)`, PIL `transpose(ROTATE_90)`): the result is H wide and
/// W high, `out[i][j] = in[j][W−1−i]`.
public func rotateCounterClockwise(_ im: RGBImage) -> RGBImage {
    let w = im.width, h = im.height
    var out = [UInt8](repeating: 0, count: w * h * 3)
    for i in 0..<w {            // output row
        for j in 0..<h {        // output column
            let src = (j * w + (w - 1 - i)) * 3, dst = (i * h + j) * 3
            out[dst] = im.pixels[src]; out[dst + 1] = im.pixels[src + 1]; out[dst + 2] = im.pixels[src + 2]
        }
    }
    return RGBImage(width: h, height: w, pixels: out)
}
