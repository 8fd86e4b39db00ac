// Shared pieces of the SAMInference tests: FNV-1a, packed masks, and running the `sam` executable built next to the
// test bundle. The tiny model and temporary folders are in SAMTestSupport.
import Foundation
import SAMInference
import SAMIO
import SAMModel
import SAMTensor
import SAMTestSupport
import XCTest

/// FNV-1a 64 as 16 lowercase hex digits (the hash the fixture script writes).
func fnv1a64<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    let s = String(h, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

/// `np.packbits` undone: pixel k is bit 7 − k % 8 of byte k / 8.
func unpackBits(_ bytes: ArraySlice<UInt8>, count: Int) -> [UInt8] {
    (0..<count).map { k in (bytes[bytes.startIndex + k / 8] >> (7 - UInt8(k % 8))) & 1 }
}

/// Fraction of positions where two equally long 0/1 arrays agree (0 when the lengths differ).
func agreement<A: Collection, B: Collection>(_ a: A, _ b: B) -> Double where A.Element == UInt8, B.Element == UInt8 {
    guard a.count == b.count, a.count > 0 else { return 0 }
    var same = 0
    for (x, y) in zip(a, b) where (x != 0) == (y != 0) { same += 1 }
    return Double(same) / Double(a.count)
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The `sam` executable of the same build as this test bundle (`swift build --build-tests` builds it beside the
/// `.xctest`), or an XCTSkip that says how to get it.
func samExecutable() throws -> String {
    var candidates: [URL] = []
    if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent()) }
    for b in Bundle.allBundles { candidates.append(b.bundleURL.deletingLastPathComponent()) }
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    for dir in candidates {
        let p = dir.appendingPathComponent("sam").path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    throw XCTSkip("the `sam` executable is not beside the test bundle (looked in \(candidates.map(\.path))); "
                  + "run `swift build --build-tests` before `swift test --skip-build`")
}

struct ProcessResult { var status: Int32; var stdout: String; var stderr: String }

/// Runs `sam` with `arguments`, returning its exit status and both outputs.
func runSam(_ arguments: [String]) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try samExecutable())
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // read before waiting so that a full pipe cannot block the child
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: e, as: UTF8.self))
}

/// `result.json` of a `sam segment` output folder, as the tests read it back.
struct SegmentResultFile: Decodable {
    struct Mask: Decodable { var file: String; var area: Int; var bbox: [Int] }
    var iou_predictions: [Float]
    var masks: [Mask]
    var multimask: Bool
    var prompt: PromptSpec
    /// SAM 2 only.
    var object_score_logit: Float?
}
