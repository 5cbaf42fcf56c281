package dev.tinysam.core

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.security.MessageDigest
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/** The Kotlin core against the JSON files in tests/golden, written by scripts/make_golden.py from the Python SDK. */
class GoldenTest {
    private val goldenDir = File(System.getProperty("golden.dir") ?: "../../tests/golden")

    @Suppress("UNCHECKED_CAST")
    private fun load(name: String): Any? = Json.parse(File(goldenDir, name).readText())

    @Suppress("UNCHECKED_CAST")
    private fun obj(value: Any?): Map<String, Any?> = value as Map<String, Any?>

    private fun doubles(value: Any?): DoubleArray = (value as List<*>).map { it as Double }.toDoubleArray()

    private fun ints(value: Any?): IntArray = (value as List<*>).map { (it as Double).toInt() }.toIntArray()

    private fun pairs(value: Any?): DoubleArray = (value as List<*>).flatMap { (it as List<*>).map { v -> v as Double } }.toDoubleArray()

    private fun int(value: Any?): Int = (value as Double).toInt()

    /** SHA-256 of float arrays as float32 little-endian bytes, one after the other (make_golden's `_sha256`). */
    private fun sha256(arrays: List<FloatArray>): String {
        val digest = MessageDigest.getInstance("SHA-256")
        for (values in arrays) {
            val bytes = ByteBuffer.allocate(4 * values.size).order(ByteOrder.LITTLE_ENDIAN)
            bytes.asFloatBuffer().put(values)
            digest.update(bytes.array())
        }
        return digest.digest().joinToString("") { "%02x".format(it) }
    }

    /** make_golden's mask_input pattern: `((7 x + 13 y + 31 seed) % 97 - 48) / 8`. */
    private fun maskInput(seed: Int): FloatArray {
        val side = Transforms.LOW_RES_SIZE
        return FloatArray(side * side) { k -> ((7 * (k % side) + 13 * (k / side) + 31 * seed) % 97 - 48) / 8f }
    }

    private fun assertClose(expected: DoubleArray, actual: DoubleArray, tolerance: Double, what: String) {
        assertEquals("$what: length", expected.size, actual.size)
        for (i in expected.indices) {
            if (Math.abs(expected[i] - actual[i]) > tolerance) fail("${what}[${i}]: expected ${expected[i]}, got ${actual[i]}")
        }
    }

    @Test
    fun preprocessShapes() {
        for (case in obj(load("transforms.json"))["preprocess_shape"] as List<*>) {
            val size = ints(obj(case)["size"])
            assertArrayEquals(ints(obj(case)["expected"]), Transforms.preprocessShape(size[0], size[1]))
        }
    }

    @Test
    fun coordinateAndBoxTransforms() {
        val vectors = obj(load("transforms.json"))
        for (case in vectors["transform_coords"] as List<*>) {
            val size = ints(obj(case)["size"])
            val actual = Transforms.transformCoords(pairs(obj(case)["points"]), size[0], size[1])
            assertClose(pairs(obj(case)["expected"]), actual, 1e-9, "coords ${size.toList()}")
        }
        for (case in vectors["transform_box"] as List<*>) {
            val size = ints(obj(case)["size"])
            val actual = Transforms.transformBox(doubles(obj(case)["box"]), size[0], size[1])
            assertClose(doubles(obj(case)["expected"]), actual, 1e-9, "box ${size.toList()}")
        }
    }

    @Test
    fun resizeMatchesPillowBitForBit() {
        for (case in obj(load("transforms.json"))["resize_bilinear"] as List<*>) {
            val size = ints(obj(case)["size"])
            val newSize = ints(obj(case)["new_size"])
            val rgb = ints(obj(case)["pixels_hwc"])
            val packed = IntArray(rgb.size / 3) { (rgb[3 * it] shl 16) or (rgb[3 * it + 1] shl 8) or rgb[3 * it + 2] }
            val resized = Resize.bilinearPacked(packed, size[0], size[1], newSize[0], newSize[1])
            val actual = IntArray(resized.size * 3) { (resized[it / 3] shr (16 - 8 * (it % 3))) and 0xFF }
            assertArrayEquals("resize ${size.toList()} -> ${newSize.toList()}", ints(obj(case)["expected_hwc"]), actual)
        }
    }

    @Test
    fun normalizeAndPad() {
        val case = obj(obj(load("transforms.json"))["normalize"])
        val h = (case["height"] as Double).toInt()
        val w = (case["width"] as Double).toInt()
        val out = Transforms.normalizeAndPad(ints(case["pixels_hwc"]), h, w)
        val expected = doubles(case["expected_chw"])
        val actual = DoubleArray(expected.size) { i ->
            val c = i / (h * w)
            val y = (i / w) % h
            val x = i % w
            out[(c * Transforms.IMG_SIZE + y) * Transforms.IMG_SIZE + x].toDouble()
        }
        assertClose(expected, actual, 1e-6, "normalized")
        var padSum = 0.0
        for (c in 0 until 3) for (y in 0 until Transforms.IMG_SIZE) for (x in 0 until Transforms.IMG_SIZE) {
            if (y >= h || x >= w) padSum += Math.abs(out[(c * Transforms.IMG_SIZE + y) * Transforms.IMG_SIZE + x].toDouble())
        }
        assertTrue(case["padding_is_zero"] == true && padSum == 0.0)
    }

    @Test
    fun promptPacking() {
        for (item in load("prompts.json") as List<*>) {
            val case = obj(item)
            val points = case["points"]?.let { pairs(it) }
            val labels = case["labels"]?.let { ints(it) }
            val box = case["box"]?.let { doubles(it) }
            val maxPoints = (case["max_points"] as Double).toInt()
            if (case.containsKey("error")) {
                try {
                    Prompts.pack(points, labels, box, maxPoints)
                    fail("expected an error for $case")
                } catch (expected: IllegalArgumentException) {
                    assertTrue(expected.message!!.contains("at most $maxPoints"))
                }
                continue
            }
            val packed = Prompts.pack(points, labels, box, maxPoints)
            assertClose(doubles(case["coords"]), packed.coords.map { it.toDouble() }.toDoubleArray(), 0.0, "coords")
            assertClose(doubles(case["packed_labels"]), packed.labels.map { it.toDouble() }.toDoubleArray(), 0.0, "labels")
        }
    }

    @Test
    fun decoderBatchesMatchDecoderFeeds() {
        val cases = obj(load("decoder_batches.json"))["cases"] as List<*>
        assertEquals(12, cases.size)
        for (item in cases) {
            val case = obj(item)
            val maxPoints = int(case["max_points"])
            val decoderBatch = int(case["decoder_batch"])
            val what = "N=$maxPoints B=$decoderBatch"
            val packed = try {
                (case["prompts"] as List<*>).map { p ->
                    val prompt = obj(p)
                    Prompts.pack(
                        prompt["points"]?.let { pairs(it) }, prompt["labels"]?.let { ints(it) }, prompt["box"]?.let { doubles(it) },
                        maxPoints, prompt["mask_seed"]?.let { maskInput(int(it)) }
                    )
                }
            } catch (error: IllegalArgumentException) {
                val slots = int(obj(case["error"] ?: throw error)["slots"])
                assertTrue("$what: ${error.message}", error.message!!.contains("prompt has $slots slots") && error.message!!.contains("at most $maxPoints"))
                continue
            }
            assertTrue("$what: expected an error", case["error"] == null)
            val calls = DecoderBatches.calls(packed, maxPoints, decoderBatch)
            val expected = case["calls"] as List<*>
            assertEquals("$what: calls", expected.size, calls.size)
            for ((call, e) in calls.zip(expected.map { obj(it) })) {
                assertEquals(what, int(e["batch"]), call.batch)
                val names = listOf("point_coords", "point_labels", "mask_input", "has_mask_input")
                for ((name, values) in names.zip(call.inputs)) {
                    if (name == "mask_input") {
                        assertEquals("$what: mask_input", e["mask_input_sha256"], sha256(listOf(values)))
                    } else {
                        assertArrayEquals("$what: $name", doubles(e[name]), values.map { it.toDouble() }.toDoubleArray(), 0.0)
                    }
                }
            }
        }
    }

    @Test
    fun decoderCallShapesAndOutputs() {
        val manifest = BundleManifest.parse(File(goldenDir, "manifest_executorch.json").readText())
        val prompts = List(3) { Prompts.pack(doubleArrayOf(it.toDouble(), 1.0), intArrayOf(1), null, manifest.maxPoints) }
        val call = DecoderBatches.calls(prompts, manifest.maxPoints, manifest.decoderBatch).single()
        assertEquals(
            listOf(manifest.decoderInputs[0].shape, listOf(3, 8, 2), listOf(3, 8), listOf(3, 1, 256, 256), listOf(3)),
            manifest.decoderInputs.map { call.shape(it) }
        )
        assertEquals(listOf(listOf(3, 3, 256, 256), listOf(3, 3)), manifest.decoderOutputs.map { call.shape(it) })
        val plane = 3 * 256 * 256
        val outputs = call.outputs(FloatArray(3 * plane) { (it / plane).toFloat() }, floatArrayOf(0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f))
        assertEquals(listOf(0f, 1f, 2f), outputs.map { it.lowRes[plane - 1] })
        assertEquals(listOf(3f, 4f, 5f), outputs[1].iou.toList())
        try {
            call.outputs(FloatArray(plane), FloatArray(3))
            fail("expected an error")
        } catch (expected: IllegalStateException) {
            assertTrue(expected.message!!, expected.message!!.contains("for 3 prompts"))
        }
        try {
            DecoderBatches.calls(prompts, 3, 1)
            fail("expected an error")
        } catch (expected: IllegalArgumentException) {
            assertTrue(expected.message!!, expected.message!!.contains("prompt 0 has 8 slots but the decoder takes 3"))
        }
    }

    @Test
    fun maskUpscalingAndThreshold() {
        val low = FloatArray(Transforms.LOW_RES_SIZE * Transforms.LOW_RES_SIZE) { k ->
            val i = (k / Transforms.LOW_RES_SIZE).toDouble()
            val j = (k % Transforms.LOW_RES_SIZE).toDouble()
            (8 * Math.sin(0.11 * i + 0.3) * Math.cos(0.07 * j) + 2 * Math.sin(0.05 * (i + j)) - 1).toFloat()
        }
        for (item in load("masks.json") as List<*>) {
            val case = obj(item)
            val size = ints(case["size"])
            val logits = MaskPost.upscaleLogits(low, size[0], size[1])
            val expected = doubles(case["logits"])
            assertClose(expected, logits.map { it.toDouble() }.toDoubleArray(), 1e-5, "logits ${size.toList()}")
            val mask = MaskPost.threshold(logits)
            val bits = case["mask"] as String
            for (k in mask.indices) {
                if (Math.abs(expected[k]) > 1e-4) assertEquals("mask[${k}]", bits[k] == '1', mask[k])
            }
        }
    }

    @Test
    fun pointGridsStabilityAndNms() {
        val vectors = obj(load("everything.json"))
        for ((n, grid) in obj(vectors["point_grid"])) {
            assertClose(doubles(grid), Everything.pointGrid(n.toInt()), 0.0, "grid $n")
        }
        val stability = obj(vectors["stability"])
        val shape = ints(stability["shape"])
        val logits = doubles(stability["logits"])
        val expected = doubles(stability["expected"])
        val per = shape[1] * shape[2]
        for (k in 0 until shape[0]) {
            val mask = FloatArray(per) { logits[k * per + it].toFloat() }
            assertEquals("stability $k", expected[k], Everything.stabilityScore(mask), 1e-12)
        }
        for (item in vectors["nms"] as List<*>) {
            val case = obj(item)
            val boxes = (case["boxes"] as List<*>).map { doubles(it) }
            val kept = Everything.nms(boxes, ints(case["order"]), case["threshold"] as Double)
            assertArrayEquals("nms at ${case["threshold"]}", ints(case["kept"]), kept)
        }
    }

    @Test
    fun hierarchicalSkipDecisionsOnOracleScene() {
        val case = obj(obj(load("everything.json"))["hierarchical_skip"])
        val size = ints(case["size"])
        val map = obj(case["high_map"])
        val bits = map["bits"] as String
        val high = BooleanArray(bits.length) { bits[it] == '1' }
        val decoded = Everything.roundTwoPoints(
            high, (map["rows"] as Double).toInt(), (map["cols"] as Double).toInt(), size[0], size[1],
            (case["points_per_side"] as Double).toInt()
        )
        assertArrayEquals(ints(case["decoded_in_round_two"]), decoded)
    }

    /** Answers the sparse round with the golden high map as one mask, the dense round with clutter; records the calls. */
    private class HighMapDecoder(
        override val maxBatch: Int,
        private val high: BooleanArray,
        private val rows: Int,
        private val cols: Int,
        private val sparsePrompts: Int
    ) : PromptDecoder {
        val calls = ArrayList<DecoderCall>()
        private var decoded = 0

        override fun decode(prompts: List<PackedPrompt>): List<DecoderOutput> {
            calls.addAll(DecoderBatches.calls(prompts, prompts[0].labels.size, maxBatch))
            val side = Transforms.LOW_RES_SIZE
            return prompts.map {
                val sparse = decoded++ < sparsePrompts
                val lowRes = FloatArray(3 * side * side) { k ->
                    val y = (k / side) % side
                    val x = k % side
                    if (sparse && y < rows && x < cols && high[y * cols + x]) 16f else -16f
                }
                DecoderOutput(lowRes, if (sparse) floatArrayOf(0.3f, 0.96f, 0.3f) else floatArrayOf(0.3f, 0.3f, 0.3f))
            }
        }
    }

    @Test
    fun batchedEverythingSendsPythonsDecoderCalls() {
        val vectors = obj(load("everything.json"))
        val skip = obj(vectors["hierarchical_skip"])
        val size = ints(skip["size"])
        val map = obj(skip["high_map"])
        val bits = map["bits"] as String
        val high = BooleanArray(bits.length) { bits[it] == '1' }
        assertEquals(3, (vectors["batched_decoding"] as List<*>).size)
        for (item in vectors["batched_decoding"] as List<*>) {
            val case = obj(item)
            val rounds = (case["rounds"] as List<*>).map { obj(it) }
            val decoder = HighMapDecoder(int(case["decoder_batch"]), high, int(map["rows"]), int(map["cols"]), 64)
            val progress = ArrayList<List<Int>>()
            AutoMaskGenerator(decoder, size[0], size[1], int(case["max_points"]))
                .generate(progress = { done, total -> progress.add(listOf(done, total)) })
            val what = "decoder_batch ${int(case["decoder_batch"])}"
            val expectedCalls = rounds.flatMap { r -> ints(r["calls"]).toList() }
            assertEquals(what, expectedCalls, decoder.calls.map { it.batch })
            var done = 0
            val expectedProgress = rounds.flatMap { r -> ints(r["calls"]).map { done += it; listOf(done, int(r["progress_total"])) } }
            assertEquals(what, expectedProgress, progress)
            assertEquals(what, case["point_coords_sha256"], sha256(decoder.calls.map { it.inputs[0] }))
            assertEquals(what, case["point_labels_sha256"], sha256(decoder.calls.map { it.inputs[1] }))
        }
    }

    @Test
    fun manifestParsing() {
        val manifest = BundleManifest.parse(File(goldenDir, "manifest.json").readText())
        assertEquals("tflite", manifest.target)
        assertEquals("encoder.tflite", manifest.encoder.file)
        assertEquals(8, manifest.maxPoints)
        assertEquals(1, manifest.decoderBatch)
        assertEquals(listOf(1, 8, 2), manifest.decoderInputs[1].shape)
        assertEquals("fp32", manifest.recipe)
        assertTrue(manifest.untrained)
        val executorch = BundleManifest.parse(File(goldenDir, "manifest_executorch.json").readText())
        assertEquals(64, executorch.decoderBatch)
        assertEquals(listOf(64, 8, 2), executorch.decoderInputs[1].shape)
    }

    @Test
    fun badManifestsNameTheProblem() {
        val text = File(goldenDir, "manifest.json").readText()
        val cases = mapOf(
            text.replace("\"schema_version\": 2", "\"schema_version\": 7") to "schema_version 7",
            text.replace("\"target\": \"tflite\"", "\"target\": \"onnx\"") to "unknown target 'onnx'",
            text.replace("\"point_labels\"", "\"labels\"") to "decoder inputs",
            text.replace("\"decoder_batch\": 1", "\"decoder_batch\": 0") to "io.decoder_batch must be at least 1, got 0",
            text.replace("\"decoder_batch\": 1", "\"prompt_batch\": 1") to "io.decoder_batch is missing",
            text.replace("\"decoder_batch\": 1", "\"decoder_batch\": 4") to "point_coords has shape [1, 8, 2], expected [4, 8, 2]",
            text.replace("\"max_points\": 8", "\"max_points\": 6") to "point_coords has shape [1, 8, 2], expected [1, 6, 2]",
            text.replace("\"unused\": -2", "\"unused\": -1") to "prompt_labels.unused is -1.0, this app packs -2.0",
            text.replace("\"unused\": -2", "\"padding\": -2") to "prompt_labels.unused is missing",
            "[1, 2" to "invalid JSON"
        )
        for ((bad, message) in cases) {
            try {
                BundleManifest.parse(bad)
                fail("expected an error containing '$message'")
            } catch (expected: IllegalArgumentException) {
                assertTrue("'${expected.message}' should mention '$message'", expected.message!!.contains(message))
            }
        }
    }
}
