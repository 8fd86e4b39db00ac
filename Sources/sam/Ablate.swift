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

    func run() throws {
        try runReportingErrors {
            let c = try AblationConfig.load(path: config)
            let tty = isatty(2) != 0
            let report = try Ablation.run(config: c, log: { print($0) }) { p in
                if tty { FileHandle.standardError.write(Data(("\r" + progressBar(p) + (p.done == p.total ? "\n" : "")).utf8)) }
            }
            print("report: \(report)")
        }
    }
}
