// HDF5 files of named tensors (float32, uint8, int64) and attributes through libhdf5 (1.10 serial), the format of fixtures and run outputs.
// ref: HDF5 1.10 C API reference (H5F, H5G, H5D, H5A, H5L, H5E); h5py's conventions for strings and numpy bools

import CHDF5
import Foundation
import SAMTensor

/// libhdf5 (serial build) is not thread-safe: every call from this file holds this lock.
private let hdf5Lock = NSRecursiveLock()

/// Silences libhdf5's automatic printing of its error stack once per process; failures become `IOError.hdf5`.
private let hdf5Initialized: Void = {
    _ = H5open()
    _ = H5Eset_auto2(sam_h5e_default(), nil, nil)
}()

/// An HDF5 file holding named datasets (tensors, uint8 images, int64 labels) and string/int attributes.
///
/// Dataset names are HDF5 paths without the leading slash: `/` separates groups (created automatically on write);
/// every other character is literal, so module paths such as `image_encoder.blocks.3.attn` or `mask_decoder:0` are
/// single dataset names.
///
/// Writing is atomic: `create(path:)` writes to `<path>.tmp-<pid>` and `close()` renames that file onto `path`, so a
/// reader never sees a half-written file. If the object is released without `close()`, the temporary file is removed
/// when any write failed, and committed like `close()` otherwise.
///
/// Sizes read from files are never trusted: rank ≤ 8, every dimension and the element count ≤ 2^31 (no overflow).
/// libhdf5's own error printing is silenced; its failures throw `IOError.hdf5` naming the file and the object.
/// All calls are serialised by a process-wide lock, since the serial libhdf5 is not thread-safe.
public final class HDF5File {
    /// The file's final path (for a writer, where `close()` puts it).
    public let path: String
    /// Where libhdf5 actually writes: `<path>.tmp-<pid>` for a writer, `path` for a reader.
    private let workPath: String
    private let writable: Bool
    private var fid: hid_t
    private var closed = false
    private var failed = false

    /// Largest rank and element count accepted from a file.
    public static let maxRank = 8
    public static let maxElements = 1 << 31

    private init(path: String, workPath: String, writable: Bool, fid: hid_t) {
        self.path = path
        self.workPath = workPath
        self.writable = writable
        self.fid = fid
    }

    /// Creates (truncating) an HDF5 file for writing. Data goes to `<path>.tmp-<pid>` until `close()` renames it onto `path`.
    public static func create(path: String) throws -> HDF5File {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        _ = hdf5Initialized
        let tmp = "\(path).tmp-\(getpid())"
        let fid = H5Fcreate(tmp, sam_h5f_acc_trunc(), sam_h5p_default(), sam_h5p_default())
        guard fid >= 0 else { throw IOError.hdf5(path, "cannot create the file (\(takeErrorStack()))") }
        return HDF5File(path: path, workPath: tmp, writable: true, fid: fid)
    }

    /// Opens an existing HDF5 file read-only.
    public static func open(path: String) throws -> HDF5File {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        _ = hdf5Initialized
        guard access(path, R_OK) == 0 else { throw IOError.fileNotFound(path) }
        guard H5Fis_hdf5(path) > 0 else {
            _ = takeErrorStack()
            throw IOError.corrupt(path, "not an HDF5 file")
        }
        let fid = H5Fopen(path, sam_h5f_acc_rdonly(), sam_h5p_default())
        guard fid >= 0 else { throw IOError.hdf5(path, "cannot open the file (\(takeErrorStack()))") }
        return HDF5File(path: path, workPath: path, writable: false, fid: fid)
    }

    /// Closes the file; for a writer, flushes it and renames `<path>.tmp-<pid>` onto `path`. Calling it again does nothing.
    public func close() throws {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        guard !closed else { return }
        closed = true
        let status = H5Fclose(fid)
        guard writable else {
            if status < 0 { throw IOError.hdf5(path, "closing failed (\(Self.takeErrorStack()))") }
            return
        }
        guard status >= 0 else {
            let detail = Self.takeErrorStack()
            unlink(workPath)
            throw IOError.hdf5(path, "closing failed, nothing written (\(detail))")
        }
        guard rename(workPath, path) == 0 else {
            let e = errno
            unlink(workPath)
            throw IOError.hdf5(path, "cannot rename the temporary file onto it (errno \(e))")
        }
    }

    deinit {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        guard !closed else { return }
        if writable && failed {
            closed = true
            _ = H5Fclose(fid)
            unlink(workPath)
        } else {
            try? close()
        }
    }

    // MARK: - Errors

    /// The innermost messages of libhdf5's error stack, which is then cleared.
    private static func takeErrorStack() -> String {
        final class Box { var messages: [String] = [] }
        let box = Box()
        let walker: H5E_walk2_t = { _, desc, data in
            guard let desc, let data else { return 0 }
            let b = Unmanaged<Box>.fromOpaque(data).takeUnretainedValue()
            if let d = desc.pointee.desc, b.messages.count < 2 {
                let s = String(cString: d)
                if !s.isEmpty { b.messages.append(s) }
            }
            return 0
        }
        _ = withExtendedLifetime(box) {
            H5Ewalk2(sam_h5e_default(), H5E_WALK_UPWARD, walker, Unmanaged.passUnretained(box).toOpaque())
        }
        _ = H5Eclear2(sam_h5e_default())
        return box.messages.isEmpty ? "libhdf5 gave no detail" : box.messages.joined(separator: "; ")
    }

    private func fail(_ what: String) -> IOError {
        failed = true
        return IOError.hdf5(path, "\(what) (\(Self.takeErrorStack()))")
    }

    private func ensureOpen() throws {
        guard !closed else { throw IOError.hdf5(path, "the file is already closed") }
    }

    /// Validates a dataset or object name: `/`-separated, no empty, `.` or `..` component; a leading `/` is dropped.
    private func normalized(_ name: String) throws -> String {
        var n = Substring(name)
        if n.hasPrefix("/") { n = n.dropFirst() }
        let parts = n.split(separator: "/", omittingEmptySubsequences: false)
        guard !n.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }), !name.utf8.contains(0) else {
            throw IOError.hdf5(path, "invalid dataset name '\(name)'")
        }
        return String(n)
    }

    /// True when every link along `name` exists (H5Lexists fails on a missing intermediate group otherwise).
    private func linkExists(_ name: String) -> Bool {
        var prefix = ""
        for part in name.split(separator: "/") {
            prefix += prefix.isEmpty ? String(part) : "/" + part
            let r = H5Lexists(fid, prefix, sam_h5p_default())
            if r <= 0 { _ = Self.takeErrorStack(); return false }
        }
        return true
    }

    // MARK: - Writing

    /// Writes `t` as a float32 dataset of shape `t.shape` named `name` (groups before the last `/` are created).
    /// With `gzip`, the dataset is chunked and deflate-compressed (level 4).
    public func write(_ name: String, _ t: Tensor, gzip: Bool = false) throws {
        try t.data.withUnsafeBytes { buf in
            try writeDataset(name, shape: t.shape, count: t.data.count, fileType: sam_h5t_ieee_f32le(),
                             memType: sam_h5t_native_float(), gzip: gzip, buffer: buf.baseAddress)
        }
    }

    /// Writes a uint8 dataset (e.g. an image, HWC) of the given shape; `values.count` must equal the shape's product.
    public func writeUInt8(_ name: String, shape: [Int], _ values: [UInt8], gzip: Bool = false) throws {
        try values.withUnsafeBytes { buf in
            try writeDataset(name, shape: shape, count: values.count, fileType: sam_h5t_std_u8le(),
                             memType: sam_h5t_native_uint8(), gzip: gzip, buffer: buf.baseAddress)
        }
    }

    /// Writes an int64 dataset (e.g. labels) of the given shape; `values.count` must equal the shape's product.
    public func writeInt64(_ name: String, shape: [Int], _ values: [Int64], gzip: Bool = false) throws {
        try values.withUnsafeBytes { buf in
            try writeDataset(name, shape: shape, count: values.count, fileType: sam_h5t_std_i64le(),
                             memType: sam_h5t_native_int64(), gzip: gzip, buffer: buf.baseAddress)
        }
    }

    private func writeDataset(_ rawName: String, shape: [Int], count: Int, fileType: hid_t, memType: hid_t,
                              gzip: Bool, buffer: UnsafeRawPointer?) throws {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        try ensureOpen()
        guard writable else { throw IOError.hdf5(path, "cannot write '\(rawName)': the file is open read-only") }
        let name: String
        do { name = try normalized(rawName) } catch { failed = true; throw error }
        guard shape.count <= 32, let n = SizeMath.product(shape), n == count else {
            failed = true
            throw IOError.hdf5(path, "dataset '\(name)': shape \(shape) does not match \(count) values")
        }
        guard !linkExists(name) else {
            failed = true
            throw IOError.hdf5(path, "dataset '\(name)' already exists")
        }
        let dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), dims, nil)
        guard space >= 0 else { throw fail("cannot create the dataspace of '\(name)'") }
        defer { H5Sclose(space) }
        let lcpl = H5Pcreate(sam_h5p_link_create())
        guard lcpl >= 0 else { throw fail("cannot create a link property list for '\(name)'") }
        defer { H5Pclose(lcpl) }
        _ = H5Pset_create_intermediate_group(lcpl, 1)
        var dcpl = sam_h5p_default()
        if gzip && !shape.isEmpty && n > 0 {
            dcpl = H5Pcreate(sam_h5p_dataset_create())
            guard dcpl >= 0 else { throw fail("cannot create a dataset property list for '\(name)'") }
            // One chunk of at most 2^20 elements: halve the leading dimensions until it fits.
            var chunk = dims
            var k = 0
            while chunk.reduce(1, *) > 1 << 20 && k < chunk.count {
                if chunk[k] > 1 { chunk[k] = (chunk[k] + 1) / 2 } else { k += 1 }
            }
            guard H5Pset_chunk(dcpl, Int32(chunk.count), chunk) >= 0, H5Pset_deflate(dcpl, 4) >= 0 else {
                H5Pclose(dcpl)
                throw fail("cannot set gzip compression on '\(name)'")
            }
        }
        defer { if dcpl != sam_h5p_default() { H5Pclose(dcpl) } }
        let did = H5Dcreate2(fid, name, fileType, space, lcpl, dcpl, sam_h5p_default())
        guard did >= 0 else { throw fail("cannot create dataset '\(name)'") }
        defer { H5Dclose(did) }
        if n > 0 {
            guard H5Dwrite(did, memType, sam_h5s_all(), sam_h5s_all(), sam_h5p_default(), buffer) >= 0 else {
                throw fail("cannot write dataset '\(name)'")
            }
        }
    }

    // MARK: - Reading

    /// Opens dataset `name`, throwing `.missingDataset` when absent (or not a dataset).
    private func openDataset(_ rawName: String) throws -> (hid_t, String) {
        try ensureOpen()
        let name = try normalized(rawName)
        guard linkExists(name) else { throw IOError.missingDataset(path, name) }
        let oid = H5Oopen(fid, name, sam_h5p_default())
        guard oid >= 0 else { _ = Self.takeErrorStack(); throw IOError.missingDataset(path, name) }
        guard H5Iget_type(oid) == H5I_DATASET else {
            H5Oclose(oid)
            throw IOError.missingDataset(path, name)
        }
        return (oid, name)
    }

    /// The bounded dimensions of a dataspace (rank ≤ 8, elements ≤ 2^31); `what` names the object in errors.
    private func bounded(space: hid_t, _ what: String) throws -> (shape: [Int], count: Int) {
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw fail("cannot read the rank of '\(what)'") }
        guard rank <= Int32(Self.maxRank) else { throw IOError.tooLarge(path, "'\(what)' has rank \(rank) (at most \(Self.maxRank))") }
        if H5Sget_simple_extent_type(space) == H5S_NULL { throw IOError.unsupported(path, "'\(what)' has a null dataspace (no data)") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 {
            guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else { throw fail("cannot read the shape of '\(what)'") }
        }
        var shape: [Int] = []
        for d in dims {
            guard d <= hsize_t(Self.maxElements) else { throw IOError.tooLarge(path, "'\(what)' has a dimension of \(d)") }
            shape.append(Int(d))
        }
        guard let n = SizeMath.product(shape), n <= Self.maxElements else {
            throw IOError.tooLarge(path, "'\(what)' of shape \(shape) has more than \(Self.maxElements) elements")
        }
        return (shape, n)
    }

    /// The shape in the header may claim far more than the file stores (a dataset never written reads as its fill
    /// value): refuse before allocating `count × elementSize` bytes unless the stored bytes, even gzip-compressed at
    /// deflate's maximum ratio of 1032:1, could hold them.
    private func checkStorage(_ did: hid_t, count: Int, elementSize: Int, _ name: String) throws {
        let stored = Int(clamping: H5Dget_storage_size(did))
        let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow, bytes / 1032 <= stored, bytes <= Self.maxElements * 8 else {
            throw IOError.truncated(path, "dataset '\(name)' declares \(count) elements but stores only \(stored) bytes")
        }
    }

    private func datasetShape(_ did: hid_t, _ name: String) throws -> (shape: [Int], count: Int) {
        let space = H5Dget_space(did)
        guard space >= 0 else { throw fail("cannot read the dataspace of '\(name)'") }
        defer { H5Sclose(space) }
        return try bounded(space: space, name)
    }

    /// The shape of dataset `name`.
    public func shape(of name: String) throws -> [Int] {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        let (did, n) = try openDataset(name)
        defer { H5Oclose(did) }
        return try datasetShape(did, n).shape
    }

    /// True when a dataset named `name` exists (groups and bad names give false).
    public func contains(_ name: String) -> Bool {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        guard !closed, let (did, _) = try? openDataset(name) else { return false }
        H5Oclose(did)
        return true
    }

    /// Reads dataset `name` as float32; integer and float datasets of any width are converted (by libhdf5),
    /// h5py booleans (an enum over int8) give 0 and 1.
    public func readTensor(_ name: String) throws -> Tensor {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        let (did, n) = try openDataset(name)
        defer { H5Oclose(did) }
        let (shape, count) = try datasetShape(did, n)
        let ftype = H5Dget_type(did)
        guard ftype >= 0 else { throw fail("cannot read the type of '\(n)'") }
        defer { H5Tclose(ftype) }
        let cls = H5Tget_class(ftype)
        if cls == H5T_ENUM {
            let (values, _) = try readIntegers(did, ftype, n, count)
            return Tensor(shape: shape, data: values.map { Float($0) })
        }
        guard cls == H5T_INTEGER || cls == H5T_FLOAT else {
            throw IOError.unsupported(path, "dataset '\(n)' is not numeric (HDF5 type class \(cls.rawValue))")
        }
        if count == 0 { return Tensor(shape: shape, data: []) }
        try checkStorage(did, count: count, elementSize: 4, n)
        var status: herr_t = 0
        let t = Tensor(shape: shape) { buf in
            status = H5Dread(did, sam_h5t_native_float(), sam_h5s_all(), sam_h5s_all(), sam_h5p_default(), buf.baseAddress)
        }
        guard status >= 0 else { throw fail("cannot read dataset '\(n)'") }
        return t
    }

    /// Reads dataset `name` as uint8; any integer (or h5py bool) type is accepted when every value lies in 0...255.
    public func readUInt8(_ name: String) throws -> (shape: [Int], values: [UInt8]) {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        let (did, n) = try openDataset(name)
        defer { H5Oclose(did) }
        let (shape, count) = try datasetShape(did, n)
        let ftype = H5Dget_type(did)
        guard ftype >= 0 else { throw fail("cannot read the type of '\(n)'") }
        defer { H5Tclose(ftype) }
        let (values, _) = try readIntegers(did, ftype, n, count)
        var out = [UInt8]()
        out.reserveCapacity(values.count)
        for (i, v) in values.enumerated() {
            guard let b = UInt8(exactly: v) else {
                throw IOError.unsupported(path, "dataset '\(n)' holds \(v) at flat index \(i), outside uint8's range")
            }
            out.append(b)
        }
        return (shape, out)
    }

    /// Reads dataset `name` as int64; any integer (or h5py bool) type is accepted (uint64 values above Int64.max throw).
    public func readInt64(_ name: String) throws -> (shape: [Int], values: [Int64]) {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        let (did, n) = try openDataset(name)
        defer { H5Oclose(did) }
        let (shape, count) = try datasetShape(did, n)
        let ftype = H5Dget_type(did)
        guard ftype >= 0 else { throw fail("cannot read the type of '\(n)'") }
        defer { H5Tclose(ftype) }
        let (values, _) = try readIntegers(did, ftype, n, count)
        return (shape, values)
    }

    /// Reads an integer or enum dataset in its native width and widens each value to Int64 in Swift (no silent clamping).
    private func readIntegers(_ did: hid_t, _ ftype: hid_t, _ name: String, _ count: Int) throws -> ([Int64], Int) {
        guard let (memType, size, signed) = try integerMemoryType(ftype, name) else {
            throw IOError.unsupported(path, "dataset '\(name)' is not an integer dataset (HDF5 type class \(H5Tget_class(ftype).rawValue))")
        }
        defer { H5Tclose(memType) }
        if count == 0 { return ([], size) }
        try checkStorage(did, count: count, elementSize: size, name)
        var raw = [UInt8](repeating: 0, count: count * size)
        let status = raw.withUnsafeMutableBytes { H5Dread(did, memType, sam_h5s_all(), sam_h5s_all(), sam_h5p_default(), $0.baseAddress) }
        guard status >= 0 else { throw fail("cannot read dataset '\(name)'") }
        return (try raw.withUnsafeBytes { try widen($0, count: count, size: size, signed: signed, name) }, size)
    }

    /// For an integer type, or an enum over an integer (numpy bool in h5py): the native memory type, its size and signedness.
    private func integerMemoryType(_ ftype: hid_t, _ name: String) throws -> (hid_t, Int, Bool)? {
        let cls = H5Tget_class(ftype)
        var signType = ftype
        var superType: hid_t = -1
        if cls == H5T_ENUM {
            superType = H5Tget_super(ftype)
            guard superType >= 0 else { throw fail("cannot read the base type of '\(name)'") }
            guard H5Tget_class(superType) == H5T_INTEGER else { H5Tclose(superType); return nil }
            signType = superType
        } else if cls != H5T_INTEGER {
            return nil
        }
        defer { if superType >= 0 { H5Tclose(superType) } }
        let signed = H5Tget_sign(signType) == H5T_SGN_2
        // The native version of the type itself (an enum stays an enum, so libhdf5 converts enum → enum, which it can).
        let mem = H5Tget_native_type(ftype, H5T_DIR_DEFAULT)
        guard mem >= 0 else { throw fail("cannot find a native type for '\(name)'") }
        let size = H5Tget_size(mem)
        guard [1, 2, 4, 8].contains(size) else {
            H5Tclose(mem)
            throw IOError.unsupported(path, "'\(name)' has integers of \(size) bytes")
        }
        return (mem, size, signed)
    }

    private func widen(_ raw: UnsafeRawBufferPointer, count: Int, size: Int, signed: Bool, _ name: String) throws -> [Int64] {
        var out = [Int64](repeating: 0, count: count)
        for i in 0..<count {
            let o = i * size
            switch (size, signed) {
            case (1, true): out[i] = Int64(raw.load(fromByteOffset: o, as: Int8.self))
            case (1, false): out[i] = Int64(raw.load(fromByteOffset: o, as: UInt8.self))
            case (2, true): out[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: Int16.self))
            case (2, false): out[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self))
            case (4, true): out[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: Int32.self))
            case (4, false): out[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: UInt32.self))
            case (8, true): out[i] = raw.loadUnaligned(fromByteOffset: o, as: Int64.self)
            default:
                let u = raw.loadUnaligned(fromByteOffset: o, as: UInt64.self)
                guard let v = Int64(exactly: u) else {
                    throw IOError.unsupported(path, "'\(name)' holds \(u) at flat index \(i), above Int64.max")
                }
                out[i] = v
            }
        }
        return out
    }

    /// Limits of `datasetNames` on what a file may declare: links visited, characters in one path.
    static let maxLinks = 100_000
    static let maxPathLength = 4096

    /// Every dataset in the file, as full paths without the leading slash (`inputs/image`, `image_encoder.blocks.0`),
    /// sorted by name within each group (libhdf5's name index), groups visited depth-first. Only hard links are followed.
    public func datasetNames() throws -> [String] {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        try ensureOpen()
        final class Box { var names: [String] = []; var visited = 0 }
        let box = Box()
        let visit: H5L_iterate_t = { group, name, info, data in
            guard let name, let info, let data, info.pointee.type == H5L_TYPE_HARD else { return 0 }
            let b = Unmanaged<Box>.fromOpaque(data).takeUnretainedValue()
            // A corrupt file can nest groups without end (libhdf5 then spends seconds building each ever longer
            // path, found by fuzzing): stop at limits no dump comes near (a ViT-H dump has ~600 datasets).
            b.visited += 1
            if b.visited > HDF5File.maxLinks || strlen(name) > HDF5File.maxPathLength { return -1 }
            let oid = H5Oopen(group, name, sam_h5p_default())
            if oid >= 0 {
                if H5Iget_type(oid) == H5I_DATASET { b.names.append(String(cString: name)) }
                H5Oclose(oid)
            }
            return 0
        }
        let status = withExtendedLifetime(box) {
            H5Lvisit(fid, H5_INDEX_NAME, H5_ITER_INC, visit, Unmanaged.passUnretained(box).toOpaque())
        }
        if box.visited > HDF5File.maxLinks {
            throw IOError.corrupt(path, "more than \(HDF5File.maxLinks) links: not a dump or embedding this toolkit reads")
        }
        guard status >= 0 else { throw fail("cannot list the datasets (links nested deeper than \(HDF5File.maxPathLength) characters, or a corrupt group)") }
        return box.names
    }

    // MARK: - Attributes

    /// Opens attribute `key` on the object at `path` ("/" is the root), or nil when either is absent.
    private func openAttribute(_ key: String, on object: String) -> hid_t? {
        guard !closed, !key.isEmpty, !key.utf8.contains(0), !object.utf8.contains(0) else { return nil }
        let obj = object.isEmpty ? "/" : object
        guard obj == "/" || linkExists(obj.hasPrefix("/") ? String(obj.dropFirst()) : obj) else { return nil }
        guard H5Aexists_by_name(fid, obj, key, sam_h5p_default()) > 0 else { _ = Self.takeErrorStack(); return nil }
        let aid = H5Aopen_by_name(fid, obj, key, sam_h5p_default(), sam_h5p_default())
        guard aid >= 0 else { _ = Self.takeErrorStack(); return nil }
        return aid
    }

    /// Creates attribute `key` on `object`, replacing an existing one, and lets `body` write it.
    private func createAttribute(_ key: String, on object: String, fileType: hid_t, _ body: (hid_t) -> herr_t) throws {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        try ensureOpen()
        guard writable else { throw IOError.hdf5(path, "cannot set attribute '\(key)': the file is open read-only") }
        let obj = object.isEmpty ? "/" : object
        guard !key.isEmpty, !key.utf8.contains(0) else { failed = true; throw IOError.hdf5(path, "invalid attribute name '\(key)'") }
        if obj != "/" {
            let n: String
            do { n = try normalized(obj) } catch { failed = true; throw error }
            guard linkExists(n) else { failed = true; throw IOError.hdf5(path, "cannot set attribute '\(key)': no object '\(obj)'") }
        }
        if H5Aexists_by_name(fid, obj, key, sam_h5p_default()) > 0 {
            guard H5Adelete_by_name(fid, obj, key, sam_h5p_default()) >= 0 else { throw fail("cannot replace attribute '\(key)' on '\(obj)'") }
        }
        let space = H5Screate(H5S_SCALAR)
        guard space >= 0 else { throw fail("cannot create a scalar dataspace") }
        defer { H5Sclose(space) }
        let aid = H5Acreate_by_name(fid, obj, key, fileType, space, sam_h5p_default(), sam_h5p_default(), sam_h5p_default())
        guard aid >= 0 else { throw fail("cannot create attribute '\(key)' on '\(obj)'") }
        defer { H5Aclose(aid) }
        guard body(aid) >= 0 else { throw fail("cannot write attribute '\(key)' on '\(obj)'") }
    }

    /// Sets a string attribute (variable-length UTF-8, as h5py writes `str`) on the object at `path` ("/" = the root).
    public func setAttribute(_ key: String, _ value: String, on path: String = "/") throws {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        try ensureOpen()
        let type = H5Tcopy(sam_h5t_c_s1())
        guard type >= 0 else { throw fail("cannot create a string type") }
        defer { H5Tclose(type) }
        _ = H5Tset_size(type, sam_h5t_variable())
        _ = H5Tset_cset(type, H5T_CSET_UTF8)
        try createAttribute(key, on: path, fileType: type) { aid in
            value.withCString { cs in
                var p: UnsafePointer<CChar>? = cs
                return H5Awrite(aid, type, &p)
            }
        }
    }

    /// Sets a 64-bit integer attribute on the object at `path` ("/" = the root).
    public func setAttribute(_ key: String, _ value: Int, on path: String = "/") throws {
        try createAttribute(key, on: path, fileType: sam_h5t_std_i64le()) { aid in
            var v = Int64(value)
            return H5Awrite(aid, sam_h5t_native_int64(), &v)
        }
    }

    /// The string attribute `key` on the object at `path`, variable- or fixed-length (h5py writes both);
    /// nil when absent or not a single string.
    public func stringAttribute(_ key: String, on path: String = "/") -> String? {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        guard let aid = openAttribute(key, on: path) else { return nil }
        defer { H5Aclose(aid) }
        let ftype = H5Aget_type(aid)
        guard ftype >= 0 else { _ = Self.takeErrorStack(); return nil }
        defer { H5Tclose(ftype) }
        guard H5Tget_class(ftype) == H5T_STRING, attributeElementCount(aid) == 1 else { return nil }
        let mem = H5Tcopy(sam_h5t_c_s1())
        guard mem >= 0 else { return nil }
        defer { H5Tclose(mem) }
        _ = H5Tset_cset(mem, H5Tget_cset(ftype))
        if H5Tis_variable_str(ftype) > 0 {
            _ = H5Tset_size(mem, sam_h5t_variable())
            var p: UnsafeMutablePointer<CChar>? = nil
            guard H5Aread(aid, mem, &p) >= 0 else { _ = Self.takeErrorStack(); return nil }
            guard let p else { return "" }
            defer { H5free_memory(p) }
            return String(cString: p)
        }
        let size = H5Tget_size(ftype)
        guard size > 0, size <= 1 << 24 else { return nil }
        _ = H5Tset_size(mem, size)
        _ = H5Tset_strpad(mem, H5T_STR_NULLPAD)
        var buf = [UInt8](repeating: 0, count: size)
        guard buf.withUnsafeMutableBytes({ H5Aread(aid, mem, $0.baseAddress) }) >= 0 else { _ = Self.takeErrorStack(); return nil }
        var bytes = buf.prefix { $0 != 0 }
        if H5Tget_strpad(ftype) == H5T_STR_SPACEPAD { while bytes.last == 0x20 { bytes.removeLast() } }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The integer attribute `key` on the object at `path`, stored in any integer width, or as a numpy bool/int8
    /// (h5py's enum); nil when absent, not a single integer, or out of `Int`'s range.
    public func intAttribute(_ key: String, on path: String = "/") -> Int? {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        guard let aid = openAttribute(key, on: path) else { return nil }
        defer { H5Aclose(aid) }
        let ftype = H5Aget_type(aid)
        guard ftype >= 0 else { _ = Self.takeErrorStack(); return nil }
        defer { H5Tclose(ftype) }
        guard attributeElementCount(aid) == 1,
              let (mem, size, signed) = try? integerMemoryType(ftype, key) else { return nil }
        defer { H5Tclose(mem) }
        var raw = [UInt8](repeating: 0, count: 8)
        guard raw.withUnsafeMutableBytes({ H5Aread(aid, mem, $0.baseAddress) }) >= 0 else { _ = Self.takeErrorStack(); return nil }
        guard let v = raw.withUnsafeBytes({ try? widen($0, count: 1, size: size, signed: signed, key) }) else { return nil }
        return Int(exactly: v[0])
    }

    /// Number of elements of an attribute's dataspace (1 for a scalar), or -1 on failure.
    private func attributeElementCount(_ aid: hid_t) -> Int {
        let space = H5Aget_space(aid)
        guard space >= 0 else { _ = Self.takeErrorStack(); return -1 }
        defer { H5Sclose(space) }
        return Int(H5Sget_simple_extent_npoints(space))
    }
}
