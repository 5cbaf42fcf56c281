import Foundation

/// The pieces of segment-everything the app runs around its decoder calls, as in
/// `tinysam_mobile/everything.py`: SAM's point grid, stability scores, box NMS and the
/// hierarchical strategy's choice of which dense-grid points still need decoding.
public enum Everything {
    public static let lowResStride = 4

    /// `n*n` points (X, Y pairs) in [0, 1] at cell centres `(i + 0.5) / n`, X varying fastest.
    public static func pointGrid(_ n: Int) throws -> [Double] {
        try require(n >= 1, "points per side must be at least 1, got \(n)")
        var out: [Double] = []
        out.reserveCapacity(2 * n * n)
        for row in 0..<n {
            for col in 0..<n {
                out += [(Double(col) + 0.5) / Double(n), (Double(row) + 0.5) / Double(n)]
            }
        }
        return out
    }

    /// SAM's stability: |logits > t + offset| / |logits > t - offset| (0 when nothing is above).
    public static func stabilityScore(_ logits: [Float], threshold: Float = 0, offset: Float = 1) -> Double {
        var inner = 0
        var outer = 0
        for v in logits {
            if v > threshold + offset { inner += 1 }
            if v > threshold - offset { outer += 1 }
        }
        return outer > 0 ? Double(inner) / Double(outer) : 0
    }

    /// IoU of two XYXY boxes (areas as (x1 - x0) * (y1 - y0)).
    public static func boxIou(_ a: [Double], _ b: [Double]) -> Double {
        let inter = max(min(a[2], b[2]) - max(a[0], b[0]), 0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0)
        let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return union > 0 ? inter / union : 0
    }

    /// Greedy NMS over `order` (highest priority first): the kept indices, in order.
    public static func nms(boxes: [[Double]], order: [Int], iouThreshold: Double) -> [Int] {
        var kept: [Int] = []
        for index in order where !kept.contains(where: { boxIou(boxes[index], boxes[$0]) > iouThreshold }) {
            kept.append(index)
        }
        return kept
    }

    /// Indices of the dense grid's points (original pixels) that fall outside the high-confidence
    /// map of the first round (`rows x cols` low-res cells, row-major): the points to decode next.
    public static func roundTwoPoints(
        highMap: [Bool], rows: Int, cols: Int, height: Int, width: Int, pointsPerSide: Int
    ) throws -> [Int] {
        try require(highMap.count == rows * cols, "high map must have \(rows) x \(cols) cells")
        let grid = try pointGrid(pointsPerSide)
        let pixels = grid.enumerated().map { i, v in v * Double(i % 2 == 0 ? width : height) }
        let frame = try Transforms.transformCoords(pixels, height: height, width: width)
        var out: [Int] = []
        for p in 0..<(grid.count / 2) {
            let col = min(max(Int((frame[2 * p] / Double(lowResStride)).rounded(.down)), 0), cols - 1)
            let row = min(max(Int((frame[2 * p + 1] / Double(lowResStride)).rounded(.down)), 0), rows - 1)
            if !highMap[row * cols + col] { out.append(p) }
        }
        return out
    }
}
