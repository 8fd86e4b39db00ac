// Errors of the checkpoint (.pth zip + pickle, safetensors) and HDF5 readers and writers; each names the file and the thing at fault.

/// A failure reading or writing a tensor file. Every case carries the file's path first, then the key, global,
/// dataset or detail at fault, so that `description` alone tells a user what to look at.
public enum IOError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist or cannot be opened.
    case fileNotFound(String)
    /// The file ends before a structure it announces (a zip entry, a pickle string, a tensor's bytes).
    case truncated(String, String)
    /// The file's structure is inconsistent (bad signature, offsets that disagree, a pickle that is not a dict of tensors).
    case corrupt(String, String)
    /// A pickle names a global outside the allow-list; nothing is ever called. Carries the module and the name.
    case forbiddenGlobal(String, module: String, name: String)
    /// A valid file using a feature this reader does not implement (compressed zip entry, int64 tensor, ...).
    case unsupported(String, String)
    /// libhdf5 reported a failure; the detail names the dataset, group or attribute involved.
    case hdf5(String, String)
    /// The HDF5 file has no dataset of that name.
    case missingDataset(String, String)
    /// A size read from the file exceeds what this reader accepts (rank, element count, header length).
    case tooLarge(String, String)
    /// A weight is NaN or ±inf: the file, the tensor's key, the element's flat index, the tensor's shape and the value.
    case nonFinite(String, key: String, index: Int, shape: [Int], value: Float)
    /// The file is neither a PyTorch zip checkpoint nor safetensors; the detail says why each reading failed.
    case notACheckpoint(String, String)

    /// The path of the file at fault.
    public var path: String {
        switch self {
        case .fileNotFound(let p), .truncated(let p, _), .corrupt(let p, _), .forbiddenGlobal(let p, _, _),
             .unsupported(let p, _), .hdf5(let p, _), .missingDataset(let p, _), .tooLarge(let p, _),
             .nonFinite(let p, _, _, _, _), .notACheckpoint(let p, _):
            return p
        }
    }

    /// A one-line message naming the file and the thing at fault.
    public var description: String {
        switch self {
        case .fileNotFound(let p):
            return "\(p): file not found or not readable"
        case .truncated(let p, let d):
            return "\(p): file is truncated: \(d)"
        case .corrupt(let p, let d):
            return "\(p): corrupt file: \(d)"
        case .forbiddenGlobal(let p, let m, let n):
            return "\(p): pickle refers to forbidden global '\(m).\(n)' (only tensor storages and OrderedDict are allowed; nothing was executed)"
        case .unsupported(let p, let d):
            return "\(p): unsupported: \(d)"
        case .hdf5(let p, let d):
            return "\(p): HDF5 error: \(d)"
        case .missingDataset(let p, let n):
            return "\(p): no dataset named '\(n)'"
        case .tooLarge(let p, let d):
            return "\(p): too large: \(d)"
        case .nonFinite(let p, let key, let index, let shape, let value):
            // the element's index in the tensor's own dimensions, row-major
            var rest = index, at = [Int](repeating: 0, count: shape.count)
            for k in stride(from: shape.count - 1, through: 0, by: -1) where shape[k] > 0 {
                at[k] = rest % shape[k]
                rest /= shape[k]
            }
            return "\(p): \(key): weight \(value) at index \(at) of shape \(shape) is not finite (a checkpoint's weights must be finite numbers)"
        case .notACheckpoint(let p, let d):
            return "\(p): not a checkpoint: \(d)"
        }
    }
}
