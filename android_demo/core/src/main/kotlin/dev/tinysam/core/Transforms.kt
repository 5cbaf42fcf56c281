package dev.tinysam.core

/**
 * TinySAM's pre-processing contract (the same rules as `tinysam_mobile/transforms.py`):
 * longest side to 1024 with `new = int(old * 1024 / max(h, w) + 0.5)` (at least 1 px),
 * normalize with the ImageNet mean / std on the 0-255 scale, zero-pad bottom / right.
 */
object Transforms {
    const val IMG_SIZE = 1024
    const val LOW_RES_SIZE = 256
    val PIXEL_MEAN = floatArrayOf(123.675f, 116.28f, 103.53f)
    val PIXEL_STD = floatArrayOf(58.395f, 57.12f, 57.375f)

    /** Size `[h', w']` after resizing the longest side to [target]. */
    fun preprocessShape(height: Int, width: Int, target: Int = IMG_SIZE): IntArray {
        require(height >= 1 && width >= 1) { "image must be at least 1x1 pixels, got ${height}x$width" }
        val scale = target * 1.0 / Math.max(height, width)
        return intArrayOf(Math.max(1, (height * scale + 0.5).toInt()), Math.max(1, (width * scale + 0.5).toInt()))
    }

    /** (X, Y) pairs in original pixels -> the resized frame. */
    fun transformCoords(points: DoubleArray, height: Int, width: Int, target: Int = IMG_SIZE): DoubleArray {
        require(points.size % 2 == 0) { "points must be (X, Y) pairs" }
        val size = preprocessShape(height, width, target)
        val sx = size[1].toDouble() / width
        val sy = size[0].toDouble() / height
        return DoubleArray(points.size) { i -> if (i % 2 == 0) points[i] * sx else points[i] * sy }
    }

    /** XYXY box in original pixels -> the resized frame. */
    fun transformBox(box: DoubleArray, height: Int, width: Int, target: Int = IMG_SIZE): DoubleArray {
        require(box.size == 4) { "box must be 4 values XYXY" }
        return transformCoords(box, height, width, target)
    }

    /**
     * Resized RGB pixels (`h x w x 3`, 0-255, row-major) -> normalized, zero-padded
     * `3 x target x target` float32, channel-major (the encoder's `image` input).
     */
    fun normalizeAndPad(pixelsHwc: IntArray, height: Int, width: Int, target: Int = IMG_SIZE): FloatArray {
        require(pixelsHwc.size == height * width * 3) { "expected ${height * width * 3} values, got ${pixelsHwc.size}" }
        require(height <= target && width <= target) { "image ${height}x$width is larger than $target" }
        val out = FloatArray(3 * target * target)
        for (y in 0 until height) {
            for (x in 0 until width) {
                for (c in 0 until 3) {
                    val value = pixelsHwc[(y * width + x) * 3 + c].toFloat()
                    out[(c * target + y) * target + x] = (value - PIXEL_MEAN[c]) / PIXEL_STD[c]
                }
            }
        }
        return out
    }
}
