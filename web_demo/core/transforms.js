// TinySAM's pre-processing contract, as tinysam_mobile/transforms.py (and the Kotlin / Swift cores):
// longest side to 1024 with new = int(old * 1024 / max(h, w) + 0.5) (at least 1 px), normalize with
// the ImageNet mean / std on the 0-255 scale in float32, zero-pad bottom / right, channels first.

export const IMG_SIZE = 1024;
export const LOW_RES_SIZE = 256;
export const PIXEL_MEAN = Object.freeze([123.675, 116.28, 103.53]);
export const PIXEL_STD = Object.freeze([58.395, 57.12, 57.375]);

function checkSize(height, width) {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new RangeError(`image must be at least 1x1 pixels, got ${height}x${width}`);
  }
}

/** Size [h', w'] after resizing the longest side to `target` (the official rule, at least 1 px). */
export function preprocessShape(height, width, target = IMG_SIZE) {
  checkSize(height, width);
  const scale = (target * 1.0) / Math.max(height, width);
  return [Math.max(1, Math.trunc(height * scale + 0.5)), Math.max(1, Math.trunc(width * scale + 0.5))];
}

/** Flat (X, Y) pairs in original pixels -> the resized frame (float64, as Python's transform_coords). */
export function transformCoords(points, height, width, target = IMG_SIZE) {
  if (points.length % 2 !== 0) throw new RangeError('points must be (X, Y) pairs');
  const [newH, newW] = preprocessShape(height, width, target);
  const sx = newW / width;
  const sy = newH / height;
  const out = new Float64Array(points.length);
  for (let i = 0; i < points.length; i += 2) {
    out[i] = points[i] * sx;
    out[i + 1] = points[i + 1] * sy;
  }
  return out;
}

/** XYXY box in original pixels -> the resized frame. */
export function transformBox(box, height, width, target = IMG_SIZE) {
  if (box.length !== 4) throw new RangeError('box must be 4 values XYXY');
  return transformCoords(box, height, width, target);
}

/** RGBA bytes (canvas ImageData, alpha ignored) -> RGB bytes, row-major h x w x 3. */
export function rgbaToRgb(rgba) {
  if (rgba.length % 4 !== 0) throw new RangeError(`RGBA data must hold 4 bytes a pixel, got ${rgba.length} bytes`);
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
    rgb[q] = rgba[p];
    rgb[q + 1] = rgba[p + 1];
    rgb[q + 2] = rgba[p + 2];
  }
  return rgb;
}

/**
 * Resized RGB pixels (h x w x 3, 0-255, row-major) -> normalized, zero-padded 3 x target x target
 * float32, channels first (the encoder's `image`). Each step is rounded to float32 as numpy does.
 */
export function normalizeAndPad(pixelsHwc, height, width, options = {}) {
  const target = options.target ?? IMG_SIZE;
  const mean = (options.mean ?? PIXEL_MEAN).map(Math.fround);
  const std = (options.std ?? PIXEL_STD).map(Math.fround);
  if (pixelsHwc.length !== height * width * 3) {
    throw new RangeError(`expected ${height * width * 3} values for ${height}x${width} RGB, got ${pixelsHwc.length}`);
  }
  if (height > target || width > target) throw new RangeError(`image ${height}x${width} is larger than ${target}`);
  const out = new Float32Array(3 * target * target);
  const plane = target * target;
  for (let c = 0; c < 3; c++) {
    // float32 (v - mean) then float32 division: doubles hold both exactly before one rounding
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(v - mean[c]) / std[c]);
    for (let y = 0; y < height; y++) {
      const row = c * plane + y * target;
      for (let x = 0, src = y * width * 3 + c; x < width; x++, src += 3) out[row + x] = lut[pixelsHwc[src]];
    }
  }
  return out;
}
