package dev.tinysam.core

/** What the decoder returns for one prompt: 3 x 256 x 256 low-res logits (mask tokens 1..3) and their 3 IoU predictions. */
class DecoderOutput(val lowRes: FloatArray, val iou: FloatArray)

/** Runs the app's decoder program on packed prompts against the current image (the runtime behind it is the app's business). */
interface PromptDecoder {
    /** Most prompts per [decode] call: the manifest's `decoder_batch`. */
    val maxBatch: Int

    /** 1 to [maxBatch] packed prompts -> one output per prompt, in order. */
    fun decode(prompts: List<PackedPrompt>): List<DecoderOutput>
}

/**
 * One decoder program call for [batch] prompts. [inputs] are the decoder inputs after the shared
 * `image_embeddings`, in contract order, as flat row-major arrays: `point_coords` B x N x 2,
 * `point_labels` B x N, `mask_input` B x 1 x 256 x 256, `has_mask_input` B.
 */
class DecoderCall(val batch: Int, val inputs: List<FloatArray>) {
    /** The shape of a decoder input or output in this call: the manifest's with B = [batch] (`image_embeddings` keeps its own). */
    fun shape(spec: TensorSpec): List<Int> =
        if (spec.name == BundleManifest.DECODER_INPUT_NAMES[0]) spec.shape else listOf(batch) + spec.shape.drop(1)

    /** This call's `low_res_masks` (B x 3 x 256 x 256) and `iou_predictions` (B x 3) -> one output per prompt. */
    fun outputs(lowRes: FloatArray, iou: FloatArray): List<DecoderOutput> {
        val plane = DecoderBatches.MASKS * Prompts.MASK_INPUT_SIZE
        if (lowRes.size != batch * plane || iou.size != batch * DecoderBatches.MASKS) {
            throw IllegalStateException(
                "decoder returned ${lowRes.size} low_res_masks and ${iou.size} iou_predictions values for $batch prompts, " +
                    "expected ${batch * plane} and ${batch * DecoderBatches.MASKS}"
            )
        }
        val masks = DecoderBatches.MASKS
        return (0 until batch).map { b ->
            DecoderOutput(lowRes.copyOfRange(b * plane, (b + 1) * plane), iou.copyOfRange(b * masks, (b + 1) * masks))
        }
    }
}

/** Packed prompts -> decoder calls, as the Python SDK's `decoder_feeds` (`tinysam_mobile/runtimes/base.py`). */
object DecoderBatches {
    /** Masks (and IoU predictions) per prompt. */
    const val MASKS = 3

    /**
     * [prompts], each packed to [maxPoints] slots by [Prompts.pack], as calls of up to [decoderBatch]
     * prompts in order, the last one shorter (no padding rows). `has_mask_input` is 1 for a prompt
     * with a mask input; a prompt without one gets zeros.
     */
    fun calls(prompts: List<PackedPrompt>, maxPoints: Int, decoderBatch: Int): List<DecoderCall> {
        require(decoderBatch >= 1) { "decoder_batch must be at least 1, got $decoderBatch" }
        prompts.forEachIndexed { i, prompt ->
            require(prompt.labels.size == maxPoints) {
                "prompt $i has ${prompt.labels.size} slots but the decoder takes $maxPoints: pack it with Prompts.pack(maxPoints = $maxPoints)"
            }
        }
        val plane = Prompts.MASK_INPUT_SIZE
        return prompts.chunked(decoderBatch).map { rows ->
            val coords = FloatArray(rows.size * 2 * maxPoints)
            val labels = FloatArray(rows.size * maxPoints)
            val mask = FloatArray(rows.size * plane)
            val hasMask = FloatArray(rows.size)
            rows.forEachIndexed { r, prompt ->
                System.arraycopy(prompt.coords, 0, coords, r * 2 * maxPoints, 2 * maxPoints)
                System.arraycopy(prompt.labels, 0, labels, r * maxPoints, maxPoints)
                val input = prompt.maskInput
                if (input != null) {
                    System.arraycopy(input, 0, mask, r * plane, plane)
                    hasMask[r] = 1f
                }
            }
            DecoderCall(rows.size, listOf(coords, labels, mask, hasMask))
        }
    }
}
