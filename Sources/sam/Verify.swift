// `sam verify`: layer-by-layer comparison with a reference dump.
import ArgumentParser
import Foundation
import SAMEval
import SAMIO
import SAMInference
import SAMTensor

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare every module output of the Swift model with a reference dump (HDF5), or two dumps.",
        discussion: """
        Exit status 1 when any module fails its tolerance or a shape differs (or, with --strict, a dump name matches no \
        module). With --precision bf16 against a float32 dump, every row is judged by the bf16 tolerances of its part \
        (image encoder rel-L2 ≤ \(BF16Tolerance.encoderRelL2), prompt encoder ≤ \(BF16Tolerance.promptEncoderRelL2), \
        decoder and low-res logits ≤ \(BF16Tolerance.decoderRelL2), masks ≥ \(BF16Tolerance.maskAgreement * 100)% of \
        pixels, IoU and object scores max-abs ≤ \(BF16Tolerance.scoreMaxAbs); reports/precision), or all module rows by \
        --tolerance when given. Against a dump of PyTorch under autocast bf16 (dump.py --autocast bf16) the same.
        """)

    @OptionGroup var model: ModelOptions
    @Option(help: "Reference dump written by experiments/reference/dump.py.") var dump: String
    @Option(help: "Compare --dump with this second dump instead of running a model.") var against: String?
    @Option(help: "Relative-L2 tolerance per module output (default \(Tolerance.moduleRelL2); in bf16 the tolerance of each module's part).")
    var tolerance: Double?
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
                result = try Verifier.compareDumps(dump, against: against, tolerance: tolerance ?? Tolerance.moduleRelL2, strict: strict)
            } else {
                let fp32Tolerance = model.precision == .fp32 ? (tolerance ?? Tolerance.moduleRelL2) : Tolerance.moduleRelL2
                switch try model.loadAny() {
                case .sam(let m):
                    result = try Verifier.verify(model: m, dumpPath: dump, tolerance: fp32Tolerance, strict: strict,
                                                 writeDump: writeDump, checkpointName: model.label)
                case .sam2(let m):
                    result = try Verifier.verify(sam2: m, dumpPath: dump, tolerance: fp32Tolerance, strict: strict,
                                                 writeDump: writeDump, checkpointName: model.label)
                }
                result = result.judged(for: model.precision, moduleTolerance: tolerance)
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
