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

    func testDecoderBatchesMatchDecoderFeeds() throws {
        let cases = list(obj(try Golden.load("decoder_batches.json"))["cases"])
        XCTAssertEqual(cases.count, 12)
        for item in cases {
            let c = obj(item)
            let maxPoints = int(c["max_points"])
            let decoderBatch = int(c["decoder_batch"])
            let what = "N=\(maxPoints) B=\(decoderBatch)"
            let packed: [PackedPrompt]
            do {
                packed = try list(c["prompts"]).map { item in
                    let p = obj(item)
                    return try Prompts.pack(
                        points: p["points"].flatMap { $0 is NSNull ? nil : pairs($0) },
                        labels: p["labels"].flatMap { $0 is NSNull ? nil : ints($0) },
                        box: p["box"].flatMap { $0 is NSNull ? nil : doubles($0) }, maxPoints: maxPoints,
                        maskInput: p["mask_seed"].flatMap { $0 is NSNull ? nil : maskInput(seed: int($0)) }
                    )
                }
            } catch {
                let slots = int(obj(c["error"])["slots"])
                XCTAssertTrue("\(error)".contains("prompt has \(slots) slots") && "\(error)".contains("at most \(maxPoints)"),
                              "\(what): \(error)")
                continue
            }
            XCTAssertNil(c["error"], "\(what): expected an error")
            let calls = try DecoderBatches.calls(packed, maxPoints: maxPoints, decoderBatch: decoderBatch)
            let expected = list(c["calls"]).map(obj)
            XCTAssertEqual(calls.count, expected.count, "\(what): calls")
            // Compared as float32 (what the decoder gets): Linux JSONSerialization may misround a double's last digit.
            for (call, e) in zip(calls, expected) {
                XCTAssertEqual(call.batch, int(e["batch"]), what)
                XCTAssertEqual(call.inputs[0], floats(e["point_coords"]), "\(what): point_coords")
                XCTAssertEqual(call.inputs[1], floats(e["point_labels"]), "\(what): point_labels")
                XCTAssertEqual(sha256([call.inputs[2]]), e["mask_input_sha256"] as? String, "\(what): mask_input")
                XCTAssertEqual(call.inputs[3], floats(e["has_mask_input"]), "\(what): has_mask_input")
            }
        }
    }

    func testDecoderCallShapesAndOutputs() throws {
        let manifest = try BundleManifest.parse(try Golden.data("manifest_executorch.json"))
        let prompts = try (0..<3).map {
            try Prompts.pack(points: [Double($0), 1], labels: [1], box: nil, maxPoints: manifest.maxPoints)
        }
        let calls = try DecoderBatches.calls(prompts, maxPoints: manifest.maxPoints, decoderBatch: manifest.decoderBatch)
        XCTAssertEqual(calls.count, 1)
        let call = calls[0]
        XCTAssertEqual(manifest.decoderInputs.map { call.shape(of: $0) },
                       [manifest.decoderInputs[0].shape, [3, 8, 2], [3, 8], [3, 1, 256, 256], [3]])
        XCTAssertEqual(manifest.decoderOutputs.map { call.shape(of: $0) }, [[3, 3, 256, 256], [3, 3]])
        let plane = 3 * 256 * 256
        let outputs = try call.outputs(lowRes: (0..<(3 * plane)).map { Float($0 / plane) }, iou: (0..<9).map(Float.init))
        XCTAssertEqual(outputs.map { $0.lowRes[plane - 1] }, [0, 1, 2])
        XCTAssertEqual(outputs[1].iou, [3, 4, 5])
        XCTAssertThrowsError(try call.outputs(lowRes: [Float](repeating: 0, count: plane), iou: [0, 0, 0])) {
            XCTAssertTrue("\($0)".contains("for 3 prompts"), "\($0)")
        }
        XCTAssertThrowsError(try DecoderBatches.calls(prompts, maxPoints: 3, decoderBatch: 1)) {
            XCTAssertTrue("\($0)".contains("prompt 0 has 8 slots but the decoder takes 3"), "\($0)")
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

    /// Answers the sparse round with the golden high map as one mask, the dense round with clutter;
    /// records the calls.
    final class HighMapDecoder: PromptDecoder {
        let maxBatch: Int
        let high: [Bool]
        let rows: Int
        let cols: Int
        let sparsePrompts: Int
        var calls: [DecoderCall] = []
        private var decoded = 0

        init(maxBatch: Int, high: [Bool], rows: Int, cols: Int, sparsePrompts: Int) {
            self.maxBatch = maxBatch
            self.high = high
            self.rows = rows
            self.cols = cols
            self.sparsePrompts = sparsePrompts
        }

        func decode(_ prompts: [PackedPrompt]) throws -> [DecoderOutput] {
            calls += try DecoderBatches.calls(prompts, maxPoints: prompts[0].labels.count, decoderBatch: maxBatch)
            let side = Transforms.lowResSize
            return prompts.map { _ in
                let sparse = decoded < sparsePrompts
                decoded += 1
                var plane = [Float](repeating: -16, count: side * side)
                if sparse {
                    for y in 0..<rows {
                        for x in 0..<cols where high[y * cols + x] { plane[y * side + x] = 16 }
                    }
                }
                return DecoderOutput(lowRes: plane + plane + plane, iou: sparse ? [0.3, 0.96, 0.3] : [0.3, 0.3, 0.3])
            }
        }
    }

    func testBatchedEverythingSendsPythonsDecoderCalls() throws {
        let vectors = obj(try Golden.load("everything.json"))
        let skip = obj(vectors["hierarchical_skip"])
        let size = ints(skip["size"])
        let map = obj(skip["high_map"])
        let high = Array((map["bits"] as? String ?? "").utf8).map { $0 == UInt8(ascii: "1") }
        XCTAssertEqual(list(vectors["batched_decoding"]).count, 3)
        for item in list(vectors["batched_decoding"]) {
            let c = obj(item)
            let rounds = list(c["rounds"]).map(obj)
            let decoder = HighMapDecoder(maxBatch: int(c["decoder_batch"]), high: high, rows: int(map["rows"]),
                                         cols: int(map["cols"]), sparsePrompts: 64)
            var progress: [[Int]] = []
            _ = try AutoMaskGenerator(decoder: decoder, height: size[0], width: size[1], maxPoints: int(c["max_points"]))
                .generate(progress: { progress.append([$0, $1]) })
            let what = "decoder_batch \(int(c["decoder_batch"]))"
            XCTAssertEqual(decoder.calls.map(\.batch), rounds.flatMap { ints($0["calls"]) }, what)
            var done = 0
            let expectedProgress = rounds.flatMap { r in
                ints(r["calls"]).map { n -> [Int] in
                    done += n
                    return [done, int(r["progress_total"])]
                }
            }
            XCTAssertEqual(progress, expectedProgress, what)
            XCTAssertEqual(sha256(decoder.calls.map { $0.inputs[0] }), c["point_coords_sha256"] as? String, what)
            XCTAssertEqual(sha256(decoder.calls.map { $0.inputs[1] }), c["point_labels_sha256"] as? String, what)
        }
    }

    func testManifestParsing() throws {
        let manifest = try BundleManifest.parse(try Golden.data("manifest.json"))
        XCTAssertEqual(manifest.target, "tflite")
        XCTAssertEqual(manifest.encoder.file, "encoder.tflite")
        XCTAssertEqual(manifest.maxPoints, 8)
        XCTAssertEqual(manifest.decoderBatch, 1)
        XCTAssertEqual(manifest.decoderInputs[1].shape, [1, 8, 2])
        XCTAssertEqual(manifest.recipe, "fp32")
        XCTAssertTrue(manifest.untrained)
        let executorch = try BundleManifest.parse(try Golden.data("manifest_executorch.json"))
        XCTAssertEqual(executorch.decoderBatch, 64)
        XCTAssertEqual(executorch.decoderInputs[1].shape, [64, 8, 2])
    }

    func testBadManifestsNameTheProblem() throws {
        let text = String(decoding: try Golden.data("manifest.json"), as: UTF8.self)
        let cases = [
            (text.replacingOccurrences(of: "\"schema_version\": 2", with: "\"schema_version\": 7"), "schema_version 7"),
            (text.replacingOccurrences(of: "\"target\": \"tflite\"", with: "\"target\": \"onnx\""), "unknown target 'onnx'"),
            (text.replacingOccurrences(of: "\"point_labels\"", with: "\"labels\""), "decoder inputs"),
            (text.replacingOccurrences(of: "\"decoder_batch\": 1", with: "\"decoder_batch\": 0"), "io.decoder_batch must be at least 1, got 0"),
            (text.replacingOccurrences(of: "\"decoder_batch\": 1", with: "\"prompt_batch\": 1"), "io.decoder_batch is missing"),
            (text.replacingOccurrences(of: "\"decoder_batch\": 1", with: "\"decoder_batch\": 4"),
             "point_coords has shape [1, 8, 2], expected [4, 8, 2]"),
            (text.replacingOccurrences(of: "\"max_points\": 8", with: "\"max_points\": 6"),
             "point_coords has shape [1, 8, 2], expected [1, 6, 2]"),
            (text.replacingOccurrences(of: "\"unused\": -2", with: "\"unused\": -1"), "prompt_labels.unused is -1.0, this app packs -2.0"),
            (text.replacingOccurrences(of: "\"unused\": -2", with: "\"padding\": -2"), "prompt_labels.unused is missing"),
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
