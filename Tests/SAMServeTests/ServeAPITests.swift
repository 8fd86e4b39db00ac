// `sam serve`'s API on a live server (ephemeral port): masks equal to `SamPredictor.predict` and to `sam segment`'s
// files, the embedding cache, the downloads, and every refusal with its status and message.
import Foundation
import SAMIO
import SAMInference
import SAMModel
@testable import SAMServe
import SAMTestSupport
import XCTest

final class ServeAPITests: XCTestCase {
    let imageName = "image_small.png"   // 120 wide × 160 high

    /// A folder of images: image_small.png, a copy in a sub-folder, a link pointing outside, and a file beside the
    /// folder that traversal would reach.
    func imagesFolder() throws -> (root: String, images: String) {
        let root = try temporaryFolder(self)
        let images = (root as NSString).appendingPathComponent("images")
        try FileManager.default.createDirectory(atPath: images + "/sub", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Paths.fixture("reference/image_small.png"), toPath: images + "/" + imageName)
        try FileManager.default.copyItem(atPath: Paths.fixture("reference/image_small.png"), toPath: images + "/sub/copy.png")
        try FileManager.default.copyItem(atPath: Paths.fixture("reference/image_small.png"), toPath: root + "/secret.png")
        try FileManager.default.createSymbolicLink(atPath: images + "/link.png", withDestinationPath: root + "/secret.png")
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: images + "/notes.txt"))
        return (root, images)
    }

    func start(images: String?, reports: String? = nil, maxUpload: Int = 1 << 20) async throws -> LiveServer {
        let s = try await LiveServer(model: try TestModels.tinyRandom(),
                                     options: ServeOptions(images: images, reports: reports, maxUploadBytes: maxUpload, cacheSize: 2))
        addTeardownBlock { s.stop() }
        return s
    }

    func reference(_ prompt: Prompt, multimask: Bool) throws -> Prediction {
        let p = SamPredictor(model: try TestModels.tinyRandom())
        p.setImage(try ImageReader.readRGB(path: Paths.fixture("reference/image_small.png")))
        return try p.predict(prompt, multimaskOutput: multimask)
    }

    func testSegmentMasksEqualThePredictorsPixelForPixel() async throws {
        let (_, images) = try imagesFolder()
        let s = try await start(images: images)
        let cases: [(json: [String: Any], prompt: Prompt, multimask: Bool)] = [
            (["points": [[40, 70]], "labels": [1]], Prompt(points: [(40, 70)], labels: [1]), true),
            (["points": [[40, 70], [90, 20]], "labels": [1, 0], "multimask": false], Prompt(points: [(40, 70), (90, 20)], labels: [1, 0]), false),
            (["box": [10, 20, 100, 140]], Prompt(box: (10, 20, 100, 140)), true),
            (["points": [[60.5, 80.25]], "labels": [1], "box": [10, 20, 100, 140]], Prompt(points: [(60.5, 80.25)], labels: [1], box: (10, 20, 100, 140)), true),
        ]
        for (n, c) in cases.enumerated() {
            var body = c.json
            body["image"] = imageName
            body["format"] = "both"
            let a = try await s.post("/api/segment", json: body)
            XCTAssertEqual(a.status, 200, "case \(n): \(a.text)")
            let r = try JSONDecoder().decode(SegmentResponse.self, from: a.body)
            let ref = try reference(c.prompt, multimask: c.multimask)
            XCTAssertEqual(r.width, 120); XCTAssertEqual(r.height, 160)
            XCTAssertEqual(r.masks.count, c.multimask ? 3 : 1, "case \(n)")
            XCTAssertEqual(r.iou_predictions, ref.iouPredictions, "case \(n)")
            XCTAssertEqual(r.best, ref.iouPredictions.indices.max { ref.iouPredictions[$0] < ref.iouPredictions[$1] })
            for k in 0..<ref.maskCount {
                let png = try decodePNG(try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(r.masks[k].png))), in: images + "/..")
                XCTAssertEqual(png.width, 120); XCTAssertEqual(png.height, 160)
                XCTAssertEqual(png.values, ref.mask(k).map { $0 != 0 ? 255 : 0 }, "case \(n) mask \(k): PNG pixels differ from predict's")
                let rle = try XCTUnwrap(RLE(cocoString: try XCTUnwrap(r.masks[k].counts), height: 160, width: 120))
                XCTAssertEqual(rle.decode(), Array(ref.mask(k)), "case \(n) mask \(k): RLE differs from predict's")
                XCTAssertEqual(r.masks[k].area, ref.mask(k).reduce(0) { $0 + Int($1) })
                XCTAssertEqual(r.masks[k].bbox, maskBoxXYWH(ref.mask(k), width: 120, height: 160))
            }
            // the first request on the image ran the encoder, the others found it cached
            XCTAssertEqual(r.cached, n > 0, "case \(n)")
            XCTAssertEqual(r.embed_ms == 0, n > 0, "case \(n): embed_ms \(r.embed_ms)")
            XCTAssertGreaterThan(r.server_ms, 0)
            XCTAssertGreaterThan(r.encode_ms, 0)
            XCTAssertGreaterThanOrEqual(r.server_ms, r.decode_ms + r.embed_ms + r.encode_ms)
        }
        // the masks of at least one case are not all empty (otherwise equality above would prove little)
        XCTAssertGreaterThan(try reference(cases[2].prompt, multimask: true).masks.reduce(0) { $0 + Int($1) }, 0)
    }

    func testMaskStatsAndPNGEqualTheLibrarysOnEdgeCases() throws {
        var pred = try reference(Prompt(points: [(40, 70)], labels: [1]), multimask: true)
        let w = pred.width, h = pred.height, n = w * h
        var rng = SystemRandomNumberGenerator()
        var corner = [UInt8](repeating: 0, count: n); corner[n - 1] = 1
        var origin = [UInt8](repeating: 0, count: n); origin[0] = 1
        var column = [UInt8](repeating: 0, count: n); for y in 5..<9 { column[y * w + 7] = 1 }
        let cases: [[UInt8]] = [[UInt8](repeating: 0, count: n), [UInt8](repeating: 1, count: n), corner, origin, column,
                                (0..<n).map { _ in UInt8.random(in: 0...1, using: &rng) }, Array(pred.mask(0))]
        let dir = try temporaryFolder(self)
        for (i, m) in cases.enumerated() {
            pred.masks = m + m + m
            let s = maskStats(pred, index: 2)
            XCTAssertEqual(s.area, m.reduce(0) { $0 + Int($1) }, "case \(i)")
            XCTAssertEqual(s.bbox, maskBoxXYWH(m, width: w, height: h), "case \(i)")
            XCTAssertEqual(try decodePNG(Data(try maskPNG(pred, index: 1)), in: dir).values, m.map { $0 != 0 ? 255 : 0 }, "case \(i)")
        }
    }

    func testEmbeddingCacheKeepsTheLastImagesAndSwitchesBetweenThem() async throws {
        let (_, images) = try imagesFolder()
        let s = try await start(images: images)   // cache of 2
        func embed(_ name: String) async throws -> [String: Any] {
            let a = try await s.post("/api/embed", json: ["image": name])
            XCTAssertEqual(a.status, 200, a.text)
            return try XCTUnwrap(a.json)
        }
        var e = try await embed(imageName)
        XCTAssertEqual(e["cached"] as? Bool, false); XCTAssertEqual(e["width"] as? Int, 120); XCTAssertEqual(e["height"] as? Int, 160)
        e = try await embed("sub/copy.png")
        XCTAssertEqual(e["cached"] as? Bool, false)
        e = try await embed(imageName)
        XCTAssertEqual(e["cached"] as? Bool, true)
        // switching back to a cached image gives the same masks as a fresh predictor
        let a = try await s.post("/api/segment", json: ["image": imageName, "points": [[30, 100]], "labels": [1], "format": "rle"])
        let r = try JSONDecoder().decode(SegmentResponse.self, from: a.body)
        XCTAssertTrue(r.cached)
        let ref = try reference(Prompt(points: [(30, 100)], labels: [1]), multimask: true)
        for k in 0..<3 { XCTAssertEqual(RLE(cocoString: r.masks[k].counts!, height: 160, width: 120)?.decode(), Array(ref.mask(k))) }
        XCTAssertNil(r.masks[0].png)
        // a third image evicts the least recently used (sub/copy.png), which then needs the encoder again
        try FileManager.default.copyItem(atPath: images + "/" + imageName, toPath: images + "/sub/third.png")
        e = try await embed("sub/third.png")
        XCTAssertEqual(e["cached"] as? Bool, false)
        var keys = await s.server.segmenter.cachedKeys()
        XCTAssertEqual(keys, ["image:image_small.png", "image:sub/third.png"])
        e = try await embed("sub/copy.png")
        XCTAssertEqual(e["cached"] as? Bool, false)
        XCTAssertGreaterThan(e["embed_ms"] as? Double ?? 0, 0)
        keys = await s.server.segmenter.cachedKeys()
        XCTAssertEqual(keys, ["image:sub/third.png", "image:sub/copy.png"])
        let info = try await s.get("/api/info")
        XCTAssertEqual(info.json?["cached"] as? [String], ["image:sub/third.png", "image:sub/copy.png"])
    }

    func testDownloadsAreSamSegmentsFiles() async throws {
        let (root, images) = try imagesFolder()
        let s = try await start(images: images)
        let prompt = Prompt(points: [(40, 70), (90, 20)], labels: [1, 0], box: (10, 20, 100, 140))
        let ref = try reference(prompt, multimask: true)
        let out = root + "/segment"
        try SegmentOutput.write(ref, prompt: prompt, multimask: true,
                                image: try ImageReader.readRGB(path: Paths.fixture("reference/image_small.png")), to: out)
        let q = "image=\(imageName)&point=40,70,1&point=90,20,0&box=10,20,100,140"
        for k in 0..<3 {
            let a = try await s.get("/api/mask.png?\(q)&index=\(k)")
            XCTAssertEqual(a.status, 200, a.text)
            XCTAssertEqual(a.contentType, "image/png")
            XCTAssertEqual(a.body, try Data(contentsOf: URL(fileURLWithPath: out + "/mask_\(k).png")), "mask_\(k).png differs from sam segment's")
        }
        // without index: the mask with the highest predicted IoU
        let best = ref.iouPredictions.indices.max { ref.iouPredictions[$0] < ref.iouPredictions[$1] }!
        let a = try await s.get("/api/mask.png?\(q)")
        XCTAssertEqual(a.body, try Data(contentsOf: URL(fileURLWithPath: out + "/mask_\(best).png")))
        // the prompt JSON is read back by `sam segment --prompts`'s reader and gives the same prompt
        let pj = try await s.get("/api/prompts.json?\(q)&multimask=1")
        XCTAssertEqual(pj.status, 200, pj.text)
        let file = root + "/prompts.json"
        try pj.body.write(to: URL(fileURLWithPath: file))
        let specs = try PromptFile.read(path: file)
        XCTAssertEqual(specs, [PromptSpec(points: [[40, 70], [90, 20]], labels: [1, 0], box: [10, 20, 100, 140], multimask: true)])
        XCTAssertEqual(try specs[0].prompt(file: file, index: 0), prompt)
        // and POST /api/segment echoes the same spec
        let sj = try await s.post("/api/segment", json: ["image": imageName, "points": [[40, 70], [90, 20]], "labels": [1, 0], "box": [10, 20, 100, 140]])
        XCTAssertEqual(try JSONDecoder().decode(SegmentResponse.self, from: sj.body).prompt, specs[0])
        // bad download queries
        for (path, status) in [("/api/mask.png?\(q)&index=3", 400), ("/api/mask.png?\(q)&index=x", 400),
                               ("/api/mask.png?image=\(imageName)&point=1", 400), ("/api/mask.png?image=\(imageName)", 400),
                               ("/api/mask.png?image=\(imageName)&point=500,5", 400), ("/api/prompts.json?point=1,2&colour=red", 400),
                               ("/api/mask.png?image=../secret.png&point=1,1", 403)] {
            let b = try await s.get(path)
            XCTAssertEqual(b.status, status, "\(path): \(b.text)")
            XCTAssertNotNil(b.errorMessage, path)
        }
    }

    func testPathTraversalIsRefused() async throws {
        let (_, images) = try imagesFolder()
        let s = try await start(images: images)
        let list = try await s.get("/api/images")
        XCTAssertEqual(list.status, 200)
        // the link out of the folder, the text file and nothing outside are listed
        XCTAssertEqual(list.json?["images"] as? [String], [imageName, "sub/copy.png"])
        for name in ["../secret.png", "sub/../../secret.png", "/etc/passwd", "link.png", "..", "sub/..%2F..%2Fsecret.png",
                     "%2Fetc%2Fpasswd", "..%2Fsecret.png"] {
            let a = try await s.get("/api/image?image=\(name)")
            XCTAssertEqual(a.status, 403, "\(name): \(a.text)")
            XCTAssertTrue(a.errorMessage?.contains("leaves the served folder") == true, "\(name): \(a.text)")
            let b = try await s.post("/api/segment", json: ["image": name.removingPercentEncoding!, "points": [[1, 1]]])
            XCTAssertEqual(b.status, 403, "\(name): \(b.text)")
        }
        let ok = try await s.get("/api/image?image=sub/copy.png")
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(try decodePNG(ok.body, in: images + "/..").width, 120)
        let missing = try await s.get("/api/image?image=nope.png")
        XCTAssertEqual(missing.status, 404, missing.text)
        let missing2 = try await s.post("/api/segment", json: ["image": "nope.png", "points": [[1, 1]]])
        XCTAssertEqual(missing2.status, 404, missing2.text)
        let dir = try await s.get("/api/image?image=sub")
        XCTAssertEqual(dir.status, 404, dir.text)
        let notImage = try await s.get("/api/image?image=notes.txt")
        XCTAssertEqual(notImage.status, 415, notImage.text)
        let still = try await s.get("/api/info")
        XCTAssertEqual(still.status, 200, "the server still answers")
    }

    func testUploadsAreBoundedAndDecodedByTheGuardedReader() async throws {
        let (_, images) = try imagesFolder()
        let s = try await start(images: nil, maxUpload: 64 << 10)
        let png = try Data(contentsOf: URL(fileURLWithPath: images + "/" + imageName))
        let up = try await s.request("POST", "/api/upload", body: png, contentType: "image/png")
        XCTAssertEqual(up.status, 200, up.text)
        let id = try XCTUnwrap(up.json?["upload"] as? String)
        XCTAssertEqual(up.json?["width"] as? Int, 120)
        let seg = try await s.post("/api/segment", json: ["upload": id, "points": [[40, 70]], "labels": [1], "format": "rle"])
        XCTAssertEqual(seg.status, 200, seg.text)
        let r = try JSONDecoder().decode(SegmentResponse.self, from: seg.body)
        let ref = try reference(Prompt(points: [(40, 70)], labels: [1]), multimask: true)
        XCTAssertEqual(r.iou_predictions, ref.iouPredictions)
        for k in 0..<3 { XCTAssertEqual(RLE(cocoString: r.masks[k].counts!, height: 160, width: 120)?.decode(), Array(ref.mask(k))) }
        let shown = try await s.get("/api/image?upload=\(id)")
        XCTAssertEqual(try decodePNG(shown.body, in: images + "/..").values.count, 120 * 160)

        let cases: [(String, Data, Int, String)] = [
            ("oversized", Data(repeating: 0x89, count: (64 << 10) + 1), 413, "more than 65536"),
            ("text", Data("hello, this is not a picture".utf8), 415, "unknown image format"),
            ("truncated PNG", png.prefix(200), 400, "upload"),
            ("empty", Data(), 400, "empty upload"),
            ("PNG signature then garbage", png.prefix(8) + Data(repeating: 7, count: 100), 400, "upload"),
        ]
        for (what, body, status, message) in cases {
            let a = try await s.request("POST", "/api/upload", body: body, contentType: "application/octet-stream")
            XCTAssertEqual(a.status, status, "\(what): \(a.text)")
            XCTAssertTrue(a.errorMessage?.contains(message) == true, "\(what): \(a.text)")
            XCTAssertFalse(a.text.contains(NSTemporaryDirectory()), "\(what): the message names the temporary file: \(a.text)")
        }
        // no --images: naming a file is a 404; an unknown upload too
        let noImages = try await s.post("/api/segment", json: ["image": imageName, "points": [[1, 1]]])
        XCTAssertEqual(noImages.status, 404, noImages.text)
        let unknown = try await s.post("/api/segment", json: ["upload": "deadbeef", "points": [[1, 1]]])
        XCTAssertEqual(unknown.status, 404, unknown.text)
        let none = try await s.get("/api/images")
        XCTAssertEqual(none.json?["images"] as? [String], [])
        let still = try await s.get("/api/info")
        XCTAssertEqual(still.status, 200, "the server still answers")
    }

    func testMalformedRequestsGet400WithAMessage() async throws {
        let (_, images) = try imagesFolder()
        let s = try await start(images: images)
        let bodies: [(String, String, String)] = [
            ("not JSON", "{", "not JSON"),
            ("a list", "[]", "JSON object"),
            ("misspelt key", #"{"image":"image_small.png","points":[[1,1]],"lables":[1]}"#, "unknown key(s) lables"),
            ("points of strings", #"{"image":"image_small.png","points":[["a","b"]]}"#, "points"),
            ("point of three numbers", #"{"image":"image_small.png","points":[[1,2,3]]}"#, "point 0 must be [x, y]"),
            ("labels without points", #"{"image":"image_small.png","labels":[1]}"#, "labels given without points"),
            ("no prompt", #"{"image":"image_small.png"}"#, "needs points or a box"),
            ("point outside", #"{"image":"image_small.png","points":[[120,5]]}"#, "outside"),
            ("label 2", #"{"image":"image_small.png","points":[[1,1]],"labels":[2]}"#, "label 2"),
            ("labels count", #"{"image":"image_small.png","points":[[1,1]],"labels":[1,0]}"#, "1 points but 2 labels"),
            ("inverted box", #"{"image":"image_small.png","box":[50,50,10,10]}"#, "x1 < x0"),
            ("box of 3", #"{"image":"image_small.png","box":[1,2,3]}"#, "box must be"),
            ("no image", #"{"points":[[1,1]]}"#, "give \"image\""),
            ("both", #"{"image":"image_small.png","upload":"x","points":[[1,1]]}"#, "not both"),
            ("format", #"{"image":"image_small.png","points":[[1,1]],"format":"gif"}"#, "format"),
            ("multimask string", #"{"image":"image_small.png","points":[[1,1]],"multimask":"yes"}"#, "multimask"),
            ("257 points", #"{"image":"image_small.png","points":["# + Array(repeating: "[1,1]", count: 257).joined(separator: ",") + "]}",
             "257 points, more than 256"),
        ]
        for (what, body, message) in bodies {
            let a = try await s.request("POST", "/api/segment", body: Data(body.utf8))
            XCTAssertEqual(a.status, 400, "\(what): \(a.text)")
            XCTAssertTrue(a.errorMessage?.contains(message) == true, "\(what): expected “\(message)” in \(a.text)")
        }
        let e = try await s.request("POST", "/api/embed", body: Data("nonsense".utf8))
        XCTAssertEqual(e.status, 400, e.text)
        let big = try await s.request("POST", "/api/segment", body: Data(repeating: 0x20, count: (1 << 20) + 10))
        XCTAssertEqual(big.status, 413, big.text)
        let unknownRoute = try await s.get("/api/nothing")
        XCTAssertEqual(unknownRoute.status, 404)
        let wrongMethod = try await s.get("/api/segment")
        XCTAssertTrue([404, 405].contains(wrongMethod.status), "\(wrongMethod.status)")
        // after all that the server still segments, up to the largest prompt allowed
        let ok = try await s.post("/api/segment", json: ["image": imageName, "points": [[40, 70]]])
        XCTAssertEqual(ok.status, 200, ok.text)
        let many = try await s.post("/api/segment", json: ["image": imageName, "points": (0..<256).map { [$0 % 120, $0 % 160] },
                                                            "labels": (0..<256).map { $0 % 2 }, "format": "rle"])
        XCTAssertEqual(many.status, 200, many.text)
    }

    func testPageIsServed() async throws {
        let s = try await start(images: nil)
        let a = try await s.get("/")
        XCTAssertEqual(a.status, 200)
        XCTAssertEqual(a.contentType, "text/html; charset=utf-8")
        for needle in [#"<canvas id="view""#, "/api/segment", "/api/embed", "/api/upload", "/api/mask.png", "/api/prompts.json",
                       "/api/eval", "contextmenu"] {
            XCTAssertTrue(a.text.contains(needle), needle)
        }
        let infoAnswer = try await s.get("/api/info")
        let info = try XCTUnwrap(infoAnswer.json)
        XCTAssertEqual(info["image_size"] as? Int, 128)
        XCTAssertEqual(info["images"] as? Bool, false)
        XCTAssertEqual(info["reports"] as? Bool, false)
    }
}
