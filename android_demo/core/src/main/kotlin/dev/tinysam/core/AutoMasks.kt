package dev.tinysam.core

/** Parameters of segment-everything; the defaults are the paper's and the official generators'. */
class AutoMaskConfig(
    val pointsPerSide: Int = 32,
    val sparsePointsPerSide: Int = 8,
    val highScoreThresh: Float = 8.5f,
    val predIouThresh: Float = 0.88f,
    val stabilityScoreThresh: Double = 0.95,
    val stabilityScoreOffset: Float = 1f,
    val boxNmsThresh: Double = 0.7,
    val hierarchical: Boolean = true
)

/** A kept mask: its low-res logits (256 x 256), scores, the prompt point and the NMS box (XYXY px). */
class AutoMask(
    val lowRes: FloatArray,
    val predictedIou: Float,
    val stability: Double,
    val point: DoubleArray,
    val box: DoubleArray,
    val stage: Int
)

/**
 * Segment everything over any decoder, as `tinysam_mobile/everything.py` does: SAM's grid, or
 * TinySAM's hierarchical strategy (sparse round, high-confidence map at logit τ, dense points
 * outside it, one NMS in which first-round masks win). Candidates stay at 256 x 256; stability and
 * boxes are measured on logits upscaled to the resized image. Each round's points go to the decoder
 * in calls of up to [PromptDecoder.maxBatch] prompts (Python's with `points_per_batch` = that).
 */
class AutoMaskGenerator(
    private val decoder: PromptDecoder,
    private val height: Int,
    private val width: Int,
    private val maxPoints: Int,
    private val config: AutoMaskConfig = AutoMaskConfig()
) {
    private val input = Transforms.preprocessShape(height, width)
    private val lowH = (input[0] + Everything.LOW_RES_STRIDE - 1) / Everything.LOW_RES_STRIDE
    private val lowW = (input[1] + Everything.LOW_RES_STRIDE - 1) / Everything.LOW_RES_STRIDE

    init {
        require(decoder.maxBatch >= 1) { "the decoder's maxBatch must be at least 1, got ${decoder.maxBatch}" }
    }

    /** Prompts decoded by the last [generate] call. */
    var promptsDecoded = 0
        private set

    /** All masks after NMS. [progress] gets (done, total) after each decoder call; [isCancelled] is asked before each. */
    fun generate(progress: (Int, Int) -> Unit = { _, _ -> }, isCancelled: () -> Boolean = { false }): List<AutoMask> {
        promptsDecoded = 0
        val candidates = ArrayList<AutoMask>()
        val dense = pixelGrid(config.pointsPerSide)
        if (!config.hierarchical) {
            decodeAll(dense, IntArray(dense.size / 2) { it }, 1, candidates, dense.size / 2, progress, isCancelled)
        } else {
            val sparse = pixelGrid(config.sparsePointsPerSide)
            val sparseCount = sparse.size / 2
            val high = decodeAll(sparse, IntArray(sparseCount) { it }, 1, candidates, sparseCount + dense.size / 2, progress, isCancelled)
            val next = Everything.roundTwoPoints(high, lowH, lowW, height, width, config.pointsPerSide)
            decodeAll(dense, next, 2, candidates, sparseCount + next.size, progress, isCancelled)
        }
        val order = candidates.indices.sortedWith(compareBy<Int>({ candidates[it].stage }, { -candidates[it].predictedIou })).toIntArray()
        return Everything.nms(candidates.map { it.box }, order, config.boxNmsThresh).map { candidates[it] }
    }

    private fun pixelGrid(n: Int): DoubleArray {
        val grid = Everything.pointGrid(n)
        return DoubleArray(grid.size) { i -> grid[i] * (if (i % 2 == 0) width else height) }
    }

    /** Decode the chosen points in batches; keep what passes the filters; return the high-confidence map. */
    private fun decodeAll(
        points: DoubleArray,
        chosen: IntArray,
        stage: Int,
        out: MutableList<AutoMask>,
        total: Int,
        progress: (Int, Int) -> Unit,
        isCancelled: () -> Boolean
    ): BooleanArray {
        val high = BooleanArray(lowH * lowW)
        val frame = Transforms.transformCoords(points, height, width)
        for (batch in chosen.asList().chunked(decoder.maxBatch)) {
            if (isCancelled()) break
            val prompts = batch.map { p -> Prompts.pack(doubleArrayOf(frame[2 * p], frame[2 * p + 1]), intArrayOf(1), null, maxPoints) }
            val results = decoder.decode(prompts)
            if (results.size != prompts.size) {
                throw IllegalStateException("decoder returned ${results.size} outputs for ${prompts.size} prompts")
            }
            promptsDecoded += prompts.size
            for ((i, p) in batch.withIndex()) keep(results[i], doubleArrayOf(points[2 * p], points[2 * p + 1]), stage, high, out)
            progress(promptsDecoded, total)
        }
        return high
    }

    /** Add the prompt's masks that pass the IoU and stability filters; mark their confident cells in [high]. */
    private fun keep(result: DecoderOutput, point: DoubleArray, stage: Int, high: BooleanArray, out: MutableList<AutoMask>) {
        val plane = Transforms.LOW_RES_SIZE * Transforms.LOW_RES_SIZE
        for (k in result.iou.indices) {
            if (result.iou[k] <= config.predIouThresh) continue
            val lowRes = result.lowRes.copyOfRange(k * plane, (k + 1) * plane)
            val upscaled = MaskPost.resizeBilinear(
                lowRes, Transforms.LOW_RES_SIZE, Transforms.LOW_RES_SIZE, Transforms.IMG_SIZE, Transforms.IMG_SIZE, input[0], input[1]
            )
            val stability = Everything.stabilityScore(upscaled, MaskPost.MASK_THRESHOLD, config.stabilityScoreOffset)
            if (stability < config.stabilityScoreThresh) continue
            val box = maskBox(upscaled) ?: continue
            for (y in 0 until lowH) for (x in 0 until lowW) {
                if (lowRes[y * Transforms.LOW_RES_SIZE + x] > config.highScoreThresh) high[y * lowW + x] = true
            }
            out.add(AutoMask(lowRes, result.iou[k], stability, point, box, stage))
        }
    }

    /** XYXY pixel edges (original image) of the mask's foreground in the resized frame, or null. */
    private fun maskBox(logits: FloatArray): DoubleArray? {
        var x0 = Int.MAX_VALUE
        var y0 = Int.MAX_VALUE
        var x1 = -1
        var y1 = -1
        for (y in 0 until input[0]) for (x in 0 until input[1]) {
            if (logits[y * input[1] + x] > MaskPost.MASK_THRESHOLD) {
                if (x < x0) x0 = x
                if (x > x1) x1 = x
                if (y < y0) y0 = y
                if (y > y1) y1 = y
            }
        }
        if (x1 < 0) return null
        val sx = width.toDouble() / input[1]
        val sy = height.toDouble() / input[0]
        return doubleArrayOf(x0 * sx, y0 * sy, (x1 + 1) * sx, (y1 + 1) * sy)
    }
}
