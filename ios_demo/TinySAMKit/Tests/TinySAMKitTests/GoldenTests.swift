import Foundation
import XCTest
@testable import TinySAMKit

/// The Swift core against the JSON files in tests/golden, like the Kotlin core's GoldenTest.
final class GoldenTests: XCTestCase {
    func testPreprocessShapes() throws {
        for item in list(obj(try Golden.load("transforms.json"))["preprocess_shape"]) {
            let size = ints(obj(item)["size"])
            let shape = try Transforms.preprocessShape(height: size[0], width: size[1])
            XCTAssertEqual([shape.height, shape.width], ints(obj(item)["expected"]), "\(size)")
        }
        XCTAssertThrowsError(try Transforms.preprocessShape(height: 0, width: 5))
    }

    func testCoordinateAndBoxTransforms() throws {
        let vectors = obj(try Golden.load("transforms.json"))
        for item in list(vectors["transform_coords"]) {
            let size = ints(obj(item)["size"])
            let actual = try Transforms.transformCoords(pairs(obj(item)["points"]), height: size[0], width: size[1])
            assertClose(pairs(obj(item)["expected"]), actual, 1e-9, "coords \(size)")
        }
        for item in list(vectors["transform_box"]) {
            let size = ints(obj(item)["size"])
            let actual = try Transforms.transformBox(doubles(obj(item)["box"]), height: size[0], width: size[1])
            assertClose(doubles(obj(item)["expected"]), actual, 1e-9, "box \(size)")
        }
    }

    func testResizeMatchesPillowBitForBit() throws {
        for item in list(obj(try Golden.load("transforms.json"))["resize_bilinear"]) {
            let size = ints(obj(item)["size"])
            let newSize = ints(obj(item)["new_size"])
            let rgb = ints(obj(item)["pixels_hwc"]).map { UInt8($0) }
            let resized = try Resize.bilinear(rgb, height: size[0], width: size[1], newHeight: newSize[0], newWidth: newSize[1])
            XCTAssertEqual(resized.map { Int($0) }, ints(obj(item)["expected_hwc"]), "resize \(size) -> \(newSize)")
        }
    }

    func testNormalizeAndPad() throws {
        let item = obj(obj(try Golden.load("transforms.json"))["normalize"])
        let h = (item["height"] as? NSNumber)?.intValue ?? 0
        let w = (item["width"] as? NSNumber)?.intValue ?? 0
        let out = try Transforms.normalizeAndPad(ints(item["pixels_hwc"]).map { UInt8($0) }, height: h, width: w)
        let expected = doubles(item["expected_chw"])
        let size = Transforms.imageSize
        let actual = (0..<expected.count).map { i -> Double in
            let (c, y, x) = (i / (h * w), (i / w) % h, i % w)
            return Double(out[(c * size + y) * size + x])
        }
        assertClose(expected, actual, 1e-6, "normalized")
        var padSum = 0.0
        for c in 0..<3 {
            for y in 0..<size {
                for x in 0..<size where y >= h || x >= w { padSum += abs(Double(out[(c * size + y) * size + x])) }
            }
        }
        XCTAssertEqual(item["padding_is_zero"] as? Bool, true)
        XCTAssertEqual(padSum, 0)
    }

    func testPromptPacking() throws {
        for item in list(try Golden.load("prompts.json")) {
            let c = obj(item)
            let points = c["points"].flatMap { $0 is NSNull ? nil : pairs($0) }
            let labels = c["labels"].flatMap { $0 is NSNull ? nil : ints($0) }
            let box = c["box"].flatMap { $0 is NSNull ? nil : doubles($0) }
            let maxPoints = (c["max_points"] as? NSNumber)?.intValue ?? 0
            if c["error"] != nil {
                XCTAssertThrowsError(try Prompts.pack(points: points, labels: labels, box: box, maxPoints: maxPoints)) { error in
                    XCTAssertTrue("\(error)".contains("at most \(maxPoints)"), "\(error)")
                }
                continue
            }
            let packed = try Prompts.pack(points: points, labels: labels, box: box, maxPoints: maxPoints)
            assertClose(doubles(c["coords"]), packed.coords.map(Double.init), 0, "coords")
            assertClose(doubles(c["packed_labels"]), packed.labels.map(Double.init), 0, "labels")
        }
    }

    func testMaskUpscalingAndThreshold() throws {
        let side = Transforms.lowResSize
        let low = (0..<(side * side)).map { (k: Int) -> Float in
            let i = Double(k / side)
            let j = Double(k % side)
            let wave: Double = 8.0 * sin(0.11 * i + 0.3) * cos(0.07 * j)
            let ramp: Double = 2.0 * sin(0.05 * (i + j))
            return Float(wave + ramp - 1.0)
        }
        for item in list(try Golden.load("masks.json")) {
            let c = obj(item)
            let size = ints(c["size"])
            let logits = try MaskPost.upscaleLogits(low, height: size[0], width: size[1])
            let expected = doubles(c["logits"])
            assertClose(expected, logits.map(Double.init), 1e-5, "logits \(size)")
            let mask = MaskPost.threshold(logits)
            let bits = Array((c["mask"] as? String ?? "").utf8)
            for k in mask.indices where abs(expected[k]) > 1e-4 {
                XCTAssertEqual(bits[k] == UInt8(ascii: "1"), mask[k], "mask[\(k)] \(size)")
            }
        }
    }

    func testPointGridsStabilityAndNms() throws {
        let vectors = obj(try Golden.load("everything.json"))
        for (n, grid) in obj(vectors["point_grid"]) {
            assertClose(doubles(grid), try Everything.pointGrid(Int(n) ?? 0), 0, "grid \(n)")
        }
        let stability = obj(vectors["stability"])
        let shape = ints(stability["shape"])
        let logits = doubles(stability["logits"])
        let expected = doubles(stability["expected"])
        let per = shape[1] * shape[2]
        for k in 0..<shape[0] {
            let mask = (0..<per).map { Float(logits[k * per + $0]) }
            XCTAssertEqual(expected[k], Everything.stabilityScore(mask), accuracy: 1e-12, "stability \(k)")
        }
        for item in list(vectors["nms"]) {
            let c = obj(item)
            let boxes = list(c["boxes"]).map { doubles($0) }
            let threshold = (c["threshold"] as? NSNumber)?.doubleValue ?? 0
            XCTAssertEqual(Everything.nms(boxes: boxes, order: ints(c["order"]), iouThreshold: threshold), ints(c["kept"]))
        }
    }

    func testHierarchicalSkipDecisionsOnOracleScene() throws {
        let c = obj(obj(try Golden.load("everything.json"))["hierarchical_skip"])
        let size = ints(c["size"])
        let map = obj(c["high_map"])
        let high = Array((map["bits"] as? String ?? "").utf8).map { $0 == UInt8(ascii: "1") }
        let decoded = try Everything.roundTwoPoints(
            highMap: high, rows: (map["rows"] as? NSNumber)?.intValue ?? 0, cols: (map["cols"] as? NSNumber)?.intValue ?? 0,
            height: size[0], width: size[1], pointsPerSide: (c["points_per_side"] as? NSNumber)?.intValue ?? 0
        )
        XCTAssertEqual(decoded, ints(c["decoded_in_round_two"]))
    }

    func testManifestParsing() throws {
        let manifest = try BundleManifest.parse(try Golden.data("manifest.json"))
        XCTAssertEqual(manifest.target, "tflite")
        XCTAssertEqual(manifest.encoder.file, "encoder.tflite")
        XCTAssertEqual(manifest.maxPoints, 8)
        XCTAssertEqual(manifest.decoderInputs[1].shape, [1, 8, 2])
        XCTAssertEqual(manifest.recipe, "fp32")
        XCTAssertTrue(manifest.untrained)
    }

    func testBadManifestsNameTheProblem() throws {
        let text = String(decoding: try Golden.data("manifest.json"), as: UTF8.self)
        let cases = [
            (text.replacingOccurrences(of: "\"schema_version\": 2", with: "\"schema_version\": 7"), "schema_version 7"),
            (text.replacingOccurrences(of: "\"target\": \"tflite\"", with: "\"target\": \"onnx\""), "unknown target 'onnx'"),
            (text.replacingOccurrences(of: "\"point_labels\"", with: "\"labels\""), "decoder inputs"),
            ("[1, 2", "invalid JSON"),
        ]
        for (bad, message) in cases {
            XCTAssertThrowsError(try BundleManifest.parse(Data(bad.utf8))) { error in
                XCTAssertTrue("\(error)".contains(message), "'\(error)' should mention '\(message)'")
            }
        }
    }

    func testSha256MatchesHashlib() throws {
        for item in list(obj(try Golden.load("integrity.json"))["sha256"]) {
            var hasher = SHA256()
            hasher.update(obj(item)["text"] as? String ?? "")
            XCTAssertEqual(hasher.hexDigest(), obj(item)["hex"] as? String)
        }
    }

    func testPackageDigestMatchesTheManifestWriter() throws {
        let package = obj(obj(try Golden.load("integrity.json"))["package"])
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        defer { try? FileManager.default.removeItem(at: root) }
        let url = root.appendingPathComponent(package["name"] as? String ?? "")
        for (relative, text) in obj(package["files"]) {
            let file = url.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data((text as? String ?? "").utf8).write(to: file)
        }
        let digest = try BundleIntegrity.digest(of: url)
        XCTAssertEqual(digest.sha256, package["sha256"] as? String)
        XCTAssertEqual(digest.bytes, (package["bytes"] as? NSNumber)?.intValue)
        try Data("tampered".utf8).write(to: url.appendingPathComponent("Manifest.json"))
        XCTAssertNotEqual(try BundleIntegrity.digest(of: url).sha256, package["sha256"] as? String)
    }
}
