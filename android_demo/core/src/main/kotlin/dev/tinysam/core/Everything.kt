package dev.tinysam.core

/**
 * The pieces of segment-everything the app runs around its decoder calls, as in
 * `tinysam_mobile/everything.py`: SAM's point grid, stability scores, box NMS and the hierarchical
 * strategy's choice of which dense-grid points still need decoding.
 */
object Everything {
    const val LOW_RES_STRIDE = 4

    /** `n*n` points (X, Y pairs) in [0, 1] at cell centres `(i + 0.5) / n`, X varying fastest. */
    fun pointGrid(n: Int): DoubleArray {
        require(n >= 1) { "points per side must be at least 1, got $n" }
        val out = DoubleArray(2 * n * n)
        for (row in 0 until n) {
            for (col in 0 until n) {
                val k = 2 * (row * n + col)
                out[k] = (col + 0.5) / n
                out[k + 1] = (row + 0.5) / n
            }
        }
        return out
    }

    /** SAM's stability: |logits > t + offset| / |logits > t - offset| (0 when nothing is above). */
    fun stabilityScore(logits: FloatArray, threshold: Float = 0f, offset: Float = 1f): Double {
        var inner = 0
        var outer = 0
        for (v in logits) {
            if (v > threshold + offset) inner++
            if (v > threshold - offset) outer++
        }
        return if (outer > 0) inner.toDouble() / outer else 0.0
    }

    /** IoU of two XYXY boxes (areas as (x1 - x0) * (y1 - y0)). */
    fun boxIou(a: DoubleArray, b: DoubleArray): Double {
        val inter = Math.max(Math.min(a[2], b[2]) - Math.max(a[0], b[0]), 0.0) *
            Math.max(Math.min(a[3], b[3]) - Math.max(a[1], b[1]), 0.0)
        val union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return if (union > 0) inter / union else 0.0
    }

    /** Greedy NMS over [order] (highest priority first): the kept indices, in order. */
    fun nms(boxes: List<DoubleArray>, order: IntArray, iouThreshold: Double): IntArray {
        val kept = ArrayList<Int>()
        for (index in order) {
            if (kept.none { boxIou(boxes[index], boxes[it]) > iouThreshold }) kept.add(index)
        }
        return kept.toIntArray()
    }

    /**
     * Indices of the dense grid's points (original pixels) that fall outside the high-confidence
     * map of the first round (`rows x cols` low-res cells, row-major), i.e. the points to decode next.
     */
    fun roundTwoPoints(highMap: BooleanArray, rows: Int, cols: Int, height: Int, width: Int, pointsPerSide: Int): IntArray {
        require(highMap.size == rows * cols) { "high map must have $rows x $cols cells" }
        val grid = pointGrid(pointsPerSide)
        val pixels = DoubleArray(grid.size) { i -> grid[i] * (if (i % 2 == 0) width else height) }
        val frame = Transforms.transformCoords(pixels, height, width)
        val out = ArrayList<Int>()
        for (p in 0 until grid.size / 2) {
            val col = Math.min(Math.max(Math.floor(frame[2 * p] / LOW_RES_STRIDE).toInt(), 0), cols - 1)
            val row = Math.min(Math.max(Math.floor(frame[2 * p + 1] / LOW_RES_STRIDE).toInt(), 0), rows - 1)
            if (!highMap[row * cols + col]) out.add(p)
        }
        return out.toIntArray()
    }
}
