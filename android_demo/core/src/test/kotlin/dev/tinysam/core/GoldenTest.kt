package dev.tinysam.core

import java.io.File
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

    @Test
    fun manifestParsing() {
        val manifest = BundleManifest.parse(File(goldenDir, "manifest.json").readText())
        assertEquals("tflite", manifest.target)
        assertEquals("encoder.tflite", manifest.encoder.file)
        assertEquals(8, manifest.maxPoints)
        assertEquals(listOf(1, 8, 2), manifest.decoderInputs[1].shape)
        assertEquals("fp32", manifest.recipe)
        assertTrue(manifest.untrained)
    }

    @Test
    fun badManifestsNameTheProblem() {
        val text = File(goldenDir, "manifest.json").readText()
        val cases = mapOf(
            text.replace("\"schema_version\": 2", "\"schema_version\": 7") to "schema_version 7",
            text.replace("\"target\": \"tflite\"", "\"target\": \"onnx\"") to "unknown target 'onnx'",
            text.replace("\"point_labels\"", "\"labels\"") to "decoder inputs",
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
