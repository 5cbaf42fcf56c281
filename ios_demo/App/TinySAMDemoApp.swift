import SwiftUI

/// The iOS demo: segment a photo with a Core ML bundle from `python -m tinysam_mobile.convert --target coreml`.
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
