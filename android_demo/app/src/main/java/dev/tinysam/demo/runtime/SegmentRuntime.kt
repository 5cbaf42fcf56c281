package dev.tinysam.demo.runtime

import dev.tinysam.core.DecoderOutput
import dev.tinysam.core.PackedPrompt
import java.io.Closeable

/** The encoder and decoder programs of a bundle, on one on-device runtime. Not thread-safe. */
interface SegmentRuntime : Closeable {
    val name: String

    /** Normalized, padded `1 x 3 x 1024 x 1024` image -> embeddings (`image_embeddings`). */
    fun encode(image: FloatArray): FloatArray

    /** One packed prompt (and an optional `1 x 256 x 256` mask input) -> 3 masks and their IoUs. */
    fun decode(embeddings: FloatArray, prompt: PackedPrompt, maskInput: FloatArray?): DecoderOutput
}

/** The five decoder inputs in contract order, as float arrays. */
internal fun decoderInputs(embeddings: FloatArray, prompt: PackedPrompt, maskInput: FloatArray?, maskSize: Int): List<FloatArray> =
    listOf(
        embeddings,
        prompt.coords,
        prompt.labels,
        maskInput ?: FloatArray(maskSize),
        floatArrayOf(if (maskInput != null) 1f else 0f)
    )
