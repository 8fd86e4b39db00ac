// The JSON the API reads and writes (documented in README.md, "The web page (`sam serve`)").
import Foundation
import SAMIO
import SAMInference

/// POST /api/segment and POST /api/embed: which image (`image`, a file under --images, or `upload`, an id from
/// POST /api/upload) and, for segment, the prompt in the `sam segment --prompts` schema plus the mask encoding.
public struct SegmentRequest: Codable, Sendable {
    public var image: String?
    public var upload: String?
    public var points: [[Double]]?
    public var labels: [Int]?
    public var box: [Double]?
    public var multimask: Bool?
    /// "png" (default: base64 PNG, 0/255, one channel), "rle" (COCO compressed counts, column-major) or "both".
    public var format: String?

    public init(image: String? = nil, upload: String? = nil, points: [[Double]]? = nil, labels: [Int]? = nil,
                box: [Double]? = nil, multimask: Bool? = nil, format: String? = nil) {
        self.image = image; self.upload = upload; self.points = points; self.labels = labels
        self.box = box; self.multimask = multimask; self.format = format
    }

    static let keys: Set<String> = ["image", "upload", "points", "labels", "box", "multimask", "format"]

    /// The prompt in `sam segment --prompts`'s schema (what the page's "prompt JSON" download holds).
    public var spec: PromptSpec { PromptSpec(points: points, labels: labels, box: box, multimask: multimask ?? true) }

    /// Decodes a request body; unknown keys are refused like `PromptFile.read` refuses them (a misspelt "lables"
    /// would otherwise make every point positive).
    /// - Throws: 400 with JSONDecoder's reason.
    public static func decode(_ data: Data) throws -> SegmentRequest {
        let obj: Any
        do { obj = try JSONSerialization.jsonObject(with: data) } catch {
            // Foundation's own words on Linux are "The operation could not be completed": locate the fault ourselves
            if let where_ = JSONSyntaxError.find(in: [UInt8](data)) { throw ServeError.badRequest("body is not JSON: \(where_)") }
            let detail = (error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"
            throw ServeError.badRequest("body is not JSON: \(detail)")
        }
        guard let dict = obj as? [String: Any] else { throw ServeError.badRequest("body must be a JSON object") }
        let unknown = dict.keys.filter { !keys.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw ServeError.badRequest("unknown key(s) \(unknown.joined(separator: ", ")) (known: \(keys.sorted().joined(separator: ", ")))")
        }
        do { return try JSONDecoder().decode(SegmentRequest.self, from: data) } catch let e as DecodingError {
            throw ServeError.badRequest("bad request JSON: \(describe(e))")
        }
    }

    /// Parses the query of GET /api/mask.png and GET /api/prompts.json: `image=` or `upload=`, `point=x,y[,label]`
    /// (repeatable), `box=x0,y0,x1,y1`, `multimask=0|1`.
    public static func fromQuery(_ q: [(String, String)]) throws -> SegmentRequest {
        var r = SegmentRequest()
        var pts: [[Double]] = [], labels: [Int] = []
        for (k, v) in q {
            switch k {
            case "image": r.image = v
            case "upload": r.upload = v
            case "point":
                guard let p = PromptSyntax.point(v) else {
                    throw ServeError.badRequest("point=\(v): expected x,y[,label] with label 0 or 1")
                }
                pts.append([p.x, p.y]); labels.append(p.label)
            case "box":
                guard let b = PromptSyntax.box(v) else { throw ServeError.badRequest("box=\(v): expected x0,y0,x1,y1") }
                r.box = b
            case "multimask":
                guard let m = ["1": true, "true": true, "0": false, "false": false][v] else {
                    throw ServeError.badRequest("multimask=\(v): expected 0 or 1")
                }
                r.multimask = m
            case "index", "download": break
            default: throw ServeError.badRequest("unknown query parameter \(k.debugDescription)")
            }
        }
        if !pts.isEmpty { r.points = pts; r.labels = labels }
        return r
    }

    /// Most points in one prompt: a click session has a handful; the bound keeps one request's decoder work small.
    public static let maxPoints = 256

    /// The predictor's prompt, through the same conversion `sam segment --prompts` uses.
    public func prompt() throws -> Prompt {
        if let n = points?.count, n > SegmentRequest.maxPoints {
            throw ServeError.badRequest("\(n) points, more than \(SegmentRequest.maxPoints)")
        }
        do { return try spec.prompt(file: "request", index: 0) } catch let e as PromptFileError {
            throw ServeError.badRequest(e.description)
        }
    }
}

func describe(_ e: DecodingError) -> String {
    func path(_ c: [any CodingKey]) -> String { c.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") }
    switch e {
    case .typeMismatch(let t, let c): return "\(path(c.codingPath)): expected \(t)"
    case .valueNotFound(let t, let c): return "\(path(c.codingPath)): missing \(t)"
    case .keyNotFound(let k, _): return "missing key \(k.stringValue)"
    case .dataCorrupted(let c): return "\(path(c.codingPath)): \(c.debugDescription)"
    @unknown default: return "\(e)"
    }
}

/// One mask of a POST /api/segment answer.
public struct MaskJSON: Codable, Sendable {
    /// Base64 PNG (8-bit gray, 255 inside, 0 outside) of the image's size.
    public var png: String?
    /// COCO compressed RLE counts (column-major, `size` = [height, width]).
    public var counts: String?
    public var area: Int
    /// Box of the mask, XYWH, as `sam segment`'s result.json.
    public var bbox: [Int]
}

/// The answer of POST /api/segment.
public struct SegmentResponse: Codable, Sendable {
    public var width: Int
    public var height: Int
    public var iou_predictions: [Float]
    public var masks: [MaskJSON]
    /// Index of the mask with the highest predicted IoU.
    public var best: Int
    /// The prompt as a `sam segment --prompts` entry.
    public var prompt: PromptSpec
    public var cached: Bool
    public var embed_ms: Double
    public var decode_ms: Double
    /// CPU time of the decode, both cores together (unaffected by other processes taking the cores).
    public var decode_cpu_ms: Double
    /// Encoding the masks (PNG/RLE, area, box).
    public var encode_ms: Double
    /// CPU time of that encoding (one thread).
    public var encode_cpu_ms: Double
    /// From the request's arrival to the encoded masks (excludes the answer's JSON serialisation and the network);
    /// what decode_ms and encode_ms leave is parsing and waiting for the predictor's queue and for the cores.
    public var server_ms: Double
    /// SAM 2: the decoder's object-score logit (> 0: an object is present); absent for v1.
    public var object_score_logit: Float? = nil
}

/// The answer of POST /api/embed and POST /api/upload.
public struct EmbedResponse: Codable, Sendable {
    public var image: String?
    public var upload: String?
    public var width: Int
    public var height: Int
    public var cached: Bool
    public var embed_ms: Double
}

/// Area and XYWH box of mask `k` in one pass, the values of `maskBoxXYWH` (first/last set column and row, [0, 0, 0, 0]
/// when empty) and of the pixel count. Written here on concrete arrays because the library's generic
/// `maskBoxXYWH<C: Collection>` is not specialised across modules: with it, encoding three 481×321 masks took 28 ms
/// of CPU per click, with this 5 ms, PNG included (reports/serve/README.md). `ServeAPITests` checks both against the
/// library's.
func maskStats(_ pred: Prediction, index k: Int) -> (area: Int, bbox: [Int]) {
    let w = pred.width, h = pred.height, base = k * w * h
    var area = 0, x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
    pred.masks.withUnsafeBufferPointer { m in
        for y in 0..<h {
            let row = base + y * w
            var first = -1, last = -1, n = 0
            for x in 0..<w where m[row + x] != 0 {
                if first < 0 { first = x }
                last = x
                n += 1
            }
            guard n > 0 else { continue }
            area += n
            x0 = min(x0, first); x1 = max(x1, last)
            if y0 == Int.max { y0 = y }
            y1 = y
        }
    }
    return (area, x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1 - x0, y1 - y0])
}

