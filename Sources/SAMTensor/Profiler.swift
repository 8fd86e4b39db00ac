// Opt-in wall-clock accounting by stage name, for `sam bench`'s per-module table. Off by default (one branch).
import Foundation

public enum Profiler {
    nonisolated(unsafe) public static var enabled = false
    nonisolated(unsafe) public private(set) static var seconds: [String: Double] = [:]
    nonisolated(unsafe) public private(set) static var order: [String] = []

    /// Runs `body`, adding its wall time to `name` when profiling is on.
    @inline(__always)
    public static func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let t = DispatchTime.now().uptimeNanoseconds
        let r = try body()
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
        if seconds[name] == nil { order.append(name) }
        seconds[name, default: 0] += dt
        return r
    }

    public static func reset() { seconds = [:]; order = [] }
}
