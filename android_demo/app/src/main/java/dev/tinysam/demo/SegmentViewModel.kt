package dev.tinysam.demo

import android.app.Application
import android.graphics.Bitmap
import android.net.Uri
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import dev.tinysam.core.AutoMaskGenerator
import dev.tinysam.core.DecoderOutput
import dev.tinysam.core.MaskPost
import dev.tinysam.core.PackedPrompt
import dev.tinysam.core.PromptDecoder
import dev.tinysam.core.Prompts
import dev.tinysam.core.Transforms
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock

/** A point prompt in original image pixels. */
data class PointPrompt(val x: Float, val y: Float, val foreground: Boolean)

/** A box prompt in original image pixels (x0 < x1, y0 < y1). */
data class BoxPrompt(val x0: Float, val y0: Float, val x1: Float, val y1: Float)

data class PromptState(val points: List<PointPrompt> = emptyList(), val box: BoxPrompt? = null) {
    val isEmpty: Boolean get() = points.isEmpty() && box == null
}

/** One of the decoder's three candidate masks at the photo's size. */
class Candidate(val mask: BooleanArray, val iou: Float)

data class UiState(
    val bundle: String = "no bundle loaded",
    val photo: Bitmap? = null,
    val busy: String? = null,
    val prompt: PromptState = PromptState(),
    val candidates: List<Candidate> = emptyList(),
    val selected: Int = 0,
    val overlay: Bitmap? = null,
    val encodeMs: Long? = null,
    val decodeMs: Long? = null,
    val message: String? = null
)

/**
 * Encodes a photo once, then decodes every prompt change. All model work runs on
 * [Dispatchers.Default]; a new prompt cancels a decode that is still waiting or running, and a
 * mutex keeps one runtime call at a time.
 */
class SegmentViewModel(application: Application) : AndroidViewModel(application) {
    private val _state = MutableStateFlow(UiState())
    val state: StateFlow<UiState> = _state.asStateFlow()

    private var bundle: LoadedBundle? = null
    private var embeddings: FloatArray? = null
    private val runtimeLock = Mutex()
    private val history = ArrayDeque<PromptState>()
    private var encodeJob: Job? = null
    private var decodeJob: Job? = null
    private var everythingJob: Job? = null

    init {
        loadBundle { BundleLoader.fromAssets(getApplication()) }
    }

    fun pickBundle(folder: Uri) = loadBundle { BundleLoader.fromFolder(getApplication(), folder) }

    private fun loadBundle(open: () -> LoadedBundle) {
        viewModelScope.launch(Dispatchers.IO) {
            _state.update { it.copy(busy = "loading bundle") }
            try {
                val loaded = open()
                runtimeLock.withLock {
                    bundle?.runtime?.close()
                    bundle = loaded
                    embeddings = null
                }
                val m = loaded.manifest
                val note = if (m.untrained) " (untrained weights)" else ""
                _state.update { it.copy(bundle = "${loaded.runtime.name} · ${m.recipe} · N=${m.maxPoints} · B≤${m.decoderBatch}$note", busy = null) }
                _state.value.photo?.let { encode(it) }
            } catch (e: Exception) {
                _state.update { it.copy(busy = null, message = e.message ?: e.toString()) }
            }
        }
    }

    fun setPhoto(uri: Uri) {
        viewModelScope.launch(Dispatchers.IO) {
            try {
                encode(ImageOps.load(getApplication(), uri))
            } catch (e: Exception) {
                _state.update { it.copy(message = "cannot open the photo: ${e.message}") }
            }
        }
    }

    fun setPhoto(bitmap: Bitmap) = encode(bitmap.copy(Bitmap.Config.ARGB_8888, false))

    private fun encode(photo: Bitmap) {
        encodeJob?.cancel()
        decodeJob?.cancel()
        everythingJob?.cancel()
        history.clear()
        embeddings = null
        _state.update { it.copy(photo = photo, prompt = PromptState(), candidates = emptyList(), overlay = null, busy = "encoding") }
        encodeJob = viewModelScope.launch(Dispatchers.Default) {
            val loaded = bundle ?: return@launch _state.update { it.copy(busy = null, message = "load a bundle first") }
            val prepared = ImageOps.prepare(photo)
            val start = System.nanoTime()
            val result = runtimeLock.withLock { loaded.runtime.encode(prepared.input) }
            ensureActive()
            embeddings = result
            _state.update { it.copy(busy = null, encodeMs = (System.nanoTime() - start) / 1_000_000) }
            if (!_state.value.prompt.isEmpty) decode()
        }
    }

    fun addPoint(x: Float, y: Float, foreground: Boolean) =
        changePrompt(_state.value.prompt.let { it.copy(points = it.points + PointPrompt(x, y, foreground)) })

    fun setBox(box: BoxPrompt) = changePrompt(_state.value.prompt.copy(box = box))

    fun undo() {
        if (history.isEmpty()) return
        _state.update { it.copy(prompt = history.removeLast()) }
        decode()
    }

    fun clear() {
        everythingJob?.cancel()
        changePrompt(PromptState())
    }

    fun select(index: Int) {
        val s = _state.value
        if (index !in s.candidates.indices) return
        _state.update { it.copy(selected = index, overlay = maskOverlay(s.candidates[index].mask, s.photo)) }
    }

    fun dismissMessage() = _state.update { it.copy(message = null) }

    private fun changePrompt(prompt: PromptState) {
        history.addLast(_state.value.prompt)
        _state.update { it.copy(prompt = prompt) }
        decode()
    }

    /** Decode the current prompt, replacing any decode still in flight. */
    private fun decode() {
        decodeJob?.cancel()
        everythingJob?.cancel()
        val s = _state.value
        val photo = s.photo ?: return
        if (s.prompt.isEmpty) {
            _state.update { it.copy(candidates = emptyList(), overlay = null, decodeMs = null) }
            return
        }
        decodeJob = viewModelScope.launch(Dispatchers.Default) {
            val loaded = bundle ?: return@launch
            val features = embeddings ?: return@launch
            val packed = try {
                pack(s.prompt, photo, loaded.manifest.maxPoints)
            } catch (e: IllegalArgumentException) {
                history.removeLastOrNull()?.let { previous -> _state.update { it.copy(prompt = previous) } }
                return@launch _state.update { it.copy(message = e.message) }
            }
            val start = System.nanoTime()
            val output = runtimeLock.withLock {
                ensureActive()
                loaded.runtime.decode(features, listOf(packed)).single()
            }
            ensureActive()
            val elapsed = (System.nanoTime() - start) / 1_000_000
            val candidates = candidates(output, photo)
            val best = candidates.indices.maxByOrNull { candidates[it].iou } ?: 0
            ensureActive()
            _state.update {
                it.copy(candidates = candidates, selected = best, overlay = maskOverlay(candidates[best].mask, photo), decodeMs = elapsed)
            }
        }
    }

    private fun pack(prompt: PromptState, photo: Bitmap, maxPoints: Int): PackedPrompt {
        val h = photo.height
        val w = photo.width
        val points = if (prompt.points.isEmpty()) null else Transforms.transformCoords(
            DoubleArray(prompt.points.size * 2) { i -> prompt.points[i / 2].let { p -> if (i % 2 == 0) p.x.toDouble() else p.y.toDouble() } },
            h, w
        )
        val labels = if (prompt.points.isEmpty()) null else IntArray(prompt.points.size) { if (prompt.points[it].foreground) 1 else 0 }
        val box = prompt.box?.let { Transforms.transformBox(doubleArrayOf(it.x0.toDouble(), it.y0.toDouble(), it.x1.toDouble(), it.y1.toDouble()), h, w) }
        return Prompts.pack(points, labels, box, maxPoints)
    }

    private fun candidates(output: DecoderOutput, photo: Bitmap): List<Candidate> {
        val plane = Transforms.LOW_RES_SIZE * Transforms.LOW_RES_SIZE
        return output.iou.indices.map { k ->
            val logits = MaskPost.upscaleLogits(output.lowRes.copyOfRange(k * plane, (k + 1) * plane), photo.height, photo.width)
            Candidate(MaskPost.threshold(logits), output.iou[k])
        }
    }

    private fun maskOverlay(mask: BooleanArray, photo: Bitmap?): Bitmap? =
        photo?.let { ImageOps.overlay(listOf(mask), listOf(MASK_COLOR), it.width, it.height) }

    /** Segment everything with TinySAM's hierarchical strategy; tapping again cancels it. */
    fun everything() {
        if (everythingJob?.isActive == true) {
            everythingJob?.cancel()
            return
        }
        decodeJob?.cancel()
        val photo = _state.value.photo ?: return
        everythingJob = viewModelScope.launch(Dispatchers.Default) {
            val loaded = bundle ?: return@launch
            val features = embeddings ?: return@launch
            val job = coroutineContext[Job]
            val decoder = object : PromptDecoder {
                override val maxBatch = loaded.manifest.decoderBatch
                override fun decode(prompts: List<PackedPrompt>): List<DecoderOutput> = loaded.runtime.decode(features, prompts)
            }
            val generator = AutoMaskGenerator(decoder, photo.height, photo.width, loaded.manifest.maxPoints)
            val start = System.nanoTime()
            try {
                val masks = runtimeLock.withLock {
                    generator.generate(
                        progress = { done, total -> _state.update { it.copy(busy = "everything $done/$total") } },
                        isCancelled = { job?.isActive != true }
                    )
                }
                ensureActive()
                val full = masks.map { MaskPost.threshold(MaskPost.upscaleLogits(it.lowRes, photo.height, photo.width)) }
                val colors = full.indices.map { PALETTE[it % PALETTE.size] }
                val overlay = ImageOps.overlay(full, colors, photo.width, photo.height)
                val seconds = (System.nanoTime() - start) / 1e9
                _state.update {
                    it.copy(
                        busy = null, candidates = emptyList(), overlay = overlay,
                        message = "${masks.size} masks from ${generator.promptsDecoded} prompts in ${"%.1f".format(seconds)} s"
                    )
                }
            } catch (e: CancellationException) {
                _state.update { it.copy(busy = null) }
                throw e
            }
        }
    }

    /** Write the selected mask's cut-out (PNG with alpha) to [target]. */
    fun exportCutout(target: Uri) {
        val s = _state.value
        val photo = s.photo ?: return
        val candidate = s.candidates.getOrNull(s.selected) ?: return _state.update { it.copy(message = "segment something first") }
        viewModelScope.launch(Dispatchers.IO) {
            try {
                ImageOps.writePng(getApplication(), ImageOps.cutout(photo, candidate.mask), target)
                _state.update { it.copy(message = "cut-out saved") }
            } catch (e: Exception) {
                _state.update { it.copy(message = "export failed: ${e.message}") }
            }
        }
    }

    override fun onCleared() {
        bundle?.runtime?.close()
    }

    companion object {
        const val MASK_COLOR = 0x8C1E90FF.toInt()
        val PALETTE = listOf(0x8CE6194B, 0x8C3CB44B, 0x8CFFE119, 0x8C4363D8, 0x8CF58231, 0x8C911EB4, 0x8C46F0F0, 0x8CF032E6)
            .map { it.toInt() }
    }
}
