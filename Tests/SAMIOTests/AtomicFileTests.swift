// Atomic outputs: files through a temporary name, output folders swapped in one step.
import Foundation
import SAMIO
import XCTest

final class AtomicFileTests: XCTestCase {
    var dir: String = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "atomic-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    private func folder(_ name: String, files: [String: String]) throws -> String {
        let p = dir + "/" + name
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        for (f, text) in files { try AtomicFile.write(text, to: p + "/" + f) }
        return p
    }

    func testWriteLeavesNoTemporary() throws {
        try AtomicFile.write("one", to: dir + "/a.txt")
        try AtomicFile.write("two", to: dir + "/a.txt")
        XCTAssertEqual(try String(contentsOfFile: dir + "/a.txt", encoding: .utf8), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.txt"])
    }

    /// A new folder takes the place of an old one with other files: afterwards only the new files are there, and the
    /// staging folder and the old files are gone.
    func testReplaceDirectorySwapsInOneStep() throws {
        let dest = try folder("out", files: ["mask_0.png": "old0", "mask_1.png": "old1", "mask_2.png": "old2"])
        let staging = try folder("out.partial-1", files: ["mask_0.png": "new0", "result.json": "{}"])
        try AtomicFile.replaceDirectory(dest, with: staging)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dest).sorted(), ["mask_0.png", "result.json"])
        XCTAssertEqual(try String(contentsOfFile: dest + "/mask_0.png", encoding: .utf8), "new0")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out"])
    }

    func testReplaceDirectoryOntoNothing() throws {
        let staging = try folder("s", files: ["x": "1"])
        try AtomicFile.replaceDirectory(dir + "/fresh", with: staging)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["fresh"])
        XCTAssertThrowsError(try AtomicFile.replaceDirectory(dir + "/no/such/parent/out", with: dir + "/fresh"))
    }
}
