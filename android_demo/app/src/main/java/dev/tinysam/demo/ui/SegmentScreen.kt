package dev.tinysam.demo.ui

import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.Canvas
import androidx.compose.foundation.gestures.detectDragGestures
import androidx.compose.foundation.gestures.detectTapGestures
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.BoxWithConstraints
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilterChip
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.geometry.Size
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.graphics.drawscope.Stroke
import androidx.compose.ui.input.pointer.pointerInput
import androidx.compose.ui.unit.IntOffset
import androidx.compose.ui.unit.IntSize
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import dev.tinysam.demo.BoxPrompt
import dev.tinysam.demo.SegmentViewModel
import dev.tinysam.demo.UiState

/** Photo, prompts and masks: tap = foreground point, long-press = background point, drag = box. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun SegmentScreen(model: SegmentViewModel = viewModel()) {
    val state by model.state.collectAsStateWithLifecycle()
    val pickPhoto = rememberLauncherForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri ->
        uri?.let { model.setPhoto(it) }
    }
    val takePhoto = rememberLauncherForActivityResult(ActivityResultContracts.TakePicturePreview()) { bitmap ->
        bitmap?.let { model.setPhoto(it) }
    }
    val pickBundle = rememberLauncherForActivityResult(ActivityResultContracts.OpenDocumentTree()) { uri ->
        uri?.let { model.pickBundle(it) }
    }
    val exportPng = rememberLauncherForActivityResult(ActivityResultContracts.CreateDocument("image/png")) { uri ->
        uri?.let { model.exportCutout(it) }
    }
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text("TinySAM") },
                actions = {
                    TextButton(onClick = {
                        pickPhoto.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
                    }) { Text("Photo") }
                    TextButton(onClick = { takePhoto.launch(null) }) { Text("Camera") }
                    TextButton(onClick = { pickBundle.launch(null) }) { Text("Bundle") }
                }
            )
        },
        bottomBar = {
            Controls(
                state = state,
                onSelect = model::select,
                onUndo = model::undo,
                onClear = model::clear,
                onEverything = model::everything,
                onExport = { exportPng.launch("tinysam-cutout.png") }
            )
        }
    ) { padding ->
        Box(Modifier.padding(padding).fillMaxSize(), contentAlignment = Alignment.Center) {
            if (state.photo == null) {
                Text("Pick a photo to start. Bundle: ${state.bundle}")
            } else {
                PhotoWithPrompts(
                    state = state,
                    onPoint = { x, y, foreground -> model.addPoint(x, y, foreground) },
                    onBox = model::setBox
                )
            }
        }
    }
    state.message?.let { message ->
        AlertDialog(
            onDismissRequest = model::dismissMessage,
            confirmButton = { TextButton(onClick = model::dismissMessage) { Text("OK") } },
            text = { Text(message) }
        )
    }
}

@Composable
private fun Controls(
    state: UiState,
    onSelect: (Int) -> Unit,
    onUndo: () -> Unit,
    onClear: () -> Unit,
    onEverything: () -> Unit,
    onExport: () -> Unit
) {
    Column(Modifier.fillMaxWidth().padding(8.dp)) {
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            state.candidates.forEachIndexed { i, candidate ->
                FilterChip(
                    selected = i == state.selected,
                    onClick = { onSelect(i) },
                    label = { Text("mask ${i + 1} · IoU ${"%.2f".format(candidate.iou)}") }
                )
            }
        }
        Row(horizontalArrangement = Arrangement.spacedBy(4.dp)) {
            TextButton(onClick = onUndo, enabled = !state.prompt.isEmpty) { Text("Undo") }
            TextButton(onClick = onClear, enabled = !state.prompt.isEmpty || state.overlay != null) { Text("Clear") }
            TextButton(onClick = onEverything, enabled = state.photo != null) {
                Text(if (state.busy?.startsWith("everything") == true) "Stop" else "Everything")
            }
            TextButton(onClick = onExport, enabled = state.candidates.isNotEmpty()) { Text("Export") }
        }
        val latency = listOfNotNull(
            state.encodeMs?.let { "encode $it ms" },
            state.decodeMs?.let { "decode $it ms" }
        ).joinToString(" · ")
        Text(listOfNotNull(state.busy, latency.ifEmpty { null }, state.bundle).joinToString("  |  "))
    }
}

/** Draws the photo fitted to the space, the mask overlay and the prompts; maps gestures to pixels. */
@Composable
private fun PhotoWithPrompts(state: UiState, onPoint: (Float, Float, Boolean) -> Unit, onBox: (BoxPrompt) -> Unit) {
    val photo = state.photo ?: return
    val image = remember(photo) { photo.asImageBitmap() }
    val overlay = remember(state.overlay) { state.overlay?.asImageBitmap() }
    var dragStart by remember { mutableStateOf<Offset?>(null) }
    var dragEnd by remember { mutableStateOf<Offset?>(null) }
    BoxWithConstraints(Modifier.fillMaxSize()) {
        val scale = minOf(constraints.maxWidth.toFloat() / photo.width, constraints.maxHeight.toFloat() / photo.height)
        val origin = Offset((constraints.maxWidth - photo.width * scale) / 2f, (constraints.maxHeight - photo.height * scale) / 2f)
        fun toPhoto(p: Offset): Offset? {
            val x = (p.x - origin.x) / scale
            val y = (p.y - origin.y) / scale
            return if (x in 0f..photo.width.toFloat() && y in 0f..photo.height.toFloat()) Offset(x, y) else null
        }
        fun toScreen(x: Float, y: Float) = Offset(origin.x + x * scale, origin.y + y * scale)
        Canvas(
            Modifier.fillMaxSize()
                .pointerInput(photo, scale) {
                    detectTapGestures(
                        onTap = { p -> toPhoto(p)?.let { onPoint(it.x, it.y, true) } },
                        onLongPress = { p -> toPhoto(p)?.let { onPoint(it.x, it.y, false) } }
                    )
                }
                .pointerInput(photo, scale) {
                    detectDragGestures(
                        onDragStart = { p -> dragStart = p; dragEnd = p },
                        onDrag = { change, amount ->
                            change.consume()
                            dragEnd = dragEnd?.plus(amount)
                        },
                        onDragEnd = {
                            val a = dragStart?.let { toPhoto(it) }
                            val b = dragEnd?.let { toPhoto(it) }
                            if (a != null && b != null && Math.abs(a.x - b.x) > 2f && Math.abs(a.y - b.y) > 2f) {
                                onBox(BoxPrompt(minOf(a.x, b.x), minOf(a.y, b.y), maxOf(a.x, b.x), maxOf(a.y, b.y)))
                            }
                            dragStart = null
                            dragEnd = null
                        },
                        onDragCancel = {
                            dragStart = null
                            dragEnd = null
                        }
                    )
                }
        ) {
            val dstOffset = IntOffset(origin.x.toInt(), origin.y.toInt())
            val dstSize = IntSize((photo.width * scale).toInt(), (photo.height * scale).toInt())
            drawImage(image, dstOffset = dstOffset, dstSize = dstSize)
            overlay?.let { drawImage(it, dstOffset = dstOffset, dstSize = dstSize) }
            state.prompt.box?.let { box ->
                val topLeft = toScreen(box.x0, box.y0)
                val bottomRight = toScreen(box.x1, box.y1)
                drawRect(Color.Yellow, topLeft, Size(bottomRight.x - topLeft.x, bottomRight.y - topLeft.y), style = Stroke(4f))
            }
            val start = dragStart
            val end = dragEnd
            if (start != null && end != null) {
                drawRect(Color.White, Offset(minOf(start.x, end.x), minOf(start.y, end.y)), Size(Math.abs(end.x - start.x), Math.abs(end.y - start.y)), style = Stroke(3f))
            }
            for (point in state.prompt.points) {
                val center = toScreen(point.x, point.y)
                drawCircle(Color.White, radius = 14f, center = center)
                drawCircle(if (point.foreground) Color(0xFF00C853) else Color(0xFFD50000), radius = 10f, center = center)
            }
        }
    }
}
