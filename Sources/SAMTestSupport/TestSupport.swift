// Test support: where fixtures, the bundled checkpoint and ../shared live, models loaded once, temporary folders,
// and closeness assertions that report the worst element.
import Foundation
import SAMIO
import SAMInference
import SAMModel
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

extension Paths {
    /// The demo checkpoint bundled with the repository (`notebooks-data/demo/sam_demo_tiny_fp16.pth`): the same
    /// values as `../shared/checkpoints/sam_demo_tiny.pth` stored as float16, so a bare clone runs the tests that
    /// need a trained checkpoint.
    public static var bundledDemoCheckpoint: String {
        packageRoot.appendingPathComponent("notebooks-data/demo/sam_demo_tiny_fp16.pth").path
    }
}

/// Models loaded once per test process.
public enum TestModels {
    nonisolated(unsafe) private static var tiny: Sam?
    nonisolated(unsafe) private static var demo: Sam?
    private static let lock = NSLock()

    /// `Tests/Fixtures/reference/tiny_random.pth`: 128² input, 32×32 low-res masks, 3 multimask outputs; fast even
    /// in a debug build.
    public static func tinyRandom() throws -> Sam {
        lock.lock(); defer { lock.unlock() }
        if let m = tiny { return m }
        let m = try SamLoader.load(checkpoint: Paths.fixture("reference/tiny_random.pth"))
        tiny = m
        return m
    }

    /// The bundled demo checkpoint (`Paths.bundledDemoCheckpoint`), 1024² input.
    public static func demoTiny() throws -> Sam {
        lock.lock(); defer { lock.unlock() }
        if let m = demo { return m }
        let m = try SamLoader.load(checkpoint: Paths.bundledDemoCheckpoint)
        demo = m
        return m
    }

    /// `image_small.png`, 120 wide × 160 high — the input of every `tiny_*.h5` dump.
    nonisolated(unsafe) private static var tinySAM2Model: SAM2Model?

    /// The 0.67 M-parameter random SAM 2.1 of `Tests/Fixtures/sam2` (with its configuration file), loaded once.
    public static func tinySAM2() throws -> SAM2Model {
        lock.lock(); defer { lock.unlock() }
        if let m = tinySAM2Model { return m }
        let m = try SAM2Loader.load(checkpoint: Paths.fixture("sam2/sam2.1_tiny_random.pt"), config: try tinySAM2Config())
        tinySAM2Model = m
        return m
    }

    /// The configuration of `tinySAM2` (`Tests/Fixtures/sam2/sam2.1_tiny_random.json`).
    public static func tinySAM2Config() throws -> SAM2Config {
        try JSONDecoder().decode(SAM2Config.self, from: Data(contentsOf: URL(fileURLWithPath: Paths.fixture("sam2/sam2.1_tiny_random.json"))))
    }

    public static func tinyImage() throws -> RGBImage { try ImageReader.readRGB(path: Paths.fixture("reference/image_small.png")) }
}

/// A fresh empty folder under the system temporary directory, removed at the end of the test.
public func temporaryFolder(_ test: XCTestCase) throws -> String {
    let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("\(type(of: test))-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

extension TestModels {
    /// A predictor with the tiny model and `image_small.png` set.
    public static func tinyPredictor() throws -> SamPredictor {
        let p = SamPredictor(model: try tinyRandom())
        p.setImage(try tinyImage())
        return p
    }
}
