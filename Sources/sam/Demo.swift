// `sam demo`: the main job on the bundled defaults.
import ArgumentParser
import Foundation
import SAMEval

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a reference dump, segment and score the bundled images, and write a report (defaults: bundled data).")

    @OptionGroup var model: ModelOptions
    @Option(help: "Folder of images.") var images = "notebooks-data/demo/images"
    @Option(help: "Folder of masks (PNG, same stem as the image; 255 object, 0 background).") var masks = "notebooks-data/demo/masks"
    @Option(help: "Reference dump to verify against (empty to skip).") var dump = "Tests/Fixtures/reference/demo_tiny_golden.h5"
    @Option(help: "Report folder.") var out = "reports/demo"

    /// The bundled demo checkpoint, used when --checkpoint is not given.
    static let bundledCheckpoint = "notebooks-data/demo/sam_demo_tiny_fp16.pth"

    func validate() throws {
        if model.modelType != nil && model.checkpoint == nil {
            throw ValidationError("the demo verifies and scores a trained checkpoint: give --checkpoint (default \(Self.bundledCheckpoint)), not --model-type")
        }
    }

    func run() throws {
        try runReportingErrors {
            ModelOptions.printBLASNotice()
            let path = try SAMEval.Demo.run(DemoOptions(checkpoint: model.checkpoint ?? Self.bundledCheckpoint, imagesDir: images, masksDir: masks,
                                                        dump: dump.isEmpty ? nil : dump, outDir: out)) { print($0) }
            print("report: \(path)")
        }
    }
}
