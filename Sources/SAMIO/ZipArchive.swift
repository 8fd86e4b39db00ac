// A read-only zip reader over a memory-mapped file: stored entries only, zip64 aware, every offset bounds-checked.
// ref: PKWARE APPNOTE.TXT 6.3.x (sections 4.3.6–4.3.16, 4.5.3); pytorch caffe2/serialize/inline_container.cc (writer)

/// One entry of the central directory.
struct ZipEntry {
    var name: String
    var method: UInt16
    var flags: UInt16
    var compressedSize: Int
    var uncompressedSize: Int
    var localHeaderOffset: Int
}

/// The central directory of a zip file and access to its stored (uncompressed) entries without copying.
struct ZipArchive {
    let file: MappedFile
    /// Entries in central-directory order.
    let entries: [ZipEntry]
    private let index: [String: Int]

    private static let eocdSignature: UInt32 = 0x0605_4b50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    private static let zip64EOCDSignature: UInt32 = 0x0606_4b50
    private static let centralSignature: UInt32 = 0x0201_4b50
    private static let localSignature: UInt32 = 0x0403_4b50

    /// Parses the end-of-central-directory record (zip64 when present) and the whole central directory.
    init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        guard file.count >= 22 else { throw IOError.truncated(path, "zip file of \(file.count) bytes is shorter than an end-of-central-directory record") }

        // 1. End of central directory: the last signature within the final 22 + 65535 bytes.
        var eocd = -1
        var pos = file.count - 22
        let lowest = max(0, file.count - 22 - 0xFFFF)
        while pos >= lowest {
            if try file.u32(pos, "end of central directory") == Self.eocdSignature {
                let commentLength = Int(try file.u16(pos + 20, "zip comment length"))
                if pos + 22 + commentLength <= file.count { eocd = pos; break }
            }
            pos -= 1
        }
        guard eocd >= 0 else {
            throw IOError.truncated(path, "no zip end-of-central-directory record (file cut short?)")
        }
        let disk = try file.u16(eocd + 4, "EOCD disk number")
        let cdDisk = try file.u16(eocd + 6, "EOCD central directory disk")
        var entryCount = Int(try file.u16(eocd + 10, "EOCD entry count"))
        var cdSize = Int(try file.u32(eocd + 12, "EOCD central directory size"))
        var cdOffset = Int(try file.u32(eocd + 16, "EOCD central directory offset"))
        var cdEnd = eocd  // the central directory must end before this

        // 2. Zip64: a locator 20 bytes before the EOCD points at the zip64 EOCD record, whose values replace the 32-bit ones.
        if eocd >= 20, try file.u32(eocd - 20, "zip64 locator") == Self.zip64LocatorSignature {
            let recordOffset64 = try file.u64(eocd - 20 + 8, "zip64 locator offset")
            guard recordOffset64 <= UInt64(eocd - 20) else {
                throw IOError.truncated(path, "zip64 end-of-central-directory record offset \(recordOffset64) is beyond the locator")
            }
            let r = Int(recordOffset64)
            guard try file.u32(r, "zip64 end of central directory") == Self.zip64EOCDSignature else {
                throw IOError.corrupt(path, "zip64 end-of-central-directory record signature missing at offset \(r)")
            }
            let d64 = try file.u32(r + 16, "zip64 disk number"), cd64 = try file.u32(r + 20, "zip64 cd disk")
            guard d64 == 0, cd64 == 0 else { throw IOError.unsupported(path, "multi-disk zip archive") }
            let n64 = try file.u64(r + 32, "zip64 entry count")
            let size64 = try file.u64(r + 40, "zip64 central directory size")
            let off64 = try file.u64(r + 48, "zip64 central directory offset")
            guard n64 <= UInt64(Int.max), size64 <= UInt64(file.count), off64 <= UInt64(file.count) else {
                throw IOError.truncated(path, "zip64 central directory (offset \(off64), size \(size64)) lies beyond the file's \(file.count) bytes")
            }
            entryCount = Int(n64)
            cdSize = Int(size64)
            cdOffset = Int(off64)
            cdEnd = r
        } else {
            guard disk == 0, cdDisk == 0 else { throw IOError.unsupported(path, "multi-disk zip archive") }
        }
        guard cdOffset <= cdEnd, cdSize <= cdEnd - cdOffset else {
            throw IOError.truncated(path, "central directory (offset \(cdOffset), size \(cdSize)) overruns the end record at \(cdEnd)")
        }
        // Every central header is at least 46 bytes: this bounds the count before anything is allocated.
        guard entryCount <= cdSize / 46 else {
            throw IOError.corrupt(path, "central directory of \(cdSize) bytes cannot hold \(entryCount) entries")
        }

        // 3. Central directory headers.
        var list: [ZipEntry] = []
        list.reserveCapacity(entryCount)
        var map: [String: Int] = [:]
        var p = cdOffset
        let limit = cdOffset + cdSize
        for i in 0..<entryCount {
            guard p + 46 <= limit else { throw IOError.truncated(path, "central directory entry \(i) runs past the directory's end") }
            guard try file.u32(p, "central header") == Self.centralSignature else {
                throw IOError.corrupt(path, "central directory entry \(i) at offset \(p) has a bad signature")
            }
            let flags = try file.u16(p + 8, "entry flags")
            let method = try file.u16(p + 10, "entry method")
            var compressed = Int(try file.u32(p + 20, "compressed size"))
            var uncompressed = Int(try file.u32(p + 24, "uncompressed size"))
            let nameLength = Int(try file.u16(p + 28, "name length"))
            let extraLength = Int(try file.u16(p + 30, "extra length"))
            let commentLength = Int(try file.u16(p + 32, "comment length"))
            let diskStart = try file.u16(p + 34, "disk start")
            var localOffset = Int(try file.u32(p + 42, "local header offset"))
            let headerEnd = p + 46 + nameLength + extraLength + commentLength
            guard headerEnd <= limit else { throw IOError.truncated(path, "central directory entry \(i) runs past the directory's end") }
            let nameBytes = try file.bytes(p + 46, nameLength, "entry name")
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw IOError.corrupt(path, "central directory entry \(i) has a name that is not UTF-8")
            }
            // Zip64 extended information (id 0x0001): present fields follow in a fixed order, only for values saturated at 0xFFFFFFFF.
            if compressed == 0xFFFF_FFFF || uncompressed == 0xFFFF_FFFF || localOffset == 0xFFFF_FFFF || diskStart == 0xFFFF {
                guard let z = try Self.zip64Extra(file: file, at: p + 46 + nameLength, length: extraLength) else {
                    throw IOError.corrupt(path, "entry '\(name)' has saturated sizes but no zip64 extra field")
                }
                var q = z.start
                func next(_ what: String) throws -> Int {
                    guard q + 8 <= z.end else { throw IOError.corrupt(path, "zip64 extra field of '\(name)' lacks the \(what)") }
                    let v = try file.u64(q, what)
                    guard v <= UInt64(file.count) else {
                        throw IOError.truncated(path, "entry '\(name)': \(what) \(v) exceeds the file size \(file.count)")
                    }
                    q += 8
                    return Int(v)
                }
                if uncompressed == 0xFFFF_FFFF { uncompressed = try next("uncompressed size") }
                if compressed == 0xFFFF_FFFF { compressed = try next("compressed size") }
                if localOffset == 0xFFFF_FFFF { localOffset = try next("local header offset") }
            }
            if map[name] == nil { map[name] = list.count }
            list.append(ZipEntry(name: name, method: method, flags: flags, compressedSize: compressed,
                                 uncompressedSize: uncompressed, localHeaderOffset: localOffset))
            p = headerEnd
        }
        entries = list
        index = map
    }

    /// Finds the zip64 extended-information field (id 1) among the extra fields at `offset`.
    private static func zip64Extra(file: MappedFile, at offset: Int, length: Int) throws -> (start: Int, end: Int)? {
        var q = offset
        let end = offset + length
        while q + 4 <= end {
            let id = try file.u16(q, "extra field id")
            let size = Int(try file.u16(q + 2, "extra field size"))
            guard q + 4 + size <= end else {
                throw IOError.corrupt(file.path, "extra field at offset \(q) overruns its header")
            }
            if id == 0x0001 { return (q + 4, q + 4 + size) }
            q += 4 + size
        }
        return nil
    }

    /// The entry named exactly `name`, if any.
    func entry(named name: String) -> ZipEntry? {
        index[name].map { entries[$0] }
    }

    /// The bytes of a stored entry, in place in the mapping. Checks the local header (signature, name) and that
    /// the data lies inside the file; compressed or encrypted entries throw `.unsupported`.
    func data(of e: ZipEntry) throws -> UnsafeRawBufferPointer {
        let path = file.path
        guard e.method == 0 else {
            throw IOError.unsupported(path, "zip entry '\(e.name)' is compressed (method \(e.method)); only stored entries are read")
        }
        guard e.flags & 1 == 0 else { throw IOError.unsupported(path, "zip entry '\(e.name)' is encrypted") }
        guard e.compressedSize == e.uncompressedSize else {
            throw IOError.corrupt(path, "stored zip entry '\(e.name)' has compressed size \(e.compressedSize) ≠ uncompressed size \(e.uncompressedSize)")
        }
        let h = e.localHeaderOffset
        try file.check(h, 30, "local header of '\(e.name)'")
        guard try file.u32(h, "local header") == Self.localSignature else {
            throw IOError.corrupt(path, "local header of '\(e.name)' at offset \(h) has a bad signature")
        }
        let nameLength = Int(try file.u16(h + 26, "local name length"))
        let extraLength = Int(try file.u16(h + 28, "local extra length"))
        let localName = try file.bytes(h + 30, nameLength, "local name of '\(e.name)'")
        guard localName.elementsEqual(e.name.utf8) else {
            throw IOError.corrupt(path, "local header at offset \(h) names a different file than the central directory's '\(e.name)'")
        }
        // Sizes come from the central directory (the local copy may be zero with a data descriptor, or zip64-saturated).
        let start = h + 30 + nameLength + extraLength
        return try file.bytes(start, e.uncompressedSize, "data of zip entry '\(e.name)'")
    }
}
