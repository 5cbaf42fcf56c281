package dev.tinysam.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.ImageDecoder
import android.graphics.Matrix
import android.net.Uri
import android.os.Build
import androidx.exifinterface.media.ExifInterface
import dev.tinysam.core.Resize
import dev.tinysam.core.Transforms

/** An encoder input made from a photo, with the sizes the post-processing needs. */
class PreparedImage(val input: FloatArray, val height: Int, val width: Int)

/** Bitmap work: loading photos upright, the encoder input, mask overlays and cut-outs. */
object ImageOps {
    /** Longest side decoded; larger photos are downsampled on load (pre-processing starts there). */
    const val MAX_SIDE = 4096

    fun load(context: Context, uri: Uri): Bitmap {
        val bitmap = if (Build.VERSION.SDK_INT >= 28) {
            val source = ImageDecoder.createSource(context.contentResolver, uri)
            ImageDecoder.decodeBitmap(source) { decoder, info, _ ->
                val side = Math.max(info.size.width, info.size.height)
                if (side > MAX_SIDE) {
                    val scale = MAX_SIDE.toDouble() / side
                    decoder.setTargetSize((info.size.width * scale).toInt(), (info.size.height * scale).toInt())
                }
                decoder.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
            }
        } else {
            loadLegacy(context, uri)
        }
        return bitmap.copy(Bitmap.Config.ARGB_8888, false)
    }

    /** API 26-27: BitmapFactory with subsampling, rotated by the EXIF orientation. */
    private fun loadLegacy(context: Context, uri: Uri): Bitmap {
        val resolver = context.contentResolver
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        resolver.openInputStream(uri).use { BitmapFactory.decodeStream(it, null, bounds) }
        var sample = 1
        while (Math.max(bounds.outWidth, bounds.outHeight) / sample > MAX_SIDE) sample *= 2
        val options = BitmapFactory.Options().apply { inSampleSize = sample }
        val decoded = resolver.openInputStream(uri).use { BitmapFactory.decodeStream(it, null, options) }
            ?: throw IllegalArgumentException("cannot decode the picked image")
        val orientation = resolver.openInputStream(uri).use { stream ->
            if (stream == null) ExifInterface.ORIENTATION_NORMAL
            else ExifInterface(stream).getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL)
        }
        val degrees = when (orientation) {
            ExifInterface.ORIENTATION_ROTATE_90 -> 90f
            ExifInterface.ORIENTATION_ROTATE_180 -> 180f
            ExifInterface.ORIENTATION_ROTATE_270 -> 270f
            else -> 0f
        }
        if (degrees == 0f) return decoded
        val matrix = Matrix().apply { postRotate(degrees) }
        return Bitmap.createBitmap(decoded, 0, 0, decoded.width, decoded.height, matrix, true)
    }

    /**
     * Resize so the longest side is 1024 (Pillow-exact bilinear from the core, not
     * `Bitmap.createScaledBitmap`, whose unfiltered downscale aliases), normalize and pad.
     */
    fun prepare(bitmap: Bitmap): PreparedImage {
        val size = Transforms.preprocessShape(bitmap.height, bitmap.width)
        val pixels = IntArray(bitmap.width * bitmap.height)
        bitmap.getPixels(pixels, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)
        val argb = Resize.bilinearPacked(pixels, bitmap.height, bitmap.width, size[0], size[1])
        val rgb = IntArray(argb.size * 3)
        for (i in argb.indices) {
            rgb[3 * i] = (argb[i] shr 16) and 0xFF
            rgb[3 * i + 1] = (argb[i] shr 8) and 0xFF
            rgb[3 * i + 2] = argb[i] and 0xFF
        }
        return PreparedImage(Transforms.normalizeAndPad(rgb, size[0], size[1]), bitmap.height, bitmap.width)
    }

    /** A transparent bitmap with each mask painted in its colour (ARGB, alpha included). */
    fun overlay(masks: List<BooleanArray>, colors: List<Int>, width: Int, height: Int): Bitmap {
        val pixels = IntArray(width * height)
        masks.forEachIndexed { k, mask ->
            val color = colors[k % colors.size]
            for (i in mask.indices) if (mask[i]) pixels[i] = color
        }
        return Bitmap.createBitmap(pixels, width, height, Bitmap.Config.ARGB_8888)
    }

    /** The photo's pixels inside [mask], transparent elsewhere, cropped to the mask's bounds. */
    fun cutout(photo: Bitmap, mask: BooleanArray): Bitmap {
        val width = photo.width
        val height = photo.height
        var x0 = width
        var y0 = height
        var x1 = -1
        var y1 = -1
        for (y in 0 until height) for (x in 0 until width) {
            if (mask[y * width + x]) {
                if (x < x0) x0 = x
                if (x > x1) x1 = x
                if (y < y0) y0 = y
                if (y > y1) y1 = y
            }
        }
        if (x1 < 0) throw IllegalStateException("the selected mask is empty")
        val w = x1 - x0 + 1
        val h = y1 - y0 + 1
        val pixels = IntArray(w * h)
        photo.getPixels(pixels, 0, w, x0, y0, w, h)
        for (y in 0 until h) for (x in 0 until w) {
            if (!mask[(y + y0) * width + x + x0]) pixels[y * w + x] = 0
        }
        return Bitmap.createBitmap(pixels, w, h, Bitmap.Config.ARGB_8888)
    }

    fun writePng(context: Context, bitmap: Bitmap, uri: Uri) {
        val stream = context.contentResolver.openOutputStream(uri) ?: throw IllegalStateException("cannot write $uri")
        stream.use { if (!bitmap.compress(Bitmap.CompressFormat.PNG, 100, it)) throw IllegalStateException("PNG encoding failed") }
    }
}
