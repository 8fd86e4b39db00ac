// Atomic file output: write to a temporary name in the same directory, flush, then rename onto the target,
// so an interrupted command leaves either the old file or the new one, never a half-written file.
import Foundation

public enum AtomicFile {
    /// Writes `data` to `path` atomically (creating the parent directory if needed).
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        do {
            try data.write(to: tmp)
            let fd = open(tmp.path, O_RDONLY)
            if fd >= 0 { fsync(fd); close(fd) }
            if rename(tmp.path, url.path) != 0 {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            }
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }

    /// Puts the finished folder `staging` at `dest` in one step. When `dest` exists, the two are swapped atomically
    /// (Linux `renameat2(RENAME_EXCHANGE)`) and the old folder, now at `staging`, is removed: at every moment `dest`
    /// is either the complete old folder or the complete new one. Where the kernel or file system cannot swap, the
    /// old folder is moved aside to `dest.old-PID` first (a kill between the two renames then leaves it there,
    /// complete, and no `dest`).
    public static func replaceDirectory(_ dest: String, with staging: String) throws {
        if rename(staging, dest) == 0 { return }                 // dest absent (or an empty folder)
        let firstErrno = errno
        guard firstErrno == EEXIST || firstErrno == ENOTEMPTY || firstErrno == EISDIR || firstErrno == ENOTDIR else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: dest,
                                                          NSLocalizedDescriptionKey: "\(dest): cannot rename the finished output onto it: \(String(cString: strerror(firstErrno)))"])
        }
        if let exchange = renameExchange, exchange(AT_FDCWD, staging, AT_FDCWD, dest, 2 /* RENAME_EXCHANGE */) == 0 {
            try? FileManager.default.removeItem(atPath: staging)
            return
        }
        let aside = dest + ".old-\(getpid())"
        try? FileManager.default.removeItem(atPath: aside)
        try FileManager.default.moveItem(atPath: dest, toPath: aside)
        try FileManager.default.moveItem(atPath: staging, toPath: dest)
        try? FileManager.default.removeItem(atPath: aside)
    }

    /// glibc's renameat2 (not in Swift's Glibc module), looked up once; nil where the C library lacks it.
    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    private static let renameExchange: RenameAt2? = {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(sym, to: RenameAt2.self)
    }()

    /// Writes a string as UTF-8 atomically.
    public static func write(_ text: String, to path: String) throws { try write(Data(text.utf8), to: path) }
}
