// `sam demo`: the main job on the bundled defaults.
import ArgumentParser
import Foundation
import SAMEval

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a reference dump, segment and score the bundled images, and write a report (defaults: bundled data).")

    @Option(help: "Checkpoint.") var checkpoint = "notebooks-data/demo/sam_demo_tiny_fp16.pth"
    @Option(help: "Folder of images.") var images = "notebooks-data/demo/images"
    @Option(help: "Folder of masks (PNG, same stem as the image; 255 object, 0 background).") var masks = "notebooks-data/demo/masks"
    @Option(help: "Reference dump to verify against (empty to skip).") var dump = "Tests/Fixtures/reference/demo_tiny_golden.h5"
    @Option(help: "Report folder.") var out = "reports/demo"

    func run() throws {
        try runReportingErrors {
            let path = try SAMEval.Demo.run(DemoOptions(checkpoint: checkpoint, imagesDir: images, masksDir: masks,
                                                        dump: dump.isEmpty ? nil : dump, outDir: out)) { print($0) }
            print("report: \(path)")
        }
    }
}
