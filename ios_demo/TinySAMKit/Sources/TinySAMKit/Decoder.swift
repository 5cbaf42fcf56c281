import Foundation

/// What the decoder returns for one prompt: 3 x 256 x 256 low-res logits (mask tokens 1..3) and
/// their 3 IoU predictions.
public struct DecoderOutput {
    public let lowRes: [Float]
    public let iou: [Float]

    public init(lowRes: [Float], iou: [Float]) {
        self.lowRes = lowRes
        self.iou = iou
    }
}

/// Runs the app's decoder program on packed prompts against the current image (the runtime behind
/// it is the app's business).
public protocol PromptDecoder {
    /// Most prompts per `decode` call: the manifest's `decoder_batch`.
    var maxBatch: Int { get }

    /// 1 to `maxBatch` packed prompts -> one output per prompt, in order.
    func decode(_ prompts: [PackedPrompt]) throws -> [DecoderOutput]
}

/// One decoder program call for `batch` prompts. `inputs` are the decoder inputs after the shared
/// `image_embeddings`, in contract order, as flat row-major arrays: `point_coords` B x N x 2,
/// `point_labels` B x N, `mask_input` B x 1 x 256 x 256, `has_mask_input` B.
public struct DecoderCall {
    public let batch: Int
    public let inputs: [[Float]]

    /// The shape of a decoder input or output in this call: the manifest's with B = `batch`
    /// (`image_embeddings` keeps its own).
    public func shape(of spec: TensorSpec) -> [Int] {
        spec.name == BundleManifest.decoderInputNames[0] ? spec.shape : [batch] + spec.shape.dropFirst()
    }

    /// This call's `low_res_masks` (B x 3 x 256 x 256) and `iou_predictions` (B x 3) -> one output
    /// per prompt.
    public func outputs(lowRes: [Float], iou: [Float]) throws -> [DecoderOutput] {
        let masks = DecoderBatches.masks
        let plane = masks * Prompts.maskInputSize
        try require(
            lowRes.count == batch * plane && iou.count == batch * masks,
            "decoder returned \(lowRes.count) low_res_masks and \(iou.count) iou_predictions values for \(batch) prompts, "
                + "expected \(batch * plane) and \(batch * masks)"
        )
        return (0..<batch).map { b in
            DecoderOutput(lowRes: Array(lowRes[(b * plane)..<((b + 1) * plane)]), iou: Array(iou[(b * masks)..<((b + 1) * masks)]))
        }
    }
}

/// Packed prompts -> decoder calls, as the Python SDK's `decoder_feeds`
/// (`tinysam_mobile/runtimes/base.py`).
public enum DecoderBatches {
    /// Masks (and IoU predictions) per prompt.
    public static let masks = 3

    /// `prompts`, each packed to `maxPoints` slots by `Prompts.pack`, as calls of up to
    /// `decoderBatch` prompts in order, the last one shorter (no padding rows). `has_mask_input` is 1
    /// for a prompt with a mask input; a prompt without one gets zeros.
    public static func calls(_ prompts: [PackedPrompt], maxPoints: Int, decoderBatch: Int) throws -> [DecoderCall] {
        try require(decoderBatch >= 1, "decoder_batch must be at least 1, got \(decoderBatch)")
        for (i, prompt) in prompts.enumerated() {
            try require(prompt.labels.count == maxPoints,
                        "prompt \(i) has \(prompt.labels.count) slots but the decoder takes \(maxPoints): "
                            + "pack it with Prompts.pack(maxPoints: \(maxPoints))")
        }
        let plane = Prompts.maskInputSize
        return stride(from: 0, to: prompts.count, by: decoderBatch).map { start in
            let rows = prompts[start..<min(start + decoderBatch, prompts.count)]
            var coords: [Float] = []
            var labels: [Float] = []
            var mask: [Float] = []
            coords.reserveCapacity(rows.count * 2 * maxPoints)
            labels.reserveCapacity(rows.count * maxPoints)
            mask.reserveCapacity(rows.count * plane)
            for prompt in rows {
                coords += prompt.coords
                labels += prompt.labels
                mask += prompt.maskInput ?? [Float](repeating: 0, count: plane)
            }
            let hasMask = rows.map { $0.maskInput == nil ? Float(0) : 1 }
            return DecoderCall(batch: rows.count, inputs: [coords, labels, mask, hasMask])
        }
    }
}
