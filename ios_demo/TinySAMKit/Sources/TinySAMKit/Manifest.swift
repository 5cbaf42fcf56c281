import Foundation

/// One named program input or output of the I/O contract.
public struct TensorSpec: Equatable {
    public let name: String
    public let shape: [Int]
    public let dtype: String

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A program of the bundle (a file, or a directory such as an .mlpackage) with its integrity data.
public struct Artifact: Equatable {
    public let file: String
    public let sha256: String
    public let bytes: Int
}

/// The bundle contract written by `python -m tinysam_mobile.convert` (manifest.json, schema 2):
/// which runtime runs it, the two programs and their I/O names, shapes and dtypes, the slots per
/// prompt (`maxPoints`, N) and the most prompts per decoder call (`decoderBatch`, B; the decoder
/// takes any count from 1 to it, and its shapes are listed with B = `decoderBatch`).
public struct BundleManifest {
    public static let schemaVersion = 2
    public static let targets: Set<String> = ["executorch", "tflite", "coreml", "coreai"]
    public static let decoderInputNames = ["image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input"]
    public static let decoderOutputNames = ["low_res_masks", "iou_predictions"]

    public let target: String
    public let encoder: Artifact
    public let decoder: Artifact
    public let encoderInputs: [TensorSpec]
    public let encoderOutputs: [TensorSpec]
    public let decoderInputs: [TensorSpec]
    public let decoderOutputs: [TensorSpec]
    public let maxPoints: Int
    public let decoderBatch: Int
    public let recipe: String
    public let untrained: Bool

    /// Parse and validate manifest.json; errors name the field that is wrong.
    public static func parse(_ data: Data) throws -> BundleManifest {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TinySAMError("manifest.json is invalid JSON: \(error.localizedDescription)")
        }
        guard let root = json as? [String: Any] else { throw TinySAMError("manifest.json must hold a JSON object") }
        let version = try int(root, "schema_version")
        try require(version == schemaVersion, "manifest schema_version \(version) is not supported (expected \(schemaVersion)): "
                + "rebuild the bundle with python -m tinysam_mobile.convert")
        let target = try string(root, "target")
        try require(targets.contains(target), "unknown target '\(target)'; known: \(targets.sorted())")
        let artifacts = try object(root, "artifacts")
        let io = try object(root, "io")
        let model = try object(root, "model")
        let manifest = BundleManifest(
            target: target,
            encoder: try artifact(try object(artifacts, "encoder")),
            decoder: try artifact(try object(artifacts, "decoder")),
            encoderInputs: try specs(io, "encoder_inputs"),
            encoderOutputs: try specs(io, "encoder_outputs"),
            decoderInputs: try specs(io, "decoder_inputs"),
            decoderOutputs: try specs(io, "decoder_outputs"),
            maxPoints: try int(io, "max_points"),
            decoderBatch: try decoderBatch(io),
            recipe: try string(try object(root, "recipe"), "name"),
            untrained: (model["untrained"] as? Bool) ?? false
        )
        let inputs = manifest.decoderInputs.map(\.name)
        try require(inputs == decoderInputNames, "decoder inputs \(inputs), expected \(decoderInputNames)")
        let outputs = manifest.decoderOutputs.map(\.name)
        try require(outputs == decoderOutputNames, "decoder outputs \(outputs), expected \(decoderOutputNames)")
        try require(manifest.maxPoints >= 1, "io.max_points must be at least 1, got \(manifest.maxPoints)")
        try checkDecoderShapes(manifest)
        try checkPromptLabels(try object(root, "prompt_labels"))
        return manifest
    }

    static func decoderBatch(_ io: [String: Any]) throws -> Int {
        try require(io["decoder_batch"] != nil, "io.decoder_batch is missing (schema 2 manifests declare the most prompts "
                        + "per decoder call): rebuild the bundle with python -m tinysam_mobile.convert")
        let batch = try int(io, "decoder_batch")
        try require(batch >= 1, "io.decoder_batch must be at least 1, got \(batch)")
        return batch
    }

    /// The decoder's shapes must be the contract's for B = decoder_batch and N = max_points.
    static func checkDecoderShapes(_ m: BundleManifest) throws {
        let (b, low, masks) = (m.decoderBatch, Transforms.lowResSize, DecoderBatches.masks)
        let embeddings = m.decoderInputs[0].shape
        try require(embeddings.count == 4 && embeddings[0] == 1,
                    "io: decoder image_embeddings has shape \(embeddings), expected [1, C, H, W]")
        let expected = [[b, m.maxPoints, 2], [b, m.maxPoints], [b, 1, low, low], [b], [b, masks, low, low], [b, masks]]
        for (spec, shape) in zip(m.decoderInputs.dropFirst() + m.decoderOutputs, expected) {
            try require(spec.shape == shape, "io: decoder \(spec.name) has shape \(spec.shape), expected \(shape) "
                            + "(io.decoder_batch \(m.decoderBatch), io.max_points \(m.maxPoints))")
        }
    }

    /// The manifest's labels must be the ones `Prompts` packs (schema 2: unused slots -2).
    static func checkPromptLabels(_ labels: [String: Any]) throws {
        for (name, value) in Prompts.manifestLabels {
            guard let found = (labels[name] as? NSNumber)?.floatValue else {
                throw TinySAMError("prompt_labels.\(name) is missing or not a number (schema 2 labels: "
                                   + "\(Prompts.manifestLabels.map { "\($0.name): \($0.value)" }))")
            }
            try require(found == value, "prompt_labels.\(name) is \(found), this app packs \(value)")
        }
    }

    static func object(_ parent: [String: Any], _ key: String) throws -> [String: Any] {
        guard let value = parent[key] as? [String: Any] else { throw TinySAMError("'\(key)' must be an object") }
        return value
    }

    static func string(_ parent: [String: Any], _ key: String) throws -> String {
        guard let value = parent[key] as? String else { throw TinySAMError("'\(key)' must be a string") }
        return value
    }

    static func int(_ parent: [String: Any], _ key: String) throws -> Int {
        guard let value = parent[key] as? NSNumber else { throw TinySAMError("'\(key)' must be a number") }
        return value.intValue
    }

    static func artifact(_ entry: [String: Any]) throws -> Artifact {
        Artifact(file: try string(entry, "file"), sha256: try string(entry, "sha256"), bytes: try int(entry, "bytes"))
    }

    static func specs(_ io: [String: Any], _ key: String) throws -> [TensorSpec] {
        guard let items = io[key] as? [Any] else { throw TinySAMError("'\(key)' must be a list") }
        return try items.map { item in
            guard let spec = item as? [String: Any] else { throw TinySAMError("'\(key)' entries must be objects") }
            guard let shape = spec["shape"] as? [NSNumber] else { throw TinySAMError("bad shape in '\(key)'") }
            return TensorSpec(name: try string(spec, "name"), shape: shape.map(\.intValue), dtype: try string(spec, "dtype"))
        }
    }
}
