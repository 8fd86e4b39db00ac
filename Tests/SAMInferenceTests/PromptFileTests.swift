// `sam segment --prompts FILE.json`: the JSON list of prompts, good and bad. Every error must name the file and,
// where one prompt is at fault, its index.
import Foundation
import SAMInference
import SAMIO
import SAMTestSupport
import XCTest

final class PromptFileTests: XCTestCase {
    func write(_ json: String) throws -> String {
        let path = (try temporaryFolder(self) as NSString).appendingPathComponent("prompts.json")
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The error `body` throws, as text; fails when it throws nothing.
    func message(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
        do { try body() } catch { return "\(error)" }
        XCTFail("no error thrown", file: file, line: line)
        return ""
    }

    func testGoodFile() throws {
        let path = try write("""
            [{"points": [[10, 20], [30.5, 40.25]], "labels": [1, 0]},
             {"box": [1, 2, 30, 40], "multimask": false},
             {"points": [[5, 6]]},
             {"points": [[7, 8]], "labels": [0], "box": [0, 0, 50, 60], "multimask": true}]
            """)
        let specs = try PromptFile.read(path: path)
        XCTAssertEqual(specs.count, 4)
        let p = try specs.enumerated().map { try $0.element.prompt(file: path, index: $0.offset) }
        XCTAssertEqual(p[0], Prompt(points: [(10, 20), (30.5, 40.25)], labels: [1, 0]))
        XCTAssertNil(p[0].box)
        XCTAssertNil(specs[0].multimask, "absent multimask must stay absent: the command line's --multimask decides")
        XCTAssertEqual(p[1], Prompt(box: (1, 2, 30, 40)))
        XCTAssertEqual(specs[1].multimask, false)
        XCTAssertEqual(p[2].labels, [1], "labels default to positive")
        XCTAssertEqual(p[3], Prompt(points: [(7, 8)], labels: [0], box: (0, 0, 50, 60)))
        XCTAssertEqual(specs[3].multimask, true)
    }

    func testMissingFile() {
        let m = message { _ = try PromptFile.read(path: "/nonexistent/prompts.json") }
        XCTAssertTrue(m.contains("/nonexistent/prompts.json"), m)
    }

    func testNotJSON() throws {
        let path = try write(#"[{"points": [[1, 2]]"#)
        let m = message { _ = try PromptFile.read(path: path) }
        XCTAssertTrue(m.hasPrefix(path + ": "), m)
        XCTAssertTrue(m.contains("not a JSON list of prompts"), m)
    }

    func testObjectInsteadOfList() throws {
        let path = try write(#"{"points": [[1, 2]]}"#)
        let m = message { _ = try PromptFile.read(path: path) }
        XCTAssertTrue(m.hasPrefix(path + ": "), m)
        XCTAssertTrue(m.contains("not a JSON list of prompts"), m)
    }

    func testEmptyList() throws {
        let path = try write("[]")
        XCTAssertEqual(message { _ = try PromptFile.read(path: path) }, "\(path): the list of prompts is empty")
    }

    /// A value of the wrong type: the decoder's path names the prompt ([1]) and the key.
    func testWrongTypeNamesIndexAndKey() throws {
        let path = try write(#"[{"points": [[1, 2]]}, {"points": "here"}]"#)
        let m = message { _ = try PromptFile.read(path: path) }
        XCTAssertTrue(m.hasPrefix(path + ": "), m)
        XCTAssertTrue(m.contains("[1].points"), m)
        let path2 = try write(#"[{"box": [1, 2, 3, 4]}, {"box": [1, 2, 3, 4], "multimask": "yes"}]"#)
        let m2 = message { _ = try PromptFile.read(path: path2) }
        XCTAssertTrue(m2.contains("[1].multimask"), m2)
    }

    /// JSONDecoder ignores keys it does not know; a misspelt "lables" would silently make every point positive.
    func testUnknownKeyRefused() throws {
        let path = try write(#"[{"box": [1, 2, 3, 4]}, {"points": [[1, 2], [3, 4]], "lables": [1, 0]}]"#)
        let m = message { _ = try PromptFile.read(path: path) }
        XCTAssertTrue(m.hasPrefix(path + ": prompt 1: "), m)
        XCTAssertTrue(m.contains("lables"), m)
    }

    func checkPromptError(_ json: String, index: Int, contains what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try write(json)
        let specs = try PromptFile.read(path: path)
        let m = message({ for (i, s) in specs.enumerated() { _ = try s.prompt(file: path, index: i) } }, file: file, line: line)
        XCTAssertTrue(m.hasPrefix("\(path): prompt \(index): "), m, file: file, line: line)
        XCTAssertTrue(m.contains(what), m, file: file, line: line)
    }

    func testNeitherPointsNorBox() throws {
        try checkPromptError(#"[{"points": [[1, 2]]}, {"multimask": true}]"#, index: 1, contains: "needs points or a box")
        try checkPromptError(#"[{"points": []}]"#, index: 0, contains: "needs points or a box")
    }

    func testPointWithThreeNumbers() throws {
        try checkPromptError(#"[{"box": [1, 2, 3, 4]}, {"box": [1, 2, 3, 4]}, {"points": [[1, 2], [1, 2, 1]]}]"#,
                             index: 2, contains: "point 1 must be [x, y]")
    }

    func testBoxWithThreeNumbers() throws {
        try checkPromptError(#"[{"box": [1, 2, 3]}]"#, index: 0, contains: "box must be [x0, y0, x1, y1]")
    }

    func testLabelsWithoutPoints() throws {
        try checkPromptError(#"[{"box": [1, 2, 3, 4], "labels": [1]}]"#, index: 0, contains: "labels given without points")
    }

    /// Label count and values are the predictor's to check (`validate`); the command line prefixes the prompt index.
    func testLabelCountCheckedByValidate() throws {
        let path = try write(#"[{"points": [[1, 2], [3, 4]], "labels": [1]}]"#)
        let p = try PromptFile.read(path: path)[0].prompt(file: path, index: 0)
        XCTAssertThrowsError(try TestModels.tinyPredictor().validate(p, maskInput: nil)) {
            XCTAssertEqual($0 as? PromptError, .labelsMismatch(points: 2, labels: 1))
        }
    }
}
