package dev.tinysam.demo.runtime

import dev.tinysam.core.DecoderOutput
import dev.tinysam.core.PackedPrompt
import java.io.Closeable

/** The encoder and decoder programs of a bundle, on one on-device runtime. Not thread-safe. */
interface SegmentRuntime : Closeable {
    val name: String

    /** Normalized, padded `1 x 3 x 1024 x 1024` image -> embeddings (`image_embeddings`). */
    fun encode(image: FloatArray): FloatArray

    /**
     * Packed prompts (each with its optional mask input) against one image's [embeddings] -> one
     * output (3 masks and their IoUs) per prompt, in order; sent in calls of up to the manifest's
     * `decoder_batch` prompts ([dev.tinysam.core.DecoderBatches]).
     */
    fun decode(embeddings: FloatArray, prompts: List<PackedPrompt>): List<DecoderOutput>
}
