// Prompt geometry of the protocols (values computed with experiments/reference/eval_reference.py), RITM's click
// placement on synthetic masks, NoC, and the resumable CSV journal.
import Foundation
import SAMEval
import SAMTensor
import XCTest

/// labels from rows of characters: '#' object, '.' background, '?' ignore.
func truth(_ rows: [String]) -> GroundTruth {
    let w = rows[0].count
    return GroundTruth(width: w, height: rows.count, labels: rows.flatMap { $0.map { $0 == "#" ? UInt8(1) : ($0 == "?" ? 2 : 0) } })
}

final class ProtocolTests: XCTestCase {
    func testSplitMix64AndFNV() {
        var r = SplitMix64(seed: 0)
        XCTAssertEqual([r.next(), r.next(), r.next()], [16294208416658607535, 7960286522194355700, 487617019471545679])
        var o = SplitMix64(seed: 7, id: "obj")
        XCTAssertEqual([o.next(), o.next()], [7240534204311831166, 4988037542863265308])
        XCTAssertEqual(SplitMix64(seed: 0, id: "106024").state, 2036995971271644476)
    }

    /// 40×30, object rows 5…24 × columns 8…34, rows 10–11 × columns 10…29 ignore (eval_reference.py's values).
    var block: GroundTruth {
        var l = [UInt8](repeating: 0, count: 40 * 30)
        for y in 5..<25 { for x in 8..<35 { l[y * 40 + x] = 1 } }
        for y in 10..<12 { for x in 10..<30 { l[y * 40 + x] = 2 } }
        return GroundTruth(width: 40, height: 30, labels: l)
    }

    func testPromptGeometryMatchesTheReferenceScript() {
        let g = block
        XCTAssertTrue(ProtocolPrompts.center(g)! == (21, 15))
        XCTAssertTrue(ProtocolPrompts.farthest(g)! == (14, 18))
        let b = ProtocolPrompts.box(g)!.box!
        XCTAssertEqual([b.x0, b.y0, b.x1, b.y1], [8, 5, 34, 24])
        let cases: [(UInt64, String, [Float], (Int, Int))] = [
            (0, "a", [6, 5, 33, 22], (10, 8)), (1, "a", [7, 6, 35, 23], (26, 23)),
            (7, "obj", [9, 5, 36, 25], (25, 12)), (3, "x y", [10, 6, 36, 22], (27, 6)),
        ]
        for (seed, id, jb, rp) in cases {
            let j = ProtocolPrompts.jitteredBox(g, seed: seed, id: id)!.box!
            XCTAssertEqual([j.x0, j.y0, j.x1, j.y1], jb, "\(seed) \(id)")
            XCTAssertTrue(ProtocolPrompts.random(g, seed: seed, id: id)! == rp, "\(seed) \(id)")
        }
        // The centre of mass of two bars lies outside the object: the farthest point instead.
        let bars = truth(["##........##", "##........##", "##........##"])
        XCTAssertTrue(ProtocolPrompts.center(bars)! == ProtocolPrompts.farthest(bars)!)
    }

    func testProtocolNamesAndColumns() {
        XCTAssertEqual(EvalProtocol("clicks:5"), .clicks(5))
        XCTAssertEqual(EvalProtocol("box+point"), .boxPoint)
        XCTAssertNil(EvalProtocol("clicks:0")); XCTAssertNil(EvalProtocol("boxes"))
        XCTAssertEqual(EvalProtocol.point.columns, ["iou", "iou_oracle"])
        XCTAssertEqual(EvalProtocol.clicks(3).columns, ["iou_1", "iou_2", "iou_3", "noc85", "noc90"])
        XCTAssertEqual(EvalProtocol.clicks(5).fileName, "clicks5")
    }

    // MARK: clicks

    func testFirstClickIsTheFarthestPointOfTheObject() {
        let g = block
        var c = Clicker(truth: g)
        let k = c.next(prediction: [UInt8](repeating: 0, count: 40 * 30))
        XCTAssertEqual(k, Click(x: 14, y: 18, positive: true))
    }

    func testLargerErrorRegionWinsAndTiesGoNegative() {
        // Object: columns 0…5 of 7 rows. Prediction misses columns 0–2 (FN, 3 wide: max EDT² 4, first at row 1,
        // the padding row above counting as background) and spills over columns 6–7 (FP, 2 wide: max EDT² 1).
        let g = truth(Array(repeating: "######....", count: 7))
        var pred = [UInt8](repeating: 0, count: 70)
        for y in 0..<7 { for x in 3..<8 { pred[y * 10 + x] = 1 } }
        var c = Clicker(truth: g)
        XCTAssertEqual(c.next(prediction: pred), Click(x: 1, y: 1, positive: true))
        // Equal maxima: FN columns 0–1 and FP columns 6–7, both max EDT² 1 → negative, first FP maximum.
        var pred2 = [UInt8](repeating: 0, count: 70)
        for y in 0..<7 { for x in 2..<8 { pred2[y * 10 + x] = 1 } }
        var c2 = Clicker(truth: g)
        XCTAssertEqual(c2.next(prediction: pred2), Click(x: 6, y: 0, positive: false))
        // A clicked pixel is not clicked again: the next maximum in row-major order.
        XCTAssertEqual(c2.next(prediction: pred2), Click(x: 7, y: 0, positive: false))
    }

    func testIgnorePixelsAreNeverErrorsAndPerfectPredictionsClickTheOrigin() {
        // The FN region would be columns 0–3, but columns 0–2 are ignore: only column 3 is an error.
        let g = truth(Array(repeating: "???#####..", count: 5))
        var pred = [UInt8](repeating: 0, count: 50)
        for y in 0..<5 { for x in 4..<8 { pred[y * 10 + x] = 1 } }
        var c = Clicker(truth: g)
        XCTAssertEqual(c.next(prediction: pred), Click(x: 3, y: 0, positive: true))
        // No error left: both maxima are 0 → RITM's negative click at (0, 0).
        var c2 = Clicker(truth: g)
        XCTAssertEqual(c2.next(prediction: g.labels.map { $0 == 1 ? 1 : 0 }), Click(x: 0, y: 0, positive: false))
    }

    func testNumberOfClicks() {
        let ious = [0.5, 0.84, 0.86, 0.89, 0.91]
        XCTAssertEqual(numberOfClicks(ious, threshold: 0.85, cap: 20), 3)
        XCTAssertEqual(numberOfClicks(ious, threshold: 0.90, cap: 20), 5)
        XCTAssertEqual(numberOfClicks(ious, threshold: 0.95, cap: 20), 20)
        XCTAssertEqual(numberOfClicks(ious, threshold: 0.95, cap: 5), 5)
        XCTAssertEqual(numberOfClicks([0.85], threshold: 0.85, cap: 5), 1)   // >= counts
    }

    // MARK: journal

    func testJournalResumesAfterAKillWithNoRowLostOrDoubled() throws {
        let t = try TempFolder()
        let out = t.sub("sub/r.csv")
        do {
            let j = try CSVJournal(path: out, columns: ["iou", "noc85"], runLine: "run A")
            try j.append(id: "a", values: ["0.500000", "3"])
            try j.append(id: "b,c", values: ["0.250000", "20"])
        }
        // A kill in the middle of a line leaves a fragment.
        let h = FileHandle(forWritingAtPath: out + ".partial")!
        h.seekToEndOfFile(); h.write(Data("d,0.12".utf8)); try h.close()
        let j2 = try CSVJournal(path: out, columns: ["iou", "noc85"], runLine: "run A")
        XCTAssertEqual(Set(j2.done.keys), ["a", "b,c"])
        try j2.append(id: "d", values: ["0.125000", "1"])
        try j2.finish(ids: ["a", "b,c", "d", "e"])
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8),
                       "id,iou,noc85\na,0.500000,3\n\"b,c\",0.250000,20\nd,0.125000,1\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".partial"))
        // Another run's journal is refused.
        _ = try CSVJournal(path: out, columns: ["iou"], runLine: "run A")
        XCTAssertThrowsError(try CSVJournal(path: out, columns: ["iou"], runLine: "run B"))
    }

    func testCSVFieldsRoundTrip() {
        for s in ["plain", "with space", "a,b", "q\"uote", ""] {
            XCTAssertEqual(csvSplit(csvField(s) + ",1.5"), [s, "1.5"])
        }
        XCTAssertEqual(csvValue(3, column: "noc85"), "3")
        XCTAssertEqual(csvValue(0.1234567, column: "iou"), "0.123457")
    }

    func testMergeRefusesDoubledIds() throws {
        let t = try TempFolder()
        try "id,iou\na,0.1\nb,0.2\n".write(toFile: t.sub("1.csv"), atomically: true, encoding: .utf8)
        try "id,iou\nc,0.3\n".write(toFile: t.sub("2.csv"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try Evaluation.merge([t.sub("1.csv"), t.sub("2.csv")], into: t.sub("m.csv")), 3)
        XCTAssertEqual(try String(contentsOfFile: t.sub("m.csv"), encoding: .utf8), "id,iou\na,0.1\nb,0.2\nc,0.3\n")
        XCTAssertThrowsError(try Evaluation.merge([t.sub("1.csv"), t.sub("1.csv")], into: t.sub("m.csv")))
    }
}
