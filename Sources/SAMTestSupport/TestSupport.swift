// Test support: where fixtures and ../shared live, and closeness assertions that report the worst element.
import Foundation
import SAMTensor
import XCTest

public enum Paths {
    /// The package root, found from this file's location.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `Tests/Fixtures/<relative>`.
    public static func fixture(_ relative: String) -> String {
        packageRoot.appendingPathComponent("Tests/Fixtures").appendingPathComponent(relative).path
    }

    /// `../shared/<relative>` beside the checkout, or nil (the test should skip, visibly) when it is not there.
    public static func shared(_ relative: String) -> String? {
        let p = packageRoot.deletingLastPathComponent().appendingPathComponent("shared").appendingPathComponent(relative).path
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }

    /// `../shared/<relative>`, or an XCTSkip with a message saying what is missing.
    public static func requireShared(_ relative: String) throws -> String {
        guard let p = shared(relative) else {
            throw XCTSkip("../shared/\(relative) is not beside this checkout; skipping the test that needs it")
        }
        return p
    }
}

/// Asserts that two tensors have the same shape and ‖a − b‖₂ ≤ rtol · ‖b‖₂, reporting max-abs and the worst index.
public func assertClose(_ a: Tensor, _ b: Tensor, rtol: Double, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, "shape \(message)", file: file, line: line)
    guard a.shape == b.shape else { return }
    var d2 = 0.0, b2 = 0.0, worst = 0.0, wi = 0
    for i in 0..<a.count {
        let d = Double(a.data[i]) - Double(b.data[i])
        d2 += d * d; b2 += Double(b.data[i]) * Double(b.data[i])
        if abs(d) > worst { worst = abs(d); wi = i }
    }
    let rel = b2 > 0 ? (d2 / b2).squareRoot() : d2.squareRoot()
    XCTAssertLessThanOrEqual(rel, rtol, "\(message): rel-L2 \(rel), max-abs \(worst) at flat index \(wi) (\(a.data[wi]) vs \(b.data[wi]))",
                             file: file, line: line)
}
