// The error catalogue (reports/robustness/bad_inputs.md, README "Errors and exit codes"): one test per error type of
// SAMIO, each from a real bad input, asserting that the one-line message names the file and the key, value or
// structure at fault — the message `sam` prints before exiting with status 3.
import Foundation
import SAMTensor
import XCTest
@testable import SAMIO

final class ErrorCatalogueTests: XCTestCase {
    private var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "samio-catalogue-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    private let images = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/images").path

    /// Asserts `body` throws an error whose description contains every string of `mentions`.
    private func assertMessage<T>(_ body: @autoclosure () throws -> T, _ mentions: [String], file: StaticString = #filePath,
                                  line: UInt = #line, kind: (Error) -> Bool) {
        do {
            _ = try body()
            XCTFail("no error; expected one mentioning \(mentions)", file: file, line: line)
        } catch {
            XCTAssertTrue(kind(error), "unexpected error kind: \(error)", file: file, line: line)
            let text = "\(error)"
            for m in mentions { XCTAssertTrue(text.contains(m), "'\(text)' does not mention '\(m)'", file: file, line: line) }
        }
    }

    // MARK: IOError (checkpoints, HDF5)

    func testFileNotFoundNamesThePath() {
        assertMessage(try CheckpointReader.read(path: "/nonexistent/sam_vit_b.pth"), ["/nonexistent/sam_vit_b.pth", "not found"]) {
            if case IOError.fileNotFound = $0 { return true } else { return false }
        }
    }

    func testTruncatedNamesTheFileAndWhatIsCut() throws {
        let src = try Data(contentsOf: URL(fileURLWithPath: CheckpointFixtures.path("tiny_module_fp32.pth")))
        let path = dir + "/half.pth"
        try src.prefix(src.count / 2).write(to: URL(fileURLWithPath: path))
        assertMessage(try CheckpointReader.read(path: path), [path, "truncated", "end-of-central-directory"]) {
            if case IOError.truncated = $0 { return true } else { return false }
        }
    }

    func testCorruptNamesTheFileAndTheStructure() {
        let path = CheckpointFixtures.path("bad_central_directory.pth")
        assertMessage(try CheckpointReader.read(path: path), [path, "corrupt", "central directory"]) {
            if case IOError.corrupt = $0 { return true } else { return false }
        }
    }

    func testForbiddenGlobalNamesTheGlobal() {
        let path = CheckpointFixtures.path("bad_forbidden_global.pth")
        assertMessage(try CheckpointReader.read(path: path), [path, "'posix.system'", "nothing was executed"]) {
            if case IOError.forbiddenGlobal(_, module: "posix", name: "system") = $0 { return true } else { return false }
        }
    }

    func testUnsupportedNamesTheEntry() {
        let path = CheckpointFixtures.path("bad_deflated.pth")
        assertMessage(try CheckpointReader.read(path: path), [path, "unsupported", "zip entry '", "compressed"]) {
            if case IOError.unsupported = $0 { return true } else { return false }
        }
    }

    func testTooLargeNamesTheClaimedSize() throws {
        let path = dir + "/huge_header.safetensors"
        var bytes = withUnsafeBytes(of: UInt64(1_000_000_000_000).littleEndian) { Array($0) }
        bytes += Array("{}".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        assertMessage(try CheckpointReader.read(path: path), [path, "too large", "1000000000000"]) {
            if case IOError.tooLarge = $0 { return true } else { return false }
        }
    }

    func testMissingDatasetNamesTheDataset() throws {
        let path = CheckpointFixtures.path("h5py_fixture.h5")
        let f = try HDF5File.open(path: path)
        defer { try? f.close() }
        assertMessage(try f.readTensor("mask_decoder.nothing"), [path, "'mask_decoder.nothing'"]) {
            if case IOError.missingDataset = $0 { return true } else { return false }
        }
    }

    func testHDF5ErrorNamesTheFile() {
        let path = dir + "/no/such/folder/out.h5"
        assertMessage(try HDF5File.create(path: path), [path, "HDF5 error"]) {
            if case IOError.hdf5 = $0 { return true } else { return false }
        }
    }

    // MARK: ImageError

    func testImageNotFoundNamesThePath() {
        assertMessage(try ImageReader.readRGB(path: "/nonexistent/photo.jpg"), ["/nonexistent/photo.jpg", "not found"]) {
            if case ImageError.notFound = $0 { return true } else { return false }
        }
    }

    func testUnknownFormatNamesThePath() {
        let path = images + "/bad/not_an_image.png"
        assertMessage(try ImageReader.readRGB(path: path), [path, "unknown image format"]) {
            if case ImageError.unknownFormat = $0 { return true } else { return false }
        }
    }

    func testTruncatedImageNamesTheFileAndTheDecodersWords() {
        let path = images + "/bad/truncated.png"
        assertMessage(try ImageReader.readRGB(path: path), [path, "truncated", "libpng"]) {
            if case ImageError.truncated = $0 { return true } else { return false }
        }
    }

    func testCorruptImageNamesTheFileAndTheDecodersWords() {
        let path = images + "/bad/bad_ihdr_crc.png"
        assertMessage(try ImageReader.readRGB(path: path), [path, "corrupt image", "libpng"]) {
            if case ImageError.corrupt = $0 { return true } else { return false }
        }
    }

    func testTooLargeImageNamesTheClaimedSize() {
        let path = images + "/bad/huge_100000x100000.png"
        assertMessage(try ImageReader.readRGB(path: path), [path, "100000x100000", "exceeds the limits"]) {
            if case ImageError.tooLarge = $0 { return true } else { return false }
        }
    }

    func testUnsupportedVariantNamesTheField() {
        // A BMP whose info header claims 20 bytes (no such BMP header exists).
        var bmp: [UInt8] = [0x42, 0x4D] + [UInt8](repeating: 0, count: 12) + [20, 0, 0, 0] + [UInt8](repeating: 0, count: 40)
        bmp[10] = 54
        assertMessage(try ImageReader.decode(data: bmp, path: "odd.bmp"), ["odd.bmp", "unsupported image variant", "BMP header of 20 bytes"]) {
            if case ImageError.unsupportedVariant = $0 { return true } else { return false }
        }
    }

    func testWriteFailedNamesTheDestination() {
        let path = dir + "/mask.png"
        assertMessage(try ImageWriter.writePNG(path: path, width: 2, height: 2, channels: 5, pixels: [UInt8](repeating: 0, count: 20)),
                      [path, "cannot write image", "channels"]) {
            if case ImageError.writeFailed = $0 { return true } else { return false }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing is left at the final name")
    }
}
