// `sam segment` end to end on the tiny reference model (fast): the --prompts folder layout, and bad inputs with
// their messages and exit status (3 bad input; command-line errors are ArgumentParser's, see below).
import Foundation
import SAMInference
import SAMIO
import SAMTestSupport
import XCTest

final class SegmentCommandTests: XCTestCase {
    var ckpt: String { Paths.fixture("reference/tiny_random.pth") }
    var image: String { Paths.fixture("reference/image_small.png") }
    var base: [String] { ["segment", "--checkpoint", ckpt, "--image", image] }

    typealias Result = SegmentResultFile

    func result(_ dir: String) throws -> Result {
        try JSONDecoder().decode(Result.self, from: Data(contentsOf: URL(fileURLWithPath: (dir as NSString).appendingPathComponent("result.json"))))
    }

    /// Prompts of different shapes are decoded in separate batches; each result must land in the folder of its index,
    /// with its own multimask setting, and equal a single `sam segment` call with that prompt.
    func testPromptsFileFoldersAndBatches() throws {
        let dir = try temporaryFolder(self)
        let json = """
            [{"points": [[64, 80]]},
             {"box": [30, 28, 99, 159], "multimask": false},
             {"points": [[64, 80], [10, 20]], "labels": [1, 0]},
             {"points": [[20, 30]], "multimask": false},
             {"points": [[100, 150], [5, 5]], "labels": [1, 1], "box": [0, 0, 120, 160]},
             {"points": [[60, 60]]}]
            """
        let pj = (dir as NSString).appendingPathComponent("prompts.json")
        try Data(json.utf8).write(to: URL(fileURLWithPath: pj))
        let out = (dir as NSString).appendingPathComponent("out")
        let r = try runSam(base + ["--prompts", pj, "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let specs = try PromptFile.read(path: pj)
        for (i, spec) in specs.enumerated() {
            let res = try result((out as NSString).appendingPathComponent("\(i)"))
            let multimask = spec.multimask ?? true
            XCTAssertEqual(res.multimask, multimask, "prompt \(i)")
            XCTAssertEqual(res.masks.count, multimask ? 3 : 1, "prompt \(i)")
            XCTAssertEqual(res.prompt.points, spec.points, "prompt \(i) written to folder \(i)")
            XCTAssertEqual(res.prompt.box, spec.box, "prompt \(i)")
        }
        // prompt 2 through its own call: same scores and masks
        let single = (dir as NSString).appendingPathComponent("single")
        XCTAssertEqual(try runSam(base + ["--point", "64,80", "--point", "10,20,0", "--out", single]).status, 0)
        let a = try result((out as NSString).appendingPathComponent("2")), b = try result(single)
        XCTAssertLessThanOrEqual(maxAbsDiff(a.iou_predictions, b.iou_predictions), 1e-6)
        XCTAssertEqual(a.masks.map(\.area), b.masks.map(\.area))
    }

    func assertFails(_ args: [String], status: Int32, contains text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let out = (try temporaryFolder(self) as NSString).appendingPathComponent("out")
        let r = try runSam(args + ["--out", out])
        XCTAssertEqual(r.status, status, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "stderr: \(r.stderr)", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no output folder after an error", file: file, line: line)
    }

    func testPointOutside() throws {
        try assertFails(base + ["--point", "120,5"], status: 3,
                        contains: "error: point (120.0, 5.0) lies outside the 120×160 image (valid x in 0..<120, y in 0..<160)")
    }

    func testInvertedBox() throws {
        try assertFails(base + ["--box", "50,10,40,60"], status: 3, contains: "error: box (50.0, 10.0, 40.0, 60.0) has x1 < x0 or y1 < y0")
    }

    /// Command-line errors come from ArgumentParser's ValidationError, whose exit status is 64 (EX_USAGE); the README
    /// promises 2. Either is accepted here until that is settled; what matters is that it is not 0 or 3.
    func testEmptyPrompt() throws {
        let out = (try temporaryFolder(self) as NSString).appendingPathComponent("out")
        let r = try runSam(base + ["--out", out])
        XCTAssertTrue([2, 64].contains(r.status), "status \(r.status)")
        XCTAssertTrue(r.stderr.contains("empty prompt: give --point, --box, --mask-input or --prompts"), r.stderr)
    }

    func testMaskInputOfWrongSize() throws {
        let dir = try temporaryFolder(self)
        let png = (dir as NSString).appendingPathComponent("mask.png")
        try ImageWriter.writePNG(path: png, width: 100, height: 100, channels: 1, pixels: [UInt8](repeating: 255, count: 100 * 100))
        try assertFails(base + ["--point", "64,80", "--mask-input", png], status: 3, contains: "\(png): mask input is 100×100, the image 120×160")
    }

    func testMissingAndTruncatedImage() throws {
        try assertFails(["segment", "--checkpoint", ckpt, "--image", "/nonexistent/a.png", "--point", "1,1"], status: 3,
                        contains: "/nonexistent/a.png: image file not found or not readable")
        let dir = try temporaryFolder(self)
        let cut = (dir as NSString).appendingPathComponent("cut.png")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: image))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        try assertFails(["segment", "--checkpoint", ckpt, "--image", cut, "--point", "1,1"], status: 3, contains: "\(cut): image file is truncated")
    }

    func testMissingCheckpoint() throws {
        try assertFails(["segment", "--checkpoint", "/nonexistent/c.pth", "--image", image, "--point", "1,1"], status: 3,
                        contains: "/nonexistent/c.pth: file not found or not readable")
    }

    func testCorruptPromptsFile() throws {
        let dir = try temporaryFolder(self)
        let pj = (dir as NSString).appendingPathComponent("p.json")
        try Data(#"[{"points": [[1, 2]]}, {"box": [1, 2"#.utf8).write(to: URL(fileURLWithPath: pj))
        try assertFails(base + ["--prompts", pj], status: 3, contains: "\(pj): not a JSON list of prompts")
        try Data(#"[{"points": [[1, 2]]}, {"box": [1, 2, 3, 4]}, {"points": [[500, 2]]}]"#.utf8).write(to: URL(fileURLWithPath: pj))
        try assertFails(base + ["--prompts", pj], status: 3, contains: "\(pj): prompt 2: point (500.0, 2.0) lies outside the 120×160 image")
    }

    /// The overlay used to trap on images shorter than its score caption (exit 132).
    func testSmallImage() throws {
        let dir = try temporaryFolder(self)
        let small = (dir as NSString).appendingPathComponent("small.png")
        try ImageWriter.writePNG(path: small, width: 40, height: 30, channels: 3, pixels: (0..<3600).map { UInt8($0 % 256) })
        let out = (dir as NSString).appendingPathComponent("out")
        let r = try runSam(["segment", "--checkpoint", ckpt, "--image", small, "--point", "5,5", "--box", "0,0,40,30", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try ImageReader.readRGB(path: (out as NSString).appendingPathComponent("overlay.png")).width, 40)
    }

    // MARK: outputs: never a half-written folder, never a file replaced by a folder

    /// `--out` naming an existing regular file is refused (exit 3) and the file is left as it was.
    func testOutThatIsAFileIsRefused() throws {
        let dir = try temporaryFolder(self)
        let out = (dir as NSString).appendingPathComponent("result.txt")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: out))
        let r = try runSam(base + ["--point", "60,80", "--out", out])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("error: \(out): exists and is not a folder"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "keep me")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["result.txt"], "nothing else written")
    }

    /// A failure while the staging folder is being filled removes it and leaves the earlier output untouched.
    func testFailureLeavesNoPartialFolder() throws {
        struct Boom: Error {}
        let dir = try temporaryFolder(self)
        let out = (dir as NSString).appendingPathComponent("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try Data("earlier".utf8).write(to: URL(fileURLWithPath: out + "/mask_0.png"))
        var staged = ""
        XCTAssertThrowsError(try SegmentOutput.writeFolder(out) { staging in
            staged = staging
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
            try Data("half".utf8).write(to: URL(fileURLWithPath: staging + "/mask_0.png"))
            throw Boom()
        }) { XCTAssertTrue($0 is Boom) }
        XCTAssertTrue(staged.hasPrefix(out + ".partial-"), staged)
        XCTAssertFalse(FileManager.default.fileExists(atPath: staged), "the staging folder must be removed")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out"])
        XCTAssertEqual(try String(contentsOfFile: out + "/mask_0.png", encoding: .utf8), "earlier")
        // and a run that succeeds replaces the folder in one step, leaving no staging folder either
        let r = try runSam(base + ["--point", "60,80", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/result.json"))
    }

    /// A failing prompt list in the command leaves nothing behind: the last prompt's mask input is of another size.
    func testFailingCommandLeavesNothing() throws {
        let dir = try temporaryFolder(self)
        let out = (dir as NSString).appendingPathComponent("out")
        let mask = (dir as NSString).appendingPathComponent("mask.png")
        try ImageWriter.writePNG(path: mask, width: 10, height: 10, channels: 1, pixels: [UInt8](repeating: 255, count: 100))
        let r = try runSam(base + ["--point", "60,80", "--mask-input", mask, "--out", out])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("error: \(mask): mask input is 10×10, the image 120×160"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["mask.png"])
        // an empty mask input is bad input too
        let empty = (dir as NSString).appendingPathComponent("empty.png")
        try ImageWriter.writePNG(path: empty, width: 120, height: 160, channels: 1, pixels: [UInt8](repeating: 0, count: 120 * 160))
        let e = try runSam(base + ["--point", "60,80", "--mask-input", empty, "--out", out])
        XCTAssertEqual(e.status, 3, e.stderr)
        XCTAssertTrue(e.stderr.contains("error: \(empty): mask input is empty"), e.stderr)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir)), ["mask.png", "empty.png"])
    }

    // MARK: commands that need no model

    /// `verify --dump A --against B` compares two dumps; it used to exit 64 asking for --checkpoint.
    func testVerifyAgainstNeedsNoModel() throws {
        let a = Paths.fixture("reference/tiny_points_multi.h5")
        let r = try runSam(["verify", "--dump", a, "--against", a])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("passed, worst rel-L2 0.000e+00"), r.stdout)
        let none = try runSam(["verify", "--dump", a])
        XCTAssertEqual(none.status, 64)
        XCTAssertTrue(none.stderr.contains("give --checkpoint or --model-type"), none.stderr)
    }

    /// `eval --check` lists a data set without a model; it used to exit 64 asking for --checkpoint.
    func testEvalCheckNeedsNoModel() throws {
        let dir = try temporaryFolder(self)
        try FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/masks", withIntermediateDirectories: true)
        let img = try TestModels.tinyImage()
        try ImageWriter.writePNG(path: dir + "/images/a.png", width: img.width, height: img.height, channels: 3, pixels: img.pixels)
        let mask = (0..<(img.width * img.height)).map { i -> UInt8 in (i % img.width) < 50 ? 255 : 0 }
        try ImageWriter.writePNG(path: dir + "/masks/a.png", width: img.width, height: img.height, channels: 1, pixels: mask)
        let r = try runSam(["eval", "--dataset", dir, "--check"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("1 objects, all readable, sizes matching; mean object area 8000 pixels"), r.stdout)
        XCTAssertEqual(try runSam(["eval", "--dataset", dir, "--prompt", "box", "--out", dir + "/x.csv"]).status, 64)
    }
}
