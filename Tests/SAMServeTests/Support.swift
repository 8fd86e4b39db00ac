// Shared pieces of the SAMServe tests: a server on an ephemeral port, an HTTP client, temporary folders.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SAMIO
import SAMInference
import SAMModel
import SAMServe
import SAMTestSupport
import XCTest

/// An answer: status, body, content type.
struct HTTPAnswer {
    var status: Int
    var body: Data
    var contentType: String?
    /// Header fields, names lower-cased.
    var headers: [String: String] = [:]
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    /// The message of a `{"error": {"message": …}}` answer.
    var errorMessage: String? { (json?["error"] as? [String: Any])?["message"] as? String }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A running server on 127.0.0.1 and a free port; stopped by `stop()`.
final class LiveServer: @unchecked Sendable {
    let server: SAMServer
    let base: URL
    private let task: Task<Void, any Error>

    convenience init(model: Sam, options: ServeOptions) async throws {
        try await self.init(model: .sam(model), options: options)
    }

    init(model: AnyModel, options: ServeOptions) async throws {
        // Hummingbird reads its log level from LOG_LEVEL; stopping by cancellation logs an error otherwise
        setenv("LOG_LEVEL", "critical", 0)
        server = try SAMServer(model: model, options: options)
        let (ports, cont) = AsyncStream<Int>.makeStream()
        let app = server.application(host: "127.0.0.1", port: 0) { cont.yield($0) }
        task = Task { try await app.run() }
        var it = ports.makeAsyncIterator()
        guard let port = await it.next(), port > 0 else { throw ServeError(500, "server did not start") }
        base = URL(string: "http://127.0.0.1:\(port)")!
    }

    func stop() { task.cancel() }

    func request(_ method: String, _ path: String, body: Data? = nil, contentType: String = "application/json") async throws -> HTTPAnswer {
        var r = URLRequest(url: URL(string: base.absoluteString + path)!)
        r.httpMethod = method
        if let body { r.httpBody = body; r.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        r.timeoutInterval = 120
        let (data, resp) = try await withCheckedThrowingContinuation { (c: CheckedContinuation<(Data, URLResponse), any Error>) in
            URLSession.shared.dataTask(with: r) { d, resp, e in
                if let e { c.resume(throwing: e) } else { c.resume(returning: (d ?? Data(), resp!)) }
            }.resume()
        }
        let h = resp as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (k, v) in h.allHeaderFields { headers[String(describing: k).lowercased()] = String(describing: v) }
        return HTTPAnswer(status: h.statusCode, body: data, contentType: h.value(forHTTPHeaderField: "Content-Type"), headers: headers)
    }

    func get(_ path: String) async throws -> HTTPAnswer { try await request("GET", path) }

    func post(_ path: String, json: Any) async throws -> HTTPAnswer {
        try await request("POST", path, body: try JSONSerialization.data(withJSONObject: json))
    }
}

/// Decodes a PNG held in memory with the library's reader (through a temporary file).
func decodePNG(_ bytes: Data, in dir: String) throws -> (width: Int, height: Int, values: [UInt8]) {
    let p = (dir as NSString).appendingPathComponent("decoded-\(UUID().uuidString).png")
    try bytes.write(to: URL(fileURLWithPath: p))
    defer { try? FileManager.default.removeItem(atPath: p) }
    return try ImageReader.readLabels(path: p)
}
