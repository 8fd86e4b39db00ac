// The evaluation browser's listing: which CSVs count, how they are named, rows sorted by IoU, filters; and the
// path guard on its own.
import Foundation
import SAMEval
import SAMIO
import SAMInference
@testable import SAMServe
import SAMTestSupport
import XCTest

final class ServeEvalTests: XCTestCase {
    /// swift/tiny/GrabCut_point.csv, swift/tiny/COCO_MVal_box.csv, reference/small/GrabCut_clicks3.csv, plus files
    /// that must be skipped: a summary (no id column), a shard, a model-size table.
    func reportsFolder() throws -> String {
        let root = try temporaryFolder(self)
        func write(_ rel: String, _ text: String) throws {
            let p = (root as NSString).appendingPathComponent(rel)
            try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        }
        try write("swift/tiny/GrabCut_point.csv", "id,iou,iou_oracle\n106024,0.5,0.6\n124080,0.25,0.7\n153077,0.75,0.8\n")
        try write("swift/tiny/COCO_MVal_box.csv", "id,iou\n7,0.125\n8,nan\n9,0.9\n")
        try write("reference/small/GrabCut_clicks3.csv", "id,iou_1,iou_2,iou_3,noc85,noc90\n106024,0.1,0.2,0.3,3,3\n")
        try write("swift/summary.csv", "checkpoint,dataset,protocol,metric,objects,value\ntiny,GrabCut,box,miou,50,0.4\n")
        try write("swift/tiny/shards/GrabCut_point.1-of-4.csv", "id,iou\n1,0.0\n")
        try write("swift/model_size.csv", "checkpoint,embed_dim\ntiny,192\n")
        return root
    }

    func testListingSortsObjectsByIoUAndNamesFilesByTheirPath() throws {
        let root = try SafeRoot(try reportsFolder())
        let l = EvalBrowser.listing(root: root, dataset: nil, checkpoint: nil, protocol_: nil, source: nil, limit: 100)
        XCTAssertEqual(l.files.map(\.path), ["reference/small/GrabCut_clicks3.csv", "swift/tiny/COCO_MVal_box.csv", "swift/tiny/GrabCut_point.csv"])
        let coco = l.files[1]
        XCTAssertEqual([coco.source, coco.checkpoint, coco.dataset, coco.protocol_], ["swift", "tiny", "COCO_MVal", "box"])
        XCTAssertEqual(coco.objects, 2, "the nan row is skipped")
        XCTAssertEqual(coco.miou, (0.125 + 0.9) / 2, accuracy: 1e-12)
        XCTAssertEqual(l.files[0].protocol_, "clicks3")
        XCTAssertEqual(l.rows.map(\.iou), [0.125, 0.25, 0.3, 0.5, 0.75, 0.9], "lowest IoU first; a click file's IoU is its last click's")
        XCTAssertEqual(l.rows.map(\.id), ["7", "124080", "106024", "106024", "153077", "9"])
        XCTAssertEqual(l.total_rows, 6)
        let grab = EvalBrowser.listing(root: root, dataset: "GrabCut", checkpoint: nil, protocol_: nil, source: "swift", limit: 1)
        XCTAssertEqual(grab.files.map(\.path), ["swift/tiny/GrabCut_point.csv"])
        XCTAssertEqual(grab.rows.map(\.id), ["124080"])
        XCTAssertEqual(grab.total_rows, 3)
        XCTAssertEqual(EvalBrowser.listing(root: root, dataset: nil, checkpoint: "small", protocol_: "clicks3", source: nil, limit: 9).rows.map(\.iou), [0.3])
        XCTAssertTrue(EvalBrowser.listing(root: root, dataset: "DAVIS", checkpoint: nil, protocol_: nil, source: nil, limit: 9).files.isEmpty)
    }

    func testEvalEndpoint() async throws {
        let s = try await LiveServer(model: try TestModels.tinyRandom(), options: ServeOptions(reports: try reportsFolder()))
        addTeardownBlock { s.stop() }
        let a = try await s.get("/api/eval?dataset=GrabCut&protocol=point")
        XCTAssertEqual(a.status, 200, a.text)
        let l = try JSONDecoder().decode(EvalListing.self, from: a.body)
        XCTAssertEqual(l.rows.map(\.iou), [0.25, 0.5, 0.75])
        XCTAssertTrue(a.text.contains(#""protocol":"point""#), a.text)
        for (q, status) in [("limit=-1", 400), ("limit=x", 400), ("colour=red", 400)] {
            let b = try await s.get("/api/eval?\(q)")
            XCTAssertEqual(b.status, status, "\(q): \(b.text)")
            XCTAssertNotNil(b.errorMessage)
        }
        let info = try await s.get("/api/info")
        XCTAssertEqual(info.json?["reports"] as? Bool, true)
        // no --reports: 404
        let t = try await LiveServer(model: try TestModels.tinyRandom(), options: ServeOptions())
        addTeardownBlock { t.stop() }
        let noReports = try await t.get("/api/eval")
        XCTAssertEqual(noReports.status, 404)
    }

    /// DIR/set/{images,masks}/a.png: image_small.png and a 120×160 mask with the object at x 30…80, y 40…120;
    /// DIR/leak/{images,masks}/b.png whose image is a link out of DIR.
    func dataFolder() throws -> (root: String, mask: [UInt8]) {
        let root = try temporaryFolder(self)
        let data = root + "/data"
        for d in ["set/images", "set/masks", "leak/images", "leak/masks"] {
            try FileManager.default.createDirectory(atPath: data + "/" + d, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: Paths.fixture("reference/image_small.png"), toPath: data + "/set/images/a.png")
        var mask = [UInt8](repeating: 0, count: 120 * 160)
        for y in 40...120 { for x in 30...80 { mask[y * 120 + x] = 255 } }
        try ImageWriter.writePNG(path: data + "/set/masks/a.png", width: 120, height: 160, channels: 1, pixels: mask)
        try FileManager.default.copyItem(atPath: Paths.fixture("reference/image_small.png"), toPath: root + "/outside.png")
        try FileManager.default.createSymbolicLink(atPath: data + "/leak/images/b.png", withDestinationPath: root + "/outside.png")
        try ImageWriter.writePNG(path: data + "/leak/masks/b.png", width: 120, height: 160, channels: 1, pixels: mask)
        return (data, mask)
    }

    func testOverlayDrawsTheProtocolsPromptAndScoresTheServedModel() async throws {
        let (data, mask) = try dataFolder()
        let s = try await LiveServer(model: try TestModels.tinyRandom(), options: ServeOptions(data: data))
        addTeardownBlock { s.stop() }
        let gt = GroundTruth(width: 120, height: 160, values: mask)
        let image = try ImageReader.readRGB(path: Paths.fixture("reference/image_small.png"))
        let p = SamPredictor(model: try TestModels.tinyRandom())
        p.setImage(image)
        for (proto, expectedPrompt, multimask) in [("box", #"{"box":[30,40,80,120],"multimask":false}"#, false),
                                                   ("point", nil, true), ("box+point", nil, false)] {
            let a = try await s.get("/api/eval/overlay?dataset=set&id=a&protocol=\(proto.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
            XCTAssertEqual(a.status, 200, "\(proto): \(a.text)")
            XCTAssertEqual(a.contentType, "image/png")
            let promptJSON = try XCTUnwrap(a.headers["x-sam-prompt"], proto)
            if let e = expectedPrompt { XCTAssertEqual(promptJSON, e) }
            let spec = try JSONDecoder().decode(PromptSpec.self, from: Data(promptJSON.utf8))
            XCTAssertEqual(spec.multimask, multimask)
            let prompt = try spec.prompt(file: "header", index: 0)
            if proto != "box" { XCTAssertEqual(prompt.points.count, 1); XCTAssertEqual(prompt.labels, [1]) }
            if proto == "point" {
                let f = try XCTUnwrap(ProtocolPrompts.farthest(gt))
                XCTAssertEqual(spec.points, [[Double(f.x), Double(f.y)]])
            }
            let pred = try p.predict(prompt, multimaskOutput: multimask)
            let k = EvalOverlay.scoredMask(pred)
            XCTAssertEqual(Double(try XCTUnwrap(a.headers["x-sam-iou"])), gt.iou(pred.mask(k)), proto)
            let png = try decodePNG(a.body, in: data + "/..")
            XCTAssertEqual([png.width, png.height], [120, 160])
        }
        // click protocols ("clicks5" as CSV names spell it, or "clicks:5"): the simulation `sam eval` runs, every
        // click in the prompt header, the IoU of the last click
        let run = try ClickSimulation.run(predictor: p, truth: gt, clicks: 5)
        for proto in ["clicks5", "clicks%3A5"] {
            let c = try await s.get("/api/eval/overlay?dataset=set&id=a&protocol=\(proto)")
            XCTAssertEqual(c.status, 200, "\(proto): \(c.text)")
            XCTAssertEqual(Double(try XCTUnwrap(c.headers["x-sam-iou"])), run.ious.last, proto)
            let spec = try JSONDecoder().decode(PromptSpec.self, from: Data(try XCTUnwrap(c.headers["x-sam-prompt"]).utf8))
            XCTAssertEqual(spec.points, run.clicks.map { [Double($0.x), Double($0.y)] }, proto)
            XCTAssertEqual(spec.labels, run.clicks.map { $0.positive ? 1 : 0 }, proto)
            XCTAssertEqual(run.clicks.count, 5)
        }
        // the picture differs from the image inside the object (ground truth blended in)
        let a = try await s.get("/api/eval/overlay?dataset=set&id=a&protocol=box")
        let tmp = data + "/../o.png"
        try a.body.write(to: URL(fileURLWithPath: tmp))
        let drawn = try ImageReader.readRGB(path: tmp)
        let i = (100 * 120 + 40) * 3
        XCTAssertNotEqual(Array(drawn.pixels[i..<(i + 3)]), Array(image.pixels[i..<(i + 3)]))
        XCTAssertGreaterThan(drawn.pixels[i + 1], drawn.pixels[i], "green ground truth over the object")
        for (q, status) in [("dataset=set&id=zzz&protocol=box", 404), ("dataset=nope&id=a&protocol=box", 404),
                            ("dataset=../data&id=a&protocol=box", 403), ("dataset=set&id=a&protocol=clicks:0", 400),
                            ("dataset=set&id=a&protocol=lasso", 400), ("dataset=set&id=a", 400), ("dataset=set&id=a&protocol=box&seed=-1", 400),
                            ("dataset=set&id=a&protocol=box&colour=red", 400), ("dataset=leak&id=b&protocol=box", 403)] {
            let b = try await s.get("/api/eval/overlay?\(q)")
            XCTAssertEqual(b.status, status, "\(q): \(b.text)")
            XCTAssertNotNil(b.errorMessage, q)
        }
        let t = try await LiveServer(model: try TestModels.tinyRandom(), options: ServeOptions())
        addTeardownBlock { t.stop() }
        let none = try await t.get("/api/eval/overlay?dataset=set&id=a&protocol=box")
        XCTAssertEqual(none.status, 404)
    }

    func testSafeRootRefusesNamesLeavingTheFolder() throws {
        let dir = try temporaryFolder(self)
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/in/a.png"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/inside-not.png"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/in/out.png", withDestinationPath: dir + "/inside-not.png")
        try FileManager.default.createSymbolicLink(atPath: dir + "/in/ok.png", withDestinationPath: dir + "/in/a.png")
        let root = try SafeRoot(dir + "/in/../in")
        XCTAssertEqual(root.path, SafeRoot.resolve(dir + "/in"))
        XCTAssertEqual(try root.file("a.png"), SafeRoot.resolve(dir + "/in/a.png"))
        XCTAssertEqual(try root.file("ok.png"), SafeRoot.resolve(dir + "/in/a.png"), "a link inside the folder is followed")
        // a sibling folder whose name starts with the root's ("in" vs "inside-not.png") is outside
        for name in ["../inside-not.png", "out.png", "/etc/passwd", "./../in/../inside-not.png"] {
            XCTAssertThrowsError(try root.file(name), name) { XCTAssertEqual(($0 as? ServeError)?.status, 403, "\(name): \($0)") }
        }
        for (name, status) in [("", 400), ("a\0.png", 400), ("b.png", 404), (".", 403)] {
            XCTAssertThrowsError(try root.file(name), name) { XCTAssertEqual(($0 as? ServeError)?.status, status, "\(name): \($0)") }
        }
        XCTAssertEqual(root.list(extensions: ["png"]), ["a.png", "ok.png"])
        XCTAssertThrowsError(try SafeRoot(dir + "/missing")) { XCTAssertEqual(($0 as? ServeError)?.status, 404) }
    }
}
