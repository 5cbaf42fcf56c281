package dev.tinysam.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/** The orchestration over a fake decoder that knows a scene of rectangles (like the Python oracle). */
class AutoMaskGeneratorTest {
    /**
     * Objects as XYXY rectangles in the 1024 frame; a point on one returns its mask with high
     * logits. Records the size of every call.
     */
    private class RectangleDecoder(private val rects: List<IntArray>, override val maxBatch: Int = 1) : PromptDecoder {
        val batches = ArrayList<Int>()
        val prompts: Int get() = batches.sum()

        override fun decode(prompts: List<PackedPrompt>): List<DecoderOutput> {
            assertTrue("${prompts.size} prompts in one call, maxBatch $maxBatch", prompts.size in 1..maxBatch)
            batches.add(prompts.size)
            return prompts.map { answer(it) }
        }

        private fun answer(prompt: PackedPrompt): DecoderOutput {
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

    private val rects = listOf(intArrayOf(0, 0, 1024, 400), intArrayOf(100, 500, 400, 900), intArrayOf(600, 520, 1000, 1000))

    @Test
    fun hierarchicalFindsEveryObjectWithFewerPrompts() {
        val grid = RectangleDecoder(rects)
        val gridMasks = AutoMaskGenerator(grid, 1024, 1024, 8, AutoMaskConfig(hierarchical = false)).generate()
        val hier = RectangleDecoder(rects)
        val generator = AutoMaskGenerator(hier, 1024, 1024, 8)
        val hierMasks = generator.generate()
        assertEquals(3, gridMasks.size)
        assertEquals(3, hierMasks.size)
        assertEquals(1024, grid.prompts)
        assertEquals(hier.prompts, generator.promptsDecoded)
        assertTrue("hierarchical decoded ${hier.prompts}", hier.prompts < 512)
    }

    @Test
    fun batchesHoldUpToMaxBatchPromptsAndGiveTheSameMasks() {
        val single = RectangleDecoder(rects)
        val expected = AutoMaskGenerator(single, 1024, 1024, 8).generate()
        for (maxBatch in listOf(3, 64)) {
            val decoder = RectangleDecoder(rects, maxBatch)
            val progress = ArrayList<Int>()
            val masks = AutoMaskGenerator(decoder, 1024, 1024, 8).generate(progress = { done, _ -> progress.add(done) })
            assertEquals(single.prompts, decoder.prompts)
            assertEquals(expected.map { it.point.toList() }, masks.map { it.point.toList() })
            // Round one: 64 sparse points; round two: the rest; each round's last call is the short one.
            val roundOne = (64 + maxBatch - 1) / maxBatch
            val sparse = decoder.batches.subList(0, roundOne)
            val dense = decoder.batches.subList(roundOne, decoder.batches.size)
            assertEquals(64, sparse.sum())
            assertTrue(sparse.dropLast(1).all { it == maxBatch } && dense.dropLast(1).all { it == maxBatch })
            var done = 0
            assertEquals(decoder.batches.map { done += it; done }, progress)
        }
    }

    @Test
    fun gridSendsFullBatches() {
        val decoder = RectangleDecoder(emptyList(), 64)
        AutoMaskGenerator(decoder, 1024, 1024, 8, AutoMaskConfig(hierarchical = false)).generate()
        assertEquals(List(16) { 64 }, decoder.batches)
    }

    @Test
    fun fullyCoveredImageStopsAfterTheSparseRound() {
        val decoder = RectangleDecoder(listOf(intArrayOf(0, 0, 1024, 1024)), 3)
        val masks = AutoMaskGenerator(decoder, 300, 300, 8).generate()
        assertEquals(1, masks.size)
        assertEquals(List(21) { 3 } + 1, decoder.batches)
    }

    @Test
    fun cancellationStopsBetweenCalls() {
        val decoder = RectangleDecoder(emptyList(), 4)
        val generator = AutoMaskGenerator(decoder, 100, 100, 8)
        generator.generate(isCancelled = { decoder.batches.size >= 3 })
        assertEquals(listOf(4, 4, 4), decoder.batches)
        assertEquals(12, generator.promptsDecoded)
    }

    @Test
    fun aDecoderThatDropsOutputsIsAnError() {
        val decoder = object : PromptDecoder {
            override val maxBatch = 4
            override fun decode(prompts: List<PackedPrompt>): List<DecoderOutput> = emptyList()
        }
        try {
            AutoMaskGenerator(decoder, 100, 100, 8).generate()
            fail("expected an error")
        } catch (expected: IllegalStateException) {
            assertTrue(expected.message!!.contains("0 outputs for 4 prompts"))
        }
        try {
            AutoMaskGenerator(RectangleDecoder(emptyList(), 0), 100, 100, 8)
            fail("expected an error")
        } catch (expected: IllegalArgumentException) {
            assertTrue(expected.message!!.contains("maxBatch must be at least 1"))
        }
    }
}
