// Pillow's Image.resize(size, BILINEAR) for 8-bit RGB, bit for bit: a separable triangle filter
// whose support widens with the downscale factor (antialiasing), weights in 22-bit fixed point,
// rounding and clipping to 0-255 after each pass (Pillow's Resample.c). This is the reference
// pre-processing's resize, so encoder inputs match Python's.
//
// Pass order: Pillow 13 (what the project's Python installs) runs the vertical pass first when
// the height shrinks by more than twice what the width loses (2 (w - w') < h - h', h' < h), the
// horizontal pass first otherwise; the order changes the rounding between the passes. Checked
// against Pillow 13.0 on thousands of random sizes; earlier Pillow always went horizontal first,
// which agrees except for such tall shrinks.

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis: [start, count, weights] per output. */
function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1.0);
  const support = 1.0 * filterScale; // the bilinear filter's support is 1
  const ss = 1.0 / filterScale;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = [];
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const raw = new Float64Array(Math.max(xmax, 0));
    let total = 0.0;
    for (let x = 0; x < xmax; x++) {
      const a = Math.abs((x + xmin - center + 0.5) * ss);
      raw[x] = a < 1.0 ? 1.0 - a : 0.0;
      total += raw[x];
    }
    const fixed = new Int32Array(raw.length);
    for (let x = 0; x < raw.length; x++) {
      const w = total !== 0.0 ? raw[x] / total : raw[x];
      fixed[x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    start[o] = xmin;
    count[o] = raw.length;
    weights.push(fixed);
  }
  return { start, count, weights };
}

function clip8(value) {
  const v = value >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function horizontal(src, height, width, outWidth) {
  const c = coefficients(width, outWidth);
  const out = new Uint8Array(height * outWidth * 3);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < outWidth; x++) {
      const k = c.weights[x];
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let i = 0, p = row + c.start[x] * 3; i < c.count[x]; i++, p += 3) {
        r += src[p] * k[i];
        g += src[p + 1] * k[i];
        b += src[p + 2] * k[i];
      }
      const o = (y * outWidth + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

function vertical(src, height, width, outHeight) {
  const c = coefficients(height, outHeight);
  const out = new Uint8Array(outHeight * width * 3);
  const stride = width * 3;
  for (let y = 0; y < outHeight; y++) {
    const k = c.weights[y];
    const first = c.start[y] * stride;
    for (let x = 0; x < width; x++) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let i = 0, p = first + x * 3; i < c.count[y]; i++, p += stride) {
        r += src[p] * k[i];
        g += src[p + 1] * k[i];
        b += src[p + 2] * k[i];
      }
      const o = (y * width + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

/** Whether Pillow 13 resamples rows (the vertical pass) before columns for this resize. */
export function verticalFirst(height, width, newHeight, newWidth) {
  return newHeight < height && 2 * (width - newWidth) < height - newHeight;
}

/**
 * RGB bytes (h x w x 3, row-major) -> RGB bytes (newH x newW x 3), as Pillow's bilinear resize.
 * An axis that keeps its size is not resampled (Pillow skips it too).
 */
export function resizeBilinear(rgb, height, width, newHeight, newWidth) {
  if (rgb.length !== height * width * 3) {
    throw new RangeError(`expected ${height * width * 3} RGB values for ${height}x${width}, got ${rgb.length}`);
  }
  if (!(newHeight >= 1 && newWidth >= 1)) throw new RangeError('target size must be at least 1x1');
  let out = rgb;
  if (verticalFirst(height, width, newHeight, newWidth)) {
    if (newHeight !== height) out = vertical(out, height, width, newHeight);
    if (newWidth !== width) out = horizontal(out, newHeight, width, newWidth);
  } else {
    if (newWidth !== width) out = horizontal(out, height, width, newWidth);
    if (newHeight !== height) out = vertical(out, height, newWidth, newHeight);
  }
  return out === rgb ? Uint8Array.from(rgb) : out;
}
