// `sam ablate CONFIG`: checkpoints × data sets × protocols from a config file, into CSVs and a report.
import ArgumentParser
import Foundation
import SAMEval

struct Ablate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an ablation config (checkpoints × data sets × protocols): per-object CSVs, a summary, model sizes, a Markdown report with plots.",
        discussion: """
        The config is JSON (see experiments/ablations/demo_checkpoints.json and AblationConfig in Sources/SAMEval/Ablation.swift). \
        CSVs that exist are reused and journals resumed, so a killed ablation continues where it stopped.
        """)

    @Argument(help: "Config file (JSON).") var config: String
    @Flag(help: "Evaluate nothing: write the report from the CSVs that exist (missing ones show as —).") var reportOnly = false
    @Flag(help: "Skip the model-size measurements (they load and time every checkpoint); an earlier model_size.csv is reported instead.") var noModelSize = false

    func run() throws {
        try runReportingErrors {
            var c = try AblationConfig.load(path: config)
            if noModelSize { c.modelSize = false }
            // evaluating or measuring model sizes runs the models
            if !reportOnly || c.modelSize { ModelOptions.printBLASNotice() }
            let tty = isatty(2) != 0
            let report = try Ablation.run(config: c, reportOnly: reportOnly, log: { print($0) }) { p in
                if tty { FileHandle.standardError.write(Data(("\r" + progressBar(p) + (p.done == p.total ? "\n" : "")).utf8)) }
            }
            print("report: \(report)")
        }
    }
}
