// `sam serve`: the local page for interactive segmentation and the evaluation browser (SAMServe does the work).
import ArgumentParser
import Dispatch
import Foundation
import SAMIO
import SAMServe

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a local web page (and its JSON API) for interactive segmentation and browsing evaluations.",
        discussion: """
        Open http://HOST:PORT/ in a browser: pick an image (or upload one), left click for a positive point, right \
        click for a negative one, drag for a box. The API is documented in README.md ("The web page"). Only files \
        under --images and --reports are ever read. Stop with Ctrl-C.
        """)

    @OptionGroup var model: ModelOptions
    @Option(help: "Folder of images to offer (JPEG, PNG, BMP; sub-folders included).") var images: String?
    @Option(help: "Folder of evaluation CSVs (`sam eval`/`sam ablate` output, e.g. notebooks-data/eval) for the evaluation browser.")
    var reports: String?
    @Option(help: "Folder holding the evaluated data sets by name (e.g. ../shared/data, with GrabCut/images and GrabCut/masks), for the per-object overlays of the evaluation browser.")
    var data: String?
    @Option(help: "Address to bind; 127.0.0.1 keeps the page on this machine.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port, printed at start).") var port = 8080
    @Option(help: "Largest upload in MB (larger ones get 413).") var maxUploadMb = 20
    @Option(help: "Image embeddings kept in memory (least recently used dropped first).") var cache = 4
    @Option(help: "Largest image accepted, in pixels (width × height), for files and uploads alike.") var maxPixels = 50_000_000

    func validate() throws {
        try model.requireModel()
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not 0…65535") }
        guard maxUploadMb >= 1, maxUploadMb <= 1024 else { throw ValidationError("--max-upload-mb must be 1…1024") }
        guard cache >= 1, cache <= 64 else { throw ValidationError("--cache must be 1…64") }
        guard maxPixels >= 1 else { throw ValidationError("--max-pixels must be positive") }
    }

    func run() throws {
        var server: SAMServer!
        try runReportingErrors {
            ImageLimits.maxPixels = min(ImageLimits.maxPixels, maxPixels)
            let sam = try model.loadAny()
            server = try SAMServer(model: sam, options: ServeOptions(
                images: images, reports: reports, data: data, maxUploadBytes: maxUploadMb << 20, cacheSize: cache, checkpointLabel: model.label))
        }
        let host = host
        let app = server.application(host: host, port: port) { p in
            print("sam serve: http://\(host):\(p)/ (\(model.label)); Ctrl-C stops")
            fflush(stdout)
        }
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        Task {
            do { try await app.runService() } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        if let e = failure.error {
            FileHandle.standardError.write(Data("error: \(e)\n".utf8))
            throw ExitCode(3)
        }
    }
}

private final class FailureBox: @unchecked Sendable {
    var error: (any Error)?
}
