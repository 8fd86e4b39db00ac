// Errors of the evaluation layer.

/// Errors of the evaluation layer, each naming the files at fault.
public enum EvalError: Error, CustomStringConvertible {
    case sizeMismatch(image: String, mask: String, imageSize: (Int, Int), maskSize: (Int, Int))
    case emptyMask(String)

    public var description: String {
        switch self {
        case .sizeMismatch(let i, let m, let a, let b):
            return "image \(i) is \(a.0)×\(a.1) but its mask \(m) is \(b.0)×\(b.1)"
        case .emptyMask(let m): return "mask \(m) has no object pixels"
        }
    }
}
