// swift-tools-version:5.9
// SAM (Segment Anything) in Swift. Floors, from the ground up (see DESIGN.md in ../shared):
//   0  CBLAS CDNNL CPNG CJPEG CHDF5 system libraries (module maps + header shims); CDNNL: oneDNN, bf16 products
//   0  CSAMKernels                 exp / erf element-wise kernels in C (AVX-512, AVX2, baseline; picked at load)
//   1  SAMTensor                   float32 tensors and kernels (bf16 products on request), knowing nothing of SAM
//   1  SAMIO                       .pth / safetensors / HDF5 / PNG / JPEG / BMP readers and writers
//   2  SAMModel                    every module of segment_anything/modeling under Meta's names
//   3  SAMInference                preprocessing, predictor, mask generator, overlays
//   4  SAMEval                     verification, datasets, protocols, metrics, reports
//   5  sam                         the command line (argument parsing only)
import PackageDescription

let release: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]
// The kernel floor is optimised in debug builds too: its SIMD code is generic in Swift's standard library and only
// specialised by the optimiser, so an unoptimised softmax is ~100× slower and the golden tests would crawl.
let kernels: [SwiftSetting] = release + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "SAMSwift",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "sam", targets: ["sam"]),
        .library(name: "SAMModel", targets: ["SAMModel"]),
        .library(name: "SAMInference", targets: ["SAMInference"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // already in Hummingbird's graph; named because SAMServe imports NIOCore (the bound port) and HTTPTypes (headers)
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        // Floor 0: C libraries.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),
        // oneDNN for the bf16 products of `--precision bf16` (fp32 products stay on OpenBLAS).
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // Floor 0: the element-wise kernels that need wide vectors (exp, erf), in C for per-function CPU dispatch.
        .target(name: "CSAMKernels", cSettings: [.unsafeFlags(["-O2"])]),
        // Floor 1.
        .target(name: "SAMTensor", dependencies: ["CBLAS", "CDNNL", "CSAMKernels"], swiftSettings: kernels),
        .target(name: "SAMIO", dependencies: ["SAMTensor", "CPNG", "CJPEG", "CHDF5"], swiftSettings: release),
        // Floor 2.
        .target(name: "SAMModel", dependencies: ["SAMTensor"], swiftSettings: release),
        // Floor 3.
        .target(name: "SAMInference", dependencies: ["SAMModel", "SAMTensor", "SAMIO"], swiftSettings: release),
        // Floor 4.
        .target(name: "SAMEval", dependencies: ["SAMInference", "SAMModel", "SAMTensor", "SAMIO"], swiftSettings: release),
        // Floor 4: `sam serve`'s HTTP API and page (Hummingbird), beside the evaluation it browses.
        .target(name: "SAMServe", dependencies: [
            "SAMEval", "SAMInference", "SAMModel", "SAMTensor", "SAMIO",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ], swiftSettings: release),
        // Floor 5.
        .executableTarget(name: "sam", dependencies: [
            "SAMEval", "SAMInference", "SAMModel", "SAMTensor", "SAMIO", "SAMServe", "CMalloc",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: release),
        // Tests.
        .target(name: "SAMTestSupport", dependencies: ["SAMTensor", "SAMIO", "SAMModel", "SAMInference"], path: "Sources/SAMTestSupport"),
        .testTarget(name: "SAMTensorTests", dependencies: ["SAMTensor", "SAMIO", "SAMTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "SAMIOTests", dependencies: ["SAMIO", "SAMTensor", "SAMTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "SAMModelTests", dependencies: ["SAMModel", "SAMInference", "SAMIO", "SAMTensor", "SAMTestSupport"]),
        .testTarget(name: "SAMEvalTests", dependencies: ["SAMEval", "SAMInference", "SAMModel", "SAMIO", "SAMTensor", "SAMTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "SAMInferenceTests", dependencies: ["SAMInference", "SAMModel", "SAMEval", "SAMIO", "SAMTensor", "SAMTestSupport"]),
        .testTarget(name: "SAMServeTests", dependencies: ["SAMServe", "SAMInference", "SAMModel", "SAMIO", "SAMTensor", "SAMTestSupport"]),
    ]
)
