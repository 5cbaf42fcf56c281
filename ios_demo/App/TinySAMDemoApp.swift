import SwiftUI

/// The iOS demo: segment a photo with a bundle from `python -m tinysam_mobile.convert`: Core AI
/// (`--target coreai`) on iOS 27 when the app ships one, Core ML (`--target coreml`) on iOS 17–26.
@main
struct TinySAMDemoApp: App {
    @StateObject private var model = SegmentModel()

    var body: some Scene {
        WindowGroup {
            SegmentView(model: model)
                .task { await model.loadBundledModel() }
        }
    }
}
