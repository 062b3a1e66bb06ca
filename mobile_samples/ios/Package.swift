// swift-tools-version:5.9
// OFDACore: the sample's deeplink parser, navigation policy, backend client and widget flow, without
// UIKit, so `swift test` runs the corpus tests on a Mac or on Linux (URLSession from
// FoundationNetworking there). The app target (OFDASample/) depends on it; see README.md.
// Complete concurrency checking: what Swift 6 language mode enforces, reported as warnings here.
import PackageDescription

let package = Package(
    name: "OFDACore",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [.library(name: "OFDACore", targets: ["OFDACore"])],
    targets: [
        .target(name: "OFDACore", swiftSettings: [.enableExperimentalFeature("StrictConcurrency")]),
        .testTarget(name: "OFDACoreTests", dependencies: ["OFDACore"]),
    ]
)
