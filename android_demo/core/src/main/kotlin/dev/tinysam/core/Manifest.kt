package dev.tinysam.core

/** One named program input or output of the I/O contract. */
data class TensorSpec(val name: String, val shape: List<Int>, val dtype: String) {
    val elementCount: Int get() = shape.fold(1) { acc, d -> acc * d }
}

/** A program file of the bundle with its integrity data. */
data class Artifact(val file: String, val sha256: String, val bytes: Long)

/**
 * The bundle contract written by `python -m tinysam_mobile.convert` (manifest.json, schema 2):
 * which runtime runs it, the two program files and their I/O names, shapes and dtypes, the slots
 * per prompt ([maxPoints], N) and the most prompts per decoder call ([decoderBatch], B; the
 * decoder takes any count from 1 to it, and its shapes are listed with B = [decoderBatch]).
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
    val decoderBatch: Int,
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
                decoderBatch = decoderBatch(io),
                recipe = root.obj("recipe").str("name"),
                untrained = root.obj("model")["untrained"] == true
            )
            if (manifest.decoderInputs.map { it.name } != DECODER_INPUT_NAMES) {
                throw IllegalArgumentException("decoder inputs ${manifest.decoderInputs.map { it.name }}, expected $DECODER_INPUT_NAMES")
            }
            if (manifest.decoderOutputs.map { it.name } != DECODER_OUTPUT_NAMES) {
                throw IllegalArgumentException("decoder outputs ${manifest.decoderOutputs.map { it.name }}, expected $DECODER_OUTPUT_NAMES")
            }
            if (manifest.maxPoints < 1) throw IllegalArgumentException("io.max_points must be at least 1, got ${manifest.maxPoints}")
            checkDecoderShapes(manifest)
            checkPromptLabels(root.obj("prompt_labels"))
            return manifest
        }

        private fun decoderBatch(io: Map<String, Any?>): Int {
            if ("decoder_batch" !in io) {
                throw IllegalArgumentException(
                    "io.decoder_batch is missing (schema 2 manifests declare the most prompts per decoder call): " +
                        "rebuild the bundle with python -m tinysam_mobile.convert"
                )
            }
            val batch = io.int("decoder_batch")
            if (batch < 1) throw IllegalArgumentException("io.decoder_batch must be at least 1, got $batch")
            return batch
        }

        /** The decoder's shapes must be the contract's for B = decoder_batch and N = max_points. */
        private fun checkDecoderShapes(m: BundleManifest) {
            val b = m.decoderBatch
            val low = Transforms.LOW_RES_SIZE
            val embeddings = m.decoderInputs[0].shape
            if (embeddings.size != 4 || embeddings[0] != 1) {
                throw IllegalArgumentException("io: decoder image_embeddings has shape $embeddings, expected [1, C, H, W]")
            }
            val expected = listOf(
                listOf(b, m.maxPoints, 2), listOf(b, m.maxPoints), listOf(b, 1, low, low), listOf(b),
                listOf(b, DecoderBatches.MASKS, low, low), listOf(b, DecoderBatches.MASKS)
            )
            val specs = m.decoderInputs.drop(1) + m.decoderOutputs
            for ((spec, shape) in specs.zip(expected)) {
                if (spec.shape != shape) {
                    throw IllegalArgumentException(
                        "io: decoder ${spec.name} has shape ${spec.shape}, expected $shape " +
                            "(io.decoder_batch ${m.decoderBatch}, io.max_points ${m.maxPoints})"
                    )
                }
            }
        }

        /** The manifest's labels must be the ones [Prompts] packs (schema 2: unused slots -2). */
        private fun checkPromptLabels(labels: Map<String, Any?>) {
            for ((name, value) in Prompts.MANIFEST_LABELS) {
                val found = labels[name] as? Double
                    ?: throw IllegalArgumentException("prompt_labels.$name is missing or not a number (schema 2 labels: ${Prompts.MANIFEST_LABELS})")
                if (found != value.toDouble()) {
                    throw IllegalArgumentException("prompt_labels.$name is $found, this app packs $value")
                }
            }
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
