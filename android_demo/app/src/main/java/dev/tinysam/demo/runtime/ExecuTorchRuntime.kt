package dev.tinysam.demo.runtime

import dev.tinysam.core.BundleManifest
import dev.tinysam.core.DecoderOutput
import dev.tinysam.core.PackedPrompt
import java.io.File
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor

/** `encoder.pte` / `decoder.pte` through the ExecuTorch Android `Module` API (XNNPACK delegate). */
class ExecuTorchRuntime(encoder: File, decoder: File, private val manifest: BundleManifest) : SegmentRuntime {
    override val name = "ExecuTorch"

    private val encoderModule = Module.load(encoder.absolutePath)
    private val decoderModule = Module.load(decoder.absolutePath)

    override fun encode(image: FloatArray): FloatArray {
        val spec = manifest.encoderInputs[0]
        val output = encoderModule.forward(EValue.from(Tensor.fromBlob(image, shape(spec.shape))))
        return output[0].toTensor().dataAsFloatArray
    }

    override fun decode(embeddings: FloatArray, prompt: PackedPrompt, maskInput: FloatArray?): DecoderOutput {
        val maskSpec = manifest.decoderInputs[3]
        val values = decoderInputs(embeddings, prompt, maskInput, maskSpec.elementCount)
        val inputs = manifest.decoderInputs.mapIndexed { i, spec ->
            EValue.from(Tensor.fromBlob(values[i], shape(spec.shape)))
        }
        val output = decoderModule.forward(*inputs.toTypedArray())
        return DecoderOutput(output[0].toTensor().dataAsFloatArray, output[1].toTensor().dataAsFloatArray)
    }

    override fun close() {
        encoderModule.destroy()
        decoderModule.destroy()
    }

    private fun shape(dims: List<Int>): LongArray = LongArray(dims.size) { dims[it].toLong() }
}
