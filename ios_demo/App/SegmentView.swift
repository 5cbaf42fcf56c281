import PhotosUI
import SwiftUI

/// The screen: photo with mask overlay and prompt markers, gestures, candidates, controls, timings.
struct SegmentView: View {
    @ObservedObject var model: SegmentModel
    @State private var pickedItem: PhotosPickerItem?
    @State private var dragRect: CGRect?

    var body: some View {
        NavigationStack {
            VStack(spacing: 8) {
                canvas
                candidateBar
                controls
                statusLine
            }
            .padding(.horizontal)
            .navigationTitle("TinySAM")
            .toolbar { toolbar }
            .onChange(of: pickedItem) { _, item in
                Task {
                    if let data = try? await item?.loadTransferable(type: Data.self), let image = UIImage(data: data) {
                        await model.setPhoto(image)
                    }
                }
            }
            .alert("TinySAM", isPresented: Binding(get: { model.message != nil }, set: { if !$0 { model.message = nil } })) {
                Button("OK", role: .cancel) {}
            } message: {
                Text(model.message ?? "")
            }
        }
    }

    @ToolbarContentBuilder
    private var toolbar: some ToolbarContent {
        ToolbarItem(placement: .topBarLeading) {
            PhotosPicker(selection: $pickedItem, matching: .images) { Label("Photo", systemImage: "photo") }
        }
        ToolbarItem(placement: .topBarTrailing) {
            Picker("Compute", selection: $model.computeChoice) {
                ForEach(ComputeChoice.allCases) { Text($0.rawValue).tag($0) }
            }
            .onChange(of: model.computeChoice) { _, _ in model.changeComputeUnits() }
        }
    }

    /// The photo fitted to the view; gestures map view points to photo pixels.
    private var canvas: some View {
        GeometryReader { geometry in
            if let image = model.photoImage, let photo = model.photo {
                let fit = Fit(imageWidth: photo.width, imageHeight: photo.height, view: geometry.size)
                ZStack(alignment: .topLeading) {
                    Image(uiImage: image).resizable().frame(width: fit.width, height: fit.height)
                    if let overlay = model.overlay {
                        Image(uiImage: overlay).resizable().interpolation(.none).frame(width: fit.width, height: fit.height)
                    }
                    markers(fit: fit)
                }
                .frame(width: fit.width, height: fit.height)
                .contentShape(Rectangle())
                .gesture(
                    DragGesture(minimumDistance: 12)
                        .onChanged { value in
                            dragRect = CGRect(from: value.startLocation, to: value.location)
                        }
                        .onEnded { value in
                            model.setBox(fit.toPhoto(CGRect(from: value.startLocation, to: value.location)))
                            dragRect = nil
                        }
                )
                .simultaneousGesture(
                    LongPressGesture(minimumDuration: 0.5).sequenced(before: DragGesture(minimumDistance: 0))
                        .onEnded { value in
                            if case let .second(true, drag?) = value {
                                model.addPoint(fit.toPhoto(drag.location), foreground: false)
                            }
                        }
                )
                .onTapGesture(coordinateSpace: .local) { location in
                    model.addPoint(fit.toPhoto(location), foreground: true)
                }
                .offset(x: fit.originX, y: fit.originY)
            } else {
                ContentUnavailableView("Pick a photo", systemImage: "photo.on.rectangle", description: Text(model.status))
                    .frame(width: geometry.size.width, height: geometry.size.height)
            }
        }
    }

    private func markers(fit: Fit) -> some View {
        let marks = model.markers
        return ZStack(alignment: .topLeading) {
            ForEach(Array(marks.points.enumerated()), id: \.offset) { _, mark in
                let at = fit.toView(mark.0)
                Circle()
                    .fill(mark.1 ? Color.green : Color.red)
                    .overlay(Circle().stroke(.white, lineWidth: 2))
                    .frame(width: 14, height: 14)
                    .position(at)
            }
            if let box = marks.box ?? dragRect.map({ fit.toPhoto($0) }) {
                let rect = fit.toView(box)
                Rectangle()
                    .stroke(.yellow, lineWidth: 2)
                    .frame(width: rect.width, height: rect.height)
                    .position(x: rect.midX, y: rect.midY)
            }
        }
    }

    private var candidateBar: some View {
        HStack {
            if let candidates = model.candidates {
                ForEach(candidates.iou.indices, id: \.self) { index in
                    Button(String(format: "Mask %d · IoU %.2f", index + 1, candidates.iou[index])) { model.select(index) }
                        .buttonStyle(.bordered)
                        .tint(index == model.selected ? .accentColor : .gray)
                }
            }
        }
        .frame(height: 36)
    }

    private var controls: some View {
        HStack {
            Button("Undo") { model.undo() }.disabled(model.edits.isEmpty)
            Button("Clear") { model.clear() }.disabled(model.edits.isEmpty && model.overlay == nil)
            Button(model.everythingProgress == nil ? "Everything" : "Stop") { model.everything() }
                .disabled(model.photo == nil)
            if let progress = model.everythingProgress {
                ProgressView(value: progress).frame(width: 80)
            }
            Spacer()
            if let cutout = model.cutout {
                ShareLink(item: cutout, preview: SharePreview("Cut-out", image: Image(systemName: "scissors"))) {
                    Label("Cut-out", systemImage: "square.and.arrow.up")
                }
            }
        }
        .buttonStyle(.bordered)
    }

    private var statusLine: some View {
        HStack {
            Text(model.status)
            Spacer()
            if let ms = model.encodeMs { Text(String(format: "encode %.0f ms", ms)) }
            if let ms = model.decodeMs { Text(String(format: "decode %.0f ms", ms)) }
        }
        .font(.caption.monospacedDigit())
        .foregroundStyle(.secondary)
    }
}

/// Aspect-fit geometry between photo pixels and view points.
struct Fit {
    let scale: CGFloat
    let width: CGFloat
    let height: CGFloat
    let originX: CGFloat
    let originY: CGFloat

    init(imageWidth: Int, imageHeight: Int, view: CGSize) {
        scale = min(view.width / CGFloat(imageWidth), view.height / CGFloat(imageHeight))
        width = CGFloat(imageWidth) * scale
        height = CGFloat(imageHeight) * scale
        originX = (view.width - width) / 2
        originY = (view.height - height) / 2
    }

    func toPhoto(_ point: CGPoint) -> CGPoint { CGPoint(x: point.x / scale, y: point.y / scale) }

    func toPhoto(_ rect: CGRect) -> CGRect {
        CGRect(x: rect.minX / scale, y: rect.minY / scale, width: rect.width / scale, height: rect.height / scale)
    }

    func toView(_ point: CGPoint) -> CGPoint { CGPoint(x: point.x * scale, y: point.y * scale) }

    func toView(_ rect: CGRect) -> CGRect {
        CGRect(x: rect.minX * scale, y: rect.minY * scale, width: rect.width * scale, height: rect.height * scale)
    }
}

extension CGRect {
    /// The rectangle spanned by two corners in any order.
    init(from a: CGPoint, to b: CGPoint) {
        self.init(x: min(a.x, b.x), y: min(a.y, b.y), width: abs(a.x - b.x), height: abs(a.y - b.y))
    }
}
