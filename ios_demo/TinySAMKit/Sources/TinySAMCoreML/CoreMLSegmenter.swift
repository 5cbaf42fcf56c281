#if canImport(CoreML)
import CoreML
import Foundation
import TinySAMKit

/// Runs a Core ML bundle (encoder.mlpackage, decoder.mlpackage, manifest.json) on the chosen compute
/// units: verifies the packages against the manifest, compiles each once (cached by its sha256),
/// encodes an image once and decodes any number of prompts against the stored embeddings, up to the
/// manifest's `decoder_batch` per decoder call.
/// One call at a time: callers serialize (the demo app's `SegmentModel` runs it on one actor).
public final class CoreMLSegmenter: PromptDecoder {
    public let manifest: BundleManifest
    private let encoder: MLModel
    private let decoder: MLModel
    private var embeddings: MLMultiArray?

    private init(manifest: BundleManifest, encoder: MLModel, decoder: MLModel) {
        self.manifest = manifest
        self.encoder = encoder
        self.decoder = decoder
    }

    /// Loads a bundle directory; errors name what is wrong (manifest, hashes, target, I/O).
    public static func load(bundle: URL, computeUnits: MLComputeUnits) async throws -> CoreMLSegmenter {
        let manifest = try BundleManifest.parse(Data(contentsOf: bundle.appendingPathComponent("manifest.json")))
        guard manifest.target == "coreml" else {
            throw TinySAMError("bundle is for \(manifest.target), this runner takes Core ML bundles")
        }
        try BundleIntegrity.verify(bundle: bundle, manifest: manifest)
        let configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits
        let encoder = try await MLModel.load(
            contentsOf: try await compiled(bundle.appendingPathComponent(manifest.encoder.file), sha256: manifest.encoder.sha256),
            configuration: configuration
        )
        let decoder = try await MLModel.load(
            contentsOf: try await compiled(bundle.appendingPathComponent(manifest.decoder.file), sha256: manifest.decoder.sha256),
            configuration: configuration
        )
        try check(encoder, inputs: manifest.encoderInputs, outputs: manifest.encoderOutputs, role: "encoder")
        try check(decoder, inputs: manifest.decoderInputs, outputs: manifest.decoderOutputs, role: "decoder")
        return CoreMLSegmenter(manifest: manifest, encoder: encoder, decoder: decoder)
    }

    /// The compiled model (.mlmodelc) of a package, compiled on first use into Caches.
    static func compiled(_ package: URL, sha256: String) async throws -> URL {
        let caches = try FileManager.default.url(for: .cachesDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        let target = caches.appendingPathComponent("tinysam-\(sha256).mlmodelc")
        if FileManager.default.fileExists(atPath: target.path) { return target }
        let temporary = try await MLModel.compileModel(at: package)
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.moveItem(at: temporary, to: target)
        return target
    }

    static func check(_ model: MLModel, inputs: [TensorSpec], outputs: [TensorSpec], role: String) throws {
        let description = model.modelDescription
        let found = (Set(description.inputDescriptionsByName.keys), Set(description.outputDescriptionsByName.keys))
        let expected = (Set(inputs.map(\.name)), Set(outputs.map(\.name)))
        guard found == expected else {
            throw TinySAMError("\(role) has inputs \(found.0.sorted()) / outputs \(found.1.sorted()), the manifest says \(expected.0.sorted()) / \(expected.1.sorted())")
        }
    }

    /// Encodes a normalized, padded `3 x 1024 x 1024` image and keeps its embeddings.
    public func encode(image: [Float]) throws {
        let spec = manifest.encoderInputs[0]
        let input = try multiArray(image, shape: spec.shape, name: spec.name)
        let result = try encoder.prediction(from: MLDictionaryFeatureProvider(dictionary: [spec.name: input]))
        guard let output = result.featureValue(for: manifest.encoderOutputs[0].name)?.multiArrayValue else {
            throw TinySAMError("encoder returned no \(manifest.encoderOutputs[0].name)")
        }
        embeddings = output
    }

    /// Most prompts per decoder call: the manifest's `decoder_batch` (1 for Core ML bundles).
    public var maxBatch: Int { manifest.decoderBatch }

    /// Decodes packed prompts (each with its optional mask input) against the last encoded image:
    /// one output per prompt, in calls of up to `maxBatch` prompts with shapes from the manifest.
    public func decode(_ prompts: [PackedPrompt]) throws -> [DecoderOutput] {
        guard let embeddings else { throw TinySAMError("encode an image before decoding prompts") }
        let specs = manifest.decoderInputs
        let calls = try DecoderBatches.calls(prompts, maxPoints: manifest.maxPoints, decoderBatch: manifest.decoderBatch)
        return try calls.flatMap { call -> [DecoderOutput] in
            var features: [String: MLMultiArray] = [specs[0].name: embeddings]
            for (spec, values) in zip(specs.dropFirst(), call.inputs) {
                features[spec.name] = try multiArray(values, shape: call.shape(of: spec), name: spec.name)
            }
            let result = try decoder.prediction(from: MLDictionaryFeatureProvider(dictionary: features))
            let names = manifest.decoderOutputs.map(\.name)
            guard let masks = result.featureValue(for: names[0])?.multiArrayValue,
                  let iou = result.featureValue(for: names[1])?.multiArrayValue else {
                throw TinySAMError("decoder returned no \(names[0]) / \(names[1])")
            }
            return try call.outputs(lowRes: floats(masks), iou: floats(iou))
        }
    }

    private func multiArray(_ values: [Float], shape: [Int], name: String) throws -> MLMultiArray {
        guard values.count == shape.reduce(1, *) else {
            throw TinySAMError("\(name) needs \(shape.reduce(1, *)) values for shape \(shape), got \(values.count)")
        }
        let array = try MLMultiArray(shape: shape.map { NSNumber(value: $0) }, dataType: .float32)
        array.withUnsafeMutableBufferPointer(ofType: Float.self) { buffer, _ in
            _ = buffer.initialize(from: values)
        }
        return array
    }

    /// A float32 output as a row-major array (outputs may come with padded strides).
    private func floats(_ array: MLMultiArray) -> [Float] {
        let shape = array.shape.map(\.intValue)
        let strides = array.strides.map(\.intValue)
        var out = [Float](repeating: 0, count: shape.reduce(1, *))
        array.withUnsafeBufferPointer(ofType: Float.self) { buffer in
            for flat in out.indices {
                var rest = flat
                var offset = 0
                for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                    offset += (rest % shape[axis]) * strides[axis]
                    rest /= shape[axis]
                }
                out[flat] = buffer[offset]
            }
        }
        return out
    }
}
#endif
