package dev.tinysam.demo

import android.content.Context
import android.net.Uri
import androidx.documentfile.provider.DocumentFile
import dev.tinysam.core.Artifact
import dev.tinysam.core.BundleManifest
import dev.tinysam.demo.runtime.ExecuTorchRuntime
import dev.tinysam.demo.runtime.LiteRtRuntime
import dev.tinysam.demo.runtime.SegmentRuntime
import java.io.File
import java.io.InputStream
import java.security.MessageDigest

/** A bundle opened on its runtime. */
class LoadedBundle(val manifest: BundleManifest, val runtime: SegmentRuntime)

/**
 * Opens a bundle (manifest.json + encoder + decoder, as written by `tinysam_mobile.convert`) from
 * the app's assets (`assets/bundle/`) or from a folder the user picked. Files are copied to app
 * storage (the runtimes load from paths), their sha256 is checked against the manifest, and the
 * manifest's target picks the runtime.
 */
object BundleLoader {
    const val ASSET_DIR = "bundle"
    private const val MANIFEST = "manifest.json"

    fun fromAssets(context: Context): LoadedBundle {
        val names = context.assets.list(ASSET_DIR)?.toSet() ?: emptySet()
        if (MANIFEST !in names) {
            throw IllegalStateException("no bundle in assets/$ASSET_DIR: copy a converted bundle there or pick a bundle folder")
        }
        return install(context) { name -> context.assets.open("$ASSET_DIR/$name") }
    }

    fun fromFolder(context: Context, tree: Uri): LoadedBundle {
        val folder = DocumentFile.fromTreeUri(context, tree) ?: throw IllegalArgumentException("cannot open $tree")
        return install(context) { name ->
            val file = folder.findFile(name) ?: throw IllegalStateException("the picked folder has no $name")
            context.contentResolver.openInputStream(file.uri) ?: throw IllegalStateException("cannot read $name")
        }
    }

    private fun install(context: Context, open: (String) -> InputStream): LoadedBundle {
        val manifest = BundleManifest.parse(open(MANIFEST).use { it.readBytes().toString(Charsets.UTF_8) })
        val dir = File(context.filesDir, "bundle").apply { mkdirs() }
        val encoder = copyVerified(open, manifest.encoder, dir)
        val decoder = copyVerified(open, manifest.decoder, dir)
        val threads = Runtime.getRuntime().availableProcessors().coerceIn(1, 4)
        val runtime = when (manifest.target) {
            "executorch" -> ExecuTorchRuntime(encoder, decoder, manifest)
            "tflite" -> LiteRtRuntime(encoder, decoder, manifest, threads)
            else -> throw IllegalStateException("a ${manifest.target} bundle does not run on Android; convert with --target executorch or tflite")
        }
        return LoadedBundle(manifest, runtime)
    }

    /** Copy one program next to its siblings unless an identical copy is there; check its hash. */
    private fun copyVerified(open: (String) -> InputStream, artifact: Artifact, dir: File): File {
        val target = File(dir, artifact.file)
        if (target.isFile && sha256(target.inputStream()) == artifact.sha256) return target
        val partial = File(dir, artifact.file + ".partial")
        open(artifact.file).use { input -> partial.outputStream().use { input.copyTo(it) } }
        val actual = sha256(partial.inputStream())
        if (actual != artifact.sha256) {
            partial.delete()
            throw IllegalStateException("${artifact.file} does not match its sha256 in manifest.json")
        }
        if (!partial.renameTo(target)) throw IllegalStateException("cannot write ${target.path}")
        return target
    }

    private fun sha256(stream: InputStream): String {
        val digest = MessageDigest.getInstance("SHA-256")
        stream.use { input ->
            val buffer = ByteArray(1 shl 16)
            while (true) {
                val n = input.read(buffer)
                if (n < 0) break
                digest.update(buffer, 0, n)
            }
        }
        return digest.digest().joinToString("") { "%02x".format(it) }
    }
}
