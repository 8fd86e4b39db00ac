// `sam eval` and `sam eval-merge`: IoU benchmarks of prompt protocols on labelled data sets, journaled and
// resumable, shardable across machines.
import ArgumentParser
import Foundation
import SAMEval
import SAMInference

/// Parses "k/n".
struct ShardArg: ExpressibleByArgument {
    var k: Int, n: Int
    init?(argument: String) {
        let p = argument.split(separator: "/")
        guard p.count == 2, let k = Int(p[0]), let n = Int(p[1]), n >= 1, k >= 1, k <= n else { return nil }
        self.k = k; self.n = n
    }
}

/// Options naming a data set and how its masks become objects.
struct DatasetOptions: ParsableArguments {
    @Option(help: "Data set: a folder with images/ and masks/ (paired by stem), a COCO instances JSON file, or an SA-1B folder (NAME.jpg + NAME.json).")
    var dataset: String
    @Option(help: "Images folder of a COCO instances JSON (default: the JSON's folder).") var images: String?
    @Option(help: "Mask value that is ignored: in neither intersection nor union, never clicked (GrabCut: 128). Default: none.")
    var ignoreValue: Int?
    @Option(help: "How mask values become objects: binary (value >= 128 is the object; default), merged (every non-zero value is one object), separate (each non-zero value its own object, id STEM#VALUE).")
    var instances: String = "binary"
    @Flag(help: "Berkeley's fix: when an image's transpose has its mask's size, turn the image 90° counter-clockwise (off: such a pair is an error).")
    var rotateMismatched = false

    func validate() throws {
        if let v = ignoreValue, !(0...255).contains(v) { throw ValidationError("--ignore-value must be 0…255") }
        if InstanceMode(rawValue: instances) == nil { throw ValidationError("--instances must be binary, merged or separate") }
    }

    func open() throws -> Dataset {
        try Dataset.open(path: dataset, imagesDir: images, ignoreValue: ignoreValue.map(UInt8.init),
                         instances: InstanceMode(rawValue: instances)!, rotateMismatched: rotateMismatched)
    }

    var runDescription: String {
        "dataset=\((dataset as NSString).standardizingPath) ignore=\(ignoreValue.map(String.init) ?? "none") instances=\(instances) rotate=\(rotateMismatched)"
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a checkpoint on a labelled data set with a prompt protocol; one CSV row per object.",
        discussion: """
        Protocols: box (tight inclusive box, one mask); point (farthest from the boundary, multimask: iou = top-1 by \
        predicted IoU, iou_oracle = best of three); center (centre of mass rounded half up, else the farthest point; \
        top-1); random (uniform object pixel, seeded SplitMix64; top-1); box+point (one mask); jbox (box with each side \
        moved by up to 10 % of its length, seeded; one mask); clicks:N (RITM's click simulation: iou_1..iou_N, \
        noc85, noc90 capped at N). Several protocols, comma-separated, share one encoder pass per image; --out must \
        then contain {prompt} (replaced by box, point, clicks5, …).
        Rows are appended and flushed to FILE.csv.partial as objects finish; a killed run started again with the same \
        options resumes from it; FILE.csv is written atomically at the end. Progress on stderr, the summary on stdout.
        """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var data: DatasetOptions
    @Option(help: "Protocol(s): \(EvalProtocol.names); comma-separated for several.") var prompt: String = ""
    @Option(help: "Output CSV (with several protocols, a path containing {prompt}).") var out: String = ""
    @Flag(help: "Only check the data set (pairing, decoding, sizes, empty objects) and list its objects; no model is loaded.")
    var check = false
    @Option(help: "Evaluate only the first N objects (of the shard).") var limit: Int?
    @Option(help: "Evaluate shard k of n (1-based; contiguous blocks of the sorted objects); merge with `sam eval-merge`.")
    var shard: ShardArg?
    @Option(help: "Seed of the random and jbox protocols.") var seed: UInt64 = 0

    var protocols: [EvalProtocol] { prompt.split(separator: ",").compactMap { EvalProtocol(String($0)) } }

    func validate() throws {
        if check { return }
        try model.requireModel()
        if prompt.isEmpty || out.isEmpty { throw ValidationError("give --prompt and --out (or --check)") }
        let parts = prompt.split(separator: ",")
        for p in parts where EvalProtocol(String(p)) == nil {
            throw ValidationError("unknown protocol '\(p)'; known: \(EvalProtocol.names)")
        }
        if parts.count > 1 && !out.contains("{prompt}") { throw ValidationError("--out must contain {prompt} with several protocols") }
        if let l = limit, l < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        try runReportingErrors {
            let ds = try data.open()
            if check {
                let objs = Evaluation.objects(of: ds, shard: shard.map { ($0.k, $0.n) }, limit: limit)
                var pixels = 0
                for o in objs { pixels += try ds.load(o).truth.area }
                print("\(ds.name): \(objs.count) objects, all readable, sizes matching; mean object area \(objs.isEmpty ? 0 : pixels / objs.count) pixels")
                return
            }
            let predictor = try model.loadAny().makePredictor()
            let ps = protocols
            let outs = ps.map { out.replacingOccurrences(of: "{prompt}", with: $0.fileName) }
            var desc = "sam eval checkpoint=\(model.label) \(data.runDescription)"
            if let s = shard { desc += " shard=\(s.k)/\(s.n)" }
            let opts = EvalOptions(protocols: ps, outputs: outs, seed: seed, limit: limit, shard: shard.map { ($0.k, $0.n) },
                                   runDescription: desc)
            let tty = isatty(2) != 0
            var lastPrinted = -1
            let results = try Evaluation.run(predictor: predictor, dataset: ds, options: opts) { p in
                if tty {
                    FileHandle.standardError.write(Data(("\r" + progressBar(p) + (p.done == p.total ? "\n" : "")).utf8))
                } else {
                    let step = max(1, p.total / 20)
                    if p.done == p.total || p.done - lastPrinted >= step {
                        lastPrinted = p.done
                        FileHandle.standardError.write(Data((progressBar(p) + "\n").utf8))
                    }
                }
            }
            for r in results { print("\(ds.name) \(r.summary) -> \(r.path)") }
        }
    }
}

struct EvalMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-merge",
        abstract: "Concatenate the CSVs of `sam eval --shard k/n` runs (same protocol) into one, refusing doubled ids.")

    @Option(help: "Merged CSV (written atomically).") var out: String
    @Argument(help: "Shard CSVs, in shard order.") var inputs: [String]

    func run() throws {
        try runReportingErrors {
            let n = try Evaluation.merge(inputs, into: out)
            print("\(n) rows -> \(out)")
        }
    }
}
