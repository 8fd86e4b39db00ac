// `sam verify`: layer-by-layer comparison with a reference dump.
import ArgumentParser
import Foundation
import SAMEval
import SAMIO
import SAMInference

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare every module output of the Swift model with a reference dump (HDF5), or two dumps.",
        discussion: "Exit status 1 when any module fails its tolerance or a shape differs (or, with --strict, a dump name matches no module).")

    @OptionGroup var model: ModelOptions
    @Option(help: "Reference dump written by experiments/reference/dump.py.") var dump: String
    @Option(help: "Compare --dump with this second dump instead of running a model.") var against: String?
    @Option(help: "Relative-L2 tolerance per module output.") var tolerance: Double = Tolerance.moduleRelL2
    @Flag(help: "Fail on dump names that match no Swift module.") var strict = false
    @Option(help: "Write the table to this file: Markdown (.md) or CSV (.csv).") var report: String?
    @Option(help: "Write the Swift model's own activations to this HDF5 file in the dump layout.") var writeDump: String?

    func validate() throws {
        if against == nil { try model.requireModel() }
    }

    func run() throws {
        var result = VerifyReport()
        try runReportingErrors {
            if let against {
                result = try Verifier.compareDumps(dump, against: against, tolerance: tolerance, strict: strict)
            } else {
                switch try model.loadAny() {
                case .sam(let m):
                    result = try Verifier.verify(model: m, dumpPath: dump, tolerance: tolerance, strict: strict,
                                                 writeDump: writeDump, checkpointName: model.label)
                case .sam2(let m):
                    result = try Verifier.verify(sam2: m, dumpPath: dump, tolerance: tolerance, strict: strict,
                                                 writeDump: writeDump, checkpointName: model.label)
                }
            }
            print(result.table(), terminator: "")
            if let report {
                let text = report.hasSuffix(".csv") ? result.csv() : result.markdown(title: "Verification of \(model.checkpoint ?? model.modelType ?? "") against \((dump as NSString).lastPathComponent)")
                try AtomicFile.write(Data(text.utf8), to: report)
            }
        }
        if !result.passed { throw ExitCode(1) }
    }
}
