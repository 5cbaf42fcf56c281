package dev.tinysam.core

/**
 * Mask post-processing: the decoder's 256 x 256 logits -> bilinear (align_corners = false) to the
 * 1024 frame -> crop to the resized image -> bilinear to the original size; masks are logits > 0.
 * Float arithmetic follows PyTorch's CPU bilinear kernel, so results agree with the Python SDK.
 */
object MaskPost {
    const val MASK_THRESHOLD = 0f

    /** Bilinear resize of a row-major `srcH x srcW` map, sampling the top-left `outH x outW` of a
     * `fullH x fullW` resize (PyTorch `interpolate(..., mode="bilinear", align_corners=False)`). */
    fun resizeBilinear(src: FloatArray, srcH: Int, srcW: Int, fullH: Int, fullW: Int, outH: Int = fullH, outW: Int = fullW): FloatArray {
        require(src.size == srcH * srcW) { "expected ${srcH * srcW} values, got ${src.size}" }
        val ys = Axis(srcH, fullH, outH)
        val xs = Axis(srcW, fullW, outW)
        val out = FloatArray(outH * outW)
        for (y in 0 until outH) {
            val row0 = ys.index[y] * srcW
            val row1 = (ys.index[y] + ys.offset[y]) * srcW
            for (x in 0 until outW) {
                val c0 = xs.index[x]
                val c1 = c0 + xs.offset[x]
                val top = xs.lambda0[x] * src[row0 + c0] + xs.lambda1[x] * src[row0 + c1]
                val bottom = xs.lambda0[x] * src[row1 + c0] + xs.lambda1[x] * src[row1 + c1]
                out[y * outW + x] = ys.lambda0[y] * top + ys.lambda1[y] * bottom
            }
        }
        return out
    }

    private class Axis(inSize: Int, fullSize: Int, outSize: Int) {
        val index = IntArray(outSize)
        val offset = IntArray(outSize)
        val lambda0 = FloatArray(outSize)
        val lambda1 = FloatArray(outSize)

        init {
            val scale = inSize.toFloat() / fullSize
            for (i in 0 until outSize) {
                val real = Math.max(scale * (i + 0.5f) - 0.5f, 0f)
                val i0 = real.toInt()
                index[i] = i0
                offset[i] = if (i0 < inSize - 1) 1 else 0
                lambda1[i] = Math.min(Math.max(real - i0, 0f), 1f)
                lambda0[i] = 1f - lambda1[i]
            }
        }
    }

    /** Low-res logits (256 x 256) -> logits at the original `height x width`. */
    fun upscaleLogits(lowRes: FloatArray, height: Int, width: Int): FloatArray {
        val low = Transforms.LOW_RES_SIZE
        val size = Transforms.IMG_SIZE
        val input = Transforms.preprocessShape(height, width)
        val cropped = resizeBilinear(lowRes, low, low, size, size, input[0], input[1])
        return resizeBilinear(cropped, input[0], input[1], height, width)
    }

    /** Binary mask of logits above [threshold]. */
    fun threshold(logits: FloatArray, threshold: Float = MASK_THRESHOLD): BooleanArray =
        BooleanArray(logits.size) { logits[it] > threshold }
}
