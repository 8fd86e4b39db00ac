// Which of OpenBLAS's kernels run, what the CPU could run, and the notice when the two differ.
import CBLAS
import Foundation

/// Which of OpenBLAS's kernels this process runs. Debian's OpenBLAS picks its kernels at load time from the CPU's
/// model number; a virtual CPU that reports a generic model ("Intel(R) Xeon(R) Processor", as on the machines this
/// toolkit is measured on) falls back to the SSE3 kernels of 2004's Prescott even when the CPU has AVX-512, and every
/// product runs 2–3× slower. OpenBLAS reads `OPENBLAS_CORETYPE` only when it loads, so the command-line tool starts
/// itself again with the variable set (`suggestedCoreType`), once, when the user has not set it.
///
/// Some machines export `OPENBLAS_CORETYPE` (and `OPENBLAS_L2_SIZE`) themselves, because older OpenBLAS builds compute
/// wrong results or crash on some processors. A user's setting is always honoured; when it leaves kernels narrower
/// than the CPU's vectors, `notice` says so, what the CPU could run, and how to check those kernels here.
public enum BLASCore {
    /// OpenBLAS's name for the kernels in use ("Prescott", "Haswell", "SkylakeX", …).
    public static var name: String { String(cString: openblas_get_corename()) }

    /// The widest vectors a kernel family (or a CPU) uses for single-precision products.
    public enum Level: Int, Comparable, CustomStringConvertible, Sendable {
        case sse = 0, avx, avx2, avx512

        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }

        public var description: String {
            switch self {
            case .sse: return "SSE"
            case .avx: return "AVX"
            case .avx2: return "AVX2"
            case .avx512: return "AVX-512"
            }
        }

        /// OpenBLAS's kernel families of this level, as `OPENBLAS_CORETYPE` names them.
        public var kernelNames: [String] {
            switch self {
            case .sse: return ["Prescott", "Nehalem"]
            case .avx: return ["Sandybridge"]
            case .avx2: return ["Haswell", "Zen"]
            case .avx512: return ["SkylakeX", "Cooperlake"]
            }
        }
    }

    /// The vector level of an OpenBLAS kernel family (`openblas_get_corename()`, case-insensitive); nil when unknown.
    /// Sources: OpenBLAS `driver/others/dynamic.c` (corename table) and `kernel/x86_64/KERNEL.*`.
    public static func level(ofKernel kernel: String) -> Level? {
        switch kernel.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return .avx512
        case "haswell", "zen", "excavator": return .avx2
        case "sandybridge", "bulldozer", "piledriver", "steamroller": return .avx
        case "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine", "northwood",
             "banias", "opteron", "opteron_sse3", "barcelona", "bobcat", "nano", "unknown":
            return .sse
        default: return nil
        }
    }

    /// The widest level whose sgemm kernels this CPU can run, from its `/proc/cpuinfo` flags. AVX-512 kernels need
    /// F, BW and VL (SkylakeX's); AVX2 kernels need FMA beside AVX2.
    public static func level(ofCPU flags: Set<String>) -> Level {
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl"]) { return .avx512 }
        if flags.isSuperset(of: ["avx2", "fma"]) { return .avx2 }
        if flags.contains("avx") { return .avx }
        return .sse
    }

    /// The flags of the first processor in a `/proc/cpuinfo` text; nil when it has no `flags` line.
    public static func cpuFlags(cpuinfo: String?) -> Set<String>? {
        guard let cpuinfo, let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return nil }
        return Set(line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
    }

    /// This machine's CPU flags (Linux), or nil.
    public static var machineFlags: Set<String>? {
        cpuFlags(cpuinfo: try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))
    }

    /// The core type to ask for when OpenBLAS chose kernels older than the CPU's instructions (AVX-512F → SkylakeX,
    /// AVX2 + FMA → Haswell); nil when its choice is already as good, or the CPU flags cannot be read. OpenBLAS's own
    /// choice of an AVX2 family on an AVX-512 CPU is kept (newer CPUs than the library knows get Haswell on purpose);
    /// `notice` reports it.
    public static func suggestedCoreType(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
                                         current: String = BLASCore.name) -> String? {
        guard let flags = cpuFlags(cpuinfo: cpuinfo) else { return nil }
        let cur = level(ofKernel: current) ?? .sse
        guard cur <= .avx else { return nil }
        switch level(ofCPU: flags) {
        case .avx512: return "SkylakeX"
        case .avx2: return "Haswell"
        case .avx, .sse: return nil
        }
    }

    /// The notice printed on stderr when the kernels in use (`kernel`) are narrower than this CPU's (`flags`): which
    /// setting chose them (`OPENBLAS_CORETYPE`, `SAM_KEEP_BLAS_CORE`, or OpenBLAS's own choice), what the CPU could
    /// run, and that `sam verify` with the variables unset checks those kernels on this machine. nil when the kernels
    /// already use the CPU's widest vectors, or either is unknown. A pure function of its arguments.
    public static func notice(flags: Set<String>, kernel: String, environment: [String: String]) -> String? {
        guard let used = level(ofKernel: kernel) else { return nil }
        let cpu = level(ofCPU: flags)
        guard used < cpu else { return nil }
        let why: String
        var unset = "-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
        if let v = environment["OPENBLAS_CORETYPE"] {
            why = "OPENBLAS_CORETYPE=\(v) is set" + (environment["OPENBLAS_L2_SIZE"].map { " (with OPENBLAS_L2_SIZE=\($0))" } ?? "")
        } else if let v = environment["SAM_KEEP_BLAS_CORE"] {
            why = "SAM_KEEP_BLAS_CORE=\(v) keeps OpenBLAS's own choice"
            unset += " -u SAM_KEEP_BLAS_CORE"
        } else {
            why = "OpenBLAS chose them for this CPU model"
        }
        let check = environment["OPENBLAS_CORETYPE"] == nil && environment["SAM_KEEP_BLAS_CORE"] == nil
            ? "`OPENBLAS_CORETYPE=\(cpu.kernelNames[0]) sam verify --checkpoint C --dump REF.h5`"
            : "`env \(unset) sam verify --checkpoint C --dump REF.h5`"
        return "notice: OpenBLAS runs its \(kernel) kernels (\(used)) because \(why); this CPU supports \(cpu) "
            + "(\(cpu.kernelNames.joined(separator: " or ")) kernels), which run matrix products up to twice as fast. "
            + "Such a setting is made because older OpenBLAS builds misbehave on some processors: check the faster "
            + "kernels on this machine with \(check) before relying on them."
    }

    /// `notice` for this process, or nil.
    public static var machineNotice: String? {
        guard let flags = machineFlags else { return nil }
        return notice(flags: flags, kernel: name, environment: ProcessInfo.processInfo.environment)
    }
}
