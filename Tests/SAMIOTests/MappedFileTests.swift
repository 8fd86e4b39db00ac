// Tests of MappedFile.release: a converted storage's pages leave the resident set, and a range read again after its
// release (a storage shared by two tensors) gives the file's bytes.

import Foundation
@testable import SAMIO
import SAMTensor
import SAMTestSupport
import XCTest

final class MappedFileTests: XCTestCase {
    /// Resident kB of the mapping that starts at `base` (/proc/self/smaps), nil where smaps cannot be read.
    private func residentKB(of base: UnsafeRawPointer) -> Int? {
        // procfs files report size 0: read to the end rather than by size
        guard let h = FileHandle(forReadingAtPath: "/proc/self/smaps"), let data = try? h.readToEnd(),
              let smaps = String(data: data, encoding: .utf8) else { return nil }
        let start = String(UInt(bitPattern: base), radix: 16)
        var inside = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), line[..<dash].allSatisfy(\.isHexDigit) {
                inside = line[..<dash].drop(while: { $0 == "0" }) == Substring(start)
            } else if inside, line.hasPrefix("Rss:") {
                return Int(line.split(separator: " ")[1])
            }
        }
        return nil
    }

    func testReleasedPagesLeaveTheResidentSetAndReadBackUnchanged() throws {
        let path = NSTemporaryDirectory() + "samio_mapped_release_\(getpid()).bin"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let values = (0..<(1 << 20)).map { Float($0 % 9973) - 4986.5 }  // 4 MiB
        try values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
        let file = try MappedFile(path: path)
        let all = try file.bytes(0, file.count, "all")
        func sum(_ b: UnsafeRawBufferPointer) -> Double {
            b.bindMemory(to: Float.self).reduce(0) { $0 + Double($1) }
        }
        let expected = values.reduce(0) { $0 + Double($1) }
        XCTAssertEqual(sum(all), expected)
        #if os(Linux)
        let before = try XCTUnwrap(residentKB(of: file.base!), "the mapping's line in /proc/self/smaps")
        #else
        guard let before = residentKB(of: file.base!) else { throw XCTSkip("no /proc/self/smaps") }
        #endif
        XCTAssertGreaterThanOrEqual(before, 4000, "every page was read")

        // a range that starts and ends inside pages: the pages wholly inside it go
        let part = try file.bytes(100, file.count - 200, "part")
        file.release(part)
        let after = try XCTUnwrap(residentKB(of: file.base!))
        // (the two edge pages at most; none where the kernel mapped the file in huge pages, which it unmaps whole)
        XCTAssertLessThanOrEqual(after, 2 * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024, "only the edge pages stay")

        // read again: the file's values, mapped anew
        XCTAssertEqual(sum(all), expected)
        XCTAssertTrue(all.bindMemory(to: Float.self).elementsEqual(values))
    }

    func testSafetensorsLargerThanPagesReadExactly() throws {
        // tensors of several pages each, released as they are converted: the values survive it
        let path = NSTemporaryDirectory() + "samio_release_\(getpid()).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let a = Tensor(shape: [300, 1000]) { p in for i in p.indices { p[i] = Float(i % 1013) * 0.25 - 7 } }
        let b = Tensor(shape: [7, 3001]) { p in for i in p.indices { p[i] = -Float(i % 517) / 3 } }
        try CheckpointWriter.writeSafetensors(["a.weight": a, "b.weight": b], to: path)
        let f = try CheckpointReader.read(path: path)
        XCTAssertEqual(f["a.weight"], a)
        XCTAssertEqual(f["b.weight"], b)
    }
}
