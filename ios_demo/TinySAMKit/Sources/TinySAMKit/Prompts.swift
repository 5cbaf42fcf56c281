import Foundation

/// Decoder inputs for one prompt (one row of a decoder call): `coords` N x 2 (X, Y in the 1024
/// frame), `labels` N, and an optional `maskInput` (256 x 256 low-res logits of an earlier answer,
/// fed with `has_mask_input` 1).
public struct PackedPrompt: Equatable {
    public let coords: [Float]
    public let labels: [Float]
    public let maskInput: [Float]?
}

/// Prompt packing to the fixed-N decoder contract, as the official predictor orders it: the
/// points, one not-a-point token (label -1) at (0, 0) when there is no box, the two box corners
/// (labels 2 and 3), then unused slots (label -2, masked out of attention by the decoder) up to N.
public enum Prompts {
    public static let unused: Float = -2
    public static let notAPoint: Float = -1
    public static let background: Float = 0
    public static let foreground: Float = 1
    public static let boxTopLeft: Float = 2
    public static let boxBottomRight: Float = 3
    public static let maskInputSize = Transforms.lowResSize * Transforms.lowResSize

    /// The labels by the names of the manifest's `prompt_labels` (schema 2), in its order.
    public static let manifestLabels: [(name: String, value: Float)] = [
        ("unused", unused), ("not_a_point", notAPoint), ("background", background),
        ("foreground", foreground), ("box_top_left", boxTopLeft), ("box_bottom_right", boxBottomRight),
    ]

    /// `points` (X, Y) pairs and `box` XYXY, both already in the 1024 frame; labels 1 / 0;
    /// `maskInput` optional 256 x 256 logits.
    public static func pack(
        points: [Double]?, labels: [Int]?, box: [Double]?, maxPoints: Int, maskInput: [Float]? = nil
    ) throws -> PackedPrompt {
        try require((points == nil) == (labels == nil), "points and labels must be given together")
        try require(points != nil || box != nil, "a prompt needs points or a box")
        try require(maskInput == nil || maskInput?.count == maskInputSize,
                    "mask input must be 256 x 256 = \(maskInputSize) logits, got \(maskInput?.count ?? 0)")
        var coords: [Float] = []
        var packed: [Float] = []
        if let points, let labels {
            try require(points.count == 2 * labels.count, "\(points.count / 2) points but \(labels.count) labels")
            for (i, label) in labels.enumerated() {
                try require(label == 0 || label == 1, "point labels must be 1 or 0, got \(label)")
                coords += [Float(points[2 * i]), Float(points[2 * i + 1])]
                packed.append(Float(label))
            }
            if box == nil {
                coords += [0, 0]
                packed.append(notAPoint)
            }
        }
        if let box {
            try require(box.count == 4, "box must be 4 values XYXY")
            coords += box.map { Float($0) }
            packed += [boxTopLeft, boxBottomRight]
        }
        try require(
            packed.count <= maxPoints,
            "prompt has \(packed.count) slots (points, box corners and the not-a-point token included) "
                + "but the decoder takes at most \(maxPoints); rebuild the bundle with a larger --max-points"
        )
        while packed.count < maxPoints {
            coords += [0, 0]
            packed.append(unused)
        }
        return PackedPrompt(coords: coords, labels: packed, maskInput: maskInput)
    }
}
