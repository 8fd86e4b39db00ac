// Tests of CheckpointReader on torch.save fixtures (state_dict, views, protocol 4), malformed files and the shared demo checkpoints.

import Foundation
import SAMIO
import SAMTensor
import SAMTestSupport
import XCTest

/// Fixture files made by `Fixtures/checkpoints/make_fixtures.py`, and the exact values it recorded in `expected.json`.
enum CheckpointFixtures {
    static let testsDirectory = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
    static let packageRoot = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
    static let directory = testsDirectory.appendingPathComponent("Fixtures/checkpoints")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static let expected: [String: Any] = {
        guard let data = FileManager.default.contents(atPath: path("expected.json")),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return json
    }()

    struct ExpectedTensor {
        var shape: [Int]
        var dtype: String
        var values: [Float]
    }

    /// The names (in order) and tensors recorded for a checkpoint fixture.
    static func tensors(of file: String) throws -> (names: [String], tensors: [String: ExpectedTensor]) {
        let entry = try XCTUnwrap(expected[file] as? [String: Any], "expected.json lacks \(file)")
        let names = try XCTUnwrap(entry["names"] as? [String])
        let raw = try XCTUnwrap(entry["tensors"] as? [String: [String: Any]])
        var out: [String: ExpectedTensor] = [:]
        for (k, v) in raw {
            let shape = try XCTUnwrap(v["shape"] as? [Int])
            let dtype = try XCTUnwrap(v["dtype"] as? String)
            let values = try XCTUnwrap(v["values"] as? [Double]).map { Float($0) }
            out[k] = ExpectedTensor(shape: shape, dtype: dtype, values: values)
        }
        return (names, out)
    }
}

/// Asserts that `body` throws an `IOError` for which `matches` holds and whose description contains each of `mentions`.
func assertIOError<T>(_ body: @autoclosure () throws -> T, _ mentions: [String], file: StaticString = #filePath, line: UInt = #line,
                      matches: (IOError) -> Bool) {
    do {
        _ = try body()
        XCTFail("expected an IOError mentioning \(mentions), got success", file: file, line: line)
    } catch let e as IOError {
        XCTAssertTrue(matches(e), "unexpected IOError case: \(e)", file: file, line: line)
        for m in mentions {
            XCTAssertTrue(e.description.contains(m), "error '\(e.description)' does not mention '\(m)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected an IOError, got \(error)", file: file, line: line)
    }
}

final class CheckpointReaderTests: XCTestCase {
    /// Reads `file` and compares names, order, shapes, source dtypes and every value bit for bit with expected.json.
    private func checkAgainstExpected(_ file: String, line: UInt = #line) throws {
        let got = try CheckpointReader.read(path: CheckpointFixtures.path(file))
        let want = try CheckpointFixtures.tensors(of: file)
        XCTAssertEqual(got.names, want.names, "names/order of \(file)", line: line)
        XCTAssertEqual(Set(got.tensors.keys), Set(want.names), line: line)
        for name in want.names {
            let w = try XCTUnwrap(want.tensors[name])
            let t = try XCTUnwrap(got[name], "\(file): missing \(name)", line: line)
            XCTAssertEqual(t.shape, w.shape, "\(file): shape of \(name)", line: line)
            XCTAssertEqual(got.sourceDTypes[name], w.dtype, "\(file): dtype of \(name)", line: line)
            XCTAssertEqual(t.data.count, w.values.count, line: line)
            let mismatch = zip(t.data, w.values).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern }
            XCTAssertNil(mismatch, "\(file): \(name) differs at flat index \(mismatch?.offset ?? -1): \(String(describing: mismatch?.element))", line: line)
        }
    }

    func testStateDictFloat32() throws {
        try checkAgainstExpected("tiny_module_fp32.pth")
        let f = try CheckpointReader.read(path: CheckpointFixtures.path("tiny_module_fp32.pth"))
        XCTAssertEqual(f.names, ["conv.weight", "conv.bias", "norm.weight", "norm.bias", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight"])
        XCTAssertEqual(f["conv.weight"]?.shape, [3, 2, 3, 3])
    }

    func testStateDictFloat16WidenedExactly() throws {
        try checkAgainstExpected("tiny_module_fp16.pth")
        let f = try CheckpointReader.read(path: CheckpointFixtures.path("tiny_module_fp16.pth"))
        XCTAssertTrue(f.sourceDTypes.values.allSatisfy { $0 == "float16" })
        // Every value is representable in float16: converting back must not change it.
        for t in f.tensors.values { XCTAssertTrue(t.data.allSatisfy { Float(Float16($0)) == $0 }) }
    }

    func testNonContiguousViewsScalarsEmptyAndBFloat16() throws {
        try checkAgainstExpected("views.pth")
        let f = try CheckpointReader.read(path: CheckpointFixtures.path("views.pth"))
        // Literal spot checks independent of the sidecar: base = arange(24)·0.25 − 1 as 4×6.
        XCTAssertEqual(f["transposed"]?.shape, [6, 4])
        XCTAssertEqual(Array(f["transposed"]!.data.prefix(4)), [-1.0, 0.5, 2.0, 3.5])
        XCTAssertEqual(f["stepped"]?.data, [-1.0, -0.25, 2.0, 2.75])
        XCTAssertEqual(f["expanded"]?.data, [1.5, -2.0, 3.25, 1.5, -2.0, 3.25])
        XCTAssertEqual(f["scalar"]?.shape, [])
        XCTAssertEqual(f["scalar"]?.data, [3.5])
        XCTAssertEqual(f["empty"]?.shape, [0, 3])
        XCTAssertEqual(f.sourceDTypes["bf16"], "bfloat16")
        XCTAssertEqual(f.sourceDTypes["fp16_transposed"], "float16")
    }

    func testPickleProtocol4() throws {
        try checkAgainstExpected("views_proto4.pth")
    }

    func testZip64RecordsAndExtraFields() throws {
        try checkAgainstExpected("views_zip64.pth")
    }

    func testHandmadeStridedView() throws {
        // Storage [1…6], offset 1, size (2,2), stride (1,2) → [[2,4],[3,5]].
        let f = try CheckpointReader.read(path: CheckpointFixtures.path("handmade_strided.pth"))
        XCTAssertEqual(f.names, ["w"])
        XCTAssertEqual(f["w"], Tensor(shape: [2, 2], data: [2, 4, 3, 5]))
    }

    func testForbiddenGlobalIsRefusedAndNothingRuns() throws {
        let marker = "/tmp/samio_forbidden_global_marker"
        try? FileManager.default.removeItem(atPath: marker)
        let path = CheckpointFixtures.path("bad_forbidden_global.pth")
        assertIOError(try CheckpointReader.read(path: path), ["posix.system", "bad_forbidden_global.pth"]) {
            if case .forbiddenGlobal(_, "posix", "system") = $0 { return true } else { return false }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the forbidden pickle was executed")
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_forbidden_stack_global.pth")), ["builtins.eval"]) {
            if case .forbiddenGlobal(_, "builtins", "eval") = $0 { return true } else { return false }
        }
    }

    func testTruncatedZip() {
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_truncated.pth")), ["bad_truncated.pth"]) {
            if case .truncated = $0 { return true } else { return false }
        }
    }

    func testCorruptCentralDirectory() {
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_central_directory.pth")), ["bad_central_directory.pth", "central directory"]) {
            if case .corrupt = $0 { return true } else { return false }
        }
    }

    func testEntryLargerThanFile() {
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_oversized_entry.pth")), ["data/0"]) {
            if case .truncated = $0 { return true } else { return false }
        }
    }

    func testCompressedEntryUnsupported() {
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_deflated.pth")), ["compressed"]) {
            if case .unsupported = $0 { return true } else { return false }
        }
    }

    func testTopLevelMustBeDictOfTensors() {
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_not_a_dict.pth")), ["list"]) {
            if case .corrupt = $0 { return true } else { return false }
        }
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_nested_other.pth")), ["'state'", "not a tensor"]) {
            if case .corrupt = $0 { return true } else { return false }
        }
    }

    /// SAM 2's official layout, `{"model": state_dict}`, and a training file with more entries beside "model": the
    /// state dict under "model" is what is read; likewise EfficientViT-SAM's `{"state_dict": state_dict}`.
    func testStateDictUnderModel() throws {
        for name in ["bad_nested_dict.pth", "model_with_extras.pth", "state_dict_wrapped.pth"] {
            let f = try CheckpointReader.read(path: CheckpointFixtures.path(name))
            XCTAssertEqual(Array(f.tensors.keys), ["w"], name)
            XCTAssertEqual(f.tensors["w"]?.data, [1, 1], name)
        }
    }

    /// torch.LongStorage (BatchNorm's num_batches_tracked, TinyViT's attention_bias_idxs) is read as float32 when
    /// exact; a value beyond 2²⁴ is refused naming the key.
    func testInt64StoragesFromPyTorch() throws {
        let got = try CheckpointReader.read(path: CheckpointFixtures.path("int64.pth"))
        XCTAssertEqual(got["bn.num_batches_tracked"], Tensor(shape: [], data: [7]))
        XCTAssertEqual(got["attn.attention_bias_idxs"], Tensor(shape: [2, 2], data: [0, 1, 2, -3]))
        XCTAssertEqual(got["bn.weight"], Tensor(shape: [2], data: [1.5, -2]))
        XCTAssertEqual(got.sourceDTypes["bn.num_batches_tracked"], "int64")
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_int64_range.pth")), ["'n'", "int64"]) {
            if case .unsupported = $0 { return true } else { return false }
        }
    }

    func testViewOutsideStorage() {
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_view_out_of_range.pth")), ["'w'", "storage of 4"]) {
            if case .corrupt = $0 { return true } else { return false }
        }
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_storage_short.pth")), ["'w'", "100"]) {
            if case .truncated = $0 { return true } else { return false }
        }
    }

    func testTruncatedPickleString() {
        assertIOError(try CheckpointReader.read(path: CheckpointFixtures.path("bad_pickle_truncated.pth")), ["1000 bytes"]) {
            if case .truncated = $0 { return true } else { return false }
        }
    }

    func testMissingAndEmptyFiles() throws {
        assertIOError(try CheckpointReader.read(path: "/nonexistent/dir/model.pth"), ["/nonexistent/dir/model.pth"]) {
            if case .fileNotFound = $0 { return true } else { return false }
        }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("samio-empty-\(getpid()).pth").path
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: empty) }
        assertIOError(try CheckpointReader.read(path: empty), ["samio-empty"]) {
            if case .truncated = $0 { return true } else { return false }
        }
    }

    /// Every prefix of a valid checkpoint must be refused with an error, never crash.
    func testEveryTruncationOfAValidFileThrows() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: CheckpointFixtures.path("views.pth")))
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("samio-trunc-\(getpid()).pth")
        defer { try? FileManager.default.removeItem(at: tmp) }
        for cut in stride(from: 0, to: data.count, by: 97) {
            try data.prefix(cut).write(to: tmp)
            XCTAssertThrowsError(try CheckpointReader.read(path: tmp.path), "prefix of \(cut) bytes was accepted")
        }
    }

    /// Flipping any single byte of the pickle must give an error or a result, never a crash.
    func testPickleByteFlipsNeverCrash() throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: CheckpointFixtures.path("views.pth")))
        let pklStart = try XCTUnwrap(data.range(of: Data([0x80, 0x02, 0x7D]))).lowerBound
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("samio-flip-\(getpid()).pth")
        defer { try? FileManager.default.removeItem(at: tmp) }
        var failures = 0
        for i in pklStart ..< pklStart + 400 {
            let old = data[i]
            data[i] = old ^ 0xFF
            try data.write(to: tmp)
            do { _ = try CheckpointReader.read(path: tmp.path) } catch is IOError { failures += 1 }
            data[i] = old
        }
        XCTAssertGreaterThan(failures, 100)
    }

    /// Flipping any byte of the central directory and end records must give an error or a result, never a crash.
    func testCentralDirectoryByteFlipsNeverCrash() throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: CheckpointFixtures.path("views_zip64.pth")))
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("samio-cdflip-\(getpid()).pth")
        defer { try? FileManager.default.removeItem(at: tmp) }
        var failures = 0
        for i in data.count - 1200 ..< data.count {
            let old = data[i]
            data[i] = old ^ 0xA5
            try data.write(to: tmp)
            do { _ = try CheckpointReader.read(path: tmp.path) } catch is IOError { failures += 1 }
            data[i] = old
        }
        XCTAssertGreaterThan(failures, 300)
    }

    // MARK: - The shared demo checkpoints

    func testSharedDemoCheckpointsAgree() throws {
        let fp32 = try CheckpointReader.read(path: try Paths.requireShared("checkpoints/sam_demo_tiny.pth"))
        let fp16 = try CheckpointReader.read(path: Paths.bundledDemoCheckpoint)
        XCTAssertEqual(fp32.names.count, 230)
        XCTAssertEqual(fp32.names, fp16.names)
        XCTAssertEqual(fp32.names.first, "image_encoder.pos_embed")
        XCTAssertEqual(fp32["image_encoder.patch_embed.proj.weight"]?.shape, [192, 3, 16, 16])
        XCTAssertEqual(fp32["image_encoder.pos_embed"]?.shape, [1, 64, 64, 192])
        XCTAssertEqual(fp32["prompt_encoder.point_embeddings.0.weight"]?.shape, [1, 256])
        XCTAssertEqual(fp32["mask_decoder.iou_prediction_head.layers.2.bias"]?.data,
                       [0.054290771484375, -0.037872314453125, 0.043914794921875, -0.053741455078125])
        XCTAssertEqual(Array(fp32["image_encoder.patch_embed.proj.weight"]!.data.prefix(3)),
                       [-0.005275726318359375, 0.01454925537109375, -0.034271240234375])
        XCTAssertTrue(fp32.sourceDTypes.values.allSatisfy { $0 == "float32" })
        XCTAssertTrue(fp16.sourceDTypes.values.allSatisfy { $0 == "float16" })
        for name in fp32.names {
            XCTAssertEqual(fp32[name], fp16[name], "\(name) differs between the fp32 and fp16 checkpoints")
        }
    }
}
