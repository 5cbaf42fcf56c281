import Foundation
import XCTest
@testable import TinySAMKit

/// Reads `tests/golden/*.json` (written by scripts/make_golden.py from the Python SDK); the folder
/// is found from this file's location, or from `GOLDEN_DIR`.
enum Golden {
    static var directory: URL {
        if let dir = ProcessInfo.processInfo.environment["GOLDEN_DIR"] { return URL(fileURLWithPath: dir) }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<5 { url.deleteLastPathComponent() }  // Tests/TinySAMKitTests/Golden.swift -> repo root
        return url.appendingPathComponent("tests").appendingPathComponent("golden")
    }

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    static func load(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: data(name))
    }
}

func obj(_ value: Any?) -> [String: Any] { value as? [String: Any] ?? [:] }

func list(_ value: Any?) -> [Any] { value as? [Any] ?? [] }

func doubles(_ value: Any?) -> [Double] { list(value).map { ($0 as? NSNumber)?.doubleValue ?? .nan } }

func ints(_ value: Any?) -> [Int] { list(value).map { ($0 as? NSNumber)?.intValue ?? Int.min } }

func pairs(_ value: Any?) -> [Double] { list(value).flatMap { doubles($0) } }

func floats(_ value: Any?) -> [Float] { doubles(value).map { Float($0) } }

func int(_ value: Any?) -> Int { (value as? NSNumber)?.intValue ?? Int.min }

/// SHA-256 of float arrays as float32 little-endian bytes, one after the other (make_golden's `_sha256`).
func sha256(_ arrays: [[Float]]) -> String {
    var hasher = SHA256()
    for values in arrays {
        hasher.update(values.flatMap { value -> [UInt8] in
            let bits = value.bitPattern.littleEndian
            return [UInt8(bits & 0xFF), UInt8((bits >> 8) & 0xFF), UInt8((bits >> 16) & 0xFF), UInt8(bits >> 24)]
        })
    }
    return hasher.hexDigest()
}

/// make_golden's mask_input pattern: `((7 x + 13 y + 31 seed) % 97 - 48) / 8`.
func maskInput(seed: Int) -> [Float] {
    let side = Transforms.lowResSize
    return (0..<(side * side)).map { k in Float((7 * (k % side) + 13 * (k / side) + 31 * seed) % 97 - 48) / 8 }
}

func assertClose(_ expected: [Double], _ actual: [Double], _ tolerance: Double, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(expected.count, actual.count, "\(what): length", file: file, line: line)
    for (i, (e, a)) in zip(expected, actual).enumerated() where abs(e - a) > tolerance {
        XCTFail("\(what)[\(i)]: expected \(e), got \(a)", file: file, line: line)
        return
    }
}
