// The page in a real headless browser (Debian's Chromium through chromedriver): pick a bundled image
// (notebooks-data/demo), left click a point, drag a box, right click a negative point, choose another mask; after
// each action the mask the page shows must equal the mask file `sam segment` writes for the same prompt, pixel for
// pixel. Skipped (with the install line) when Chromium or chromedriver is missing.
// SAM_SERVE_SCREENSHOTS=DIR keeps the screenshots there (reports/serve/ holds the committed ones).
import Foundation
import SAMIO
import SAMInference
import SAMServe
import SAMTestSupport
import XCTest

final class ServePageBrowserTests: XCTestCase {
    func testPageMasksEqualSamSegmentInHeadlessChromium() async throws {
        _ = try WebDriver.binaries()
        let ckpt = Paths.bundledDemoCheckpoint
        let data = Paths.packageRoot.appendingPathComponent("notebooks-data").path   // the data set "demo": images/, masks/
        let images = data + "/demo/images"
        let imageName = "zebra07_000000504439.jpg"   // 500 × 243
        let sam = try samExecutable()
        let tmp = try temporaryFolder(self)
        let shots = ProcessInfo.processInfo.environment["SAM_SERVE_SCREENSHOTS"] ?? tmp

        // one evaluation row for the evaluation tab
        try FileManager.default.createDirectory(atPath: tmp + "/reports/swift/tiny", withIntermediateDirectories: true)
        try Data("id,iou\nzebra07_000000504439,0.279873\n".utf8).write(to: URL(fileURLWithPath: tmp + "/reports/swift/tiny/demo_box.csv"))
        let server = try await LiveServer(model: try SamLoader.load(checkpoint: ckpt),
                                          options: ServeOptions(images: images, reports: tmp + "/reports", data: data,
                                                                checkpointLabel: "sam_demo_tiny_fp16.pth"))
        addTeardownBlock { server.stop() }
        let wd = try await WebDriver()
        do {
            try await wd.navigate(server.base.absoluteString + "/")
            try await wd.wait(for: "document.body.dataset.state === 'started'")
            _ = try await wd.execute("const s = document.getElementById('images'); s.value = arguments[0]; s.dispatchEvent(new Event('change'));", [imageName])
            try await wd.wait(for: "document.body.dataset.state === 'ready' && sam.img")
            // viewport coordinates of image pixel (x, y): its centre, from the canvas's current place on the page
            func geometry() async throws -> [Double] {
                try await wd.value("""
                    const c = document.getElementById('view'), r = c.getBoundingClientRect();
                    return [r.left + c.clientLeft, r.top + c.clientTop, c.clientWidth, c.clientHeight, c.width, c.height];
                    """, as: [Double].self)
            }
            let geo = try await geometry()
            XCTAssertEqual(geo[4], 500); XCTAssertEqual(geo[5], 243)
            XCTAssertEqual(geo[2], 500, "the canvas is shown at the image's size (1 CSS px = 1 image px) in a 1280-wide window")
            func at(_ x: Int, _ y: Int, _ geo: [Double]) -> (Int, Int) {
                (Int((geo[0] + (Double(x) + 0.5) * geo[2] / geo[4]).rounded(.down)), Int((geo[1] + (Double(y) + 0.5) * geo[3] / geo[5]).rounded(.down)))
            }

            struct Step { var name: String; var pointer: [WebDriver.Pointer]; var args: [String]; var expectActions: Int }
            // the prompts of Tests/Fixtures/segment/demo_tiny_zebra.h5 (p1 and the object's box) and a background point
            let p = at(84, 165, geo), b0 = at(1, 2, geo), b1 = at(187, 242, geo), n = at(300, 60, geo)
            let steps = [
                Step(name: "point", pointer: [.move(p.0, p.1), .down(0), .up(0)], args: ["--point", "84,165,1"], expectActions: 1),
                Step(name: "point_box", pointer: [.move(b0.0, b0.1), .down(0), .move((b0.0 + b1.0) / 2, (b0.1 + b1.1) / 2), .move(b1.0, b1.1), .up(0)],
                     args: ["--point", "84,165,1", "--box", "1,2,187,242"], expectActions: 2),
                Step(name: "point_box_negative", pointer: [.move(n.0, n.1), .down(2), .up(2)],
                     args: ["--point", "84,165,1", "--box", "1,2,187,242", "--point", "300,60,0"], expectActions: 3),
            ]
            var latencies: [Double] = []
            for (i, step) in steps.enumerated() {
                let now = try await geometry()
                XCTAssertEqual(now, geo, "\(step.name): the image moved on the page")
                try await wd.pointer(step.pointer)
                try await wd.wait(for: "document.body.dataset.state === 'ready' && sam.actions.length === \(step.expectActions) && sam.response")
                let out = tmp + "/\(step.name)"
                let r = try runSam(sam, ["segment", "--checkpoint", ckpt, "--image", images + "/" + imageName, "--out", out] + step.args)
                XCTAssertEqual(r.status, 0, r.stderr)
                let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/result.json"))) as? [String: Any])
                let expectedIoU = try XCTUnwrap(result["iou_predictions"] as? [Double])
                // the prompt the page sent is the one given to sam segment
                let prompt = try XCTUnwrap(result["prompt"] as? [String: Any])
                let page = try await wd.value("""
                    const q = Object.assign({}, sam.response.prompt);
                    return { prompt: q, selected: sam.selected, iou: sam.response.iou_predictions, server_ms: sam.response.server_ms };
                    """, as: [String: Any].self)
                let pagePrompt = try XCTUnwrap(page["prompt"] as? [String: Any])
                XCTAssertEqual(NSDictionary(dictionary: pagePrompt), NSDictionary(dictionary: prompt),
                               "\(step.name): the page sent \(pagePrompt), sam segment was given \(prompt)")
                let iou = try XCTUnwrap(page["iou"] as? [Double])
                XCTAssertEqual(iou.count, expectedIoU.count)
                for (a, e) in zip(iou, expectedIoU) { XCTAssertEqual(Float(a), Float(e), step.name) }
                latencies.append(page["server_ms"] as? Double ?? -1)
                // every one of the three masks as the page decoded it (the selected one is drawn) against mask_k.png
                for k in 0..<3 {
                    try await compare(wd, mask: k, with: out + "/mask_\(k).png", step.name)
                }
                XCTAssertEqual(page["selected"] as? Int, expectedIoU.indices.max { expectedIoU[$0] < expectedIoU[$1] }, step.name)
                try await wd.screenshot().write(to: URL(fileURLWithPath: shots + "/page_\(i + 1)_\(step.name).png"))
            }
            // choosing another mask draws it
            _ = try await wd.execute("document.getElementById('mask-2').click();")
            try await wd.wait(for: "sam.selected === 2 && document.getElementById('mask-2').className === 'sel'")
            let drawn = try await wd.value("""
                const c = document.getElementById('view'), g = c.getContext('2d'), d = g.getImageData(0, 0, c.width, c.height).data;
                g.drawImage(sam.img, 0, 0); const o = g.getImageData(0, 0, c.width, c.height).data; draw();
                let changed = 0, inMask = 0; const m = sam.masks[2];
                for (let i = 0; i < m.length; i++) { const diff = d[4*i] !== o[4*i] || d[4*i+1] !== o[4*i+1] || d[4*i+2] !== o[4*i+2];
                  if (diff) changed++; if (diff && m[i]) inMask++; }
                return [changed, inMask];
                """, as: [Int].self)
            XCTAssertGreaterThan(drawn[0], 0, "the overlay changes the picture")
            try await wd.screenshot().write(to: URL(fileURLWithPath: shots + "/page_4_mask2.png"))
            // undo removes the negative point and gives point + box again
            _ = try await wd.execute("document.getElementById('undo').click();")
            try await wd.wait(for: "document.body.dataset.state === 'ready' && sam.actions.length === 2 && !sam.response.prompt.labels.includes(0)")
            try await compare(wd, mask: 0, with: tmp + "/point_box/mask_0.png", "after undo")
            // the download links point at the API with the page's prompt
            let links = try await wd.value("return [document.getElementById('dl-mask').href, document.getElementById('dl-prompt').href];", as: [String].self)
            XCTAssertTrue(links[0].contains("/api/mask.png?image=zebra07_000000504439.jpg&point=84%2C165%2C1&box=1%2C2%2C187%2C242"), links[0])
            XCTAssertTrue(links[1].contains("/api/prompts.json?"), links[1])
            print("page server_ms per step: \(latencies)")
            // the evaluation tab: the row, and its overlay drawn by the server
            _ = try await wd.execute("document.getElementById('tab-eval').click();")
            try await wd.wait(for: "document.querySelectorAll('#evalrows tr[data-i]').length === 1")
            _ = try await wd.execute("document.querySelector('#evalrows tr[data-i]').click();")
            try await wd.wait(for: "document.getElementById('overlaycap').textContent.includes('served model IoU') && document.getElementById('overlay').complete && document.getElementById('overlay').naturalWidth > 0")
            let api = try await server.get("/api/eval/overlay?dataset=demo&id=zebra07_000000504439&protocol=box")
            XCTAssertEqual(api.status, 200, api.text)
            let iou = try XCTUnwrap(Double(try XCTUnwrap(api.headers["x-sam-iou"])))
            let shown = try await wd.value("const o = document.getElementById('overlay'); o.scrollIntoView(); return [document.getElementById('overlaycap').textContent, String(o.naturalWidth)];", as: [String].self)
            XCTAssertTrue(shown[0].contains("demo zebra07_000000504439 · box · CSV IoU 0.2799"), shown[0])
            XCTAssertTrue(shown[0].hasSuffix("served model IoU " + String(format: "%.4f", iou)), shown[0])
            XCTAssertEqual(shown[1], "500")
            try await wd.screenshot().write(to: URL(fileURLWithPath: shots + "/page_5_eval_overlay.png"))
        } catch {
            await wd.quit()
            throw error
        }
        await wd.quit()
    }

    /// The k-th mask the page holds (decoded by the browser from the API's PNG) equals `file`'s pixels.
    func compare(_ wd: WebDriver, mask k: Int, with file: String, _ what: String) async throws {
        let bits = try await wd.value("return Array.from(sam.masks[arguments[0]]).join('');", [k], as: String.self)
        let expected = try ImageReader.readLabels(path: file)
        XCTAssertEqual(bits.utf8.count, expected.width * expected.height, what)
        var differ = 0, set = 0
        for (b, e) in zip(bits.utf8, expected.values) {
            if (b == UInt8(ascii: "1")) != (e != 0) { differ += 1 }
            if e != 0 { set += 1 }
        }
        XCTAssertEqual(differ, 0, "\(what) mask \(k): \(differ) pixels differ from sam segment's \(file)")
        XCTAssertGreaterThan(set, 0, "\(what) mask \(k) is empty: the comparison would prove little")
    }
}

/// The `sam` executable of this build (`swift build --build-tests` puts it beside the test bundle), or an XCTSkip.
func samExecutable() throws -> String {
    var candidates: [URL] = []
    for b in Bundle.allBundles { candidates.append(b.bundleURL.deletingLastPathComponent()) }
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    for dir in candidates {
        let p = dir.appendingPathComponent("sam").path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    throw XCTSkip("the `sam` executable is not beside the test bundle; run `swift build --build-tests` first")
}

func runSam(_ exe: String, _ arguments: [String]) throws -> (status: Int32, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = arguments
    // the same OpenBLAS kernels as this process (sam otherwise restarts itself with OPENBLAS_CORETYPE set, whose
    // different summation order moves predicted IoUs by ~1e-6 and can flip pixels at the mask threshold)
    var env = ProcessInfo.processInfo.environment
    env["SAM_KEEP_BLAS_CORE"] = "1"
    p.environment = env
    let err = Pipe()
    p.standardOutput = FileHandle.nullDevice
    p.standardError = err
    try p.run()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: e, as: UTF8.self))
}
