// libFuzzer entry point for every SAMSwift parser; the target is chosen by $SAMFUZZ_TARGET (see ../run.sh). The
// checkpoint targets go on through the loader and the first forward pass of the model they describe.
// Built by build.sh with -sanitize=fuzzer,address against the debug (bounds- and overflow-checked) modules.
// A Swift error thrown by a parser or the loader is the expected outcome for bad input; a trap, a sanitizer report, a hang
// (-timeout) or an allocation over -malloc_limit_mb is a finding.
import Foundation
@testable import SAMIO
@testable import SAMEval
@testable import SAMInference
import SAMTensor
import SAMModel

let target = ProcessInfo.processInfo.environment["SAMFUZZ_TARGET"] ?? "pth"
let scratch: String = {
    let dir = (ProcessInfo.processInfo.environment["SAMFUZZ_TMP"] ?? "/dev/shm") + "/samfuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir + "/sa1b", withIntermediateDirectories: true)
    return dir
}()

@inline(never)
func writeInput(_ data: UnsafeBufferPointer<UInt8>, _ path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    if fd < 0 { return }
    var off = 0
    while off < data.count {
        let w = write(fd, data.baseAddress! + off, data.count - off)
        if w <= 0 { break }
        off += w
    }
    close(fd)
}

/// Ground-truth sizes a data set may decode at: as in `Dataset.load`, only after they equal the image's size,
/// which the image reader bounds; the harness stands in an image of at most 4096 pixels.
func decodeObjects(_ d: Dataset) {
    for o in d.objects.prefix(64) {
        if case .segmentation(let seg, let h, let w) = o.source, h > 0, w > 0, h <= 4096, w <= 4096, h * w <= 4096 {
            _ = try? seg.decode(height: h, width: w, id: o.id)
        }
    }
}

/// The first forward pass of a loaded model: encoder on a 12×9 image, then one point and one box prompt through the
/// prompt encoder and decoder. Only small models run it (image side ≤ 256, ≤ 2 M values: a seed's size, far below
/// what the real loader accepts), so the fuzzer keeps its speed; larger ones stop after weight assignment.
let maxForwardImageSize = 256
let maxForwardParameters = 2 << 20
func forward(_ model: Sam) {
    let c = model.config
    guard c.imageSize <= maxForwardImageSize, c.parameterCount <= maxForwardParameters else { return }
    let predictor = SamPredictor(model: model)
    var px = [UInt8](repeating: 0, count: 12 * 9 * 3)
    for i in px.indices { px[i] = UInt8(truncatingIfNeeded: i &* 37) }
    predictor.setImage(RGBImage(width: 12, height: 9, pixels: px))
    _ = try? predictor.predict(Prompt(points: [(3, 4)], labels: [1]), multimaskOutput: true)
    _ = try? predictor.predict(Prompt(box: (1, 1, 10, 7)), multimaskOutput: false)
}

func runOne(_ buf: UnsafeBufferPointer<UInt8>) {
    switch target {
    case "pth", "safetensors":
        // reader → loader (size inference, bounds, key and shape check, weight assignment) → first forward pass, so
        // well-formed files with hostile shapes and values are fuzzed too, not only the parsers.
        let p = scratch + "/ckpt"
        writeInput(buf, p)
        // either family: a SAM 2 file stops after weight assignment (its encoder input is 1024², too slow for a
        // fuzzer's forward pass; the parsers, size inference, bounds and the key check are what is fuzzed)
        // inputs whose last byte is odd load in bf16 (the encoder's weights converted at load) and run in bf16, where the
        // CPU has bf16 products
        let precision: Precision = Precision.bf16Supported && (buf.last ?? 0) & 1 == 1 ? .bf16 : .fp32
        guard let model = try? ModelLoader.load(checkpoint: p, precision: precision) else { return }
        if case .sam(let m) = model { forward(m) }
    case "png", "jpeg", "bmp", "image":
        let bytes = Array(buf)
        // Images over 1 M pixels are refused by the header check (the same code path as the real 178 M-pixel
        // bound): legal RLE BMPs and CMYK JPEGs that fill 178 M pixels from a few bytes take longer than the hang
        // limit in this instrumented debug build (reports/robustness/README.md), which stopped the earlier runs.
        // (SAMFUZZ_MAX_PIXELS lowers it further: the decoders' code paths do not depend on the size.)
        ImageLimits.maxPixels = Int(ProcessInfo.processInfo.environment["SAMFUZZ_MAX_PIXELS"] ?? "") ?? 1 << 20
        // Above 4 M pixels only the decode runs: the per-pixel conversions are linear, bounded by ImageLimits, and in
        // this debug + ASan build a legitimate 16 M-pixel CMYK image (a 272-byte JPEG, which Pillow also accepts)
        // takes longer than the 10 s hang limit (reports/robustness/README.md).
        if let img = try? ImageReader.decode(data: bytes, path: "fuzz"), img.width * img.height <= 4 << 20 {
            _ = img.toRGB().count
            _ = img.toLabels().count
        }
    case "ablation":
        // an ablation config (checkpoints × precisions × data sets × protocols), parsed and expanded, not run
        let p = scratch + "/ablation.json"
        writeInput(buf, p)
        if let c = try? AblationConfig.load(path: p) {
            for ck in c.checkpoints { _ = c.fp32Twin(of: ck) }
            for d in c.datasets { for pr in d.protocols { _ = c.agreementPath(checkpoint: c.checkpoints[0].name, dataset: d.name, protocol: pr) } }
        }
    case "coco":
        let p = scratch + "/coco.json"
        writeInput(buf, p)
        if let d = try? Dataset.cocoInstances(jsonPath: p, imagesDir: scratch) { decodeObjects(d) }
    case "sa1b":
        writeInput(buf, scratch + "/sa1b/a.json")
        if let d = try? Dataset.sa1b(folder: scratch + "/sa1b") { decodeObjects(d) }
    case "rle":
        // First byte picks the size (h, w ≤ 64), the rest is a pycocotools counts string (compressed RLE).
        guard buf.count >= 2 else { return }
        let h = Int(buf[0] & 63) + 1, w = Int(buf[1] & 63) + 1
        let s = String(decoding: UnsafeBufferPointer(rebasing: buf[2...]), as: UTF8.self)
        _ = try? Segmentation.compressedRLE(s).decode(height: h, width: w, id: "fuzz")
        // The same bytes as uncompressed counts (u16 each).
        var counts: [UInt32] = []
        var i = 2
        while i + 1 < buf.count { counts.append(UInt32(buf[i]) | UInt32(buf[i + 1]) << 8); i += 2 }
        _ = try? decodeRLE(counts, height: h, width: w, id: "fuzz")
    case "rle-amg":
        // The automatic mask generator's RLE (SAMInference/RLE.swift): parse, re-encode, decode.
        guard buf.count >= 2 else { return }
        let h = Int(buf[0] & 63) + 1, w = Int(buf[1] & 63) + 1
        let s = String(decoding: UnsafeBufferPointer(rebasing: buf[2...]), as: UTF8.self)
        if let r = RLE(cocoString: s, height: h, width: w), r.counts.reduce(0, { $0 &+ $1 }) == h * w {
            _ = r.decode().count
            _ = r.cocoString
            _ = r.area
        }
    case "prompt":
        let p = scratch + "/prompts.json"
        writeInput(buf, p)
        if let specs = try? PromptFile.read(path: p) {
            for (i, s) in specs.prefix(64).enumerated() { _ = try? s.prompt(file: p, index: i) }
        }
        // the text syntax of --point / --box and the server's point= / box= (PromptSyntax), line by line
        for line in String(decoding: buf, as: UTF8.self).split(separator: "\n").prefix(256) {
            _ = PromptSyntax.point(String(line))
            _ = PromptSyntax.box(String(line))
        }
    case "hdf5":
        let p = scratch + "/dump.h5"
        writeInput(buf, p)
        guard let f = try? HDF5File.open(path: p) else { return }
        if let names = try? f.datasetNames() {
            for n in names.prefix(16) {
                _ = try? f.shape(of: n)
                _ = try? f.readTensor(n)
                _ = try? f.readUInt8(n)
                _ = try? f.readInt64(n)
            }
        }
        _ = f.stringAttribute("checkpoint_fingerprint")
        _ = f.intAttribute("original_height")
        _ = try? MaskInput.fromLogitsFile(p, index: nil, expectedSize: 256)
        try? f.close()
        _ = try? EmbeddingFile.read(path: p)
    default:
        fatalError("unknown SAMFUZZ_TARGET \(target)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    runOne(UnsafeBufferPointer(start: data, count: size))
    return 0
}
