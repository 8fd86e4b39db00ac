// Benchmarks of the model's stages: medians after a warm-up, GFLOP/s from the products issued to BLAS, peak RSS.
import Foundation
import SAMInference
import SAMModel
import SAMTensor

public struct BenchmarkResult {
    public var encoderSeconds: [Double] = []
    public var decoderSeconds: [Double] = []
    public var encoderFLOPs = 0
    public var decoderFLOPs = 0
    public var batch = 1
    /// Peak resident memory of the model's own work: loaded model, one encoder pass and one decode, measured after
    /// the timed runs with the sgemm probe freed and the high-water mark reset (Linux; elsewhere the lifetime peak).
    public var peakRSSBytes = 0
    /// The process's lifetime peak (getrusage), the sgemm probe's operands and every timed run included.
    public var lifetimePeakRSSBytes = 0
    /// Median-run-normalised seconds per stage (total over the timed runs ÷ runs), in first-seen order.
    public var stages: [(name: String, seconds: Double)] = []
    /// The machine's own sgemm rate on the encoder's MLP shape (`Benchmark.SgemmProbe`), GFLOP/s, measured right
    /// before each timed encoder run (same order as `encoderSeconds`); empty when not measured.
    public var sgemmRuns: [Double] = []
    /// The precision the model ran in (`--precision`).
    public var precision: Precision = .fp32
    /// In bf16: oneDNN's bf16 rate on the same shape (activations converted per call, the weight held as bf16, as
    /// the encoder's linear layers run), measured right after each sgemm probe; empty in fp32.
    public var bf16Runs: [Double] = []

    /// The median of `sgemmRuns`; nil when not measured.
    public var sgemmGFLOPS: Double? { sgemmRuns.isEmpty ? nil : Self.median(sgemmRuns) }
    /// The median of `bf16Runs`; nil when not measured.
    public var bf16GFLOPS: Double? { bf16Runs.isEmpty ? nil : Self.median(bf16Runs) }

    /// The encoder's GFLOP/s as a fraction of the product rate of its precision (sgemm in fp32, oneDNN's bf16 matmul
    /// in bf16): the median over runs of each run's rate divided by the rate measured just before it, so that a
    /// machine whose speed drifts between runs (a shared VM) is compared with itself at the same moment.
    public var encoderRooflineFraction: Double? {
        let rates = precision == .bf16 ? bf16Runs : sgemmRuns
        guard rates.count == encoderSeconds.count, !rates.isEmpty else { return nil }
        return Self.median(zip(encoderSeconds, rates).map { Double(encoderFLOPs) / 1e9 / $0 / $1 })
    }

    public static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    public var json: [String: Any] {
        let e = Self.median(encoderSeconds), d = Self.median(decoderSeconds)
        var obj: [String: Any] = [
            "encoder_seconds": e, "decoder_seconds": d, "decoder_seconds_per_prompt": d / Double(batch),
            "decoder_batch": batch, "encoder_runs": encoderSeconds, "decoder_runs": decoderSeconds,
            "encoder_gflop": Double(encoderFLOPs) / 1e9, "decoder_gflop": Double(decoderFLOPs) / 1e9,
            "encoder_gflops_per_second": Double(encoderFLOPs) / 1e9 / e,
            "decoder_gflops_per_second": Double(decoderFLOPs) / 1e9 / d,
            "peak_rss_bytes": peakRSSBytes, "lifetime_peak_rss_bytes": lifetimePeakRSSBytes, "blas_core": BLASCore.name, "elementwise_vector_bits": elementwiseKernelWidth,
            "stages": Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0.seconds) }),
            "blas_notice": BLASCore.machineNotice ?? NSNull(),
        ]
        obj["precision"] = precision.rawValue
        if let g = sgemmGFLOPS, let f = encoderRooflineFraction {
            obj["sgemm_gflops"] = g
            obj["sgemm_runs"] = sgemmRuns
            obj["sgemm_shape"] = Benchmark.mlpShape.label
            obj["encoder_roofline_fraction"] = f
        }
        if let g = bf16GFLOPS {
            obj["bf16_gflops"] = g
            obj["bf16_runs"] = bf16Runs
            obj["bf16_kernel"] = Precision.bf16Kernel()
            obj["bf16_native"] = Precision.bf16Native
        }
        return obj
    }

    public var table: String {
        let e = Self.median(encoderSeconds), d = Self.median(decoderSeconds)
        return String(format: """
            stage                      median s   GFLOP    GFLOP/s
            image encoder              %8.3f  %7.1f  %8.1f
            prompt enc. + decoder (×%d) %8.4f  %7.2f  %8.1f   (%.2f ms per prompt)
            peak resident memory       %.0f MB
            precision                  \(precision)
            """, e, Double(encoderFLOPs) / 1e9, Double(encoderFLOPs) / 1e9 / e,
            batch, d, Double(decoderFLOPs) / 1e9, Double(decoderFLOPs) / 1e9 / d, d / Double(batch) * 1000,
            Double(peakRSSBytes) / 1e6) + "\nOpenBLAS kernels           \(BLASCore.name)\nelement-wise kernels       \(elementwiseKernelWidth)-bit vectors\n"
            + roofline + "\nper stage (mean per run):\n" + stages.map {
                $0.name.padding(toLength: 32, withPad: " ", startingAt: 0) + String(format: "%8.4f s", $0.seconds)
            }.joined(separator: "\n")
    }
}

extension BenchmarkResult {
    /// The sgemm rate and the encoder's share of it, two lines (empty when the rate was not measured).
    var roofline: String {
        guard let g = sgemmGFLOPS, let f = encoderRooflineFraction else { return "" }
        var s = String(format: "sgemm %@        %8.1f GFLOP/s (fp32, OpenBLAS; both cores, issued as the encoder issues it)\n",
                       Benchmark.mlpShape.label, g)
        if let b = bf16GFLOPS {
            s += String(format: "bf16  %@        %8.1f GFLOP/s (oneDNN %@; both cores, issued as the encoder issues it)\n",
                        Benchmark.mlpShape.label, b, Precision.bf16Kernel())
        }
        return s + String(format: "encoder / %@ rate      %8.1f %%\n", precision == .bf16 ? "bf16 " : "sgemm", f * 100)
    }
}

public enum Benchmark {
    /// The encoder MLP's product (tokens × in × out of vit_b's lin1: 4096 × 768 × 3072), the yardstick of the roofline.
    public static let mlpShape = (m: 4096, k: 768, n: 3072, label: "4096×768×3072")

    /// This machine's single-precision product rate on `mlpShape`, issued exactly as the encoder issues its linear
    /// layers (`sgemm`, bands over the cores, x · Wᵀ); the operands are made once and reused for every measurement.
    final class SgemmProbe {
        /// The three operands in one anonymous mapping of its own, outside malloc's heap: `sam` keeps freed heap
        /// memory resident (no trimming, for speed), so operands from the heap would stay in the resident set and
        /// in every later peak; unmapped on deinit, they leave it.
        let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>
        /// b as bf16, as a bf16 model holds its weights.
        let bHalf: UnsafeMutablePointer<UInt16>
        private let base: UnsafeMutableRawPointer, bytes: Int

        init() {
            let (m, k, n, _) = mlpShape
            bytes = (m * k + n * k + m * n) * MemoryLayout<Float>.size + n * k * MemoryLayout<UInt16>.size
            guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
                fatalError("sgemm probe: cannot map \(bytes) bytes")
            }
            base = p
            a = p.bindMemory(to: Float.self, capacity: m * k + n * k + m * n)
            b = a + m * k
            c = b + n * k
            var rng = SplitMix64(seed: 1)
            for i in 0..<(m * k) { a[i] = rng.nextFloat() - 0.5 }
            for i in 0..<(n * k) { b[i] = rng.nextFloat() - 0.5 }
            bHalf = UnsafeMutableRawPointer(c + m * n).bindMemory(to: UInt16.self, capacity: n * k)
            Tensor(shape: [n * k], data: Array(UnsafeBufferPointer(start: b, count: n * k))).convertedToBF16().bf16!
                .withUnsafeBufferPointer { bHalf.update(from: $0.baseAddress!, count: n * k) }
        }

        deinit { munmap(base, bytes) }

        /// GFLOP/s: the median of `runs` products after one warm-up (they add to `GEMMCounter` like any product).
        func rate(runs: Int) -> Double {
            let (m, k, n, _) = mlpShape
            var times: [Double] = []
            for i in 0...max(1, runs) {
                let t = Date()
                sgemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: c, ldc: n, precision: .fp32)
                if i > 0 { times.append(Date().timeIntervalSince(t)) }
            }
            return 2 * Double(m * n * k) / 1e9 / BenchmarkResult.median(times)
        }

        /// `rate` of the bf16 product: x (float32, converted per call) · Wᵀ (bf16) through oneDNN.
        func bf16Rate(runs: Int) -> Double {
            let (m, k, n, _) = mlpShape
            var times: [Double] = []
            for i in 0...max(1, runs) {
                let t = Date()
                gemm(transB: true, m: m, n: n, k: k, a: .f32(a), lda: k, b: .bf16(bHalf), ldb: k, c: c, ldc: n)
                if i > 0 { times.append(Date().timeIntervalSince(t)) }
            }
            return 2 * Double(m * n * k) / 1e9 / BenchmarkResult.median(times)
        }
    }

    /// Peak resident set size of this process in bytes (Linux: ru_maxrss is in KiB).
    public static func peakRSS() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Int(u.ru_maxrss) * 1024
    }

    /// Times the encoder on a synthetic 1024-sided image and the prompt path on `batch` one-point prompts; with
    /// `roofline`, measures the sgemm rate (`SgemmProbe`) right before each timed encoder run.
    public static func run(model: Sam, runs: Int, batch: Int, roofline: Bool = false) -> BenchmarkResult {
        run(model: .sam(model), runs: runs, batch: batch, roofline: roofline)
    }

    /// `run` for a model of either family (SAM 2: the same synthetic 1024² input, its encoder and decoder).
    public static func run(model any: AnyModel, runs: Int, batch: Int, roofline: Bool = false) -> BenchmarkResult {
        var r = BenchmarkResult()
        r.batch = batch
        r.precision = any.precision
        // the encoder's input side (EfficientViT-SAM's L models: 512) and the prompts' frame (1024)
        let s: Int, frame: Int
        switch any {
        case .sam(let m): (s, frame) = (m.config.encoderInputSize, m.config.imageSize)
        case .sam2(let m): (s, frame) = (m.config.imageSize, m.config.imageSize)
        }
        let input = Tensor(shape: [1, 3, s, s]) { p in
            for i in p.indices {
                let v: Int = (i &* 7919) % 255
                p[i] = Float(v) / 64 - 2
            }
        }
        let predictor = any.makePredictor()
        let encode: () -> Void
        if let p = predictor as? SamPredictor {
            encode = { p.setPreprocessed(input, originalSize: (frame, frame), inputSize: (frame, frame)) }
        } else {
            let p = predictor as! SAM2Predictor
            encode = { p.setPreprocessed(input, originalSize: (s, s)) }
        }
        var probe = roofline ? SgemmProbe() : nil
        for i in 0...runs {
            if i > 0, let probe {
                r.sgemmRuns.append(probe.rate(runs: 5))
                if r.precision == .bf16 { r.bf16Runs.append(probe.bf16Rate(runs: 5)) }
            }
            if i == 1 { Profiler.reset(); Profiler.enabled = true }
            let f0 = GEMMCounter.flops
            let t = Date()
            encode()
            if i > 0 { r.encoderSeconds.append(Date().timeIntervalSince(t)); r.encoderFLOPs = GEMMCounter.flops - f0 }
        }
        var prompts: [Prompt] = []
        for k in 0..<batch {
            let x = Float(100 + 7 * k), y = Float(200 + 3 * k)
            prompts.append(Prompt(points: [(x: x, y: y)], labels: [1]))
        }
        for i in 0...runs {
            let f0 = GEMMCounter.flops
            let t = Date()
            _ = try? predictor.predictBatch(prompts, maskInputs: nil, multimaskOutput: true, nil)
            if i > 0 { r.decoderSeconds.append(Date().timeIntervalSince(t)); r.decoderFLOPs = GEMMCounter.flops - f0 }
        }
        Profiler.enabled = false
        r.stages = Profiler.order.map { ($0, Profiler.seconds[$0]! / Double(runs)) }
        // the peak of the model's own work: one more encoder pass and decode after the probe's 72 MB of operands are
        // unmapped, from a reset high-water mark (Linux; elsewhere the process's lifetime maximum)
        probe = nil
        r.lifetimePeakRSSBytes = peakRSS()
        if ModelSize.resetPeak() {
            encode()
            _ = try? predictor.predictBatch(prompts, maskInputs: nil, multimaskOutput: true, nil)
            r.peakRSSBytes = ModelSize.peakBytes()
        } else {
            r.peakRSSBytes = peakRSS()
        }
        return r
    }
}
