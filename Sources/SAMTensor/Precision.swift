// The precision of the matrix products: fp32 (OpenBLAS's cblas_sgemm) or bf16 (oneDNN's matmul: bf16 operands,
// fp32 accumulation and result), as PyTorch's CPU autocast runs linear layers, convolutions and attention products.
// Everything else (norms, softmax, GELU, relative-position terms, element-wise passes) stays fp32 in both modes.
import CDNNL
import CSAMKernels
import Foundation
import Synchronization

/// The precision matrix products run in.
public enum Precision: String, CaseIterable, Sendable, CustomStringConvertible {
    /// float32 operands and accumulation (OpenBLAS); the default, bit-for-bit the toolkit's fp32 results.
    case fp32
    /// bfloat16 operands (round to nearest even), float32 accumulation and result (oneDNN).
    case bf16

    public var description: String { rawValue }

    /// The precision products take when their caller names none. A model sets it around its own forward passes
    /// (`Precision.with`); products that must stay fp32 in every mode (relative-position terms) say so.
    public static var products: Precision {
        modeBF16.load(ordering: .relaxed) ? .bf16 : .fp32
    }
    private static let modeBF16 = Atomic<Bool>(false)

    /// Runs `body` with `products` set to `mode`, then restores the previous mode. Models of both precisions may live
    /// in one process (`sam ablate` compares them); their passes run one after the other, each under its own mode.
    public static func with<T>(_ mode: Precision, _ body: () throws -> T) rethrows -> T {
        let previous = products
        modeBF16.store(mode == .bf16, ordering: .relaxed)
        defer { modeBF16.store(previous == .bf16, ordering: .relaxed) }
        return try body()
    }

    /// What the CPU does for bf16 products: oneDNN's implementation name for the MLP shape of ViT-B, and whether the
    /// CPU has native bf16 instructions (AVX512_BF16 or AMX-BF16). Without them oneDNN still runs bf16 products
    /// (converted to fp32 inside its kernels) but more slowly than fp32: `nativeNotice` says so.
    public static var bf16Native: Bool {
        guard let flags = BLASCore.machineFlags else { return false }
        return flags.contains("avx512_bf16") || flags.contains("amx_bf16")
    }

    /// One line for stderr when `--precision bf16` runs on a CPU without native bf16; nil where it has them.
    public static var nativeNotice: String? {
        bf16Native ? nil
            : "note: this CPU has no native bf16 instructions (AVX512_BF16 or AMX-BF16); oneDNN emulates the bf16 products with AVX-512, many times slower than fp32 here (the results are the same)"
    }

    /// Throws `BF16Unavailable` where oneDNN has no bf16 matmul for this CPU (below AVX-512: an AVX2-only CPU).
    public static func checkBF16() throws {
        if !bf16Supported { throw BF16Unavailable() }
    }

    /// Whether oneDNN runs bf16 products on this CPU (natively or emulated); false below AVX-512.
    public static let bf16Supported: Bool = BF16GEMM.shared.available()

    /// oneDNN's implementation of a bf16 product of the given shape (`brg:avx512_core_amx_bf16`, …).
    public static func bf16Kernel(m: Int = 4096, n: Int = 3072, k: Int = 768) -> String {
        BF16GEMM.shared.implementation(m: m, n: n, k: k)
    }
}

/// `--precision bf16` on a CPU for which oneDNN has no bf16 matmul.
public struct BF16Unavailable: Error, CustomStringConvertible {
    public var description: String {
        "--precision bf16: oneDNN has no bf16 matrix product for this CPU (it needs AVX-512; AVX512_BF16 or AMX-BF16 run it natively); use --precision fp32"
    }
}

/// A matrix operand of a product: float32 values, or bfloat16 values (a weight converted once at load).
public enum MatrixOperand {
    case f32(UnsafePointer<Float>)
    case bf16(UnsafePointer<UInt16>)

    /// The operand `offset` elements further on.
    public static func + (lhs: MatrixOperand, offset: Int) -> MatrixOperand {
        switch lhs {
        case .f32(let p): return .f32(p + offset)
        case .bf16(let p): return .bf16(p + offset)
        }
    }
}

/// bf16 matrix products through oneDNN's matmul primitive, one thread per call (SAMTensor splits large products into
/// bands itself, as for OpenBLAS). Primitives are made once per shape and kept; each call converts its float32
/// operands to bf16 (round to nearest even), runs with its own scratchpad, and writes or adds float32 results.
final class BF16GEMM: @unchecked Sendable {
    static let shared = BF16GEMM()

    private let engine: dnnl_engine_t
    struct Key: Hashable {
        var m, n, k, sa0, sa1, sb0, sb1, ldc: Int
        var alpha, beta: Float
        /// A float32 bias row of n values added to every row of C (oneDNN's matmul bias, before the sum post-op).
        var bias = false
    }
    final class Entry: @unchecked Sendable {
        let primitive: dnnl_primitive_t
        let scratchpad: Int
        let a, b, c: dnnl_memory_desc_t
        let bias: dnnl_memory_desc_t?
        let impl: String
        init(primitive: dnnl_primitive_t, scratchpad: Int, a: dnnl_memory_desc_t, b: dnnl_memory_desc_t,
             c: dnnl_memory_desc_t, bias: dnnl_memory_desc_t?, impl: String) {
            self.primitive = primitive; self.scratchpad = scratchpad; self.a = a; self.b = b; self.c = c; self.bias = bias
            self.impl = impl
        }
    }
    private let cache = Mutex<[Key: Entry]>([:])

    private init() {
        omp_set_num_threads(1)
        var e: dnnl_engine_t?
        let s = dnnl_engine_create(&e, dnnl_cpu, 0)
        precondition(s == dnnl_success && e != nil, "oneDNN: no CPU engine (status \(s.rawValue))")
        engine = e!
    }

    static func check(_ s: dnnl_status_t, _ what: String) {
        precondition(s == dnnl_success, "oneDNN: \(what) failed (status \(s.rawValue))")
    }

    private func entry(_ key: Key) -> Entry {
        if let e = cache.withLock({ $0[key] }) { return e }
        guard var a = Self.matrix(rows: key.m, cols: key.k, strides: (key.sa0, key.sa1), dnnl_bf16),
              var b = Self.matrix(rows: key.k, cols: key.n, strides: (key.sb0, key.sb1), dnnl_bf16),
              var c = Self.matrix(rows: key.m, cols: key.n, strides: (key.ldc, 1), dnnl_f32) else {
            preconditionFailure("oneDNN: no memory descriptor for a \(key.m)×\(key.k)×\(key.n) product")
        }
        var desc = dnnl_matmul_desc_t()
        var biasMD = key.bias ? Self.matrix(rows: 1, cols: key.n, strides: (key.n, 1), dnnl_f32) : nil
        if key.bias && biasMD == nil { preconditionFailure("oneDNN: no memory descriptor for a bias of \(key.n)") }
        if biasMD != nil {
            Self.check(dnnl_matmul_desc_init(&desc, &a, &b, &biasMD!, &c), "matmul descriptor")
        } else {
            Self.check(dnnl_matmul_desc_init(&desc, &a, &b, nil, &c), "matmul descriptor")
        }
        var attr: dnnl_primitive_attr_t?
        Self.check(dnnl_primitive_attr_create(&attr), "attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        Self.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode")
        if key.alpha != 1 {
            var alpha = key.alpha
            Self.check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha), "output scale")
        }
        var ops: dnnl_post_ops_t?
        if key.beta != 0 {
            Self.check(dnnl_post_ops_create(&ops), "post-ops")
            Self.check(dnnl_post_ops_append_sum(ops, key.beta), "sum post-op")
            Self.check(dnnl_primitive_attr_set_post_ops(attr, ops), "set post-ops")
        }
        defer { if let ops { dnnl_post_ops_destroy(ops) } }
        var pd: dnnl_primitive_desc_t?
        Self.check(withUnsafePointer(to: &desc) { dnnl_primitive_desc_create(&pd, UnsafeRawPointer($0), attr, engine, nil) },
                   "matmul primitive descriptor (bf16 products need a CPU with AVX-512; `Precision.checkBF16` says so before a run)")
        defer { dnnl_primitive_desc_destroy(pd) }
        var impl: UnsafePointer<CChar>?
        _ = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl)
        let scratch = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0).map { dnnl_memory_desc_get_size($0) } ?? 0
        var prim: dnnl_primitive_t?
        Self.check(dnnl_primitive_create(&prim, pd), "matmul primitive")
        let e = Entry(primitive: prim!, scratchpad: Int(scratch), a: a, b: b, c: c, bias: biasMD,
                      impl: impl.map { String(cString: $0) } ?? "?")
        return cache.withLock { table in
            if let other = table[key] { dnnl_primitive_destroy(e.primitive); return other }
            table[key] = e
            return e
        }
    }

    /// A rows × cols matrix descriptor with the given (row, column) strides in elements; nil if oneDNN refuses it.
    static func matrix(rows: Int, cols: Int, strides: (Int, Int), _ type: dnnl_data_type_t) -> dnnl_memory_desc_t? {
        var md = dnnl_memory_desc_t()
        var dims: dnnl_dims_t = (Int64(rows), Int64(cols), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var st: dnnl_dims_t = (Int64(strides.0), Int64(strides.1), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let s = withUnsafePointer(to: &dims) { d in withUnsafePointer(to: &st) { p in
            dnnl_memory_desc_init_by_strides(&md, 2, UnsafeRawPointer(d).assumingMemoryBound(to: Int64.self), type,
                                             UnsafeRawPointer(p).assumingMemoryBound(to: Int64.self))
        } }
        return s == dnnl_success ? md : nil
    }

    /// Whether oneDNN has a bf16 matmul for this CPU (it has none below AVX-512).
    func available() -> Bool {
        guard var a = Self.matrix(rows: 64, cols: 64, strides: (64, 1), dnnl_bf16),
              var b = Self.matrix(rows: 64, cols: 64, strides: (64, 1), dnnl_bf16),
              var c = Self.matrix(rows: 64, cols: 64, strides: (64, 1), dnnl_f32) else { return false }
        var desc = dnnl_matmul_desc_t()
        guard dnnl_matmul_desc_init(&desc, &a, &b, nil, &c) == dnnl_success else { return false }
        var pd: dnnl_primitive_desc_t?
        let s = withUnsafePointer(to: &desc) { dnnl_primitive_desc_create(&pd, UnsafeRawPointer($0), nil, engine, nil) }
        if let pd { dnnl_primitive_desc_destroy(pd) }
        return s == dnnl_success
    }

    func implementation(m: Int, n: Int, k: Int) -> String {
        entry(Key(m: m, n: n, k: k, sa0: k, sa1: 1, sb0: 1, sb1: k, ldc: n, alpha: 1, beta: 0)).impl
    }

    /// What one thread keeps between calls: its stream, its memory objects per product shape (pointed at each
    /// call's operands), and growing buffers for converted operands and scratchpads. oneDNN's calls to make these
    /// cost more than a small product itself (the global attention's thousands of depth-64 products).
    final class ThreadContext {
        struct Bound { var a, b, c: dnnl_memory_t; var bias, scratch: dnnl_memory_t?; let entry: Entry }
        var stream: dnnl_stream_t
        var bound: [Key: Bound] = [:]
        var aBuf = Buffer(), bBuf = Buffer(), scratch = Buffer()

        /// A 64-byte-aligned buffer that only grows.
        struct Buffer {
            var pointer: UnsafeMutableRawPointer?
            var bytes = 0
            mutating func reserve(_ n: Int) -> UnsafeMutableRawPointer {
                if n > bytes || pointer == nil {
                    pointer?.deallocate()
                    bytes = max(n, 64, bytes * 2)
                    pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
                }
                return pointer!
            }
            /// Frees the buffer when it holds more than `limit` bytes.
            mutating func shrink(to limit: Int) {
                guard bytes > limit else { return }
                pointer?.deallocate()
                pointer = nil
                bytes = 0
            }
        }

        init(engine: dnnl_engine_t) {
            var st: dnnl_stream_t?
            BF16GEMM.check(dnnl_stream_create(&st, engine, UInt32(dnnl_stream_default_flags.rawValue)), "stream")
            stream = st!
        }

        deinit {
            for b in bound.values {
                dnnl_memory_destroy(b.a); dnnl_memory_destroy(b.b); dnnl_memory_destroy(b.c)
                if let s = b.scratch { dnnl_memory_destroy(s) }
                if let s = b.bias { dnnl_memory_destroy(s) }
            }
            dnnl_stream_destroy(stream)
            aBuf.pointer?.deallocate(); bBuf.pointer?.deallocate(); scratch.pointer?.deallocate()
        }
    }

    /// The calling thread's context (pthread-specific; released when the thread ends).
    private static let contextKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { p in if let p { Unmanaged<ThreadContext>.fromOpaque(p).release() } }
        return key
    }()

    private func context() -> ThreadContext {
        if let p = pthread_getspecific(Self.contextKey) { return Unmanaged<ThreadContext>.fromOpaque(p).takeUnretainedValue() }
        omp_set_num_threads(1)
        let c = ThreadContext(engine: engine)
        pthread_setspecific(Self.contextKey, Unmanaged.passRetained(c).toOpaque())
        return c
    }

    /// An operand as bf16 values and its leading dimension: as it is, or a float32 block (rows × cols, stride ld)
    /// converted into `buffer`, packed.
    private static func bf16(_ op: MatrixOperand, rows: Int, cols: Int, ld: Int,
                             buffer: inout ThreadContext.Buffer) -> (UnsafeMutableRawPointer, Int) {
        switch op {
        case .bf16(let p): return (UnsafeMutableRawPointer(mutating: p), ld)
        case .f32(let p):
            let buf = buffer.reserve(2 * rows * cols).assumingMemoryBound(to: UInt16.self)
            sam_f32_to_bf16(p, rows, cols, ld, buf)
            return (UnsafeMutableRawPointer(buf), cols)
        }
    }

    /// C[M×N] = alpha · op(A) · op(B) (+ bias, a row of N float32 values added to each row) + beta · C on the
    /// calling thread; float32 operands are converted here.
    func run(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: MatrixOperand, lda: Int,
             b: MatrixOperand, ldb: Int, bias: UnsafePointer<Float>? = nil, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let ctx = context()
        // stored shapes: A is m×k (k×m when transposed), B is k×n (n×k when transposed)
        let (aRows, aCols) = transA ? (k, m) : (m, k)
        let (bRows, bCols) = transB ? (n, k) : (k, n)
        let (ap, aLd) = Self.bf16(a, rows: aRows, cols: aCols, ld: lda, buffer: &ctx.aBuf)
        let (bp, bLd) = Self.bf16(b, rows: bRows, cols: bCols, ld: ldb, buffer: &ctx.bBuf)
        let key = Key(m: m, n: n, k: k, sa0: transA ? 1 : aLd, sa1: transA ? aLd : 1,
                      sb0: transB ? 1 : bLd, sb1: transB ? bLd : 1, ldc: ldc, alpha: alpha, beta: beta, bias: bias != nil)
        let bd: ThreadContext.Bound
        if let known = ctx.bound[key] {
            bd = known
        } else {
            let e = entry(key)
            var am = e.a, bm = e.b, cm = e.c
            var ma: dnnl_memory_t?, mb: dnnl_memory_t?, mc: dnnl_memory_t?, ms: dnnl_memory_t?, mbias: dnnl_memory_t?
            Self.check(dnnl_memory_create(&ma, &am, engine, nil), "A memory")
            Self.check(dnnl_memory_create(&mb, &bm, engine, nil), "B memory")
            Self.check(dnnl_memory_create(&mc, &cm, engine, nil), "C memory")
            if var bmd = e.bias { Self.check(dnnl_memory_create(&mbias, &bmd, engine, nil), "bias memory") }
            if e.scratchpad > 0 {
                var sm = dnnl_primitive_desc_query_md_scratch(e)
                Self.check(dnnl_memory_create(&ms, &sm, engine, nil), "scratchpad memory")
            }
            bd = ThreadContext.Bound(a: ma!, b: mb!, c: mc!, bias: mbias, scratch: ms, entry: e)
            ctx.bound[key] = bd
        }
        Self.check(dnnl_memory_set_data_handle(bd.a, ap), "A handle")
        Self.check(dnnl_memory_set_data_handle(bd.b, bp), "B handle")
        Self.check(dnnl_memory_set_data_handle(bd.c, UnsafeMutableRawPointer(c)), "C handle")
        var args = (dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: bd.a), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: bd.b),
                    dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: bd.c), dnnl_exec_arg_t(arg: 0, memory: nil),
                    dnnl_exec_arg_t(arg: 0, memory: nil))
        var count: Int32 = 3
        withUnsafeMutablePointer(to: &args) { p in
            p.withMemoryRebound(to: dnnl_exec_arg_t.self, capacity: 5) { a in
                if let ms = bd.scratch {
                    Self.check(dnnl_memory_set_data_handle(ms, ctx.scratch.reserve(bd.entry.scratchpad)), "scratchpad handle")
                    a[Int(count)] = dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: ms)
                    count += 1
                }
                if let mbias = bd.bias, let bias {
                    Self.check(dnnl_memory_set_data_handle(mbias, UnsafeMutableRawPointer(mutating: bias)), "bias handle")
                    a[Int(count)] = dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: mbias)
                    count += 1
                }
                Self.check(dnnl_primitive_execute(bd.entry.primitive, ctx.stream, count, a), "matmul")
            }
        }
        Self.check(dnnl_stream_wait(ctx.stream), "stream wait")
        // buffers grown past `keptBufferBytes` are given back after the call rather than held by the thread
        ctx.aBuf.shrink(to: Self.keptBufferBytes); ctx.bBuf.shrink(to: Self.keptBufferBytes)
        ctx.scratch.shrink(to: Self.keptBufferBytes)
    }

    /// The most bytes a thread keeps in each of its conversion and scratchpad buffers between calls. Larger ones (a
    /// ViT band of 2048 rows of 1280 bf16 values is 5 MB; Hiera's first stage has 16× the tokens) are allocated for
    /// the call and freed into the heap, where the next allocation of any kind reuses them, instead of being held by
    /// each thread (measured: sam2.1_hiera_t in bf16 resident after one encode 301 → 279 MB, vit_h's time unchanged
    /// within noise).
    static let keptBufferBytes = 1 << 20

    private func dnnl_primitive_desc_query_md_scratch(_ e: Entry) -> dnnl_memory_desc_t {
        var pd: const_dnnl_primitive_desc_t?
        Self.check(dnnl_primitive_get_primitive_desc(e.primitive, &pd), "primitive descriptor")
        return dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)!.pointee
    }
}
