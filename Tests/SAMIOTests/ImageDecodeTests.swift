// Tests of ImageReader against Pillow: every PNG/JPEG/BMP variant in Fixtures/images/variants must decode to the
// exact bytes Pillow's convert("RGB") (and the label values) gave when make_image_fixtures.py wrote manifest.json;
// bad files must throw the right ImageError naming the file; real data sets are checked against stored digests.

import Foundation
import SAMTestSupport
import XCTest
@testable import SAMIO

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/images")

private struct Manifest: Decodable {
    struct Case: Decodable {
        var file: String
        var pillow_mode: String
        var width: Int
        var height: Int
        var rgb_sha256: String
        var labels_sha256: String
        var rgb_hex: String?
        var labels_hex: String?
    }
    struct Bad: Decodable {
        var file: String
        var kind: String
        var pillow_error: String
    }
    var pillow: String
    var cases: [Case]
    var bad: [Bad]
}

private func loadManifest() throws -> Manifest {
    let data = try Data(contentsOf: fixtures.appendingPathComponent("manifest.json"))
    return try JSONDecoder().decode(Manifest.self, from: data)
}

private func hexBytes(_ s: String) -> [UInt8] {
    var out = [UInt8]()
    var it = s.utf8.makeIterator()
    func nib(_ c: UInt8) -> UInt8 { c >= 97 ? c - 87 : c - 48 }
    while let a = it.next(), let b = it.next() { out.append(nib(a) << 4 | nib(b)) }
    return out
}

/// "first difference at byte i (pixel p, channel c): got x, Pillow y" or nil when equal.
private func firstDifference(_ got: [UInt8], _ want: [UInt8], channels: Int) -> String? {
    if got.count != want.count { return "got \(got.count) bytes, Pillow \(want.count)" }
    guard let i = zip(got, want).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset else { return nil }
    let diffs = zip(got, want).filter { $0 != $1 }.count
    return "\(diffs) bytes differ; first at byte \(i) (pixel \(i / channels), channel \(i % channels)): "
        + "got \(got[i]), Pillow \(want[i])"
}

final class ImageDecodeTests: XCTestCase {
    /// Every fixture variant: same size, RGB bytes and label values as Pillow.
    func testVariantsMatchPillow() throws {
        let m = try loadManifest()
        XCTAssertGreaterThanOrEqual(m.cases.count, 60)
        for c in m.cases {
            let path = fixtures.appendingPathComponent("variants/\(c.file)").path
            do {
                let img = try ImageReader.readRGB(path: path)
                XCTAssertEqual(img.width, c.width, c.file)
                XCTAssertEqual(img.height, c.height, c.file)
                if let hex = c.rgb_hex, let d = firstDifference(img.pixels, hexBytes(hex), channels: 3) {
                    XCTFail("\(c.file) (Pillow mode \(c.pillow_mode)) RGB: \(d)")
                }
                XCTAssertEqual(sha256Hex(img.pixels), c.rgb_sha256, "\(c.file) (Pillow mode \(c.pillow_mode)) RGB digest")

                let lab = try ImageReader.readLabels(path: path)
                XCTAssertEqual(lab.width, c.width, c.file)
                XCTAssertEqual(lab.height, c.height, c.file)
                if let hex = c.labels_hex, let d = firstDifference(lab.values, hexBytes(hex), channels: 1) {
                    XCTFail("\(c.file) (Pillow mode \(c.pillow_mode)) labels: \(d)")
                }
                XCTAssertEqual(sha256Hex(lab.values), c.labels_sha256, "\(c.file) (Pillow mode \(c.pillow_mode)) labels digest")
            } catch {
                XCTFail("\(c.file): \(error)")
            }
        }
    }

    /// The variants cover each format's cases named in the brief (guards against a fixture script regression).
    func testVariantCoverage() throws {
        let files = Set(try loadManifest().cases.map(\.file))
        for needed in ["png_gray1.png", "png_gray2.png", "png_gray4.png", "png_gray16.png", "png_rgb16.png", "png_la8.png",
                       "png_la16.png", "png_rgba16.png", "png_pal4.png", "png_pal8_trns.png", "png_rgb8_adam7.png",
                       "jpg_444.jpg", "jpg_422.jpg", "jpg_420.jpg", "jpg_420_progressive.jpg", "jpg_gray.jpg",
                       "jpg_cmyk.jpg", "bmp_pal4.bmp", "bmp_pillow_1.bmp", "bmp_rgb24_topdown.bmp", "bmp_bgrx32.bmp",
                       "bmp_rgb555.bmp", "bmp_rle8.bmp", "bmp_rle4.bmp"] {
            XCTAssertTrue(files.contains(needed), "fixture \(needed) missing from manifest.json")
        }
    }

    /// Files Pillow refuses (its error is in the manifest) must throw the matching ImageError, naming the file.
    func testBadFilesThrowNamingTheFile() throws {
        let m = try loadManifest()
        XCTAssertGreaterThanOrEqual(m.bad.count, 8)
        for b in m.bad {
            let path = fixtures.appendingPathComponent("bad/\(b.file)").path
            XCTAssertThrowsError(try ImageReader.readRGB(path: path), "\(b.file) (Pillow: \(b.pillow_error))") { error in
                guard let e = error as? ImageError else { return XCTFail("\(b.file): not an ImageError: \(error)") }
                XCTAssertEqual(e.path, path)
                XCTAssertTrue(e.description.contains(b.file), "message does not name the file: \(e)")
                let kind: String
                switch e {
                case .truncated: kind = "truncated"
                case .corrupt: kind = "corrupt"
                case .tooLarge: kind = "tooLarge"
                case .unknownFormat: kind = "unknownFormat"
                default: kind = "\(e)"
                }
                XCTAssertEqual(kind, b.kind, "\(b.file): \(e) (Pillow: \(b.pillow_error))")
            }
        }
    }

    /// A PNG header claiming 100000×100000 is refused from the header alone: no 30 GB buffer, and fast.
    func testHugeHeaderRefusedBeforeAllocating() {
        let path = fixtures.appendingPathComponent("bad/huge_100000x100000.png").path
        let start = Date()
        XCTAssertThrowsError(try ImageReader.readRGB(path: path)) { error in
            XCTAssertEqual(error as? ImageError, .tooLarge(path, width: 100_000, height: 100_000))
        }
        XCTAssertThrowsError(try ImageReader.readLabels(path: path))
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.0)
    }

    func testMissingFile() {
        let path = "/nonexistent/dir/image.png"
        XCTAssertThrowsError(try ImageReader.readRGB(path: path)) { error in
            XCTAssertEqual(error as? ImageError, .notFound(path))
            XCTAssertTrue("\(error)".contains(path))
        }
    }

    /// Every truncation of a good file either decodes as Pillow would (a JPEG missing only its EOI) or throws an
    /// ImageError — never crashes or aborts the process.
    func testAllPrefixesOfSmallFilesNeverCrash() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("samio-prefix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        for name in ["jpg_420.jpg", "jpg_420_progressive.jpg", "png_rgb8_adam7.png", "png_pal4.png", "bmp_rle8.bmp",
                     "bmp_pal4.bmp"] {
            let data = try Data(contentsOf: fixtures.appendingPathComponent("variants/\(name)"))
            let path = tmp.appendingPathComponent(name).path
            var failures = 0
            for cut in stride(from: 0, to: data.count, by: max(1, data.count / 41)) {
                try data.prefix(cut).write(to: URL(fileURLWithPath: path))
                do { _ = try ImageReader.readRGB(path: path) } catch is ImageError { failures += 1 }
            }
            XCTAssertGreaterThan(failures, 0, name)
        }
    }

    /// Real images and masks from ../shared/data against Pillow digests (Fixtures/images/shared_data_digests.tsv).
    /// By default two files of each data set's images and masks plus GrabCut's BMP and .JPG (EXIF, 4:2:2) images
    /// and DAVIS mask 195 (values 0..4 and 255); SAM_IMAGE_FULL=1 checks all 1,362 files (about 4 minutes in a
    /// debug build, where SHA-256 dominates).
    func testSharedDataMatchesPillow() throws {
        let sharedData = URL(fileURLWithPath: try Paths.requireShared("data"))
        let text = try String(contentsOf: fixtures.appendingPathComponent("shared_data_digests.tsv"), encoding: .utf8)
        let rows = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: "\t").map(String.init) }
        XCTAssertGreaterThan(rows.count, 1000)
        let full = ProcessInfo.processInfo.environment["SAM_IMAGE_FULL"] == "1"
        var perGroup: [String: Int] = [:]
        let chosen = rows.filter { r in
            if full { return true }
            let rel = r[4]
            let group = rel.components(separatedBy: "/").prefix(2).joined(separator: "/")
                + (rel.hasSuffix(".bmp") ? ".bmp" : rel.hasSuffix(".JPG") ? ".JPG" : "")
            perGroup[group, default: 0] += 1
            return perGroup[group]! <= 2 || rel == "DAVIS/masks/195.png"
        }
        var checked = 0
        for r in chosen {
            let (kind, w, h, digest, rel) = (r[0], Int(r[1])!, Int(r[2])!, r[3], r[4])
            let path = sharedData.appendingPathComponent(rel).path
            let bytes: [UInt8]
            let size: (Int, Int)
            if kind == "rgb" {
                let img = try ImageReader.readRGB(path: path)
                (bytes, size) = (img.pixels, (img.width, img.height))
            } else {
                let lab = try ImageReader.readLabels(path: path)
                (bytes, size) = (lab.values, (lab.width, lab.height))
            }
            XCTAssertTrue(size == (w, h), "\(rel): size \(size), Pillow \(w)x\(h)")
            XCTAssertEqual(String(sha256Hex(bytes).prefix(digest.count)), digest, "\(rel) (\(kind)) differs from Pillow")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, full ? rows.count : 20)
    }
}
