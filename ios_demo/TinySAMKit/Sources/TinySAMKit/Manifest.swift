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

/// The bundle contract written by `python -m tinysam_mobile.convert` (manifest.json, schema 1):
/// which runtime runs it, the two programs and their I/O names, shapes and dtypes.
public struct BundleManifest {
    public static let schemaVersion = 1
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
        try require(version == schemaVersion, "manifest schema_version \(version) is not supported (expected \(schemaVersion))")
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
            recipe: try string(try object(root, "recipe"), "name"),
            untrained: (model["untrained"] as? Bool) ?? false
        )
        let inputs = manifest.decoderInputs.map(\.name)
        try require(inputs == decoderInputNames, "decoder inputs \(inputs), expected \(decoderInputNames)")
        let outputs = manifest.decoderOutputs.map(\.name)
        try require(outputs == decoderOutputNames, "decoder outputs \(outputs), expected \(decoderOutputNames)")
        return manifest
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
