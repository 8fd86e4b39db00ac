// `sam serve`: the HTTP API (JSON) and the page, on Hummingbird. Every handler turns errors into a 4xx/5xx with a
// message (`{"error": {"message": …}}`); nothing a client sends can stop the server.
import Dispatch
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SAMEval
import SAMIO
import SAMInference
import SAMModel

public struct ServeOptions: Sendable {
    /// Folder of images offered by GET /api/images (nil: uploads only).
    public var images: String?
    /// Folder of evaluation CSVs and reports (nil: no evaluation browser).
    public var reports: String?
    /// Folder holding the evaluated data sets by name (`DIR/GrabCut/{images,masks}`), for per-object overlays.
    public var data: String?
    /// Largest upload (bytes); larger bodies get 413.
    public var maxUploadBytes: Int
    /// Embeddings kept (least recently used dropped first).
    public var cacheSize: Int
    /// Uploaded images kept in memory.
    public var maxUploads: Int
    /// Shown on the page and in GET /api/info.
    public var checkpointLabel: String

    public init(images: String? = nil, reports: String? = nil, data: String? = nil, maxUploadBytes: Int = 20 << 20,
                cacheSize: Int = 4, maxUploads: Int = 8, checkpointLabel: String = "") {
        self.images = images; self.reports = reports; self.data = data; self.maxUploadBytes = maxUploadBytes
        self.cacheSize = cacheSize; self.maxUploads = maxUploads; self.checkpointLabel = checkpointLabel
    }
}

/// Largest JSON body accepted by POST /api/segment and /api/embed.
let maxJSONBytes = 1 << 20

public final class SAMServer: Sendable {
    public let options: ServeOptions
    public let segmenter: Segmenter
    let imagesRoot: SafeRoot?
    let reportsRoot: SafeRoot?
    let dataRoot: SafeRoot?
    let uploads: UploadStore

    /// - Throws: `ServeError` 404 when --images or --reports is not a folder.
    public convenience init(model: Sam, options: ServeOptions) throws {
        try self.init(model: .sam(model), options: options)
    }

    /// A server for a model of either family (SAM v1 or SAM 2.1).
    public init(model: AnyModel, options: ServeOptions) throws {
        self.options = options
        segmenter = Segmenter(model: model, capacity: options.cacheSize)
        imagesRoot = try options.images.map(SafeRoot.init)
        reportsRoot = try options.reports.map(SafeRoot.init)
        dataRoot = try options.data.map(SafeRoot.init)
        uploads = UploadStore(capacity: options.maxUploads)
    }

    /// The Hummingbird application; `onRunning` receives the bound port (useful with port 0).
    public func application(host: String = "127.0.0.1", port: Int = 8080,
                            onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "sam-serve"),
                    onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) })
    }

    // MARK: routes

    public func router() -> Router<BasicRequestContext> {
        let r = Router(context: BasicRequestContext.self)
        r.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: Page.html)))
        }
        r.get("/api/info") { _, _ in try await self.guarded { try await self.info() } }
        r.get("/api/images") { _, _ in try await self.guarded { try self.listImages() } }
        r.get("/api/image") { req, _ in try await self.guarded { try self.imagePNG(req) } }
        r.post("/api/upload") { req, _ in try await self.guarded { try await self.upload(req) } }
        r.post("/api/embed") { req, _ in try await self.guarded { try await self.embed(req) } }
        r.post("/api/segment") { req, _ in try await self.guarded { try await self.segment(req) } }
        r.get("/api/mask.png") { req, _ in try await self.guarded { try await self.maskDownload(req) } }
        r.get("/api/prompts.json") { req, _ in try await self.guarded { try self.promptsDownload(req) } }
        r.get("/api/eval") { req, _ in try await self.guarded { try self.evalListing(req) } }
        r.get("/api/eval/overlay") { req, _ in try await self.guarded { try await self.evalOverlay(req) } }
        return r
    }

    /// Runs a handler, answering every error with its status and message.
    func guarded(_ body: () async throws -> Response) async throws -> Response {
        do { return try await body() } catch { throw ServeError.from(error).httpError }
    }

    // MARK: handlers

    struct Info: Encodable {
        var checkpoint: String
        var image_size: Int
        var embed_dim: Int
        var depth: Int
        var images: Bool
        var reports: Bool
        var data: Bool
        var max_upload_bytes: Int
        var cache_size: Int
        var cached: [String]
    }

    func info() async throws -> Response {
        let d = ModelSize.describe(name: options.checkpointLabel, model: segmenter.model)
        return try json(Info(checkpoint: options.checkpointLabel, image_size: segmenter.model.imageSize, embed_dim: d.embedDim,
                             depth: d.depth, images: imagesRoot != nil, reports: reportsRoot != nil, data: dataRoot != nil,
                             max_upload_bytes: options.maxUploadBytes, cache_size: options.cacheSize,
                             cached: await segmenter.cachedKeys()))
    }

    func listImages() throws -> Response {
        guard let root = imagesRoot else { return try json(["images": [String]()]) }
        // image extensions only: the readers find the format from the bytes, not the name
        return try json(["images": root.list(extensions: ImageFolder.extensions)])
    }

    /// The image a request names, as a cache key and a decoder.
    func source(image: String?, upload: String?) throws -> (key: String, load: @Sendable () throws -> RGBImage) {
        switch (image, upload) {
        case (let name?, nil):
            guard let root = imagesRoot else { throw ServeError.notFound("no --images folder is served; upload the image") }
            let path = try root.file(name)
            return ("image:" + name, { try ImageReader.readRGB(path: path) })
        case (nil, let id?):
            guard let img = uploads.get(id) else { throw ServeError.notFound("no upload \(id.debugDescription) (uploads are kept in memory, \(options.maxUploads) at most)") }
            return ("upload:" + id, { img })
        case (nil, nil): throw ServeError.badRequest("give \"image\" (a file under --images) or \"upload\" (an id from POST /api/upload)")
        default: throw ServeError.badRequest("give \"image\" or \"upload\", not both")
        }
    }

    func query(_ req: Request) -> [(String, String)] {
        req.uri.queryParameters.map { (String($0.key), String($0.value)) }
    }

    func imagePNG(_ req: Request) throws -> Response {
        let q = Dictionary(query(req), uniquingKeysWith: { a, _ in a })
        let img = try source(image: q["image"], upload: q["upload"]).load()
        let png = try ImageWriter.encodePNG(width: img.width, height: img.height, channels: 3, pixels: img.pixels)
        return Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: png)))
    }

    func upload(_ req: Request) async throws -> Response {
        if let len = req.headers[.contentLength].flatMap({ Int($0) }), len > options.maxUploadBytes {
            throw ServeError.tooLarge("upload of \(len) bytes, more than \(options.maxUploadBytes)")
        }
        let body = try await collect(req, limit: options.maxUploadBytes, what: "upload")
        guard !body.isEmpty else { throw ServeError.badRequest("empty upload") }
        // decoded by the CLI's own guarded readers, which read files: a private temporary file, removed at once
        let tmp = (NSTemporaryDirectory() as NSString).appendingPathComponent("sam-serve-\(getpid())-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: tmp, contents: Data(body), attributes: [.posixPermissions: 0o600]) else {
            throw ServeError(500, "cannot write a temporary file in \(NSTemporaryDirectory())")
        }
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let img: RGBImage
        do { img = try ImageReader.readRGB(path: tmp) } catch {
            var e = ServeError.from(error)
            e.message = e.message.replacingOccurrences(of: tmp, with: "upload")
            throw e
        }
        let id = uploads.put(img)
        return try json(EmbedResponse(image: nil, upload: id, width: img.width, height: img.height, cached: false, embed_ms: 0))
    }

    func collect(_ req: Request, limit: Int, what: String) async throws -> [UInt8] {
        do {
            let buf = try await req.body.collect(upTo: limit)
            return Array(buffer: buf)
        } catch let e as HTTPResponseError where e.status == .contentTooLarge {
            throw ServeError.tooLarge("\(what) larger than \(limit) bytes")
        }
    }

    func segmentRequest(_ req: Request) async throws -> SegmentRequest {
        let body = try await collect(req, limit: maxJSONBytes, what: "request body")
        return try SegmentRequest.decode(Data(body))
    }

    func embed(_ req: Request) async throws -> Response {
        let r = try await segmentRequest(req)
        let src = try source(image: r.image, upload: r.upload)
        let (size, t) = try await segmenter.embed(key: src.key, image: src.load)
        return try json(EmbedResponse(image: r.image, upload: r.upload, width: size.w, height: size.h, cached: t.cached, embed_ms: t.embedMs))
    }

    /// Runs the predictor for a request.
    func predict(_ r: SegmentRequest) async throws -> (Prediction, Segmenter.Timing) {
        let prompt = try r.prompt()
        let src = try source(image: r.image, upload: r.upload)
        return try await segmenter.predict(key: src.key, image: src.load, prompt: prompt, multimask: r.multimask ?? true)
    }

    func segment(_ req: Request) async throws -> Response {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try await segmentRequest(req)
        let format = r.format ?? "png"
        guard ["png", "rle", "both"].contains(format) else { throw ServeError.badRequest("format \(format.debugDescription): expected png, rle or both") }
        let (pred, t) = try await predict(r)
        let t1 = DispatchTime.now().uptimeNanoseconds, c1 = cpuMs(CLOCK_THREAD_CPUTIME_ID)
        var masks: [MaskJSON] = []
        for k in 0..<pred.maskCount {
            let stats = maskStats(pred, index: k)
            masks.append(MaskJSON(png: format == "rle" ? nil : try maskPNG(pred, index: k).base64(),
                                  counts: format == "png" ? nil : RLE(mask: Array(pred.mask(k)), height: pred.height, width: pred.width).cocoString,
                                  area: stats.area, bbox: stats.bbox))
        }
        let best = pred.iouPredictions.indices.max { pred.iouPredictions[$0] < pred.iouPredictions[$1] } ?? 0
        var resp = SegmentResponse(width: pred.width, height: pred.height, iou_predictions: pred.iouPredictions, masks: masks,
                                   best: best, prompt: r.spec, cached: t.cached, embed_ms: t.embedMs, decode_ms: t.decodeMs,
                                   decode_cpu_ms: t.decodeCPUMs, encode_ms: 0, encode_cpu_ms: cpuMs(CLOCK_THREAD_CPUTIME_ID) - c1,
                                   server_ms: 0, object_score_logit: pred.objectScoreLogit)
        // both end before the answer's own JSON serialisation (a few strings already encoded above)
        let t2 = DispatchTime.now().uptimeNanoseconds
        resp.encode_ms = Double(t2 - t1) / 1e6
        resp.server_ms = Double(t2 - t0) / 1e6
        return try json(resp)
    }

    func maskDownload(_ req: Request) async throws -> Response {
        let q = query(req)
        let r = try SegmentRequest.fromQuery(q)
        let (pred, _) = try await predict(r)
        let index: Int
        if let s = q.last(where: { $0.0 == "index" })?.1 {
            guard let i = Int(s), i >= 0, i < pred.maskCount else {
                throw ServeError.badRequest("index=\(s): expected 0..<\(pred.maskCount)")
            }
            index = i
        } else {
            index = pred.iouPredictions.indices.max { pred.iouPredictions[$0] < pred.iouPredictions[$1] } ?? 0
        }
        return Response(status: .ok, headers: [.contentType: "image/png", .contentDisposition: "attachment; filename=\"mask_\(index).png\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: try maskPNG(pred, index: index))))
    }

    func promptsDownload(_ req: Request) throws -> Response {
        let r = try SegmentRequest.fromQuery(query(req))
        _ = try r.prompt()
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Response(status: .ok, headers: [.contentType: "application/json", .contentDisposition: "attachment; filename=\"prompts.json\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: try enc.encode([r.spec]))))
    }

    func evalListing(_ req: Request) throws -> Response {
        guard let root = reportsRoot else { throw ServeError.notFound("no --reports folder is served") }
        let q = Dictionary(query(req), uniquingKeysWith: { a, _ in a })
        for k in q.keys where !["dataset", "checkpoint", "protocol", "source", "limit"].contains(k) {
            throw ServeError.badRequest("unknown query parameter \(k.debugDescription) (known: dataset, checkpoint, protocol, source, limit)")
        }
        var limit = 1000
        if let s = q["limit"] {
            guard let l = Int(s), l >= 0 else { throw ServeError.badRequest("limit=\(s): expected a count") }
            limit = l
        }
        return try json(EvalBrowser.listing(root: root, dataset: q["dataset"], checkpoint: q["checkpoint"], protocol_: q["protocol"],
                                            source: q["source"], limit: limit))
    }

    /// GET /api/eval/overlay?dataset=NAME&id=ID&protocol=P[&seed=S]: the object's picture, PNG; headers
    /// `X-SAM-IoU` (the scored mask's IoU with the ground truth, served model) and `X-SAM-Prompt` (JSON).
    func evalOverlay(_ req: Request) async throws -> Response {
        guard let root = dataRoot else { throw ServeError.notFound("no --data folder is served (the data sets the evaluation ran on)") }
        let q = Dictionary(query(req), uniquingKeysWith: { a, _ in a })
        for k in q.keys where !["dataset", "id", "protocol", "seed"].contains(k) {
            throw ServeError.badRequest("unknown query parameter \(k.debugDescription) (known: dataset, id, protocol, seed)")
        }
        guard let name = q["dataset"], let id = q["id"], let proto = q["protocol"] else {
            throw ServeError.badRequest("give dataset, id and protocol")
        }
        var seed: UInt64 = 0
        if let s = q["seed"] {
            guard let v = UInt64(s) else { throw ServeError.badRequest("seed=\(s): expected an unsigned integer") }
            seed = v
        }
        let folder = try root.folder(name)
        let dataset: Dataset
        do { dataset = try Dataset.open(path: folder, rotateMismatched: true) } catch {
            throw ServeError.badRequest("\(name) is not a data set folder (images/ and masks/, or SA-1B): \(error)")
        }
        guard let o = dataset.objects.first(where: { $0.id == id }) else {
            throw ServeError.notFound("no object \(id.debugDescription) in \(name)")
        }
        var paths = [o.imagePath]
        if case .maskFile(let m, _) = o.source { paths.append(m) }
        for p in paths where !root.contains(p) { throw ServeError.forbidden("\(id): \(p) lies outside the served --data folder") }
        let (image, truth) = try dataset.load(o)
        let key = "data:\(name)/\(o.imagePath)", caption = "\(proto) \(options.checkpointLabel)"
        let prompt: Prompt, multimask: Bool, iou: Double, png: [UInt8]
        if case .clicks(let n) = try EvalOverlay.evalProtocol(proto) {
            // the click simulation as `sam eval` runs it: every click drawn (positive yellow, negative red) over the
            // mask kept after the last one; the IoU is that of click n
            let run = try await segmenter.clickRun(key: key, image: { image }, truth: truth, clicks: n)
            prompt = Prompt(points: run.clicks.map { (Float($0.x), Float($0.y)) }, labels: run.clicks.map { $0.positive ? 1 : 0 })
            multimask = false
            (iou, png) = try EvalOverlay.draw(image: image, truth: truth, mask: run.mask, prompt: prompt, caption: caption)
        } else {
            (prompt, multimask) = try EvalOverlay.prompt(protocol: proto, truth: truth, id: id, seed: seed)
            let (pred, _) = try await segmenter.predict(key: key, image: { image }, prompt: prompt, multimask: multimask)
            (iou, png) = try EvalOverlay.draw(image: image, truth: truth, prediction: pred, mask: EvalOverlay.scoredMask(pred),
                                              prompt: prompt, caption: caption)
        }
        let spec = PromptSpec(points: prompt.points.isEmpty ? nil : prompt.points.map { [Double($0.x), Double($0.y)] },
                              labels: prompt.points.isEmpty ? nil : prompt.labels,
                              box: prompt.box.map { [Double($0.x0), Double($0.y0), Double($0.x1), Double($0.y1)] }, multimask: multimask)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var headers: HTTPFields = [.contentType: "image/png"]
        headers[HTTPField.Name("X-SAM-IoU")!] = String(iou)
        headers[HTTPField.Name("X-SAM-Prompt")!] = String(decoding: try enc.encode(spec), as: UTF8.self)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: png)))
    }

    /// An answer as JSON; a non-finite number (an IoU of a model whose activations overflowed, a NaN mIoU read
    /// from a CSV) is written as `null` and logged, never a 500.
    func json<T: Encodable>(_ value: T, route: String = #function) throws -> Response {
        let (data, nonFinite) = try JSONNumbers.encode(value)
        if nonFinite > 0 { JSONNumbers.warn("sam serve: \(route): \(nonFinite) non-finite number(s) in the answer written as null") }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Array where Element == UInt8 {
    func base64() -> String { Data(self).base64EncodedString() }
}

/// Uploaded images, kept in memory (the oldest dropped first).
final class UploadStore: @unchecked Sendable {
    private let lock = NSLock()
    private var images: [String: RGBImage] = [:]
    private var order: [String] = []
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func put(_ img: RGBImage) -> String {
        let id = String(UUID().uuidString.prefix(8)).lowercased()
        lock.lock(); defer { lock.unlock() }
        images[id] = img
        order.append(id)
        while order.count > capacity { images[order.removeFirst()] = nil }
        return id
    }

    func get(_ id: String) -> RGBImage? {
        lock.lock(); defer { lock.unlock() }
        return images[id]
    }
}
