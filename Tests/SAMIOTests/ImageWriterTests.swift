// Tests of ImageWriter: PNG round trips through ImageReader for every channel count, atomic writes leave no
// temporary file, and bad arguments or unwritable paths throw ImageError.writeFailed naming the file.

import Foundation
import XCTest
@testable import SAMIO

final class ImageWriterTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("samio-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    private func pattern(_ n: Int, seed: Int) -> [UInt8] {
        (0..<n).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761 &+ seed &* 40503) >> 13) }
    }

    func testRoundTripEveryChannelCount() throws {
        let (w, h) = (17, 5)
        for channels in [1, 2, 3, 4] {
            let pixels = pattern(w * h * channels, seed: channels)
            let path = dir.appendingPathComponent("c\(channels).png").path
            try ImageWriter.writePNG(path: path, width: w, height: h, channels: channels, pixels: pixels)
            let rgb = try ImageReader.readRGB(path: path)
            XCTAssertEqual(rgb.width, w)
            XCTAssertEqual(rgb.height, h)
            let expected: [UInt8] = (0..<(w * h)).flatMap { i -> [UInt8] in
                switch channels {
                case 1: return [pixels[i], pixels[i], pixels[i]]
                case 2: return [pixels[2 * i], pixels[2 * i], pixels[2 * i]]
                default: return Array(pixels[(channels * i)..<(channels * i + 3)])
                }
            }
            XCTAssertEqual(rgb.pixels, expected, "channels \(channels)")
            if channels == 1 {
                XCTAssertEqual(try ImageReader.readLabels(path: path).values, pixels)
            }
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(left, [], "temporary files left behind")
    }

    func testOverwriteReplacesWholeFile() throws {
        let path = dir.appendingPathComponent("mask.png").path
        try ImageWriter.writePNG(path: path, width: 300, height: 200, channels: 3, pixels: pattern(300 * 200 * 3, seed: 1))
        try ImageWriter.writePNG(path: path, width: 2, height: 1, channels: 1, pixels: [7, 9])
        let lab = try ImageReader.readLabels(path: path)
        XCTAssertEqual(lab.width, 2)
        XCTAssertEqual(lab.values, [7, 9])
    }

    func testEncodeInMemoryStartsWithSignature() throws {
        let png = try ImageWriter.encodePNG(width: 3, height: 2, channels: 4, pixels: pattern(24, seed: 3))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

    func testBadArgumentsThrow() {
        let path = dir.appendingPathComponent("bad.png").path
        XCTAssertThrowsError(try ImageWriter.writePNG(path: path, width: 2, height: 2, channels: 5, pixels: [UInt8](repeating: 0, count: 20)))
        XCTAssertThrowsError(try ImageWriter.writePNG(path: path, width: 2, height: 2, channels: 3, pixels: [1, 2, 3])) { e in
            XCTAssertEqual((e as? ImageError)?.path, path)
        }
        XCTAssertThrowsError(try ImageWriter.writePNG(path: path, width: 0, height: 2, channels: 1, pixels: []))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testUnwritableDirectoryThrowsNamingFile() throws {
        // The parent "directory" is a regular file, so neither it nor the PNG can be created.
        let blocker = dir.appendingPathComponent("plain-file")
        try Data([1]).write(to: blocker)
        let path = blocker.appendingPathComponent("out.png").path
        XCTAssertThrowsError(try ImageWriter.writePNG(path: path, width: 1, height: 1, channels: 1, pixels: [0])) { e in
            guard case .writeFailed(let p, _)? = e as? ImageError else { return XCTFail("\(e)") }
            XCTAssertEqual(p, path)
        }
    }
}
