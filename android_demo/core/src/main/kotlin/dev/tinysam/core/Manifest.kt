package dev.tinysam.core

/** One named program input or output of the I/O contract. */
data class TensorSpec(val name: String, val shape: List<Int>, val dtype: String) {
    val elementCount: Int get() = shape.fold(1) { acc, d -> acc * d }
}

/** A program file of the bundle with its integrity data. */
data class Artifact(val file: String, val sha256: String, val bytes: Long)

/**
 * The bundle contract written by `python -m tinysam_mobile.convert` (manifest.json, schema 2):
 * which runtime runs it, the two program files and their I/O names, shapes and dtypes.
 */
data class BundleManifest(
    val target: String,
    val encoder: Artifact,
    val decoder: Artifact,
    val encoderInputs: List<TensorSpec>,
    val encoderOutputs: List<TensorSpec>,
    val decoderInputs: List<TensorSpec>,
    val decoderOutputs: List<TensorSpec>,
    val maxPoints: Int,
    val recipe: String,
    val untrained: Boolean
) {
    companion object {
        const val SCHEMA_VERSION = 2
        val TARGETS = setOf("executorch", "tflite", "coreml")
        val DECODER_INPUT_NAMES = listOf("image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input")
        val DECODER_OUTPUT_NAMES = listOf("low_res_masks", "iou_predictions")

        /** Parse and validate manifest.json; errors name the field that is wrong. */
        fun parse(text: String): BundleManifest {
            @Suppress("UNCHECKED_CAST")
            val root = Json.parse(text) as? Map<String, Any?>
                ?: throw IllegalArgumentException("manifest.json must hold a JSON object")
            val version = root.int("schema_version")
            if (version != SCHEMA_VERSION) {
                throw IllegalArgumentException(
                    "manifest schema_version $version is not supported (expected $SCHEMA_VERSION): " +
                        "rebuild the bundle with python -m tinysam_mobile.convert"
                )
            }
            val target = root.str("target")
            if (target !in TARGETS) throw IllegalArgumentException("unknown target '$target'; known: $TARGETS")
            val artifacts = root.obj("artifacts")
            val io = root.obj("io")
            val manifest = BundleManifest(
                target = target,
                encoder = artifact(artifacts.obj("encoder")),
                decoder = artifact(artifacts.obj("decoder")),
                encoderInputs = specs(io, "encoder_inputs"),
                encoderOutputs = specs(io, "encoder_outputs"),
                decoderInputs = specs(io, "decoder_inputs"),
                decoderOutputs = specs(io, "decoder_outputs"),
                maxPoints = io.int("max_points"),
                recipe = root.obj("recipe").str("name"),
                untrained = root.obj("model")["untrained"] == true
            )
            if (manifest.decoderInputs.map { it.name } != DECODER_INPUT_NAMES) {
                throw IllegalArgumentException("decoder inputs ${manifest.decoderInputs.map { it.name }}, expected $DECODER_INPUT_NAMES")
            }
            if (manifest.decoderOutputs.map { it.name } != DECODER_OUTPUT_NAMES) {
                throw IllegalArgumentException("decoder outputs ${manifest.decoderOutputs.map { it.name }}, expected $DECODER_OUTPUT_NAMES")
            }
            return manifest
        }

        private fun artifact(entry: Map<String, Any?>): Artifact {
            val bytes = entry["bytes"] as? Double ?: throw IllegalArgumentException("'bytes' must be a number")
            return Artifact(entry.str("file"), entry.str("sha256"), bytes.toLong())
        }

        private fun specs(io: Map<String, Any?>, key: String): List<TensorSpec> = io.list(key).map { item ->
            @Suppress("UNCHECKED_CAST")
            val spec = item as? Map<String, Any?> ?: throw IllegalArgumentException("'$key' entries must be objects")
            val shape = spec.list("shape").map { (it as? Double)?.toInt() ?: throw IllegalArgumentException("bad shape in '$key'") }
            TensorSpec(spec.str("name"), shape, spec.str("dtype"))
        }
    }
}
