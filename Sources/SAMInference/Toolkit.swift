// The toolkit's name and version, recorded in the files it writes (dumps, reports).

public enum Toolkit {
    public static let name = "SAMSwift"
    /// Bumped when a change alters what the toolkit computes or writes.
    public static let version = "0.8.0"
    /// "SAMSwift 0.8.0".
    public static var nameAndVersion: String { "\(name) \(version)" }
}
