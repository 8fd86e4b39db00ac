// A read-only memory map of a checkpoint file with bounds-checked little-endian reads, shared by the zip, pickle and safetensors readers.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped with `mmap(PROT_READ)`; unmapped on deinit. Every accessor checks offset and length against
/// the file size first and throws `IOError.truncated` naming the file and `what` was being read.
final class MappedFile {
    let path: String
    /// Start of the mapping; nil for an empty file.
    let base: UnsafeRawPointer?
    /// File size in bytes.
    let count: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw IOError.fileNotFound(path) }
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw IOError.fileNotFound(path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw IOError.unsupported(path, "not a regular file") }
        let size = Int(st.st_size)
        count = size
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw IOError.unsupported(path, "cannot memory-map the file (errno \(errno))") }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// Drops the pages lying wholly inside `bytes` (a range of this mapping) from the process's resident set
    /// (`madvise(MADV_DONTNEED)`), once the storage there has been converted into its tensor: without it every page
    /// read stays resident until the file is unmapped, so a load peaks at the file plus its copy (efficientvit_sam_xl1:
    /// 1558 MB for 814 MB of weights). The mapping is private and never written, so a later read of the range maps
    /// the file's pages again (a storage shared by two tensors is read twice). Pages at the range's ends that it
    /// shares with its neighbours stay, unless the kernel mapped the file in huge pages, which it drops whole.
    func release(_ bytes: UnsafeRawBufferPointer) {
        guard let base, let start = bytes.baseAddress, bytes.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let from = start - base, to = from + bytes.count
        guard from >= 0, to <= count, page > 0 else { return }
        let lo = (from + page - 1) / page * page, hi = to / page * page
        if hi > lo { _ = madvise(UnsafeMutableRawPointer(mutating: base + lo), hi - lo, Int32(MADV_DONTNEED)) }
    }

    /// Throws unless `offset ..< offset + length` lies inside the file (no overflow possible).
    func check(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else {
            throw IOError.truncated(path, "\(what()) needs bytes \(offset)..<\(offset &+ length) but the file has \(count)")
        }
    }

    /// The bytes `offset ..< offset + length`, after a bounds check.
    func bytes(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try check(offset, length, what())
        guard let base, length > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }

    func u8(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt8 {
        try check(offset, 1, what())
        return base!.load(fromByteOffset: offset, as: UInt8.self)
    }

    func u16(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt16 {
        try check(offset, 2, what())
        return UInt16(littleEndian: base!.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func u32(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt32 {
        try check(offset, 4, what())
        return UInt32(littleEndian: base!.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func u64(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        try check(offset, 8, what())
        return UInt64(littleEndian: base!.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
