import Foundation

/// TinySAM's pre-processing contract (the rules of `tinysam_mobile/transforms.py`): longest side
/// to 1024 with `new = Int(old * 1024 / max(h, w) + 0.5)` (at least 1 px), normalize with the
/// ImageNet mean / std on the 0-255 scale, zero-pad bottom / right.
public enum Transforms {
    public static let imageSize = 1024
    public static let lowResSize = 256
    public static let pixelMean: [Float] = [123.675, 116.28, 103.53]
    public static let pixelStd: [Float] = [58.395, 57.12, 57.375]

    /// Size `(height, width)` after resizing the longest side to `target`.
    public static func preprocessShape(height: Int, width: Int, target: Int = imageSize) throws -> (height: Int, width: Int) {
        try require(height >= 1 && width >= 1, "image must be at least 1x1 pixels, got \(height)x\(width)")
        let scale = Double(target) / Double(max(height, width))
        return (max(1, Int(Double(height) * scale + 0.5)), max(1, Int(Double(width) * scale + 0.5)))
    }

    /// (X, Y) pairs in original pixels -> the resized frame.
    public static func transformCoords(_ points: [Double], height: Int, width: Int, target: Int = imageSize) throws -> [Double] {
        try require(points.count % 2 == 0, "points must be (X, Y) pairs")
        let size = try preprocessShape(height: height, width: width, target: target)
        let sx = Double(size.width) / Double(width)
        let sy = Double(size.height) / Double(height)
        return points.enumerated().map { i, v in i % 2 == 0 ? v * sx : v * sy }
    }

    /// XYXY box in original pixels -> the resized frame.
    public static func transformBox(_ box: [Double], height: Int, width: Int, target: Int = imageSize) throws -> [Double] {
        try require(box.count == 4, "box must be 4 values XYXY")
        return try transformCoords(box, height: height, width: width, target: target)
    }

    /// Resized RGB pixels (`h x w x 3`, 0-255, row-major) -> normalized, zero-padded
    /// `3 x target x target` float32, channel-major (the encoder's `image` input).
    public static func normalizeAndPad(_ pixelsHWC: [UInt8], height: Int, width: Int, target: Int = imageSize) throws -> [Float] {
        try require(pixelsHWC.count == height * width * 3, "expected \(height * width * 3) values, got \(pixelsHWC.count)")
        try require(height <= target && width <= target, "image \(height)x\(width) is larger than \(target)")
        var out = [Float](repeating: 0, count: 3 * target * target)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    let value = Float(pixelsHWC[(y * width + x) * 3 + c])
                    out[(c * target + y) * target + x] = (value - pixelMean[c]) / pixelStd[c]
                }
            }
        }
        return out
    }
}
