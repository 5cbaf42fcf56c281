package dev.tinysam.core

/**
 * Decoder inputs for one prompt (one row of a decoder call): `coords` N x 2 (X, Y in the 1024
 * frame), `labels` N, and an optional `maskInput` (256 x 256 low-res logits of an earlier answer,
 * fed with `has_mask_input` 1).
 */
class PackedPrompt(val coords: FloatArray, val labels: FloatArray, val maskInput: FloatArray? = null) {
    init {
        require(coords.size == 2 * labels.size) { "${coords.size} coordinates for ${labels.size} slots" }
        require(maskInput == null || maskInput.size == Prompts.MASK_INPUT_SIZE) {
            "mask input must be 256 x 256 = ${Prompts.MASK_INPUT_SIZE} logits, got ${maskInput?.size}"
        }
    }
}

/**
 * Prompt packing to the fixed-N decoder contract, as the official predictor orders it: the points,
 * one not-a-point token (label -1) at (0, 0) when there is no box, the two box corners (labels 2
 * and 3), then unused slots (label -2, masked out of attention by the decoder) up to N.
 */
object Prompts {
    const val UNUSED = -2f
    const val NOT_A_POINT = -1f
    const val BACKGROUND = 0f
    const val FOREGROUND = 1f
    const val BOX_TOP_LEFT = 2f
    const val BOX_BOTTOM_RIGHT = 3f
    const val MASK_INPUT_SIZE = Transforms.LOW_RES_SIZE * Transforms.LOW_RES_SIZE

    /** The labels by the names of the manifest's `prompt_labels` (schema 2). */
    val MANIFEST_LABELS: Map<String, Float> = linkedMapOf(
        "unused" to UNUSED,
        "not_a_point" to NOT_A_POINT,
        "background" to BACKGROUND,
        "foreground" to FOREGROUND,
        "box_top_left" to BOX_TOP_LEFT,
        "box_bottom_right" to BOX_BOTTOM_RIGHT
    )

    /**
     * [points] (X, Y) pairs and [box] XYXY, both already in the 1024 frame; labels 1 / 0;
     * [maskInput] optional 256 x 256 logits.
     */
    fun pack(points: DoubleArray?, labels: IntArray?, box: DoubleArray?, maxPoints: Int, maskInput: FloatArray? = null): PackedPrompt {
        require((points == null) == (labels == null)) { "points and labels must be given together" }
        require(points != null || box != null) { "a prompt needs points or a box" }
        val coords = ArrayList<Float>()
        val packed = ArrayList<Float>()
        if (points != null && labels != null) {
            require(points.size == 2 * labels.size) { "${points.size / 2} points but ${labels.size} labels" }
            for (i in labels.indices) {
                require(labels[i] == 0 || labels[i] == 1) { "point labels must be 1 or 0, got ${labels[i]}" }
                coords.add(points[2 * i].toFloat())
                coords.add(points[2 * i + 1].toFloat())
                packed.add(labels[i].toFloat())
            }
            if (box == null) {
                coords.add(0f)
                coords.add(0f)
                packed.add(NOT_A_POINT)
            }
        }
        if (box != null) {
            require(box.size == 4) { "box must be 4 values XYXY" }
            for (v in box) coords.add(v.toFloat())
            packed.add(BOX_TOP_LEFT)
            packed.add(BOX_BOTTOM_RIGHT)
        }
        if (packed.size > maxPoints) {
            throw IllegalArgumentException(
                "prompt has ${packed.size} slots (points, box corners and the not-a-point token included) " +
                    "but the decoder takes at most $maxPoints; rebuild the bundle with a larger --max-points"
            )
        }
        while (packed.size < maxPoints) {
            coords.add(0f)
            coords.add(0f)
            packed.add(UNUSED)
        }
        return PackedPrompt(coords.toFloatArray(), packed.toFloatArray(), maskInput)
    }
}
