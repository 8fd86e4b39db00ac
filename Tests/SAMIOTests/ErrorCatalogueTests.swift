// The error catalogue (reports/robustness/README.md, "Error catalogue"; README "Errors and exit codes"): one test per error type of
// SAMIO, each from a real bad input, asserting that the one-line message names the file and the key, value or
// structure at fault — the message `sam` prints before exiting with status 3.
import Foundation
import SAMTensor
import SAMTestSupport
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
        // a safetensors entry of 65536 × 65536 elements whose data_offsets span nothing: refused on its shape
        let path = dir + "/huge_tensor.safetensors"
        var header = Data(#"{"w":{"dtype":"F32","shape":[65536,65536],"data_offsets":[0,0]}}"#.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var bytes = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(header)
        try bytes.write(to: URL(fileURLWithPath: path))
        assertMessage(try CheckpointReader.read(path: path), [path, "too large", "'w'", "[65536, 65536]"]) {
            if case IOError.tooLarge = $0 { return true } else { return false }
        }
    }

    /// A NaN in a float16 `.pth` storage (0x7E00 over the first element of tiny_module_fp16.pth's first storage):
    /// refused while it is widened, naming the file, the tensor and the element.
    func testNonFiniteNamesTheTensorAndTheElement() throws {
        var zip = try Data(contentsOf: URL(fileURLWithPath: CheckpointFixtures.path("tiny_module_fp16.pth")))
        let off = try XCTUnwrap(CheckpointWriter.storedEntryOffset(in: zip, nameEndingWith: "/data/0"))
        zip.replaceSubrange(off..<(off + 2), with: [0x00, 0x7E])
        let path = dir + "/nan_fp16.pth"
        try zip.write(to: URL(fileURLWithPath: path))
        assertMessage(try CheckpointReader.read(path: path), [path + ": ", ": weight nan at index [0", "is not finite"]) {
            if case IOError.nonFinite(_, _, index: 0, _, let v) = $0 { return v.isNaN } else { return false }
        }
        // an infinity in a float32 safetensors file
        let st = dir + "/inf.safetensors"
        try CheckpointWriter.writeSafetensors(["a.weight": Tensor(shape: [2, 3], data: [0, 1, 2, 3, .infinity, 5])], to: st)
        assertMessage(try CheckpointReader.read(path: st),
                      ["\(st): a.weight: weight inf at index [1, 1] of shape [2, 3] is not finite (a checkpoint's weights must be finite numbers)"]) {
            if case IOError.nonFinite(_, key: "a.weight", index: 4, shape: [2, 3], _) = $0 { return true } else { return false }
        }
    }

    /// A text file named .pth: neither format, said as such with the file's first bytes, instead of a "safetensors
    /// header length" made of its first eight letters.
    func testNotACheckpointSaysWhatTheFileIsNot() throws {
        let path = dir + "/notes.pth"
        try Data("This is a README, not weights.\n".utf8).write(to: URL(fileURLWithPath: path))
        assertMessage(try CheckpointReader.read(path: path),
                      ["\(path): not a checkpoint: neither a PyTorch zip checkpoint (no zip signature PK\\x03\\x04 at byte 0) nor safetensors "
                       + "(its first 8 bytes, read as a header length, give 2338328219631577172, over that format's 100000000-byte limit); "
                       + "the file begins \"This is a README\""]) {
            if case IOError.notACheckpoint = $0 { return true } else { return false }
        }
        // eight bytes announcing a header that is not JSON
        let odd = dir + "/odd.pth"
        try Data([4, 0, 0, 0, 0, 0, 0, 0] + Array("abcd".utf8)).write(to: URL(fileURLWithPath: odd))
        assertMessage(try CheckpointReader.read(path: odd), [odd, "nor safetensors (the header after the 8-byte length does not start with '{')",
                                                             "begins \"\\x04\\x00"]) {
            if case IOError.notACheckpoint = $0 { return true } else { return false }
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
        assertMessage(try ImageReader.readRGB(path: path), [path, "100000x100000", "exceeds the limits",
                                                            "Pillow's decompression-bomb error threshold)"]) {
            if case ImageError.tooLarge = $0 { return true } else { return false }
        }
        // the message `sam serve` answers 413 with: every parenthesis closed, at the default limit and another
        for limit in [ImageLimits.maxPixels, 1 << 20] {
            let saved = ImageLimits.maxPixels
            ImageLimits.maxPixels = limit
            defer { ImageLimits.maxPixels = saved }
            let m = ImageError.tooLarge("x.png", width: 100_000, height: 100_000).description
            XCTAssertEqual(m.filter { $0 == "(" }.count, m.filter { $0 == ")" }.count, m)
            XCTAssertTrue(m.hasSuffix(")"), m)
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
