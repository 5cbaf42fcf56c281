package dev.tinysam.core

/**
 * Pillow's `Image.resize(size, BILINEAR)` for 8-bit RGB, bit for bit: a separable triangle filter
 * whose support widens with the downscale factor (antialiasing), 22-bit fixed-point weights,
 * horizontal pass first, rounding and clipping to 0-255 after each pass. This is the resize the
 * reference pre-processing uses, so encoder inputs match the Python SDK exactly.
 */
object Resize {
    private const val PRECISION_BITS = 32 - 8 - 2

    /**
     * `h x w` pixels packed as `0xRRGGBB` (alpha bits ignored, Android's `Bitmap.getPixels` layout)
     * -> `newH x newW` packed pixels (alpha 0xFF).
     */
    fun bilinearPacked(pixels: IntArray, height: Int, width: Int, newHeight: Int, newWidth: Int): IntArray {
        require(pixels.size == height * width) { "expected ${height * width} pixels, got ${pixels.size}" }
        require(newHeight >= 1 && newWidth >= 1) { "target size must be at least 1x1" }
        var out = pixels
        var w = width
        if (newWidth != width) {
            out = pass(out, height, w, newWidth, horizontal = true)
            w = newWidth
        }
        if (newHeight != height) out = pass(out, height, w, newHeight, horizontal = false)
        return out
    }

    private class Coefficients(val start: IntArray, val count: IntArray, val weights: Array<IntArray>)

    private fun coefficients(inSize: Int, outSize: Int): Coefficients {
        val scale = inSize.toDouble() / outSize
        val filterScale = Math.max(scale, 1.0)
        val support = filterScale
        val start = IntArray(outSize)
        val count = IntArray(outSize)
        val weights = Array(outSize) { IntArray(0) }
        for (o in 0 until outSize) {
            val center = (o + 0.5) * scale
            val xmin = Math.max((center - support + 0.5).toInt(), 0)
            val xmax = Math.min((center + support + 0.5).toInt(), inSize) - xmin
            val raw = DoubleArray(xmax) { x -> triangle((x + xmin - center + 0.5) / filterScale) }
            val total = raw.sum()
            start[o] = xmin
            count[o] = xmax
            weights[o] = IntArray(xmax) { x ->
                val w = if (total != 0.0) raw[x] / total else raw[x]
                if (w < 0) (-0.5 + w * (1 shl PRECISION_BITS)).toInt() else (0.5 + w * (1 shl PRECISION_BITS)).toInt()
            }
        }
        return Coefficients(start, count, weights)
    }

    private fun triangle(x: Double): Double {
        val a = Math.abs(x)
        return if (a < 1.0) 1.0 - a else 0.0
    }

    private fun clip8(value: Int): Int {
        val v = value shr PRECISION_BITS
        return if (v < 0) 0 else if (v > 255) 255 else v
    }

    /** One resampling pass along rows (horizontal) or columns (vertical). */
    private fun pass(src: IntArray, height: Int, width: Int, outSize: Int, horizontal: Boolean): IntArray {
        val c = coefficients(if (horizontal) width else height, outSize)
        val outH = if (horizontal) height else outSize
        val outW = if (horizontal) outSize else width
        val out = IntArray(outH * outW)
        for (y in 0 until outH) {
            for (x in 0 until outW) {
                val o = if (horizontal) x else y
                val k = c.weights[o]
                var r = 1 shl (PRECISION_BITS - 1)
                var g = r
                var b = r
                for (i in 0 until c.count[o]) {
                    val p = src[if (horizontal) (y * width + c.start[o] + i) else ((c.start[o] + i) * width + x)]
                    r += ((p shr 16) and 0xFF) * k[i]
                    g += ((p shr 8) and 0xFF) * k[i]
                    b += (p and 0xFF) * k[i]
                }
                out[y * outW + x] = (0xFF shl 24) or (clip8(r) shl 16) or (clip8(g) shl 8) or clip8(b)
            }
        }
        return out
    }
}
