import CoreML
import Foundation
import TinySAMCoreML
import TinySAMKit

/// An RGB photo as bytes (`height x width x 3`, row-major), upright.
struct RGBImage: Sendable {
    let pixels: [UInt8]
    let width: Int
    let height: Int
}

/// One decoded prompt: three candidate masks at the photo's size and their predicted IoUs.
struct Candidates: Sendable {
    let masks: [[Bool]]
    let iou: [Float]
}

/// The model work, off the main actor and one call at a time (an actor): encode once per photo,
/// decode prompts, segment everything. Times are wall-clock milliseconds.
actor SegmentEngine {
    private var segmenter: CoreMLSegmenter?
    private var image: RGBImage?

    var manifest: BundleManifest? { segmenter?.manifest }

    func load(bundle: URL, computeUnits: MLComputeUnits) async throws -> BundleManifest {
        let loaded = try await CoreMLSegmenter.load(bundle: bundle, computeUnits: computeUnits)
        segmenter = loaded
        image = nil
        return loaded.manifest
    }

    /// Pre-processes (Pillow-exact resize, normalize, pad) and encodes `photo`; returns milliseconds.
    func encode(_ photo: RGBImage) throws -> Double {
        guard let segmenter else { throw TinySAMError("no model loaded") }
        let start = Date()
        let size = try Transforms.preprocessShape(height: photo.height, width: photo.width)
        let resized = try Resize.bilinear(photo.pixels, height: photo.height, width: photo.width,
                                          newHeight: size.height, newWidth: size.width)
        try segmenter.encode(image: try Transforms.normalizeAndPad(resized, height: size.height, width: size.width))
        image = photo
        return Date().timeIntervalSince(start) * 1000
    }

    /// Decodes points (photo pixels, labels 1 / 0) and an optional box (XYXY photo pixels).
    func decode(points: [CGPoint], labels: [Int], box: CGRect?) throws -> (Candidates, Double) {
        guard let segmenter, let image else { throw TinySAMError("pick a photo first") }
        let start = Date()
        let coords = try points.isEmpty ? nil : Transforms.transformCoords(
            points.flatMap { [Double($0.x), Double($0.y)] }, height: image.height, width: image.width
        )
        let frameBox = try box.map {
            try Transforms.transformBox([Double($0.minX), Double($0.minY), Double($0.maxX), Double($0.maxY)],
                                        height: image.height, width: image.width)
        }
        let prompt = try Prompts.pack(points: coords, labels: points.isEmpty ? nil : labels, box: frameBox,
                                      maxPoints: segmenter.manifest.maxPoints)
        guard let output = try segmenter.decode([prompt]).first else { throw TinySAMError("the decoder returned nothing") }
        let plane = Transforms.lowResSize * Transforms.lowResSize
        let masks = try (0..<output.iou.count).map { k in
            MaskPost.threshold(try MaskPost.upscaleLogits(Array(output.lowRes[(k * plane)..<((k + 1) * plane)]),
                                                          height: image.height, width: image.width))
        }
        return (Candidates(masks: masks, iou: output.iou), Date().timeIntervalSince(start) * 1000)
    }

    /// TinySAM's hierarchical segment-everything; `progress` gets (done, total) on this actor.
    func everything(progress: @escaping @Sendable (Int, Int) -> Void) throws -> [[Bool]] {
        guard let segmenter, let image else { throw TinySAMError("pick a photo first") }
        let generator = try AutoMaskGenerator(decoder: segmenter, height: image.height, width: image.width,
                                              maxPoints: segmenter.manifest.maxPoints)
        let masks = try generator.generate(progress: progress, isCancelled: { Task.isCancelled })
        return try masks.map { try MaskPost.threshold(MaskPost.upscaleLogits($0.lowRes, height: image.height, width: image.width)) }
    }
}
