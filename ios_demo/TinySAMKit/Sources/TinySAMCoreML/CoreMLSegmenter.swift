#if canImport(CoreML)
import CoreML
import Foundation
import TinySAMKit

/// Runs a Core ML bundle (encoder.mlpackage, decoder.mlpackage, manifest.json) on the chosen compute
/// units: verifies the packages against the manifest, compiles each once (cached by its sha256),
/// encodes an image once and decodes any number of prompts against the stored embeddings.
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
        let input = try multiArray(image, spec: spec)
        let result = try encoder.prediction(from: MLDictionaryFeatureProvider(dictionary: [spec.name: input]))
        guard let output = result.featureValue(for: manifest.encoderOutputs[0].name)?.multiArrayValue else {
            throw TinySAMError("encoder returned no \(manifest.encoderOutputs[0].name)")
        }
        embeddings = output
    }

    /// Decodes one packed prompt against the last encoded image.
    public func decode(_ prompt: PackedPrompt) throws -> DecoderOutput {
        try decode(prompt, maskInput: nil)
    }

    /// Decodes one packed prompt; `maskInput` (256 x 256 low-res logits) refines an earlier mask.
    public func decode(_ prompt: PackedPrompt, maskInput: [Float]?) throws -> DecoderOutput {
        guard let embeddings else { throw TinySAMError("encode an image before decoding prompts") }
        let specs = Dictionary(uniqueKeysWithValues: manifest.decoderInputs.map { ($0.name, $0) })
        let side = Transforms.lowResSize
        let mask = maskInput ?? [Float](repeating: 0, count: side * side)
        let features: [String: MLMultiArray] = [
            "image_embeddings": embeddings,
            "point_coords": try multiArray(prompt.coords, spec: specs["point_coords"]!),
            "point_labels": try multiArray(prompt.labels, spec: specs["point_labels"]!),
            "mask_input": try multiArray(mask, spec: specs["mask_input"]!),
            "has_mask_input": try multiArray([maskInput == nil ? 0 : 1], spec: specs["has_mask_input"]!),
        ]
        let result = try decoder.prediction(from: MLDictionaryFeatureProvider(dictionary: features))
        guard let masks = result.featureValue(for: "low_res_masks")?.multiArrayValue,
              let iou = result.featureValue(for: "iou_predictions")?.multiArrayValue else {
            throw TinySAMError("decoder returned no low_res_masks / iou_predictions")
        }
        return DecoderOutput(lowRes: floats(masks), iou: floats(iou))
    }

    private func multiArray(_ values: [Float], spec: TensorSpec) throws -> MLMultiArray {
        guard values.count == spec.elementCount else {
            throw TinySAMError("\(spec.name) needs \(spec.elementCount) values, got \(values.count)")
        }
        let array = try MLMultiArray(shape: spec.shape.map { NSNumber(value: $0) }, dataType: .float32)
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
