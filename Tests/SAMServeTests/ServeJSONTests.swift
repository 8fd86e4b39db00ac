// `sam serve`'s JSON both ways: a malformed body is answered with where it broke and what was expected (Foundation
// says only "The operation could not be completed" on Linux), and a non-finite number in an answer is written as
// null with a warning, never a 500.
import Foundation
import SAMInference
@testable import SAMServe
import SAMTestSupport
import XCTest

final class ServeJSONTests: XCTestCase {
    func testSyntaxErrorsNameLineColumnOffsetAndWhatWasExpected() {
        let cases: [(String, String)] = [
            (#"{"image": "a.png", "points": [[1, 2]"#,
             "line 1, column 37 (byte 36): expected ',' or ']' after an array element, found the end of the body"),
            ("{\n  \"image\": \"a.png\",\n  \"points\": [[1 2]]\n}",
             "line 3, column 17 (byte 38): expected ',' or ']' after an array element, found '2'"),
            (#"{"image" "a.png"}"#, "line 1, column 10 (byte 9): expected ':' after the member name, found '\"'"),
            (#"{image: 1}"#, "line 1, column 2 (byte 1): expected a member name (a string in double quotes), found 'i'"),
            (#"{"multimask": tru}"#, "line 1, column 18 (byte 17): expected 'true', found '}'"),
            ("", "line 1, column 1 (byte 0): expected a value (object, array, string, number, true, false or null), found the end of the body"),
            (#"{"a": 1} x"#, "line 1, column 10 (byte 9): expected the end of the body after the top-level value, found 'x'"),
            (#"{"a": "\q"}"#, "line 1, column 9 (byte 8): expected one of \" \\ / b f n r t u after '\\', found 'q'"),
            (#"{"a": -}"#, "line 1, column 8 (byte 7): expected a digit, found '}'"),
        ]
        for (body, expected) in cases {
            XCTAssertEqual(JSONSyntaxError.find(in: Array(body.utf8))?.description, expected, body)
        }
        XCTAssertNil(JSONSyntaxError.find(in: Array(#" {"points": [[1.5e3, -2]], "box": null, "s": "\u00e9\n"} "#.utf8)))
        // nesting is bounded (a recursive scanner must not exhaust the stack)
        let deep = Array(String(repeating: "[", count: 100_000).utf8)
        XCTAssertEqual(JSONSyntaxError.find(in: deep)?.expected, "at most 512 nested arrays and objects")
    }

    func testMalformedBodyIsAnsweredWithWhereItBroke() async throws {
        let s = try await LiveServer(model: try TestModels.tinyRandom(), options: ServeOptions(images: nil, reports: nil, maxUploadBytes: 1 << 20, cacheSize: 1))
        addTeardownBlock { s.stop() }
        let a = try await s.request("POST", "/api/segment", body: Data(#"{"upload": "x", "points": [[1, 2]"#.utf8))
        XCTAssertEqual(a.status, 400, a.text)
        XCTAssertEqual(a.errorMessage, "body is not JSON: line 1, column 34 (byte 33): expected ',' or ']' after an array element, found the end of the body")
    }

    func testNonFiniteNumbersAreWrittenAsNullWithAWarning() throws {
        let r = SegmentResponse(width: 2, height: 1, iou_predictions: [0.5, .nan, -.infinity], masks: [], best: 0,
                                prompt: PromptSpec(points: [[1, 0]], labels: [1], box: nil, multimask: true), cached: true,
                                embed_ms: 0, decode_ms: 1, decode_cpu_ms: 1, encode_ms: 0, encode_cpu_ms: 0, server_ms: .infinity)
        let (data, n) = try JSONNumbers.encode(r, formatting: [.sortedKeys])
        XCTAssertEqual(n, 3)
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(text.contains(#""iou_predictions":[0.5,null,null]"#), text)
        XCTAssertTrue(text.contains(#""server_ms":null"#), text)
        let back = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertTrue(back["server_ms"] is NSNull)
        // finite answers are JSONEncoder's bytes, unchanged
        var ok = r
        ok.iou_predictions = [0.5, 0.25, 1]
        ok.server_ms = 3
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        XCTAssertEqual(try JSONNumbers.encode(ok, formatting: [.sortedKeys]).data, try enc.encode(ok))
    }
}
