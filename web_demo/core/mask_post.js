// Mask post-processing, as tinysam_mobile/transforms.py: the decoder's 256 x 256 logits ->
// bilinear (align_corners=False) to the 1024 frame -> crop to the resized image -> bilinear to the
// original size; masks are logits > 0. Arithmetic is float32 step by step, as PyTorch's CPU
// kernel (the Kotlin / Swift cores do the same), so results agree with the Python SDK.
//
// `upscaleMask` computes the same mask only where it can be true: bilinear weights are convex, so
// a pixel whose source cells are all <= the threshold is <= it too; everything outside the
// windows that the cells above the threshold reach is false, exactly as the full computation says.

import { IMG_SIZE, LOW_RES_SIZE, preprocessShape } from './transforms.js';

export const MASK_THRESHOLD = 0;
const f32 = Math.fround;

/**
 * One axis of a bilinear resize (inSize -> fullSize, PyTorch align_corners=False), for output
 * indices [start, end): source index, step to the next source (0 at the last one) and weights.
 */
export class Axis {
  constructor(inSize, fullSize, start = 0, end = fullSize) {
    const n = end - start;
    this.start = start;
    this.index = new Int32Array(n);
    this.offset = new Int32Array(n);
    this.lambda0 = new Float32Array(n);
    this.lambda1 = new Float32Array(n);
    const scale = f32(inSize / fullSize);
    for (let k = 0; k < n; k++) {
      const i = start + k;
      const real = Math.max(f32(f32(scale * (i + 0.5)) - 0.5), 0);
      const i0 = Math.trunc(real);
      this.index[k] = i0;
      this.offset[k] = i0 < inSize - 1 ? 1 : 0;
      this.lambda1[k] = Math.min(Math.max(f32(real - i0), 0), 1);
      this.lambda0[k] = f32(1 - this.lambda1[k]);
    }
  }

  /** Output indices [first, last] whose two source indices reach [lo, hi]; null when none. */
  reaching(lo, hi) {
    let first = -1;
    let last = -1;
    for (let k = 0; k < this.index.length; k++) {
      if (this.index[k] <= hi && this.index[k] + this.offset[k] >= lo) {
        if (first < 0) first = k;
        last = k;
      }
    }
    return first < 0 ? null : [this.start + first, this.start + last];
  }
}

/**
 * Bilinear resize of a row-major srcH x srcW map (read at `srcOffset`) to fullH x fullW, computing
 * only output rows [y0, y1) and columns [x0, x1) (the whole output by default).
 */
export function resizeBilinear(src, srcH, srcW, fullH, fullW, region = {}) {
  const { y0 = 0, y1 = fullH, x0 = 0, x1 = fullW, srcOffset = 0 } = region;
  const ys = new Axis(srcH, fullH, y0, y1);
  const xs = new Axis(srcW, fullW, x0, x1);
  return resizeWithAxes(src, srcW, ys, xs, srcOffset);
}

function resizeWithAxes(src, srcW, ys, xs, srcOffset = 0, srcRow0 = 0, srcCol0 = 0) {
  const outH = ys.index.length;
  const outW = xs.index.length;
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const row0 = srcOffset + (ys.index[y] - srcRow0) * srcW;
    const row1 = row0 + ys.offset[y] * srcW;
    const h0 = ys.lambda0[y];
    const h1 = ys.lambda1[y];
    for (let x = 0; x < outW; x++) {
      const c0 = xs.index[x] - srcCol0;
      const c1 = c0 + xs.offset[x];
      const w0 = xs.lambda0[x];
      const w1 = xs.lambda1[x];
      const top = f32(f32(w0 * src[row0 + c0]) + f32(w1 * src[row0 + c1]));
      const bottom = f32(f32(w0 * src[row1 + c0]) + f32(w1 * src[row1 + c1]));
      out[y * outW + x] = f32(h0 * top) + f32(h1 * bottom);
    }
  }
  return out;
}

/** Low-res logits (256 x 256, at `offset` in `lowRes`) -> logits at the original height x width. */
export function upscaleLogits(lowRes, height, width, offset = 0) {
  const [inH, inW] = preprocessShape(height, width);
  const cropped = resizeBilinear(lowRes, LOW_RES_SIZE, LOW_RES_SIZE, IMG_SIZE, IMG_SIZE, {
    y1: inH,
    x1: inW,
    srcOffset: offset,
  });
  return resizeBilinear(cropped, inH, inW, height, width);
}

/** Binary mask (Uint8Array of 0 / 1) of the logits above `threshold`. */
export function threshold(logits, value = MASK_THRESHOLD) {
  const out = new Uint8Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] > value ? 1 : 0;
  return out;
}

/** Rows and columns [r0, r1] x [c0, c1] of the 256 x 256 cells above `value`; null when none. */
export function cellsAbove(lowRes, value, offset = 0, rows = LOW_RES_SIZE, cols = LOW_RES_SIZE) {
  let r0 = -1;
  let r1 = -1;
  let c0 = LOW_RES_SIZE;
  let c1 = -1;
  for (let r = 0; r < rows; r++) {
    const base = offset + r * LOW_RES_SIZE;
    for (let c = 0; c < cols; c++) {
      if (lowRes[base + c] > value) {
        if (r0 < 0) r0 = r;
        r1 = r;
        if (c < c0) c0 = c;
        if (c > c1) c1 = c;
      }
    }
  }
  return r0 < 0 ? null : { r0, r1, c0, c1 };
}

/**
 * The logits of the resized frame (h' x w', the 1024-frame crop) inside the window that cells
 * above `value` reach, plus one pixel around it where the frame has one: {y0, y1, x0, x1, data}
 * with [y0, y1) x [x0, x1) in frame pixels, or null when no cell is above `value`. Pixels of the
 * frame outside the window are <= `value`.
 */
export function frameWindow(lowRes, inH, inW, value, offset = 0, margin = 1) {
  const cells = cellsAbove(lowRes, value, offset);
  if (cells === null) return null;
  const ys = new Axis(LOW_RES_SIZE, IMG_SIZE, 0, inH);
  const xs = new Axis(LOW_RES_SIZE, IMG_SIZE, 0, inW);
  const rows = ys.reaching(cells.r0, cells.r1);
  const cols = xs.reaching(cells.c0, cells.c1);
  if (rows === null || cols === null) return null; // the cells above lie beyond the image
  const y0 = Math.max(rows[0] - margin, 0);
  const y1 = Math.min(rows[1] + 1 + margin, inH);
  const x0 = Math.max(cols[0] - margin, 0);
  const x1 = Math.min(cols[1] + 1 + margin, inW);
  const data = resizeBilinear(lowRes, LOW_RES_SIZE, LOW_RES_SIZE, IMG_SIZE, IMG_SIZE, {
    y0,
    y1,
    x0,
    x1,
    srcOffset: offset,
  });
  return { y0, y1, x0, x1, data, inner: { y0: rows[0], y1: rows[1] + 1, x0: cols[0], x1: cols[1] + 1 } };
}

/**
 * The binary mask at the original height x width of one mask's low-res logits (at `offset`),
 * equal to threshold(upscaleLogits(...)) pixel for pixel, computed only where it can be true.
 * Returns {bits: Uint8Array(height x width), area, box: [x0, y0, x1, y1] inclusive or null}.
 */
export function upscaleMask(lowRes, height, width, offset = 0, value = MASK_THRESHOLD) {
  const bits = new Uint8Array(height * width);
  const [inH, inW] = preprocessShape(height, width);
  const frame = frameWindow(lowRes, inH, inW, value, offset);
  if (frame === null) return { bits, area: 0, box: null };
  // original pixels whose two frame sources reach the frame pixels that can be above `value`
  const ys = new Axis(inH, height);
  const xs = new Axis(inW, width);
  const rows = ys.reaching(frame.inner.y0, frame.inner.y1 - 1);
  const cols = xs.reaching(frame.inner.x0, frame.inner.x1 - 1);
  if (rows === null || cols === null) return { bits, area: 0, box: null };
  const ysWin = new Axis(inH, height, rows[0], rows[1] + 1);
  const xsWin = new Axis(inW, width, cols[0], cols[1] + 1);
  // every source these read lies in the frame window (one pixel of margin)
  const values = resizeWithAxes(frame.data, frame.x1 - frame.x0, ysWin, xsWin, 0, frame.y0, frame.x0);
  let area = 0;
  let bx0 = width;
  let by0 = height;
  let bx1 = -1;
  let by1 = -1;
  const winW = cols[1] + 1 - cols[0];
  for (let y = rows[0]; y <= rows[1]; y++) {
    const src = (y - rows[0]) * winW;
    const dst = y * width;
    for (let x = cols[0]; x <= cols[1]; x++) {
      if (values[src + x - cols[0]] > value) {
        bits[dst + x] = 1;
        area++;
        if (x < bx0) bx0 = x;
        if (x > bx1) bx1 = x;
        if (y < by0) by0 = y;
        if (y > by1) by1 = y;
      }
    }
  }
  return { bits, area, box: area ? [bx0, by0, bx1, by1] : null };
}

/**
 * Run-length encoding of a binary mask in row-major order: alternating run lengths, zeros first
 * (a mask that starts with a 1 starts with a 0-length run). Compact and easy to decode anywhere.
 */
export function rleEncode(bits) {
  const runs = [];
  let current = 0;
  let length = 0;
  for (let i = 0; i < bits.length; i++) {
    const v = bits[i] ? 1 : 0;
    if (v === current) {
      length++;
    } else {
      runs.push(length);
      current = v;
      length = 1;
    }
  }
  runs.push(length);
  return runs;
}

/** The inverse of rleEncode, for `size` pixels. */
export function rleDecode(runs, size) {
  const bits = new Uint8Array(size);
  let at = 0;
  runs.forEach((length, k) => {
    if (k % 2 === 1) bits.fill(1, at, at + length);
    at += length;
  });
  if (at !== size) throw new RangeError(`runs cover ${at} pixels, expected ${size}`);
  return bits;
}
