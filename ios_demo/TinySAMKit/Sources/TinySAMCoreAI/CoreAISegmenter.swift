#if canImport(CoreAI)
import CoreAI
import Foundation
import TinySAMKit

/// Runs a Core AI bundle (encoder.aimodel, decoder.aimodel, manifest.json) on iOS / macOS 27:
/// verifies the assets against the manifest, loads each (Core AI specializes an asset for the
/// device on first load and caches the result), loads each program's `main` function once,
/// encodes an image once and decodes any number of prompts against the stored embeddings.
/// One call at a time: callers serialize (the demo app's `SegmentEngine` is an actor).
///
/// Written against Apple's documented Core AI Swift API (`AIModel(contentsOf:options:)`,
/// `loadFunction(named:)`, `InferenceFunction.run(inputs:)`, `NDArray(scalars:shape:)`,
/// `view(as:)`); no iOS 27 SDK exists on the CI machines, so this file is parse-checked there,
/// not compiled.
@available(iOS 27, macOS 27, *)
public final class CoreAISegmenter: @unchecked Sendable {
    public let manifest: BundleManifest
    private let encoder: InferenceFunction
    private let decoder: InferenceFunction
    private var embeddings: NDArray?

    private init(manifest: BundleManifest, encoder: InferenceFunction, decoder: InferenceFunction) {
        self.manifest = manifest
        self.encoder = encoder
        self.decoder = decoder
    }

    /// Loads a bundle directory; errors name what is wrong (manifest, hashes, target, I/O).
    public static func load(bundle: URL, options: SpecializationOptions = .default) async throws -> CoreAISegmenter {
        let manifest = try BundleManifest.parse(Data(contentsOf: bundle.appendingPathComponent("manifest.json")))
        guard manifest.target == "coreai" else {
            throw TinySAMError("bundle is for \(manifest.target), this runner takes Core AI bundles")
        }
        try BundleIntegrity.verify(bundle: bundle, manifest: manifest)
        let encoder = try await function(
            bundle.appendingPathComponent(manifest.encoder.file), options: options,
            inputs: manifest.encoderInputs, outputs: manifest.encoderOutputs, role: "encoder"
        )
        let decoder = try await function(
            bundle.appendingPathComponent(manifest.decoder.file), options: options,
            inputs: manifest.decoderInputs, outputs: manifest.decoderOutputs, role: "decoder"
        )
        return CoreAISegmenter(manifest: manifest, encoder: encoder, decoder: decoder)
    }

    /// The `main` function of an asset, its input and output names checked against the manifest.
    static func function(
        _ asset: URL, options: SpecializationOptions, inputs: [TensorSpec], outputs: [TensorSpec], role: String
    ) async throws -> InferenceFunction {
        let model = try await AIModel(contentsOf: asset, options: options)
        guard let function = try model.loadFunction(named: "main") else {
            throw TinySAMError("\(role) asset has no function main (it has \(model.functionNames))")
        }
        let descriptor = function.descriptor
        let found = (Set(descriptor.inputNames), Set(descriptor.outputNames))
        let expected = (Set(inputs.map(\.name)), Set(outputs.map(\.name)))
        guard found == expected else {
            throw TinySAMError("\(role) has inputs \(found.0.sorted()) / outputs \(found.1.sorted()), the manifest says \(expected.0.sorted()) / \(expected.1.sorted())")
        }
        return function
    }

    /// Encodes a normalized, padded `3 x 1024 x 1024` image and keeps its embeddings.
    public func encode(image: [Float]) async throws {
        let spec = manifest.encoderInputs[0]
        var outputs = try await encoder.run(inputs: [spec.name: try array(image, shape: spec.shape, name: spec.name)])
        embeddings = try take(manifest.encoderOutputs[0].name, from: &outputs, role: "encoder")
    }

    /// Most prompts per decoder call: the manifest's `decoder_batch` (1 for Core AI bundles).
    public var maxBatch: Int { manifest.decoderBatch }

    /// Decodes packed prompts (each with its optional mask input) against the last encoded image:
    /// one output per prompt, in calls of up to `maxBatch` prompts with shapes from the manifest.
    public func decode(_ prompts: [PackedPrompt]) async throws -> [DecoderOutput] {
        guard let embeddings else { throw TinySAMError("encode an image before decoding prompts") }
        let specs = manifest.decoderInputs
        var results: [DecoderOutput] = []
        for call in try DecoderBatches.calls(prompts, maxPoints: manifest.maxPoints, decoderBatch: manifest.decoderBatch) {
            var inputs: [String: NDArray] = [specs[0].name: embeddings]
            for (spec, values) in zip(specs.dropFirst(), call.inputs) {
                inputs[spec.name] = try array(values, shape: call.shape(of: spec), name: spec.name)
            }
            var outputs = try await decoder.run(inputs: inputs)
            let names = manifest.decoderOutputs.map(\.name)
            let masks = try take(names[0], from: &outputs, role: "decoder")
            let iou = try take(names[1], from: &outputs, role: "decoder")
            results += try call.outputs(lowRes: floats(masks), iou: floats(iou))
        }
        return results
    }

    /// A synchronous `PromptDecoder` for TinySAMKit's `AutoMaskGenerator`: each call waits for the
    /// asynchronous decode on a detached task, so call it where blocking is allowed (the demo's
    /// model actor), never on the main actor.
    public var promptDecoder: PromptDecoder { BlockingDecoder(segmenter: self) }

    private func take(_ name: String, from outputs: inout InferenceFunction.Outputs, role: String) throws -> NDArray {
        guard let value = outputs.remove(name), let array = value.ndArray else {
            throw TinySAMError("\(role) returned no \(name)")
        }
        return array
    }

    private func array(_ values: [Float], shape: [Int], name: String) throws -> NDArray {
        guard values.count == shape.reduce(1, *) else {
            throw TinySAMError("\(name) needs \(shape.reduce(1, *)) values for shape \(shape), got \(values.count)")
        }
        return NDArray(scalars: values, shape: shape)
    }

    /// A float32 output as a row-major array (outputs may come with padded strides).
    private func floats(_ array: NDArray) -> [Float] {
        array.view(as: Float.self).withUnsafePointer { pointer, shape, strides in
            let dims = (0..<shape.count).map { shape[$0] }
            let steps = (0..<strides.count).map { strides[$0] }
            var out = [Float](repeating: 0, count: dims.reduce(1, *))
            for flat in out.indices {
                var rest = flat
                var offset = 0
                for axis in stride(from: dims.count - 1, through: 0, by: -1) {
                    offset += (rest % dims[axis]) * steps[axis]
                    rest /= dims[axis]
                }
                out[flat] = pointer[offset]
            }
            return out
        }
    }
}

/// Waits for `CoreAISegmenter.decode` on a detached task (see `CoreAISegmenter.promptDecoder`).
@available(iOS 27, macOS 27, *)
private struct BlockingDecoder: PromptDecoder {
    let segmenter: CoreAISegmenter

    var maxBatch: Int { segmenter.maxBatch }

    func decode(_ prompts: [PackedPrompt]) throws -> [DecoderOutput] {
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        Task.detached { [segmenter] in
            do {
                box.result = .success(try await segmenter.decode(prompts))
            } catch {
                box.result = .failure(error)
            }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }
}

/// The result handed from the detached task to the waiting thread (written before the signal).
private final class ResultBox: @unchecked Sendable {
    var result: Result<[DecoderOutput], Error>?
}
#endif
