package dev.tinysam.demo.runtime

import dev.tinysam.core.BundleManifest
import dev.tinysam.core.DecoderBatches
import dev.tinysam.core.DecoderOutput
import dev.tinysam.core.PackedPrompt
import java.io.File
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor

/**
 * `encoder.pte` / `decoder.pte` through the ExecuTorch Android `Module` API (XNNPACK delegate).
 * The decoder's first axis is dynamic: each call takes 1 to `decoder_batch` prompts.
 */
class ExecuTorchRuntime(encoder: File, decoder: File, private val manifest: BundleManifest) : SegmentRuntime {
    override val name = "ExecuTorch"

    private val encoderModule = Module.load(encoder.absolutePath)
    private val decoderModule = Module.load(decoder.absolutePath)

    override fun encode(image: FloatArray): FloatArray {
        val spec = manifest.encoderInputs[0]
        val output = encoderModule.forward(EValue.from(Tensor.fromBlob(image, shape(spec.shape))))
        return output[0].toTensor().dataAsFloatArray
    }

    override fun decode(embeddings: FloatArray, prompts: List<PackedPrompt>): List<DecoderOutput> {
        val specs = manifest.decoderInputs
        val shared = EValue.from(Tensor.fromBlob(embeddings, shape(specs[0].shape)))
        return DecoderBatches.calls(prompts, manifest.maxPoints, manifest.decoderBatch).flatMap { call ->
            val inputs = listOf(shared) + call.inputs.mapIndexed { i, values ->
                EValue.from(Tensor.fromBlob(values, shape(call.shape(specs[i + 1]))))
            }
            val output = decoderModule.forward(*inputs.toTypedArray())
            call.outputs(output[0].toTensor().dataAsFloatArray, output[1].toTensor().dataAsFloatArray)
        }
    }

    override fun close() {
        encoderModule.destroy()
        decoderModule.destroy()
    }

    private fun shape(dims: List<Int>): LongArray = LongArray(dims.size) { dims[it].toLong() }
}
