// Tests of HDF5File: round trips of every type and attribute, atomic writes, files written by h5py, and error messages.

import Foundation
import SAMIO
import SAMTensor
import XCTest

final class HDF5FileTests: XCTestCase {
    private var tmpDir: URL!

    override func setUpWithError() throws {
        tmpDir = FileManager.default.temporaryDirectory.appendingPathComponent("samio-h5-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmpDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: tmpDir)
    }

    private func tmp(_ name: String) -> String { tmpDir.appendingPathComponent(name).path }

    func testRoundTripAllTypesAndAttributes() throws {
        let path = tmp("round.h5")
        let t = Tensor(shape: [2, 3, 4], data: (0..<24).map { Float($0) * 0.37 - 3 })
        let big = Tensor(shape: [64, 50], data: (0..<3200).map { sin(Float($0)) })
        let f = try HDF5File.create(path: path)
        try f.write("inputs/image_embedding", t)
        try f.write("image_encoder.blocks.3.attn", big, gzip: true)
        try f.write("mask_decoder:0", Tensor(shape: [], data: [2.5]))
        try f.write("empty", Tensor(shape: [0, 4], data: []))
        try f.writeUInt8("inputs/image", shape: [2, 2, 3], (0..<12).map { UInt8($0 * 20) })
        try f.writeInt64("labels", shape: [3], [-7, 0, Int64(1) << 40])
        try f.setAttribute("model", "vit_tiny")
        try f.setAttribute("unicode", "µ-naïve ✓")
        try f.setAttribute("n", 1234567890123)
        try f.setAttribute("n", -5)  // replaces
        try f.setAttribute("layout", "HWC", on: "inputs/image")
        try f.setAttribute("depth", 6, on: "inputs")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "the file must only appear on close()")
        try f.close()
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(path).tmp-\(getpid())"))

        let r = try HDF5File.open(path: path)
        defer { try? r.close() }
        XCTAssertEqual(try r.readTensor("inputs/image_embedding"), t)
        XCTAssertEqual(try r.readTensor("image_encoder.blocks.3.attn"), big)
        XCTAssertEqual(try r.readTensor("mask_decoder:0"), Tensor(shape: [], data: [2.5]))
        XCTAssertEqual(try r.readTensor("empty").shape, [0, 4])
        let img = try r.readUInt8("inputs/image")
        XCTAssertEqual(img.shape, [2, 2, 3])
        XCTAssertEqual(img.values, (0..<12).map { UInt8($0 * 20) })
        let labels = try r.readInt64("labels")
        XCTAssertEqual(labels.shape, [3])
        XCTAssertEqual(labels.values, [-7, 0, Int64(1) << 40])
        XCTAssertEqual(try r.readTensor("labels").data, [-7, 0, Float(1 << 40)])
        XCTAssertEqual(try r.shape(of: "image_encoder.blocks.3.attn"), [64, 50])
        XCTAssertEqual(try r.datasetNames(), ["empty", "image_encoder.blocks.3.attn", "inputs/image", "inputs/image_embedding", "labels", "mask_decoder:0"])
        XCTAssertTrue(r.contains("inputs/image"))
        XCTAssertFalse(r.contains("inputs"), "a group is not a dataset")
        XCTAssertFalse(r.contains("nope/deeper"))
        XCTAssertEqual(r.stringAttribute("model"), "vit_tiny")
        XCTAssertEqual(r.stringAttribute("unicode"), "µ-naïve ✓")
        XCTAssertEqual(r.intAttribute("n"), -5)
        XCTAssertEqual(r.stringAttribute("layout", on: "inputs/image"), "HWC")
        XCTAssertEqual(r.intAttribute("depth", on: "inputs"), 6)
        XCTAssertNil(r.stringAttribute("n"), "an int attribute is not a string")
        XCTAssertNil(r.intAttribute("model"), "a string attribute is not an int")
        XCTAssertNil(r.intAttribute("absent"))
        XCTAssertNil(r.stringAttribute("layout", on: "no/such/object"))
    }

    func testReadsFilesWrittenByH5py() throws {
        let path = CheckpointFixtures.path("h5py_fixture.h5")
        let want = try XCTUnwrap(CheckpointFixtures.expected["h5py_fixture.h5"] as? [String: [Double]])
        let f = try HDF5File.open(path: path)
        defer { try? f.close() }
        let labels = try f.readInt64("inputs/labels")
        XCTAssertEqual(labels.shape, [4])
        XCTAssertEqual(labels.values, [-3, 0, 7, 1 << 40])
        let img = try f.readUInt8("inputs/image")
        XCTAssertEqual(img.shape, [2, 3, 3])
        XCTAssertEqual(img.values.map { Double($0) }, want["inputs/image"])
        let feats = try f.readTensor("image_encoder.blocks.0")  // gzip-compressed by h5py
        XCTAssertEqual(feats.shape, [2, 3, 4])
        XCTAssertEqual(feats.data, try XCTUnwrap(want["image_encoder.blocks.0"]).map { Float($0) })
        XCTAssertEqual(try f.readTensor("mask_decoder:0").data, try XCTUnwrap(want["mask_decoder:0"]).map { Float($0) })
        XCTAssertEqual(try f.readTensor("counts_int32"), Tensor(shape: [2, 2], data: [1, -2, 300, 4]))
        XCTAssertEqual(try f.readInt64("counts_int32").values, [1, -2, 300, 4])
        XCTAssertEqual(try f.readUInt8("mask_bool").values, [1, 0, 0, 1], "numpy bools are an enum over int8")
        XCTAssertEqual(try f.readTensor("mask_bool").data, [1, 0, 0, 1])
        assertIOError(try f.readUInt8("counts_int32"), ["counts_int32", "-2", "outside uint8"]) {
            if case .unsupported = $0 { return true } else { return false }
        }
        XCTAssertEqual(try f.datasetNames(), ["counts_int32", "image_encoder.blocks.0", "inputs/image", "inputs/labels", "mask_bool", "mask_decoder:0"])
        XCTAssertEqual(f.stringAttribute("model"), "vit_tiny")
        XCTAssertEqual(f.stringAttribute("fixed"), "fixed-len", "fixed-length string attribute")
        XCTAssertEqual(f.intAttribute("n_images"), 42)
        XCTAssertEqual(f.intAttribute("small"), -5)
        XCTAssertEqual(f.intAttribute("flag"), 1, "numpy bool attribute")
        XCTAssertEqual(f.intAttribute("u16"), 65535)
        XCTAssertNil(f.intAttribute("ratio"), "a float attribute is not an int")
        XCTAssertEqual(f.stringAttribute("layout", on: "inputs/image"), "HWC")
        XCTAssertEqual(f.intAttribute("count", on: "inputs"), 3)
        XCTAssertEqual(f.intAttribute("count", on: "/inputs"), 3)
    }

    func testMissingDatasetIsNamed() throws {
        let f = try HDF5File.open(path: CheckpointFixtures.path("h5py_fixture.h5"))
        defer { try? f.close() }
        assertIOError(try f.readTensor("image_encoder.blocks.7"), ["image_encoder.blocks.7", "h5py_fixture.h5"]) {
            if case .missingDataset(_, "image_encoder.blocks.7") = $0 { return true } else { return false }
        }
        assertIOError(try f.readInt64("inputs/nothing/here"), ["inputs/nothing/here"]) {
            if case .missingDataset = $0 { return true } else { return false }
        }
        assertIOError(try f.shape(of: "inputs"), ["inputs"]) {
            if case .missingDataset = $0 { return true } else { return false }
        }
    }

    func testOpenErrors() throws {
        assertIOError(try HDF5File.open(path: tmp("absent.h5")), ["absent.h5"]) {
            if case .fileNotFound = $0 { return true } else { return false }
        }
        assertIOError(try HDF5File.open(path: CheckpointFixtures.path("views.pth")), ["views.pth", "not an HDF5 file"]) {
            if case .corrupt = $0 { return true } else { return false }
        }
        assertIOError(try HDF5File.create(path: tmp("no/such/dir/x.h5")), ["x.h5"]) {
            if case .hdf5 = $0 { return true } else { return false }
        }
    }

    func testWriteErrorsAndAbandonedWriterLeavesNothing() throws {
        let path = tmp("failed.h5")
        do {
            let f = try HDF5File.create(path: path)
            try f.write("a", Tensor(shape: [2], data: [1, 2]))
            assertIOError(try f.write("a", Tensor(shape: [1], data: [3])), ["'a'", "already exists"]) {
                if case .hdf5 = $0 { return true } else { return false }
            }
            assertIOError(try f.writeInt64("b", shape: [2, 2], [1, 2, 3]), ["'b'", "[2, 2]"]) {
                if case .hdf5 = $0 { return true } else { return false }
            }
            assertIOError(try f.write("bad//name", Tensor(shape: [1], data: [0])), ["bad//name"]) {
                if case .hdf5 = $0 { return true } else { return false }
            }
            // Released without close() after an error: the temporary file is removed and nothing appears.
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(path).tmp-\(getpid())"))
    }

    func testWriterReleasedWithoutCloseCommitsWhenNothingFailed() throws {
        let path = tmp("released.h5")
        do {
            let f = try HDF5File.create(path: path)
            try f.write("x", Tensor(shape: [2], data: [4, 5]))
            XCTAssertFalse(f.contains("bad//name"), "a lookup is not a failed write")
            XCTAssertFalse(f.contains("missing"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(path).tmp-\(getpid())"))
        let r = try HDF5File.open(path: path)
        XCTAssertEqual(try r.readTensor("x").data, [4, 5])
        try r.close()
    }

    func testReadOnlyFileRefusesWrites() throws {
        let path = tmp("ro.h5")
        let w = try HDF5File.create(path: path)
        try w.write("x", Tensor(shape: [1], data: [1]))
        try w.close()
        try w.close()  // idempotent
        let r = try HDF5File.open(path: path)
        defer { try? r.close() }
        XCTAssertThrowsError(try r.write("y", Tensor(shape: [1], data: [1])))
        XCTAssertThrowsError(try r.setAttribute("k", 1))
        XCTAssertEqual(try r.readTensor("x").data, [1])
    }
}
