package dev.tinysam.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** The orchestration over a fake decoder that knows a scene of rectangles (like the Python oracle). */
class AutoMaskGeneratorTest {
    /** Objects as XYXY rectangles in the 1024 frame; a point on one returns its mask with high logits. */
    private class RectangleDecoder(private val rects: List<IntArray>) : PromptDecoder {
        var calls = 0

        override fun decode(prompt: PackedPrompt): DecoderOutput {
            calls++
            val size = Transforms.LOW_RES_SIZE
            val lowRes = FloatArray(3 * size * size) { -16f }
            val x = prompt.coords[0]
            val y = prompt.coords[1]
            val hit = rects.firstOrNull { x >= it[0] && x < it[2] && y >= it[1] && y < it[3] }
            if (hit != null) {
                for (k in 0 until 3) for (r in hit[1] / 4 until hit[3] / 4) for (c in hit[0] / 4 until hit[2] / 4) {
                    lowRes[(k * size + r) * size + c] = 16f
                }
            }
            val iou = if (hit != null) floatArrayOf(0.5f, 0.96f, 0.5f) else floatArrayOf(0.3f, 0.3f, 0.3f)
            return DecoderOutput(lowRes, iou)
        }
    }

    @Test
    fun hierarchicalFindsEveryObjectWithFewerCalls() {
        val rects = listOf(intArrayOf(0, 0, 1024, 400), intArrayOf(100, 500, 400, 900), intArrayOf(600, 520, 1000, 1000))
        val grid = RectangleDecoder(rects)
        val gridMasks = AutoMaskGenerator(grid, 1024, 1024, 8, AutoMaskConfig(hierarchical = false)).generate()
        val hier = RectangleDecoder(rects)
        val generator = AutoMaskGenerator(hier, 1024, 1024, 8)
        val hierMasks = generator.generate()
        assertEquals(3, gridMasks.size)
        assertEquals(3, hierMasks.size)
        assertEquals(1024, grid.calls)
        assertEquals(hier.calls, generator.promptsDecoded)
        assertTrue("hierarchical decoded ${hier.calls}", hier.calls < 512)
    }

    @Test
    fun fullyCoveredImageStopsAfterTheSparseRound() {
        val decoder = RectangleDecoder(listOf(intArrayOf(0, 0, 1024, 1024)))
        val masks = AutoMaskGenerator(decoder, 300, 300, 8).generate()
        assertEquals(1, masks.size)
        assertEquals(64, decoder.calls)
    }

    @Test
    fun cancellationStopsDecoding() {
        val decoder = RectangleDecoder(emptyList())
        AutoMaskGenerator(decoder, 100, 100, 8).generate(isCancelled = { decoder.calls >= 10 })
        assertEquals(10, decoder.calls)
    }
}
