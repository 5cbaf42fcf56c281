package dev.tinysam.demo.runtime

import dev.tinysam.core.BundleManifest
import dev.tinysam.core.DecoderOutput
import dev.tinysam.core.PackedPrompt
import dev.tinysam.core.TensorSpec
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.tensorflow.lite.Interpreter

/** `encoder.tflite` / `decoder.tflite` in the LiteRT interpreter, called by signature and name. */
class LiteRtRuntime(encoder: File, decoder: File, private val manifest: BundleManifest, threads: Int) : SegmentRuntime {
    override val name = "LiteRT"

    private val encoderInterpreter = Interpreter(encoder, Interpreter.Options().setNumThreads(threads))
    private val decoderInterpreter = Interpreter(decoder, Interpreter.Options().setNumThreads(threads))

    override fun encode(image: FloatArray): FloatArray {
        val outputs = run(encoderInterpreter, manifest.encoderInputs, listOf(image), manifest.encoderOutputs)
        return outputs[0]
    }

    override fun decode(embeddings: FloatArray, prompt: PackedPrompt, maskInput: FloatArray?): DecoderOutput {
        val values = decoderInputs(embeddings, prompt, maskInput, manifest.decoderInputs[3].elementCount)
        val outputs = run(decoderInterpreter, manifest.decoderInputs, values, manifest.decoderOutputs)
        return DecoderOutput(outputs[0], outputs[1])
    }

    private fun run(interpreter: Interpreter, inputSpecs: List<TensorSpec>, values: List<FloatArray>, outputSpecs: List<TensorSpec>): List<FloatArray> {
        val inputs = HashMap<String, Any>()
        inputSpecs.forEachIndexed { i, spec -> inputs[spec.name] = buffer(values[i]) }
        val buffers = outputSpecs.map { ByteBuffer.allocateDirect(4 * it.elementCount).order(ByteOrder.nativeOrder()) }
        val outputs = HashMap<String, Any>()
        outputSpecs.forEachIndexed { i, spec -> outputs[spec.name] = buffers[i] }
        interpreter.runSignature(inputs, outputs, SIGNATURE)
        return buffers.mapIndexed { i, buffer ->
            buffer.rewind()
            FloatArray(outputSpecs[i].elementCount).also { buffer.asFloatBuffer().get(it) }
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
