// Tests of the safetensors path of CheckpointReader: F32/F16/BF16 values against safetensors.torch.save_file, and malformed headers.

import Foundation
import SAMIO
import SAMTensor
import XCTest

final class SafetensorsReaderTests: XCTestCase {
    func testValuesDTypesAndOrderMatchSaveFile() throws {
        let file = "tensors.safetensors"
        let got = try CheckpointReader.read(path: CheckpointFixtures.path(file))
        let want = try CheckpointFixtures.tensors(of: file)
        XCTAssertEqual(got.names, want.names, "names in data-offset order")
        XCTAssertEqual(Set(got.names), ["weight", "half", "brain", "scalar"], "__metadata__ must not appear as a tensor")
        for name in want.names {
            let w = try XCTUnwrap(want.tensors[name])
            let t = try XCTUnwrap(got[name])
            XCTAssertEqual(t.shape, w.shape, name)
            XCTAssertEqual(got.sourceDTypes[name], w.dtype, name)
            XCTAssertEqual(t.data.map(\.bitPattern), w.values.map(\.bitPattern), name)
        }
        XCTAssertEqual(got.sourceDTypes["half"], "float16")
        XCTAssertEqual(got.sourceDTypes["brain"], "bfloat16")
        XCTAssertEqual(got["scalar"], Tensor(shape: [], data: [-0.75]))
    }

    func testUnsupportedDTypeNamesTheKey() {
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_dtype.safetensors")), ["'labels'", "U8"]) {
            if case .unsupported = $0 { return true } else { return false }
        }
    }

    /// I64 tensors (index tables) are read as float32 when every value is exact there (|v| ≤ 2²⁴), refused otherwise.
    func testInt64ReadExactlyOrRefusedByName() throws {
        let got = try CheckpointReader.read(path: CheckpointFixtures.path("int64.safetensors"))
        XCTAssertEqual(got["idx"], Tensor(shape: [2, 2], data: [0, 1, -3, 16_777_216]))
        XCTAssertEqual(got.sourceDTypes["idx"], "int64")
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_int64_range.safetensors")), ["'n'", "int64", "16777216"]) {
            if case .unsupported = $0 { return true } else { return false }
        }
    }

    func testOffsetsBeyondDataNameTheKey() {
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_offsets.safetensors")), ["'w'", "data_offsets"]) {
            if case .truncated = $0 { return true } else { return false }
        }
    }

    func testHugeHeaderLengthIsRefused() {
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_header_length.safetensors")), ["bad_header_length.safetensors", "nor safetensors", "1099511627776"]) {
            // a header length over the format's limit: the file is said to be neither format
            if case .notACheckpoint = $0 { return true } else { return false }
        }
    }

    func testEveryTruncationThrows() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: CheckpointFixtures.path("tensors.safetensors")))
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("samio-st-trunc-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: tmp) }
        for cut in 0 ..< data.count {
            try data.prefix(cut).write(to: tmp)
            XCTAssertThrowsError(try CheckpointReader.read(path: tmp.path), "prefix of \(cut) bytes was accepted")
        }
    }
}
