import Foundation

/// Pillow's `Image.resize(size, BILINEAR)` for 8-bit RGB, bit for bit: a separable triangle filter
/// whose support widens with the downscale factor (antialiasing), 22-bit fixed-point weights,
/// horizontal pass first, rounding and clipping to 0-255 after each pass. This is the resize of
/// the reference pre-processing, so encoder inputs match the Python SDK exactly.
public enum Resize {
    static let precisionBits = 32 - 8 - 2

    /// `height x width x 3` RGB bytes -> `newHeight x newWidth x 3`.
    public static func bilinear(_ rgb: [UInt8], height: Int, width: Int, newHeight: Int, newWidth: Int) throws -> [UInt8] {
        try require(rgb.count == height * width * 3, "expected \(height * width * 3) values, got \(rgb.count)")
        try require(newHeight >= 1 && newWidth >= 1, "target size must be at least 1x1")
        var out = rgb
        var w = width
        if newWidth != width {
            out = pass(out, height: height, width: w, outSize: newWidth, horizontal: true)
            w = newWidth
        }
        if newHeight != height {
            out = pass(out, height: height, width: w, outSize: newHeight, horizontal: false)
        }
        return out
    }

    struct Coefficients {
        var start: [Int]
        var weights: [[Int32]]
    }

    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = filterScale
        var start = [Int](repeating: 0, count: outSize)
        var weights = [[Int32]](repeating: [], count: outSize)
        for o in 0..<outSize {
            let center = (Double(o) + 0.5) * scale
            let xmin = max(Int(center - support + 0.5), 0)
            let count = min(Int(center + support + 0.5), inSize) - xmin
            let raw = (0..<max(count, 0)).map { x in triangle((Double(x + xmin) - center + 0.5) / filterScale) }
            let total = raw.reduce(0, +)
            start[o] = xmin
            weights[o] = raw.map { r in
                let w = total != 0 ? r / total : r
                let scaled = w * Double(1 << precisionBits)
                return Int32(w < 0 ? -0.5 + scaled : 0.5 + scaled)
            }
        }
        return Coefficients(start: start, weights: weights)
    }

    static func triangle(_ x: Double) -> Double {
        let a = abs(x)
        return a < 1 ? 1 - a : 0
    }

    static func clip8(_ value: Int32) -> UInt8 {
        let v = value >> Int32(precisionBits)
        return UInt8(min(max(v, 0), 255))
    }

    /// One resampling pass along rows (horizontal) or columns (vertical).
    static func pass(_ src: [UInt8], height: Int, width: Int, outSize: Int, horizontal: Bool) -> [UInt8] {
        let c = coefficients(inSize: horizontal ? width : height, outSize: outSize)
        let outH = horizontal ? height : outSize
        let outW = horizontal ? outSize : width
        var out = [UInt8](repeating: 0, count: outH * outW * 3)
        for y in 0..<outH {
            for x in 0..<outW {
                let o = horizontal ? x : y
                let k = c.weights[o]
                var acc: [Int32] = [1 << Int32(precisionBits - 1), 1 << Int32(precisionBits - 1), 1 << Int32(precisionBits - 1)]
                for i in 0..<k.count {
                    let p = horizontal ? (y * width + c.start[o] + i) : ((c.start[o] + i) * width + x)
                    for ch in 0..<3 {
                        acc[ch] &+= Int32(src[p * 3 + ch]) &* k[i]
                    }
                }
                for ch in 0..<3 {
                    out[(y * outW + x) * 3 + ch] = clip8(acc[ch])
                }
            }
        }
        return out
    }
}
