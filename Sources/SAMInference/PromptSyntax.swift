// The text syntax of prompts shared by the command line (`--point`, `--box`) and the server's queries
// (`point=`, `box=`): parsed in this one place.
import Foundation

public enum PromptSyntax {
    /// "x,y[,label]": finite coordinates in the image's pixels, label 1 (positive, the default) or 0 (negative);
    /// nil for anything else.
    public static func point(_ text: String) -> (x: Double, y: Double, label: Int)? {
        let p = fields(text)
        guard p.count == 2 || p.count == 3, let x = Double(p[0]), let y = Double(p[1]), x.isFinite, y.isFinite else { return nil }
        guard let l = p.count == 3 ? Int(p[2]) : 1, l == 0 || l == 1 else { return nil }
        return (x, y, l)
    }

    /// "x0,y0,x1,y1": four finite numbers in the image's pixels; nil for anything else.
    public static func box(_ text: String) -> [Double]? {
        let p = fields(text)
        let v = p.compactMap(Double.init)
        guard p.count == 4, v.count == 4, v.allSatisfy(\.isFinite) else { return nil }
        return v
    }

    private static func fields(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
    }
}
