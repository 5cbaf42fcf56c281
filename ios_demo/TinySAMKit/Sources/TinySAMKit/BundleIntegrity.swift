import Foundation

/// Verifies a bundle's programs against manifest.json, with the digest `tinysam_mobile/manifest.py`
/// writes: a file's SHA-256; for a directory (an `.mlpackage`), the SHA-256 of every file's path
/// relative to the bundle followed by that file's hex SHA-256, files in path-component order.
public enum BundleIntegrity {
    /// The manifest digest of a program file or directory, and its size in bytes.
    public static func digest(of url: URL) throws -> (sha256: String, bytes: Int) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw TinySAMError("\(url.lastPathComponent) is missing from the bundle")
        }
        if !isDirectory.boolValue {
            let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
            return (try SHA256.hexDigest(ofFile: url), size)
        }
        let files = try regularFiles(under: url)
        var hasher = SHA256()
        var bytes = 0
        for components in files {
            let file = components.reduce(url) { $0.appendingPathComponent($1) }
            hasher.update(([url.lastPathComponent] + components).joined(separator: "/"))
            hasher.update(try SHA256.hexDigest(ofFile: file))
            bytes += try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int ?? 0
        }
        return (hasher.hexDigest(), bytes)
    }

    /// Checks both programs of a bundle directory against its manifest; the error names the program.
    public static func verify(bundle: URL, manifest: BundleManifest) throws {
        for (role, artifact) in [("encoder", manifest.encoder), ("decoder", manifest.decoder)] {
            let actual = try digest(of: bundle.appendingPathComponent(artifact.file))
            try require(actual.sha256 == artifact.sha256, "\(artifact.file) (\(role)) does not match its sha256 in manifest.json")
        }
    }

    /// Relative path components of every regular file below `root`, sorted like Python's `Path`s.
    static func regularFiles(under root: URL) throws -> [[String]] {
        var out: [[String]] = []
        func walk(_ dir: URL, _ prefix: [String]) throws {
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
                let child = dir.appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: child.path, isDirectory: &isDirectory)
                if isDirectory.boolValue { try walk(child, prefix + [name]) } else { out.append(prefix + [name]) }
            }
        }
        try walk(root, [])
        return out.sorted { a, b in a.lexicographicallyPrecedes(b) }
    }
}
