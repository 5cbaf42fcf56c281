// swift-tools-version:5.9
// TinySAMKit: the platform-independent core of the iOS demo (Foundation only) and a thin Core ML
// runner in its own target, compiled only where Core ML exists.
import PackageDescription

let package = Package(
    name: "TinySAMKit",
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [
        .library(name: "TinySAMKit", targets: ["TinySAMKit"]),
        .library(name: "TinySAMCoreML", targets: ["TinySAMCoreML"]),
    ],
    targets: [
        .target(name: "TinySAMKit"),
        .target(name: "TinySAMCoreML", dependencies: ["TinySAMKit"]),
        .testTarget(name: "TinySAMKitTests", dependencies: ["TinySAMKit"]),
    ]
)
