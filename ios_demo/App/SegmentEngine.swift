import CoreML
import Foundation
import TinySAMCoreAI
import TinySAMCoreML
import TinySAMKit
#if canImport(CoreAI)
import CoreAI
#endif

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

/// What the engine needs from a runtime: the bundle's manifest, encode once, decode prompts, and
/// a synchronous decoder for everything mode.
protocol ModelRunner: AnyObject {
    var manifest: BundleManifest { get }
    var promptDecoder: PromptDecoder { get }
    func encode(image: [Float]) async throws
    func decode(_ prompts: [PackedPrompt]) async throws -> [DecoderOutput]
}

extension CoreMLSegmenter: ModelRunner {
    var promptDecoder: PromptDecoder { self }
}

#if canImport(CoreAI)
@available(iOS 27, *)
extension CoreAISegmenter: ModelRunner {}
#endif

/// The bundles shipped in the app's resources: Core ML (`tinysam-bundle`, iOS 17+) and Core AI
/// (`tinysam-bundle-coreai`, iOS 27+); either may be missing.
struct ModelBundles {
    let coreML: URL?
    let coreAI: URL?

    static var shipped: ModelBundles {
        ModelBundles(
            coreML: Bundle.main.url(forResource: "tinysam-bundle", withExtension: nil),
            coreAI: Bundle.main.url(forResource: "tinysam-bundle-coreai", withExtension: nil)
        )
    }
}

/// The model work, off the main actor and one call at a time (an actor): encode once per photo,
/// decode prompts, segment everything. Times are wall-clock milliseconds.
actor SegmentEngine {
    private var segmenter: ModelRunner?
    private var image: RGBImage?

    var manifest: BundleManifest? { segmenter?.manifest }

    /// Core AI where the OS has it (iOS 27) and a Core AI bundle ships, Core ML otherwise.
    func load(bundles: ModelBundles, compute: ComputeChoice) async throws -> BundleManifest {
        let loaded: ModelRunner
        #if canImport(CoreAI)
        if #available(iOS 27, *), let coreAI = bundles.coreAI {
            loaded = try await CoreAISegmenter.load(bundle: coreAI, options: compute.specialization)
        } else {
            loaded = try await loadCoreML(bundles, compute: compute)
        }
        #else
        loaded = try await loadCoreML(bundles, compute: compute)
        #endif
        segmenter = loaded
        image = nil
        return loaded.manifest
    }

    private func loadCoreML(_ bundles: ModelBundles, compute: ComputeChoice) async throws -> ModelRunner {
        guard let bundle = bundles.coreML else {
            throw TinySAMError("no Core ML bundle: add tinysam-bundle/ to the app (see ios_demo/README.md)")
        }
        return try await CoreMLSegmenter.load(bundle: bundle, computeUnits: compute.units)
    }

    /// Pre-processes (Pillow-exact resize, normalize, pad) and encodes `photo`; returns milliseconds.
    func encode(_ photo: RGBImage) async throws -> Double {
        guard let segmenter else { throw TinySAMError("no model loaded") }
        let start = Date()
        let size = try Transforms.preprocessShape(height: photo.height, width: photo.width)
        let resized = try Resize.bilinear(photo.pixels, height: photo.height, width: photo.width,
                                          newHeight: size.height, newWidth: size.width)
        try await segmenter.encode(image: try Transforms.normalizeAndPad(resized, height: size.height, width: size.width))
        image = photo
        return Date().timeIntervalSince(start) * 1000
    }

    /// Decodes points (photo pixels, labels 1 / 0) and an optional box (XYXY photo pixels).
    func decode(points: [CGPoint], labels: [Int], box: CGRect?) async throws -> (Candidates, Double) {
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
        guard let output = try await segmenter.decode([prompt]).first else {
            throw TinySAMError("the decoder returned nothing")
        }
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
        let generator = try AutoMaskGenerator(decoder: segmenter.promptDecoder, height: image.height, width: image.width,
                                              maxPoints: segmenter.manifest.maxPoints)
        let masks = try generator.generate(progress: progress, isCancelled: { Task.isCancelled })
        return try masks.map { try MaskPost.threshold(MaskPost.upscaleLogits($0.lowRes, height: image.height, width: image.width)) }
    }
}
