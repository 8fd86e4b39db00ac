// COCO instances JSON and SA-1B JSON, with pycocotools' mask decoding ported exactly.
// ref: cocodataset/cocoapi PythonAPI/pycocotools (coco.py annToRLE; common/maskApi.c rleFrPoly, rleFrString,
// rleDecode). Polygons are rasterised the way `frPyObjects` + `merge` + `decode` do it, so object pixels equal
// `COCO.annToMask`.
import Foundation
import SAMIO

/// A COCO / SA-1B segmentation.
public enum Segmentation: Sendable, Hashable {
    /// Polygons `[x0, y0, x1, y1, …]` in pixels; the object is their union.
    case polygons([[Double]])
    /// Uncompressed RLE: column-major run lengths starting with a run of zeros.
    case rle([UInt32])
    /// Compressed RLE: pycocotools' string (LEB128-like, 6 bits per character, from character 48).
    case compressedRLE(String)

    /// H×W bytes, 1 inside.
    public func decode(height h: Int, width w: Int, id: String = "") throws -> [UInt8] {
        switch self {
        case .polygons(let polys):
            // Bounded before tracing: the trace walks every boundary step (5 per pixel), so a coordinate of 1e15 would
            // never finish and 1e300 would trap converting to Int. COCO's vertices lie within about a pixel of the image.
            let side = Double(max(h, w, 1))
            for p in polys {
                if let bad = p.first(where: { !$0.isFinite || $0 < -side || $0 > 2 * side }) {
                    throw DatasetError.badSegmentation(id: id, detail: "polygon coordinate \(bad) lies far outside the \(w)×\(h) image")
                }
            }
            var out = [UInt8](repeating: 0, count: h * w)
            for p in polys {
                let m = try decodeRLE(rleFromPolygon(p, height: h, width: w), height: h, width: w, id: id)
                for i in 0..<(h * w) where m[i] != 0 { out[i] = 1 }
            }
            return out
        case .rle(let counts): return try decodeRLE(counts, height: h, width: w, id: id)
        case .compressedRLE(let s): return try decodeRLE(rleFromString(s), height: h, width: w, id: id)
        }
    }
}

/// pycocotools `rleDecode`: runs alternate 0s and 1s, starting with 0s, in column-major (Fortran) order; the result
/// is returned row-major (H×W). Counts that overrun H·W are an error (pycocotools would write past its buffer).
public func decodeRLE(_ counts: [UInt32], height h: Int, width w: Int, id: String = "") throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: h * w)
    var pos = 0, v: UInt8 = 0
    for c in counts {
        let n = Int(c)
        if pos + n > h * w { throw DatasetError.badSegmentation(id: id, detail: "RLE counts sum beyond \(h)×\(w)") }
        if v == 1 {
            for k in pos..<(pos + n) { let x = k / h, y = k % h; out[y * w + x] = 1 }
        }
        pos += n
        v = 1 - v
    }
    return out
}

/// pycocotools `rleFrString`: 5 data bits per character (offset 48), bit 0x20 continues, bit 0x10 of the last
/// character is the sign; from the third count on, each value is a difference to the count two places before.
public func rleFromString(_ s: String) -> [UInt32] {
    let bytes = Array(s.utf8)
    var counts: [UInt32] = []
    var p = 0
    while p < bytes.count {
        var x: Int64 = 0, k = 0, more = true
        while more && p < bytes.count {
            let c = Int64(Int8(truncatingIfNeeded: bytes[p])) - 48
            x |= (c & 0x1f) << (5 * Int64(k))
            more = (c & 0x20) != 0
            p += 1; k += 1
            if !more && (c & 0x10) != 0 { x |= -1 << (5 * Int64(k)) }
        }
        // Wrapping, as C's long arithmetic cast to uint: a run of continuation characters can fill all 64 bits.
        if counts.count > 2 { x = x &+ Int64(counts[counts.count - 2]) }
        counts.append(UInt32(truncatingIfNeeded: x))
    }
    return counts
}

/// pycocotools `rleFrPoly`: the polygon (k vertices `[x, y, …]`) upsampled ×5, every boundary step traced with
/// integer rounding as the C code does (`(int)(v + .5)`, truncation toward zero), then the crossings of each pixel
/// column's centre collected and turned into run lengths.
public func rleFromPolygon(_ xy: [Double], height h: Int, width w: Int) -> [UInt32] {
    let k = xy.count / 2
    guard k > 0 else { return [UInt32(h * w)] }
    let scale = 5.0
    var x = [Int](repeating: 0, count: k + 1), y = [Int](repeating: 0, count: k + 1)
    for j in 0..<k { x[j] = Int(scale * xy[2 * j] + 0.5); y[j] = Int(scale * xy[2 * j + 1] + 0.5) }
    x[k] = x[0]; y[k] = y[0]
    var u: [Int] = [], v: [Int] = []
    for j in 0..<k {
        var xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1]
        let dx = abs(xe - xs), dy = abs(ys - ye)
        let flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye)
        if flip { swap(&xs, &xe); swap(&ys, &ye) }
        if dx == 0 && dy == 0 {
            // C computes s = 0/0 = NaN and (int)NaN = INT_MIN on x86; the value is never read (u does not change).
            u.append(xs); v.append(Int(Int32.min)); continue
        }
        let s = dx >= dy ? Double(ye - ys) / Double(dx) : Double(xe - xs) / Double(dy)
        if dx >= dy {
            for d in 0...dx { let t = flip ? dx - d : d; u.append(t + xs); v.append(Int(Double(ys) + s * Double(t) + 0.5)) }
        } else {
            for d in 0...dy { let t = flip ? dy - d : d; v.append(t + ys); u.append(Int(Double(xs) + s * Double(t) + 0.5)) }
        }
    }
    var a: [UInt32] = []
    for j in 1..<max(1, u.count) where u[j] != u[j - 1] {
        var xd = Double(u[j] < u[j - 1] ? u[j] : u[j] - 1)
        xd = (xd + 0.5) / scale - 0.5
        if xd.rounded(.down) != xd || xd < 0 || xd > Double(w - 1) { continue }
        var yd = Double(v[j] < v[j - 1] ? v[j] : v[j - 1])
        yd = (yd + 0.5) / scale - 0.5
        if yd < 0 { yd = 0 } else if yd > Double(h) { yd = Double(h) }
        yd = yd.rounded(.up)
        a.append(UInt32(truncatingIfNeeded: Int(xd) * h + Int(yd)))
    }
    a.append(UInt32(truncatingIfNeeded: h * w))
    a.sort()
    var prev: UInt32 = 0
    for j in a.indices { let t = a[j]; a[j] = a[j] &- prev; prev = t }
    var b: [UInt32] = [a[0]]
    var j = 1
    while j < a.count {
        if a[j] > 0 { b.append(a[j]); j += 1 } else {
            j += 1
            if j < a.count { b[b.count - 1] &+= a[j]; j += 1 }
        }
    }
    return b
}

extension Dataset {
    /// Parses a `segmentation` value: a list of polygons, or `{"counts": [..] | "..", "size": [h, w]}`.
    static func segmentation(_ any: Any?, id: String) throws -> Segmentation {
        if let polys = any as? [[Any]] {
            return .polygons(try polys.map { p in try p.map { v in
                guard let d = (v as? NSNumber)?.doubleValue else { throw DatasetError.badSegmentation(id: id, detail: "polygon value \(v)") }
                return d
            } })
        }
        if let d = any as? [String: Any] {
            if let s = d["counts"] as? String { return .compressedRLE(s) }
            if let c = d["counts"] as? [Any] {
                return .rle(try c.map { v in
                    guard let n = (v as? NSNumber)?.intValue, n >= 0, n <= Int(UInt32.max) else { throw DatasetError.badSegmentation(id: id, detail: "RLE count \(v)") }
                    return UInt32(n)
                })
            }
        }
        throw DatasetError.badSegmentation(id: id, detail: "neither polygons nor RLE")
    }

    static func readJSON(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError.badJSON(path, "cannot read") }
        do {
            guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw DatasetError.badJSON(path, "top level is not an object")
            }
            return obj
        } catch let e as DatasetError { throw e } catch { throw DatasetError.badJSON(path, "not valid JSON: \(error.localizedDescription)") }
    }

    /// COCO instances JSON (`images`, `annotations`): one object per annotation with `iscrowd` 0, id
    /// `<image file stem>#<annotation id>`, images read from `imagesDir/<file_name>`. Crowd annotations are skipped
    /// (as the literature's evaluations do).
    public static func cocoInstances(jsonPath: String, imagesDir: String) throws -> Dataset {
        let root = try readJSON(jsonPath)
        guard let images = root["images"] as? [[String: Any]], let anns = root["annotations"] as? [[String: Any]] else {
            throw DatasetError.badJSON(jsonPath, "needs \"images\" and \"annotations\" lists")
        }
        var byId: [Int: (file: String, h: Int, w: Int)] = [:]
        for im in images {
            guard let id = (im["id"] as? NSNumber)?.intValue, let f = im["file_name"] as? String,
                  let h = (im["height"] as? NSNumber)?.intValue, let w = (im["width"] as? NSNumber)?.intValue else {
                throw DatasetError.badJSON(jsonPath, "an image lacks id, file_name, height or width")
            }
            byId[id] = (f, h, w)
        }
        var objects: [DatasetObject] = []
        for a in anns {
            if let c = (a["iscrowd"] as? NSNumber)?.intValue, c != 0 { continue }
            guard let iid = (a["image_id"] as? NSNumber)?.intValue, let im = byId[iid] else {
                throw DatasetError.badJSON(jsonPath, "an annotation names an unknown image_id")
            }
            let aid = (a["id"] as? NSNumber).map { "\($0.int64Value)" } ?? "\(objects.count)"
            let oid = "\((im.file as NSString).deletingPathExtension)#\(aid)"
            let seg = try segmentation(a["segmentation"], id: oid)
            objects.append(DatasetObject(id: oid, imagePath: (imagesDir as NSString).appendingPathComponent(im.file),
                                         source: .segmentation(seg, height: im.h, width: im.w)))
        }
        objects.sort { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        return Dataset(name: ((jsonPath as NSString).lastPathComponent as NSString).deletingPathExtension, objects: objects)
    }

    /// SA-1B: a folder of `NAME.jpg` + `NAME.json` (`{"image": {...}, "annotations": [{"id", "segmentation":
    /// {"size": [h, w], "counts": "…"}}]}`); one object per annotation, id `NAME#<annotation id>`.
    public static func sa1b(folder: String) throws -> Dataset {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }.sorted()
        if files.isEmpty { throw DatasetError.missingFolder(folder) }
        var objects: [DatasetObject] = []
        for f in files {
            let path = (folder as NSString).appendingPathComponent(f)
            let root = try readJSON(path)
            guard let anns = root["annotations"] as? [[String: Any]] else { throw DatasetError.badJSON(path, "no \"annotations\" list") }
            let stem = (f as NSString).deletingPathExtension
            let info = root["image"] as? [String: Any]
            let imageFile = (info?["file_name"] as? String) ?? stem + ".jpg"
            for (i, a) in anns.enumerated() {
                let aid = (a["id"] as? NSNumber).map { "\($0.int64Value)" } ?? "\(i)"
                let oid = "\(stem)#\(aid)"
                guard let seg = a["segmentation"] as? [String: Any], let size = seg["size"] as? [NSNumber], size.count == 2 else {
                    throw DatasetError.badSegmentation(id: oid, detail: "needs {\"size\": [h, w], \"counts\": …}")
                }
                objects.append(DatasetObject(id: oid, imagePath: (folder as NSString).appendingPathComponent(imageFile),
                                             source: .segmentation(try segmentation(seg, id: oid), height: size[0].intValue, width: size[1].intValue)))
            }
        }
        objects.sort { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        return Dataset(name: (folder as NSString).lastPathComponent, objects: objects)
    }
}
