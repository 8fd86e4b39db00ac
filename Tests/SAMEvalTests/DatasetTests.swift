// Pairing rules of folder data sets, mask conventions, Berkeley's rotation fix, and COCO decoding against
// pycocotools (Fixtures/make_coco_fixture.py).
import Foundation
import SAMEval
import SAMIO
import XCTest

/// A temporary folder removed at the end of the test.
final class TempFolder {
    let path: String
    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("sameval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func sub(_ p: String) -> String { (path as NSString).appendingPathComponent(p) }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes a PNG (the readers sniff the format, so the extension may say anything).
    func png(_ rel: String, width: Int, height: Int, channels: Int = 1, _ value: (Int, Int) -> [UInt8]) throws {
        let p = sub(rel)
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var px: [UInt8] = []
        for y in 0..<height { for x in 0..<width { px += value(x, y) } }
        try ImageWriter.writePNG(path: p, width: width, height: height, channels: channels, pixels: px)
    }
}

final class DatasetTests: XCTestCase {
    /// images/: "cat 1.JPG", 189011.png, 5.bmp; masks/: "cat 1.png", 189011.png, 189011a.png, 189011b.png, 5.png.
    func makeFolder() throws -> TempFolder {
        let t = try TempFolder()
        let rgb: (Int, Int) -> [UInt8] = { x, y in [UInt8(x * 10), UInt8(y * 10), 7] }
        try t.png("images/cat 1.JPG", width: 6, height: 4, channels: 3, rgb)
        try t.png("images/189011.png", width: 6, height: 4, channels: 3, rgb)
        try t.png("images/5.bmp", width: 6, height: 4, channels: 3, rgb)
        try t.png("images/.hidden.png", width: 1, height: 1, channels: 3) { _, _ in [0, 0, 0] }
        try t.png("images/notes.txt", width: 1, height: 1) { _, _ in [0] }
        try t.png("masks/cat 1.png", width: 6, height: 4) { x, y in [x == 0 ? 128 : (x < 3 ? 255 : (x == 3 ? 105 : 0))] }
        try t.png("masks/189011.png", width: 6, height: 4) { x, _ in [x < 2 ? 255 : 0] }
        try t.png("masks/189011a.png", width: 6, height: 4) { x, _ in [x == 0 ? 255 : 0] }
        try t.png("masks/189011b.png", width: 6, height: 4) { x, _ in [x == 1 ? 255 : 0] }
        try t.png("masks/5.png", width: 6, height: 4) { x, y in [x < 2 ? 1 : (x < 4 ? 2 : (y == 0 ? 255 : 0))] }
        return t
    }

    func testPairingByStemWithExtraObjectsMixedExtensionsAndSpaces() throws {
        let t = try makeFolder()
        let ds = try Dataset.folder(t.path)
        XCTAssertEqual(ds.objects.map(\.id), ["189011", "189011a", "189011b", "5", "cat 1"])
        XCTAssertEqual(ds.objects.map { ($0.imagePath as NSString).lastPathComponent },
                       ["189011.png", "189011.png", "189011.png", "5.bmp", "cat 1.JPG"])
        // Shards partition the sorted objects in contiguous blocks.
        XCTAssertEqual(ds.shard(1, of: 2).map(\.id), ["189011", "189011a"])
        XCTAssertEqual(ds.shard(2, of: 2).map(\.id), ["189011b", "5", "cat 1"])
        XCTAssertEqual((1...3).flatMap { ds.shard($0, of: 3).map(\.id) }, ds.objects.map(\.id))
    }

    func testIgnoreValueAndBinaryThreshold() throws {
        let t = try makeFolder()
        let ds = try Dataset.folder(t.path, ignoreValue: 128)
        let (image, gt) = try ds.load(ds.objects.first { $0.id == "cat 1" }!)
        XCTAssertEqual(image.width, 6); XCTAssertEqual(image.height, 4)
        // Row 0: 128 → ignore, 255 255 → object, 105 → background (below 128), 0 0.
        XCTAssertEqual(Array(gt.labels[0..<6]), [2, 1, 1, 0, 0, 0])
        XCTAssertEqual(gt.area, 8)
        XCTAssertEqual(gt.box?.x0, 1); XCTAssertEqual(gt.box?.x1, 2); XCTAssertEqual(gt.box?.y1, 3)
        // Without an ignore value, 128 counts as object (>= 128).
        let plain = try Dataset.folder(t.path)
        XCTAssertEqual(Array(try plain.load(plain.objects.first { $0.id == "cat 1" }!).truth.labels[0..<6]), [1, 1, 1, 0, 0, 0])
        // The predicted mask covering the ignore column scores as if it did not.
        let pred = gt.labels.map { $0 == 0 ? UInt8(0) : 1 }
        XCTAssertEqual(gt.iou(pred), 1)
    }

    func testInstanceModes() throws {
        let t = try makeFolder()
        // merged: every non-zero value of 5.png is the object (1, 2 and the 255 void row).
        let merged = try Dataset.folder(t.path, instances: .merged)
        XCTAssertEqual(try merged.load(merged.objects.first { $0.id == "5" }!).truth.area, 4 * 4 + 2)
        // separate with 255 ignored: one object per id, other ids are background, 255 ignore.
        let sep = try Dataset.folder(t.path, ignoreValue: 255, instances: .separate)
        let ids = sep.objects.map(\.id)
        XCTAssertEqual(ids.filter { $0.hasPrefix("5#") }, ["5#1", "5#2"])
        XCTAssertTrue(ids.contains("189011a#255") == false)
        let g2 = try sep.load(sep.objects.first { $0.id == "5#2" }!).truth
        XCTAssertEqual(g2.area, 8)
        XCTAssertEqual(Array(g2.labels[0..<6]), [0, 0, 1, 1, 2, 2])
        // binary: 1 and 2 are below 128, only the 255 row counts.
        let bin = try Dataset.folder(t.path)
        XCTAssertEqual(try bin.load(bin.objects.first { $0.id == "5" }!).truth.area, 2)
    }

    func testUnpairedMaskDuplicateStemAndMissingFolderAreErrors() throws {
        let t = try makeFolder()
        try t.png("masks/zzz.png", width: 6, height: 4) { _, _ in [255] }
        XCTAssertThrowsError(try Dataset.folder(t.path)) { e in
            XCTAssertEqual(e as? DatasetError, .unpairedMask(t.sub("masks/zzz.png")))
        }
        try FileManager.default.removeItem(atPath: t.sub("masks/zzz.png"))
        try t.png("images/5.jpg", width: 6, height: 4, channels: 3) { _, _ in [0, 0, 0] }
        XCTAssertThrowsError(try Dataset.folder(t.path)) { e in
            guard case .duplicateStem(let a, let b)? = e as? DatasetError else { return XCTFail("\(e)") }
            XCTAssertEqual([a, b].map { ($0 as NSString).lastPathComponent }.sorted(), ["5.bmp", "5.jpg"])
        }
        XCTAssertThrowsError(try Dataset.folder(t.sub("nothing")))
    }

    func testSizeMismatchIsAnErrorNamingBothFilesUnlessRotationIsAskedFor() throws {
        let t = try TempFolder()
        // A landscape 5×3 image whose mask is portrait 3×5, as Berkeley's 12 rotated images.
        try t.png("images/r.jpg", width: 5, height: 3, channels: 3) { x, y in [UInt8(10 * x + y), 0, 0] }
        try t.png("masks/r.png", width: 3, height: 5) { x, y in [x == 0 && y == 0 ? 255 : 0] }
        try t.png("images/s.jpg", width: 4, height: 4, channels: 3) { _, _ in [0, 0, 0] }
        try t.png("masks/s.png", width: 4, height: 5) { _, _ in [255] }
        let plain = try Dataset.folder(t.path)
        XCTAssertThrowsError(try plain.load(plain.objects[0])) { e in
            let msg = "\(e)"
            XCTAssertTrue(msg.contains(t.sub("images/r.jpg")) && msg.contains(t.sub("masks/r.png")), msg)
            XCTAssertTrue(msg.contains("5×3") && msg.contains("3×5") && msg.contains("--rotate-mismatched"), msg)
        }
        let fixed = try Dataset.folder(t.path, rotateMismatched: true)
        let (im, gt) = try fixed.load(fixed.objects[0])
        XCTAssertEqual(im.width, 3); XCTAssertEqual(im.height, 5)
        // 90° counter-clockwise: out[i][j] = in[j][W−1−i]; out(0,0) = in(x 4, y 0), out(x 2, y 4) = in(x 0, y 2).
        XCTAssertEqual(im.pixels[0], 40)
        XCTAssertEqual(im.pixels[(4 * 3 + 2) * 3], 2)
        XCTAssertEqual(gt.area, 1)
        // A mismatch that no rotation fixes stays an error.
        XCTAssertThrowsError(try fixed.load(fixed.objects[1])) { e in
            XCTAssertTrue("\(e)".contains(t.sub("masks/s.png")))
        }
    }

    func testEmptyObjectIsAnError() throws {
        let t = try TempFolder()
        try t.png("images/e.png", width: 3, height: 3, channels: 3) { _, _ in [0, 0, 0] }
        try t.png("masks/e.png", width: 3, height: 3) { _, _ in [0] }
        let ds = try Dataset.folder(t.path)
        XCTAssertThrowsError(try ds.load(ds.objects[0])) { e in XCTAssertTrue("\(e)".contains("no object pixels")) }
    }

    // MARK: COCO

    var fixtures: String { ((#filePath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("Fixtures") }

    func testCOCOPolygonsAndRLEDecodeAsPycocotools() throws {
        let ds = try Dataset.cocoInstances(jsonPath: (fixtures as NSString).appendingPathComponent("coco_tiny.json"), imagesDir: "/nowhere")
        // iscrowd 1 (annotation 6) is skipped.
        XCTAssertEqual(ds.objects.map(\.id), ["tiny image#1", "tiny image#2", "tiny image#3", "tiny image#4", "tiny image#5"])
        XCTAssertEqual(ds.objects[0].imagePath, "/nowhere/tiny image.png")
        let data = try Data(contentsOf: URL(fileURLWithPath: (fixtures as NSString).appendingPathComponent("coco_tiny_expected.json")))
        let expected = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        for o in ds.objects {
            guard case .segmentation(let seg, let h, let w) = o.source else { return XCTFail() }
            XCTAssertEqual(h, 13); XCTAssertEqual(w, 17)
            let mask = try seg.decode(height: h, width: w, id: o.id)
            let e = expected[String(o.id.split(separator: "#")[1])] as! [String: Any]
            let rows = (0..<h).map { y in mask[(y * w)..<((y + 1) * w)].map { String($0) }.joined() }
            XCTAssertEqual(rows, e["rows"] as! [String], o.id)
            XCTAssertEqual(mask.reduce(0) { $0 + Int($1) }, e["area"] as! Int, o.id)
        }
        // The compressed string decodes to the uncompressed counts of the same mask (negative deltas included).
        XCTAssertEqual(rleFromString(";2;045G000000000000000m0JN"), (expected["counts_of_compressed"] as! [Int]).map(UInt32.init))
    }

    func testPolygonOfAnAxisAlignedSquare() {
        // pycocotools: the square (1,1)-(3,3) on a 5×5 grid covers columns and rows 1…3 minus the far edge: 2×2.
        let counts = rleFromPolygon([1, 1, 3, 1, 3, 3, 1, 3], height: 5, width: 5)
        XCTAssertEqual(counts, [6, 2, 3, 2, 12])
        XCTAssertThrowsError(try decodeRLE([30], height: 5, width: 5))
    }
}
