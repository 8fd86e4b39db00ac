// The `sam` command line: argument parsing only; every computation lives in the libraries.
import ArgumentParser
import CMalloc
import Foundation
import SAMEval
import SAMIO
import SAMInference
import SAMModel
import SAMTensor

@main
enum Entry {
    static func main() {
        fixBLASKernels()
        tuneMalloc()
        SAMCommand.main()
    }

    /// When OpenBLAS loaded kernels older than the CPU (see `BLASCore`), runs this program again with
    /// OPENBLAS_CORETYPE set (and OPENBLAS_NUM_THREADS=1 unless the user set it); a user's own OPENBLAS_CORETYPE (any value) is left alone, and so is SAM_KEEP_BLAS_CORE=1.
    static func fixBLASKernels() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["SAM_KEEP_BLAS_CORE"] == nil,
              let core = BLASCore.suggestedCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        // Products run single-threaded inside OpenBLAS (`BLASThreads`); without this its pool of idle threads,
        // started when the library loads, spins in sched_yield beside the work (a sixth of a one-prompt call).
        let ownThreads = env["OPENBLAS_NUM_THREADS"] == nil
        if ownThreads { setenv("OPENBLAS_NUM_THREADS", "1", 1) }
        let args = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        // exec failed: carry on with the kernels we have
        unsetenv("OPENBLAS_CORETYPE")
        if ownThreads { unsetenv("OPENBLAS_NUM_THREADS") }
    }

    /// Keeps freed tensor memory in the heap for reuse instead of returning it to the kernel: glibc's default
    /// (mmap for every large block, trimmed on free) page-faults on every fresh activation buffer, which costs a
    /// third of an encoder pass. The same settings as MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=… MALLOC_TOP_PAD_=….
    static func tuneMalloc() {
        sam_tune_malloc(256 << 20)
    }
}

struct SAMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sam",
        abstract: "Segment Anything in Swift: verify against Meta's reference, segment, evaluate, benchmark.",
        discussion: """
        Exit status: 0 success; 1 a verification or comparison failed; 64 bad command line; 3 bad input \
        (missing or corrupt file, unknown key, wrong shape, bad prompt).
        """,
        subcommands: [Demo.self, Segment.self, Embed.self, Verify.self, Bench.self, Eval.self, EvalMerge.self, Ablate.self, Auto.self, Serve.self])
}

/// Runs `body`, turning library errors into a message on stderr and exit status 3.
func runReportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode { throw e } catch let e as ValidationError { throw e } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(3)
    }
}

/// Options naming the model, the one group every command that runs a model takes: a checkpoint, or a model type
/// with random weights. Whether a command needs a model at all is its own decision (`requireModel` in its
/// `validate`): `verify --against` and `eval --check` run none.
struct ModelOptions: ParsableArguments {
    @Option(help: "Checkpoint: .pth/.pt (torch.save of the reference's state_dict: SAM, SAM 2.1, MobileSAM, HQ-SAM, EfficientViT-SAM) or .safetensors (Meta's or Hugging Face's keys); the model and its size are inferred from its tensors.")
    var checkpoint: String?

    @Option(help: "Model type with seeded random weights when no checkpoint is given: \(ModelOptions.knownTypes.joined(separator: ", ")) (SAM 2.1 also as t, s, b+, l); with --checkpoint, the size the checkpoint must have.")
    var modelType: String?

    @Option(help: "SAM 2 only: a JSON file with the model's configuration (SAM2Config: embedDim, numHeads, stages, globalAttBlocks, windowSpec, …), for sizes other than the four published ones, whose heads, windows and global blocks the tensors do not show.")
    var modelConfig: String?

    @Flag(help: "HQ-SAM only: return the HQ token's mask alone (the reference's hq_token_only=True) instead of SAM's best mask plus the HQ mask.")
    var hqTokenOnly = false

    @Option(help: "Precision of the matrix products: fp32 (default, OpenBLAS) or bf16 (oneDNN: bf16 operands, fp32 accumulation; norms, softmax and element-wise passes stay fp32; weights converted once at load).")
    var precision: Precision = .fp32

    static var knownTypes: [String] { SAMConfig.presets.keys.sorted() + SAM2Config.presets.keys.sorted() }

    /// The SAM 2 preset a --model-type names (full or short name), if it names one.
    var sam2Type: SAM2Config? {
        guard let t = modelType else { return nil }
        return SAM2Config.presets[t] ?? SAM2Config.shortNames[t].flatMap { SAM2Config.presets[$0] }
    }

    /// Checks the values given (not whether a model is given).
    func validate() throws {
        if let t = modelType, SAMConfig.presets[t] == nil, sam2Type == nil {
            throw ValidationError("unknown --model-type '\(t)'; known: \(Self.knownTypes.joined(separator: ", ")) (SAM 2.1 also as t, s, b+, l)")
        }
    }

    /// The SAM 2 configuration given by --model-config, else by a SAM 2 --model-type.
    func sam2Config() throws -> SAM2Config? {
        guard let path = modelConfig else { return sam2Type }
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError(path, "cannot read the model configuration") }
        let cfg: SAM2Config
        do { cfg = try JSONDecoder().decode(SAM2Config.self, from: data) } catch {
            throw InputError(path, "not a SAM 2 model configuration (JSON of SAM2Config): \(error)")
        }
        do { try cfg.checkBounds() } catch { throw InputError(path, "\(error)") }
        return cfg
    }

    /// Loads a model of either family: a SAM 2 or v1 checkpoint (told apart by its keys), or random weights of a
    /// --model-type.
    func loadAny() throws -> AnyModel {
        try checkPrecision()
        let m = try loadModelOrRandom()
        if case .sam(let v1) = m { try applyHQ(v1) } else if hqTokenOnly { try applyHQ(nil) }
        // the notice once the model has loaded and taken its options: a file or option refused gets its one-line
        // error alone
        Self.printBLASNotice()
        return m
    }

    /// `--hq-token-only` onto an HQ-SAM model; refused for any other.
    func applyHQ(_ m: Sam?) throws {
        guard hqTokenOnly else { return }
        guard let m, m.hqDecoder != nil else {
            throw InputError(checkpoint ?? modelType ?? "model", "--hq-token-only is for HQ-SAM models; this is \(m.map { $0.config.familyName } ?? "SAM 2.1")")
        }
        m.hqTokenOnly = true
    }

    /// For --precision bf16: refuses a CPU without bf16 products, and notes one that only emulates them. The model
    /// then carries its precision, and its predictors run its passes under it.
    func checkPrecision() throws {
        guard precision == .bf16 else { return }
        try Precision.checkBF16()
        if let n = Precision.nativeNotice { FileHandle.standardError.write(Data((n + "\n").utf8)) }
    }

    private func loadModelOrRandom() throws -> AnyModel {
        try requireModel()
        let s2 = try sam2Config()
        if let c = checkpoint {
            let m = try ModelLoader.load(checkpoint: c, v1Config: modelType.flatMap { SAMConfig.presets[$0] }, sam2Config: s2,
                                         precision: precision)
            if case .sam2(let m2) = m, s2 == nil, m2.config.presetName == nil {
                FileHandle.standardError.write(Data(("notice: \(c) is not one of the four published SAM 2.1 sizes; its heads, window "
                    + "sizes and global-attention blocks have no tensors and were taken as Hiera's defaults (heads \(m2.config.numHeads), "
                    + "windows \(m2.config.windowSpec), global blocks \(m2.config.globalAttBlocks)); give --model-config to set them\n").utf8))
            }
            return m
        }
        if let s2 { return .sam2(SAM2Loader.random(config: s2, precision: precision)) }
        return .sam(SamLoader.random(config: SAMConfig.presets[modelType!]!, precision: precision))
    }

    /// For commands that run a model: one of --checkpoint and --model-type must be given.
    func requireModel() throws {
        if checkpoint == nil && modelType == nil { throw ValidationError("give --checkpoint or --model-type") }
    }

    /// Loads the model, then prints the OpenBLAS notice (`BLASCore.notice`) when the kernels in use are narrower than
    /// the CPU's (after the load, so that a file that does not load gets its one-line error alone).
    func load() throws -> Sam {
        try requireModel()
        try checkPrecision()
        let m = try checkpoint.map { try SamLoader.load(checkpoint: $0, config: modelType.flatMap { SAMConfig.presets[$0] }, precision: precision) }
            ?? SamLoader.random(config: SAMConfig.presets[modelType!]!, precision: precision)
        try applyHQ(m)
        Self.printBLASNotice()
        return m
    }

    /// The OpenBLAS notice on stderr, when there is one.
    static func printBLASNotice() {
        if let n = BLASCore.machineNotice { FileHandle.standardError.write(Data((n + "\n").utf8)) }
    }

    var label: String { checkpoint.map { ($0 as NSString).lastPathComponent } ?? "\(modelType ?? "no model") (random weights)" }
}

extension Precision: ExpressibleByArgument {}
