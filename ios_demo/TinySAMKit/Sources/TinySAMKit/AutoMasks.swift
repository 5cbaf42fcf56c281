import Foundation

/// Parameters of segment-everything; the defaults are the paper's and the official generators'.
public struct AutoMaskConfig {
    public var pointsPerSide = 32
    public var sparsePointsPerSide = 8
    public var highScoreThresh: Float = 8.5
    public var predIouThresh: Float = 0.88
    public var stabilityScoreThresh = 0.95
    public var stabilityScoreOffset: Float = 1
    public var boxNmsThresh = 0.7
    public var hierarchical = true

    public init() {}
}

/// A kept mask: its low-res logits (256 x 256), scores, the prompt point and the NMS box (XYXY px).
public struct AutoMask {
    public let lowRes: [Float]
    public let predictedIou: Float
    public let stability: Double
    public let point: [Double]
    public let box: [Double]
    public let stage: Int
}

/// Segment everything over any decoder, as `tinysam_mobile/everything.py` does: SAM's grid, or
/// TinySAM's hierarchical strategy (sparse round, high-confidence map at logit τ, dense points
/// outside it, one NMS in which first-round masks win). Candidates stay at 256 x 256; stability
/// and boxes are measured on logits upscaled to the resized image. Each round's points go to the
/// decoder in calls of up to `PromptDecoder.maxBatch` prompts (Python's with `points_per_batch` =
/// that).
public final class AutoMaskGenerator {
    private let decoder: PromptDecoder
    private let height: Int
    private let width: Int
    private let maxPoints: Int
    private let config: AutoMaskConfig
    private let input: (height: Int, width: Int)
    private let lowH: Int
    private let lowW: Int

    /// Prompts decoded by the last `generate` call.
    public private(set) var promptsDecoded = 0

    public init(decoder: PromptDecoder, height: Int, width: Int, maxPoints: Int, config: AutoMaskConfig = AutoMaskConfig()) throws {
        self.decoder = decoder
        self.height = height
        self.width = width
        self.maxPoints = maxPoints
        self.config = config
        try require(decoder.maxBatch >= 1, "the decoder's maxBatch must be at least 1, got \(decoder.maxBatch)")
        input = try Transforms.preprocessShape(height: height, width: width)
        lowH = (input.height + Everything.lowResStride - 1) / Everything.lowResStride
        lowW = (input.width + Everything.lowResStride - 1) / Everything.lowResStride
    }

    /// All masks after NMS. `progress` gets (done, total) after each decoder call; `isCancelled` is
    /// asked before each.
    public func generate(
        progress: (Int, Int) -> Void = { _, _ in }, isCancelled: () -> Bool = { false }
    ) throws -> [AutoMask] {
        promptsDecoded = 0
        var candidates: [AutoMask] = []
        let dense = try pixelGrid(config.pointsPerSide)
        let denseCount = dense.count / 2
        if !config.hierarchical {
            _ = try decodeAll(dense, chosen: Array(0..<denseCount), stage: 1, into: &candidates, total: denseCount,
                              progress: progress, isCancelled: isCancelled)
        } else {
            let sparse = try pixelGrid(config.sparsePointsPerSide)
            let sparseCount = sparse.count / 2
            let high = try decodeAll(sparse, chosen: Array(0..<sparseCount), stage: 1, into: &candidates,
                                     total: sparseCount + denseCount, progress: progress, isCancelled: isCancelled)
            let next = try Everything.roundTwoPoints(
                highMap: high, rows: lowH, cols: lowW, height: height, width: width, pointsPerSide: config.pointsPerSide
            )
            _ = try decodeAll(dense, chosen: next, stage: 2, into: &candidates, total: sparseCount + next.count,
                              progress: progress, isCancelled: isCancelled)
        }
        let order = candidates.indices.sorted { a, b in
            let (ca, cb) = (candidates[a], candidates[b])
            if ca.stage != cb.stage { return ca.stage < cb.stage }
            if ca.predictedIou != cb.predictedIou { return ca.predictedIou > cb.predictedIou }
            return a < b
        }
        let kept = Everything.nms(boxes: candidates.map(\.box), order: order, iouThreshold: config.boxNmsThresh)
        return kept.map { candidates[$0] }
    }

    private func pixelGrid(_ n: Int) throws -> [Double] {
        try Everything.pointGrid(n).enumerated().map { i, v in v * Double(i % 2 == 0 ? width : height) }
    }

    /// Decode the chosen points in batches; keep what passes the filters; return the high-confidence map.
    private func decodeAll(
        _ points: [Double], chosen: [Int], stage: Int, into out: inout [AutoMask], total: Int,
        progress: (Int, Int) -> Void, isCancelled: () -> Bool
    ) throws -> [Bool] {
        var high = [Bool](repeating: false, count: lowH * lowW)
        let frame = try Transforms.transformCoords(points, height: height, width: width)
        for start in stride(from: 0, to: chosen.count, by: decoder.maxBatch) {
            if isCancelled() { break }
            let batch = chosen[start..<min(start + decoder.maxBatch, chosen.count)]
            let prompts = try batch.map { p in
                try Prompts.pack(points: [frame[2 * p], frame[2 * p + 1]], labels: [1], box: nil, maxPoints: maxPoints)
            }
            let results = try decoder.decode(prompts)
            try require(results.count == prompts.count, "decoder returned \(results.count) outputs for \(prompts.count) prompts")
            promptsDecoded += prompts.count
            for (result, p) in zip(results, batch) {
                try keep(result, point: [points[2 * p], points[2 * p + 1]], stage: stage, high: &high, into: &out)
            }
            progress(promptsDecoded, total)
        }
        return high
    }

    /// Add the prompt's masks that pass the IoU and stability filters; mark their confident cells in `high`.
    private func keep(_ result: DecoderOutput, point: [Double], stage: Int, high: inout [Bool], into out: inout [AutoMask]) throws {
        let side = Transforms.lowResSize
        let plane = side * side
        for k in result.iou.indices where result.iou[k] > config.predIouThresh {
            let lowRes = Array(result.lowRes[(k * plane)..<((k + 1) * plane)])
            let upscaled = try MaskPost.resizeBilinear(
                lowRes, srcH: side, srcW: side, fullH: Transforms.imageSize, fullW: Transforms.imageSize,
                outH: input.height, outW: input.width
            )
            let stability = Everything.stabilityScore(upscaled, threshold: MaskPost.maskThreshold, offset: config.stabilityScoreOffset)
            guard stability >= config.stabilityScoreThresh, let box = maskBox(upscaled) else { continue }
            for y in 0..<lowH {
                for x in 0..<lowW where lowRes[y * side + x] > config.highScoreThresh {
                    high[y * lowW + x] = true
                }
            }
            out.append(AutoMask(lowRes: lowRes, predictedIou: result.iou[k], stability: stability,
                                point: point, box: box, stage: stage))
        }
    }

    /// XYXY pixel edges (original image) of the mask's foreground in the resized frame, or nil.
    private func maskBox(_ logits: [Float]) -> [Double]? {
        var (x0, y0, x1, y1) = (Int.max, Int.max, -1, -1)
        for y in 0..<input.height {
            for x in 0..<input.width where logits[y * input.width + x] > MaskPost.maskThreshold {
                x0 = min(x0, x)
                x1 = max(x1, x)
                y0 = min(y0, y)
                y1 = max(y1, y)
            }
        }
        if x1 < 0 { return nil }
        let sx = Double(width) / Double(input.width)
        let sy = Double(height) / Double(input.height)
        return [Double(x0) * sx, Double(y0) * sy, Double(x1 + 1) * sx, Double(y1 + 1) * sy]
    }
}
