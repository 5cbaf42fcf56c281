import CoreML
import SwiftUI
import TinySAMKit
import UniformTypeIdentifiers
#if canImport(CoreAI)
import CoreAI
#endif

/// Where Core ML may run the model (the demo's compute-unit selector).
enum ComputeChoice: String, CaseIterable, Identifiable {
    case all = "All"
    case cpu = "CPU"
    case gpu = "GPU"
    case neuralEngine = "Neural Engine"

    var id: String { rawValue }

    var units: MLComputeUnits {
        switch self {
        case .all: return .all
        case .cpu: return .cpuOnly
        case .gpu: return .cpuAndGPU
        case .neuralEngine: return .cpuAndNeuralEngine
        }
    }

    #if canImport(CoreAI)
    /// The same choice for Core AI: a preferred compute unit (Core AI falls back to the others for
    /// ops the preferred one cannot run).
    @available(iOS 27, *)
    var specialization: SpecializationOptions {
        switch self {
        case .all: return .default
        case .cpu: return .cpuOnly
        case .gpu: return SpecializationOptions(preferredComputeUnitKind: .gpu)
        case .neuralEngine: return SpecializationOptions(preferredComputeUnitKind: .neuralEngine)
        }
    }
    #endif
}

/// A prompt edit the user can undo.
enum PromptEdit {
    case point(CGPoint, foreground: Bool)
    case box(CGRect)
}

/// A PNG the share sheet can hand out.
struct PNGFile: Transferable {
    let data: Data

    static var transferRepresentation: some TransferRepresentation {
        DataRepresentation(exportedContentType: .png) { $0.data }
    }
}

/// The screen's state and actions, on the main actor; model work runs on `SegmentEngine`.
/// A new prompt cancels a decode that has not finished, and its stale result is dropped.
@MainActor
final class SegmentModel: ObservableObject {
    @Published var computeChoice: ComputeChoice = .all
    @Published private(set) var photo: RGBImage?
    @Published private(set) var photoImage: UIImage?
    @Published private(set) var edits: [PromptEdit] = []
    @Published private(set) var candidates: Candidates?
    @Published var selected = 0
    @Published private(set) var overlay: UIImage?
    @Published private(set) var everythingProgress: Double?
    @Published private(set) var status = "Loading the model…"
    @Published private(set) var encodeMs: Double?
    @Published private(set) var decodeMs: Double?
    @Published var message: String?

    private let engine = SegmentEngine()
    private var manifest: BundleManifest?
    private var decodeTask: Task<Void, Never>?
    private var everythingTask: Task<Void, Never>?
    private var generation = 0

    /// The bundles shipped in the app's resources (see `ModelBundles`).
    func loadBundledModel() async {
        let bundles = ModelBundles.shipped
        guard bundles.coreML != nil || bundles.coreAI != nil else {
            status = "No bundle: add tinysam-bundle/ (Core ML) or tinysam-bundle-coreai/ (Core AI, iOS 27) to the app (see ios_demo/README.md)"
            return
        }
        await load(bundles: bundles)
    }

    /// (Re)loads the model on the chosen compute units; the current photo is encoded again.
    func load(bundles: ModelBundles) async {
        status = "Loading the model on \(computeChoice.rawValue)…"
        do {
            let loaded = try await engine.load(bundles: bundles, compute: computeChoice)
            manifest = loaded
            let runtime = loaded.target == "coreai" ? "Core AI" : "Core ML"
            let untrained = loaded.untrained ? " (UNTRAINED weights)" : ""
            status = "\(runtime) \(loaded.recipe)\(untrained)"
            if let photo { await encode(photo) }
        } catch {
            message = "Could not load the model: \(error)"
            status = "No model"
        }
    }

    func changeComputeUnits() {
        Task { await load(bundles: ModelBundles.shipped) }
    }

    func setPhoto(_ image: UIImage) async {
        guard let rgb = ImageOps.rgb(of: image) else {
            message = "Could not read the photo"
            return
        }
        photoImage = image
        photo = rgb
        await encode(rgb)
    }

    private func encode(_ rgb: RGBImage) async {
        cancelWork()
        edits = []
        candidates = nil
        overlay = nil
        status = "Encoding…"
        do {
            encodeMs = try await engine.encode(rgb)
            status = "Tap: object · long-press: background · drag: box"
        } catch {
            message = "Encoding failed: \(error)"
        }
    }

    func addPoint(_ point: CGPoint, foreground: Bool) {
        edits.append(.point(point, foreground: foreground))
        decode()
    }

    func setBox(_ box: CGRect) {
        edits.removeAll { if case .box = $0 { return true } else { return false } }
        edits.append(.box(box))
        decode()
    }

    func undo() {
        guard !edits.isEmpty else { return }
        edits.removeLast()
        edits.isEmpty ? clear() : decode()
    }

    func clear() {
        cancelWork()
        edits = []
        candidates = nil
        overlay = nil
    }

    func select(_ index: Int) {
        selected = index
        showSelected()
    }

    private func cancelWork() {
        generation += 1
        decodeTask?.cancel()
        everythingTask?.cancel()
        everythingProgress = nil
    }

    private func decode() {
        cancelWork()
        let token = generation
        var points: [CGPoint] = []
        var labels: [Int] = []
        var box: CGRect?
        for edit in edits {
            switch edit {
            case let .point(point, foreground):
                points.append(point)
                labels.append(foreground ? 1 : 0)
            case let .box(rect):
                box = rect
            }
        }
        decodeTask = Task {
            do {
                let (result, ms) = try await engine.decode(points: points, labels: labels, box: box)
                guard !Task.isCancelled, token == generation else { return }
                candidates = result
                decodeMs = ms
                selected = result.iou.indices.max { result.iou[$0] < result.iou[$1] } ?? 0
                showSelected()
            } catch {
                if token == generation { message = "Decoding failed: \(error)" }
            }
        }
    }

    private func showSelected() {
        guard let photo, let candidates, candidates.masks.indices.contains(selected) else { return }
        overlay = ImageOps.overlay([candidates.masks[selected]], width: photo.width, height: photo.height)
    }

    /// Segment everything; calling it again while it runs stops it.
    func everything() {
        if everythingTask != nil {
            cancelWork()
            everythingTask = nil
            status = "Everything stopped"
            return
        }
        guard let photo else { return }
        cancelWork()
        edits = []
        candidates = nil
        everythingProgress = 0
        let token = generation
        everythingTask = Task {
            let start = Date()
            do {
                let masks = try await engine.everything { done, total in
                    Task { @MainActor [weak self] in
                        guard let self, token == self.generation else { return }
                        self.everythingProgress = Double(done) / Double(max(total, 1))
                    }
                }
                guard token == generation else { return }
                overlay = ImageOps.overlay(masks, width: photo.width, height: photo.height)
                status = "\(masks.count) masks in \(Int(Date().timeIntervalSince(start) * 1000)) ms"
            } catch {
                if token == generation { message = "Everything failed: \(error)" }
            }
            if token == generation {
                everythingProgress = nil
                everythingTask = nil
            }
        }
    }

    /// The selected mask as a PNG cut-out with alpha, for the share sheet.
    var cutout: PNGFile? {
        guard let photo, let candidates, candidates.masks.indices.contains(selected),
              let data = ImageOps.cutout(photo, mask: candidates.masks[selected])?.pngData() else { return nil }
        return PNGFile(data: data)
    }

    /// Prompt markers to draw: (point, foreground) pairs and the box.
    var markers: (points: [(CGPoint, Bool)], box: CGRect?) {
        var points: [(CGPoint, Bool)] = []
        var box: CGRect?
        for edit in edits {
            switch edit {
            case let .point(point, foreground): points.append((point, foreground))
            case let .box(rect): box = rect
            }
        }
        return (points, box)
    }
}
