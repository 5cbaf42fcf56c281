package dev.tinysam.demo.runtime

import dev.tinysam.core.BundleManifest
import dev.tinysam.core.DecoderBatches
import dev.tinysam.core.DecoderOutput
import dev.tinysam.core.PackedPrompt
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.tensorflow.lite.Interpreter

/**
 * `encoder.tflite` / `decoder.tflite` in the LiteRT interpreter, called by signature and name.
 * LiteRT decoders have fixed shapes and take one prompt per call (`decoder_batch` 1).
 */
class LiteRtRuntime(encoder: File, decoder: File, private val manifest: BundleManifest, threads: Int) : SegmentRuntime {
    override val name = "LiteRT"

    init {
        // Buffers carry no shape, so the interpreter cannot be resized to a shorter last call.
        require(manifest.decoderBatch == 1) {
            "this app runs LiteRT decoders one prompt per call, but the bundle's io.decoder_batch is ${manifest.decoderBatch}"
        }
    }

    private val encoderInterpreter = Interpreter(encoder, Interpreter.Options().setNumThreads(threads))
    private val decoderInterpreter = Interpreter(decoder, Interpreter.Options().setNumThreads(threads))

    override fun encode(image: FloatArray): FloatArray {
        val spec = manifest.encoderInputs[0]
        val output = manifest.encoderOutputs[0]
        return run(encoderInterpreter, mapOf(spec.name to image), listOf(output.name to output.elementCount))[0]
    }

    override fun decode(embeddings: FloatArray, prompts: List<PackedPrompt>): List<DecoderOutput> {
        val names = manifest.decoderInputs.map { it.name }
        return DecoderBatches.calls(prompts, manifest.maxPoints, manifest.decoderBatch).flatMap { call ->
            val inputs = names.zip(listOf(embeddings) + call.inputs).toMap()
            val outputs = manifest.decoderOutputs.map { it.name to call.shape(it).fold(1) { n, d -> n * d } }
            val values = run(decoderInterpreter, inputs, outputs)
            call.outputs(values[0], values[1])
        }
    }

    /** One signature call: inputs by name -> the named outputs of the given element counts, in order. */
    private fun run(interpreter: Interpreter, inputs: Map<String, FloatArray>, outputs: List<Pair<String, Int>>): List<FloatArray> {
        val inputBuffers = HashMap<String, Any>()
        for ((name, values) in inputs) inputBuffers[name] = buffer(values)
        val buffers = outputs.map { (_, count) -> ByteBuffer.allocateDirect(4 * count).order(ByteOrder.nativeOrder()) }
        val outputBuffers = HashMap<String, Any>()
        outputs.forEachIndexed { i, (name, _) -> outputBuffers[name] = buffers[i] }
        interpreter.runSignature(inputBuffers, outputBuffers, SIGNATURE)
        return buffers.mapIndexed { i, buffer ->
            buffer.rewind()
            FloatArray(outputs[i].second).also { buffer.asFloatBuffer().get(it) }
        }
    }

    private fun buffer(values: FloatArray): ByteBuffer =
        ByteBuffer.allocateDirect(4 * values.size).order(ByteOrder.nativeOrder()).also {
            it.asFloatBuffer().put(values)
            it.rewind()
        }

    override fun close() {
        encoderInterpreter.close()
        decoderInterpreter.close()
    }

    companion object {
        const val SIGNATURE = "serving_default"
    }
}
