// A minimal W3C WebDriver client (chromedriver over HTTP + JSON), enough to drive the page in headless Chromium:
// navigate, run a script, perform pointer actions, take a screenshot.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

final class WebDriver {
    let base: URL
    private(set) var session = ""
    private let process: Process

    /// Debian's binaries (`apt-get install chromium chromium-driver`), or an XCTSkip saying how to get them.
    static func binaries() throws -> (chromium: String, driver: String) {
        let fm = FileManager.default
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: fm.isExecutableFile(atPath:)),
              let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first(where: fm.isExecutableFile(atPath:)) else {
            throw XCTSkip("headless browser test needs Chromium and chromedriver: apt-get install chromium chromium-driver")
        }
        return (chromium, driver)
    }

    /// Starts chromedriver on a free port and opens a headless Chromium session with a `width`×`height` window.
    init(width: Int = 1280, height: Int = 900) async throws {
        let (chromium, driver) = try WebDriver.binaries()
        let port = try freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: driver)
        process.arguments = ["--port=\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        base = URL(string: "http://127.0.0.1:\(port)")!
        // wait for the driver to answer
        var ready = false, last = ""
        for _ in 0..<300 {
            do {
                let s = try await call("GET", "/status") as? [String: Any]
                if s?["ready"] as? Bool == true { ready = true; break }
                last = "status \(String(describing: s))"
            } catch { last = "\(error)" }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        guard ready else { kill(process.processIdentifier, SIGKILL); throw WebDriverError.failed("chromedriver did not start on port \(port): \(last)") }
        let caps: [String: Any] = ["capabilities": ["alwaysMatch": [
            "browserName": "chrome",
            "goog:chromeOptions": ["binary": chromium,
                                   "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                            "--window-size=\(width),\(height)", "--force-device-scale-factor=1"]],
        ]]]
        let v = try await call("POST", "/session", caps) as? [String: Any]
        guard let id = v?["sessionId"] as? String else {
            kill(process.processIdentifier, SIGKILL); throw WebDriverError.failed("no session: \(String(describing: v))")
        }
        session = id
    }

    func quit() async {
        if !session.isEmpty { _ = try? await call("DELETE", "/session/\(session)") }
        // chromedriver does not always exit on SIGTERM
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// One WebDriver command; returns its `value`. Sent with curl: FoundationNetworking's URLSession fails on
    /// chromedriver's response headers ("Failed writing header").
    @discardableResult
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        var args = ["-s", "-S", "--max-time", "120", "-X", method, "-w", "\n%{http_code}", base.absoluteString + path]
        let input = Pipe(), output = Pipe()
        if body != nil { args += ["-H", "Content-Type: application/json", "--data-binary", "@-"] }
        p.arguments = args
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle.nullDevice
        try p.run()
        if let body { input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: body)) }
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard let nl = data.lastIndex(of: UInt8(ascii: "\n")), let status = Int(String(decoding: data[(nl + 1)...], as: UTF8.self)) else {
            throw WebDriverError.failed("\(method) \(path): no answer (curl status \(p.terminationStatus))")
        }
        let json = data[..<nl]
        guard status == 200 else {
            throw WebDriverError.failed("\(method) \(path): \(status) \(String(decoding: json.prefix(600), as: UTF8.self))")
        }
        let obj = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any]
        return obj?["value"] ?? nil
    }

    func navigate(_ url: String) async throws { try await call("POST", "/session/\(session)/url", ["url": url]) }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns its result.
    func execute(_ script: String, _ args: [Any] = []) async throws -> Any? {
        try await call("POST", "/session/\(session)/execute/sync", ["script": script, "args": args])
    }

    /// `execute`, with the result cast to `T` (an error saying what came back otherwise).
    func value<T>(_ script: String, _ args: [Any] = [], as: T.Type) async throws -> T {
        let v = try await execute(script, args)
        guard let t = v as? T else { throw WebDriverError.failed("script returned \(String(describing: v)), not \(T.self)") }
        return t
    }

    /// Polls `condition` (a JS expression) until it is true.
    func wait(for condition: String, timeout: Double = 120) async throws {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if try await execute("return !!(\(condition));") as? Bool == true { return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let state = try? await execute("return document.body.dataset.state + ' / ' + document.getElementById('status').textContent;")
        throw WebDriverError.failed("timed out waiting for \(condition) (page: \(String(describing: state)))")
    }

    /// Mouse actions in viewport coordinates: `.move(x, y)`, `.down(button)`, `.up(button)`.
    enum Pointer { case move(Int, Int), down(Int), up(Int) }

    func pointer(_ steps: [Pointer]) async throws {
        let acts: [[String: Any]] = steps.map {
            switch $0 {
            case .move(let x, let y): return ["type": "pointerMove", "duration": 30, "origin": "viewport", "x": x, "y": y]
            case .down(let b): return ["type": "pointerDown", "button": b]
            case .up(let b): return ["type": "pointerUp", "button": b]
            }
        }
        try await call("POST", "/session/\(session)/actions", ["actions": [[
            "type": "pointer", "id": "mouse", "parameters": ["pointerType": "mouse"], "actions": acts]]])
        try await call("DELETE", "/session/\(session)/actions")
    }

    func screenshot() async throws -> Data {
        guard let b64 = try await call("GET", "/session/\(session)/screenshot") as? String, let d = Data(base64Encoded: b64) else {
            throw WebDriverError.failed("no screenshot")
        }
        return d
    }
}

enum WebDriverError: Error, CustomStringConvertible {
    case failed(String)
    var description: String { switch self { case .failed(let m): return m } }
}

/// A TCP port nobody listens on right now (bound to port 0, read back, closed).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw WebDriverError.failed("socket() failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard ok else { throw WebDriverError.failed("bind() failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}
