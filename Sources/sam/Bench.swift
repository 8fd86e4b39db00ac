// `sam bench`: per-stage timings (median after a warm-up), GFLOP/s and peak resident memory.
import ArgumentParser
import Foundation
import SAMEval
import SAMInference
import SAMModel
import SAMTensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the image encoder and the prompt encoder + mask decoder (release build; median of N runs after one warm-up).",
        discussion: """
        Also measures this machine's sgemm rate on the encoder MLP's product (4096×768×3072, both cores, issued as the \
        encoder issues it) right before each timed encoder run, and prints the encoder's GFLOP/s as a fraction of it \
        (the median over runs of each run against the rate measured just before it; JSON: sgemm_gflops, sgemm_runs, \
        encoder_roofline_fraction), and the OpenBLAS kernels in use (blas_core) with a notice when they are narrower \
        than the CPU's (blas_notice). With --precision bf16 it also measures oneDNN's bf16 rate on the same shape (the \
        activations converted per call, the weight held as bf16, as the encoder runs them; JSON: bf16_gflops, bf16_runs, \
        bf16_kernel, bf16_native), and the encoder's fraction is of that rate.
        """)

    @OptionGroup var model: ModelOptions
    @Option(help: "Timed runs per stage (after one warm-up run).") var runs: Int = 3
    @Option(help: "Prompts per decoder batch (1 = one prompt per call).") var batch: Int = 1
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws { try model.requireModel() }

    func run() throws {
        try runReportingErrors {
            let t0 = Date()
            let m = try model.loadAny()
            let loadSeconds = Date().timeIntervalSince(t0)
            let r = Benchmark.run(model: m, runs: max(1, runs), batch: max(1, batch), roofline: true)
            if json {
                var obj = r.json
                obj["model"] = model.label
                obj["size"] = m.sizeName
                obj["parameters"] = m.parameterCount
                obj["load_seconds"] = loadSeconds
                let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("model: \(model.label)  (\(m.sizeName), \(m.parameterCount) parameters, loaded in \(String(format: "%.2f", loadSeconds)) s)")
                print(r.table)
            }
        }
    }
}
