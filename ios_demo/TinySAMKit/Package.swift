// swift-tools-version:5.9
// TinySAMKit: the platform-independent core of the iOS demo (Foundation only) and thin Core ML and
// Core AI runners in targets of their own, compiled only where those frameworks exist (Core AI:
// the iOS / macOS 27 SDKs).
import PackageDescription

let package = Package(
    name: "TinySAMKit",
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [
        .library(name: "TinySAMKit", targets: ["TinySAMKit"]),
        .library(name: "TinySAMCoreML", targets: ["TinySAMCoreML"]),
        .library(name: "TinySAMCoreAI", targets: ["TinySAMCoreAI"]),
    ],
    targets: [
        .target(name: "TinySAMKit"),
        .target(name: "TinySAMCoreML", dependencies: ["TinySAMKit"]),
        .target(name: "TinySAMCoreAI", dependencies: ["TinySAMKit"]),
        .testTarget(name: "TinySAMKitTests", dependencies: ["TinySAMKit"]),
    ]
)
