// A folder the server may read from, and nothing outside it: names are resolved (symbolic links included) and must
// stay under the folder's own resolved path.
import Foundation

public struct SafeRoot: Sendable {
    /// The folder, resolved (absolute, no `..`, no symbolic links).
    public let path: String

    /// - Throws: `ServeError` (500 is not right for a missing folder at start-up; the CLI reports it as bad input).
    public init(_ folder: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw ServeError.notFound("\(folder): not a folder")
        }
        path = SafeRoot.resolve(URL(fileURLWithPath: folder).path)
    }

    static func resolve(_ p: String) -> String {
        URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// The absolute path of `name` (relative, `/`-separated) under the folder.
    /// - Throws: 403 for a name that leaves the folder (`..`, an absolute path, a link pointing outside),
    ///   400 for an empty or NUL-containing name, 404 for a file that does not exist.
    public func file(_ name: String) throws -> String { try resolve(name, directory: false) }

    /// The absolute path of the sub-folder `name`; the same refusals as `file`.
    public func folder(_ name: String) throws -> String { try resolve(name, directory: true) }

    /// Whether an absolute path, resolved, lies under the folder.
    public func contains(_ absolute: String) -> Bool { SafeRoot.resolve(absolute).hasPrefix(path + "/") }

    func resolve(_ name: String, directory: Bool) throws -> String {
        guard !name.isEmpty, !name.contains("\0"), name.utf8.count <= 4096 else {
            throw ServeError.badRequest("bad file name \(name.debugDescription)")
        }
        if name.hasPrefix("/") || name.split(separator: "/").contains("..") {
            throw ServeError.forbidden("\(name.debugDescription) leaves the served folder")
        }
        let full = SafeRoot.resolve((path as NSString).appendingPathComponent(name))
        guard full.hasPrefix(path + "/") else { throw ServeError.forbidden("\(name.debugDescription) leaves the served folder") }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), isDir.boolValue == directory else {
            throw ServeError.notFound("no \(directory ? "folder" : "file") \(name.debugDescription) under the served folder")
        }
        return full
    }

    /// Regular files under the folder (relative names, sorted), following no links out of it; at most `limit`.
    public func list(extensions: Set<String>, limit: Int = 20_000) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: path) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            let ext = (rel as NSString).pathExtension.lowercased()
            guard extensions.contains(ext), (rel as NSString).lastPathComponent.first != "." else { continue }
            guard (try? file(rel)) != nil else { continue }
            out.append(rel)
            if out.count >= limit { break }
        }
        return out.sorted()
    }
}
