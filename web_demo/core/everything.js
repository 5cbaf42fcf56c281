// Segment everything, as tinysam_mobile/automatic_mask_generator.py (and the Kotlin / Swift
// cores): SAM's point grid, or TinySAM's hierarchical strategy (a sparse round, the high-confidence
// map of its kept masks at logit tau, the dense points outside it, one NMS in which first-round
// masks win). Candidates stay at the decoder's 256 x 256; stability and boxes are measured on the
// logits upscaled to the resized image (the 1024-frame crop); only the masks NMS keeps are
// upscaled to the original size. Each round's points go to the decoder in calls of up to
// `decoder.maxBatch` prompts.

import { MASKS } from './decoder_batches.js';
import { cellsAbove, frameWindow, MASK_THRESHOLD, upscaleMask } from './mask_post.js';
import { FOREGROUND, pack } from './prompts.js';
import { IMG_SIZE, LOW_RES_SIZE, preprocessShape, transformCoords } from './transforms.js';

export const LOW_RES_STRIDE = IMG_SIZE / LOW_RES_SIZE;
export const STRATEGIES = Object.freeze(['grid', 'hierarchical']);
const PLANE = LOW_RES_SIZE * LOW_RES_SIZE;
const FILL = -1e4; // low-res cells a stored candidate dropped: far below every threshold

/** n * n points (flat X, Y pairs) in [0, 1] at cell centres (i + 0.5) / n, X varying fastest. */
export function pointGrid(n) {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`points per side must be at least 1, got ${n}`);
  const out = new Float64Array(2 * n * n);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      const k = 2 * (row * n + col);
      out[k] = (col + 0.5) / n;
      out[k + 1] = (row + 0.5) / n;
    }
  }
  return out;
}

/** SAM's stability: |logits > t + offset| / |logits > t - offset| (0 when nothing is above). */
export function stabilityScore(logits, threshold = MASK_THRESHOLD, offset = 1) {
  let inner = 0;
  let outer = 0;
  const hi = Math.fround(threshold + offset);
  const lo = Math.fround(threshold - offset);
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > hi) inner++;
    if (logits[i] > lo) outer++;
  }
  return outer > 0 ? inner / outer : 0;
}

/** IoU of two XYXY boxes (areas as (x1 - x0) * (y1 - y0)). */
export function boxIou(a, b) {
  const inter =
    Math.max(Math.min(a[2], b[2]) - Math.max(a[0], b[0]), 0) * Math.max(Math.min(a[3], b[3]) - Math.max(a[1], b[1]), 0);
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy box NMS over `order` (highest priority first): the kept indices, in order. */
export function nms(boxes, order, iouThreshold) {
  const kept = [];
  for (const index of order) {
    if (!kept.some((k) => boxIou(boxes[index], boxes[k]) > iouThreshold)) kept.push(index);
  }
  return kept;
}

/**
 * Indices of the dense grid's points that fall outside the first round's high-confidence map
 * (rows x cols low-res cells, row-major, truthy = confident): the points to decode next.
 */
export function roundTwoPoints(highMap, rows, cols, height, width, pointsPerSide) {
  if (highMap.length !== rows * cols) throw new RangeError(`high map must have ${rows} x ${cols} cells`);
  const grid = pointGrid(pointsPerSide);
  const pixels = grid.map((v, i) => v * (i % 2 === 0 ? width : height));
  const frame = transformCoords(pixels, height, width);
  const out = [];
  for (let p = 0; p < grid.length / 2; p++) {
    const col = Math.min(Math.max(Math.floor(frame[2 * p] / LOW_RES_STRIDE), 0), cols - 1);
    const row = Math.min(Math.max(Math.floor(frame[2 * p + 1] / LOW_RES_STRIDE), 0), rows - 1);
    if (!highMap[row * cols + col]) out.push(p);
  }
  return out;
}

/** Parameters; the defaults are the paper's and the official generators'. */
export const DEFAULT_CONFIG = Object.freeze({
  pointsPerSide: 32,
  sparsePointsPerSide: 8,
  highScoreThresh: 8.5,
  predIouThresh: 0.88,
  stabilityScoreThresh: 0.95,
  stabilityScoreOffset: 1.0,
  boxNmsThresh: 0.7,
  strategy: 'hierarchical',
});

export function checkConfig(options = {}) {
  const config = { ...DEFAULT_CONFIG, ...options };
  const unknown = Object.keys(options).filter((k) => !(k in DEFAULT_CONFIG));
  if (unknown.length) throw new RangeError(`unknown option(s) ${unknown.join(', ')}`);
  for (const name of ['pointsPerSide', 'sparsePointsPerSide']) {
    const v = config[name];
    if (!Number.isInteger(v) || v < 1 || v > IMG_SIZE) {
      throw new RangeError(`${name} must be an integer from 1 to ${IMG_SIZE}, got ${v}`);
    }
  }
  const ranges = {
    highScoreThresh: [-Infinity, Infinity],
    predIouThresh: [-Infinity, 1],
    stabilityScoreThresh: [0, 1],
    stabilityScoreOffset: [Number.MIN_VALUE, Infinity],
    boxNmsThresh: [0, 1],
  };
  for (const [name, [lo, hi]] of Object.entries(ranges)) {
    const v = config[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
      const span = Number.isFinite(lo) && Number.isFinite(hi) ? ` in [${lo}, ${hi}]` : '';
      throw new RangeError(`${name} must be a finite number${span}, got ${v}`);
    }
  }
  if (!STRATEGIES.includes(config.strategy)) {
    throw new RangeError(`strategy must be one of ${STRATEGIES.join(', ')}, got ${config.strategy}`);
  }
  return config;
}

/**
 * A kept mask: its low-res logits (a crop of the 256 x 256 map: rows [r0, r0 + rows) x columns
 * [c0, c0 + cols), holding every cell that can matter), scores, the prompt point (original
 * pixels), the NMS box (XYXY pixel edges in the original) and the round (1, or 2 for the
 * hierarchical dense round).
 */
export class AutoMask {
  constructor(crop, predictedIou, stability, point, box, stage) {
    this.crop = crop;
    this.predictedIou = predictedIou;
    this.stability = stability;
    this.point = point;
    this.box = box;
    this.stage = stage;
  }

  /** The 256 x 256 low-res logits (cells outside the stored crop read far below any threshold). */
  lowRes() {
    const out = new Float32Array(PLANE).fill(FILL);
    const { r0, c0, rows, cols, data } = this.crop;
    for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols, (r + 1) * cols), (r0 + r) * LOW_RES_SIZE + c0);
    return out;
  }
}

/**
 * Segment everything over any decoder: `decoder.maxBatch` (most prompts per call) and
 * `await decoder.decode(packedPrompts)` -> [{lowRes: Float32Array(3 x 256 x 256), iou: [3]}], one
 * per prompt in order.
 */
export class AutoMaskGenerator {
  constructor(decoder, height, width, maxPoints, options = {}) {
    if (!(decoder.maxBatch >= 1)) throw new RangeError(`the decoder's maxBatch must be at least 1, got ${decoder.maxBatch}`);
    this.decoder = decoder;
    this.height = height;
    this.width = width;
    this.maxPoints = maxPoints;
    this.config = checkConfig(options);
    [this.inH, this.inW] = preprocessShape(height, width);
    this.lowH = Math.ceil(this.inH / LOW_RES_STRIDE);
    this.lowW = Math.ceil(this.inW / LOW_RES_STRIDE);
    this.promptsDecoded = 0;
    this.pointsSkipped = 0;
    this.decodeCalls = 0;
  }

  /**
   * All masks after NMS (AutoMask, in NMS order). `progress(done, total)` after each decoder call;
   * `isCancelled()` asked before each (then the masks found so far are returned).
   */
  async generate({ progress = () => {}, isCancelled = () => false } = {}) {
    this.promptsDecoded = 0;
    this.pointsSkipped = 0;
    this.decodeCalls = 0;
    const candidates = [];
    const cfg = this.config;
    const dense = this.pixelGrid(cfg.pointsPerSide);
    const denseCount = dense.length / 2;
    if (cfg.strategy === 'grid') {
      const all = Array.from({ length: denseCount }, (_, i) => i);
      await this.decodeAll(dense, all, 1, candidates, denseCount, progress, isCancelled);
    } else {
      const sparse = this.pixelGrid(cfg.sparsePointsPerSide);
      const sparseCount = sparse.length / 2;
      const first = Array.from({ length: sparseCount }, (_, i) => i);
      const high = await this.decodeAll(sparse, first, 1, candidates, sparseCount + denseCount, progress, isCancelled);
      if (!isCancelled()) {
        const next = roundTwoPoints(high, this.lowH, this.lowW, this.height, this.width, cfg.pointsPerSide);
        this.pointsSkipped = denseCount - next.length;
        await this.decodeAll(dense, next, 2, candidates, sparseCount + next.length, progress, isCancelled);
      }
    }
    const order = candidates
      .map((_, i) => i)
      .sort((a, b) => candidates[a].stage - candidates[b].stage || candidates[b].predictedIou - candidates[a].predictedIou || a - b);
    return nms(
      candidates.map((c) => c.box),
      order,
      cfg.boxNmsThresh,
    ).map((i) => candidates[i]);
  }

  pixelGrid(n) {
    return pointGrid(n).map((v, i) => v * (i % 2 === 0 ? this.width : this.height));
  }

  /** Decode the chosen points in batches; keep what passes the filters; the high-confidence map. */
  async decodeAll(points, chosen, stage, out, total, progress, isCancelled) {
    const high = new Uint8Array(this.lowH * this.lowW);
    const frame = transformCoords(points, this.height, this.width);
    for (let start = 0; start < chosen.length; start += this.decoder.maxBatch) {
      if (isCancelled()) break;
      const batch = chosen.slice(start, start + this.decoder.maxBatch);
      const prompts = batch.map((p) => pack([frame[2 * p], frame[2 * p + 1]], [FOREGROUND], null, this.maxPoints));
      const results = await this.decoder.decode(prompts);
      if (!results || results.length !== prompts.length) {
        throw new Error(`decoder returned ${results ? results.length : 0} outputs for ${prompts.length} prompts`);
      }
      this.promptsDecoded += prompts.length;
      this.decodeCalls += 1;
      batch.forEach((p, i) => this.keep(results[i], [points[2 * p], points[2 * p + 1]], stage, high, out));
      progress(this.promptsDecoded, total);
    }
    return high;
  }

  /** Add the prompt's masks that pass the IoU and stability filters; mark their confident cells. */
  keep(result, point, stage, high, out) {
    const cfg = this.config;
    // float32 data against float32 thresholds, as numpy 2 compares them
    const iouThresh = Math.fround(cfg.predIouThresh);
    const highThresh = Math.fround(cfg.highScoreThresh);
    for (let k = 0; k < MASKS; k++) {
      const iou = result.iou[k];
      if (!(iou > iouThresh)) continue;
      const offset = k * PLANE;
      const stats = this.maskStats(result.lowRes, offset);
      if (stats === null || stats.stability < cfg.stabilityScoreThresh) continue;
      for (let y = 0; y < this.lowH; y++) {
        const row = offset + y * LOW_RES_SIZE;
        for (let x = 0; x < this.lowW; x++) {
          if (result.lowRes[row + x] > highThresh) high[y * this.lowW + x] = 1;
        }
      }
      out.push(new AutoMask(this.crop(result.lowRes, offset), iou, stats.stability, point, stats.box, stage));
    }
  }

  /**
   * Stability score and NMS box of one mask's logits upscaled to the resized frame, measured only
   * where they can be above t - offset (nothing else counts); null for an empty mask.
   */
  maskStats(lowRes, offset) {
    const cfg = this.config;
    const lo = Math.fround(MASK_THRESHOLD - cfg.stabilityScoreOffset);
    const hi = Math.fround(MASK_THRESHOLD + cfg.stabilityScoreOffset);
    const win = frameWindow(lowRes, this.inH, this.inW, lo, offset, 0);
    if (win === null) return null;
    const w = win.x1 - win.x0;
    let inner = 0;
    let outer = 0;
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -1;
    let y1 = -1;
    for (let y = win.y0; y < win.y1; y++) {
      const row = (y - win.y0) * w;
      for (let x = win.x0; x < win.x1; x++) {
        const v = win.data[row + x - win.x0];
        if (v > hi) inner++;
        if (v > lo) outer++;
        if (v > MASK_THRESHOLD) {
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
    }
    if (x1 < 0) return null;
    const sx = this.width / this.inW;
    const sy = this.height / this.inH;
    return { stability: outer > 0 ? inner / outer : 0, box: [x0 * sx, y0 * sy, (x1 + 1) * sx, (y1 + 1) * sy] };
  }

  /** The cells of a mask that can matter (above t - offset, with two cells of margin). */
  crop(lowRes, offset) {
    const lo = Math.fround(MASK_THRESHOLD - this.config.stabilityScoreOffset);
    const cells = cellsAbove(lowRes, Math.min(lo, this.config.highScoreThresh), offset) ?? {
      r0: 0,
      r1: 0,
      c0: 0,
      c1: 0,
    };
    const r0 = Math.max(cells.r0 - 2, 0);
    const c0 = Math.max(cells.c0 - 2, 0);
    const rows = Math.min(cells.r1 + 3, LOW_RES_SIZE) - r0;
    const cols = Math.min(cells.c1 + 3, LOW_RES_SIZE) - c0;
    const data = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const at = offset + (r0 + r) * LOW_RES_SIZE + c0;
      data.set(lowRes.subarray(at, at + cols), r * cols);
    }
    return { r0, c0, rows, cols, data };
  }
}

/**
 * SAM-style records of kept masks at the original size: {bits, area, bbox: [x, y, w, h],
 * predictedIou, stability, point, stage}; a mask whose upscaled pixels are all off is dropped.
 */
export function maskRecord(mask, height, width) {
  const { bits, area, box } = upscaleMask(mask.lowRes(), height, width);
  if (box === null) return null;
  return {
    bits,
    area,
    bbox: [box[0], box[1], box[2] - box[0] + 1, box[3] - box[1] + 1],
    predictedIou: mask.predictedIou,
    stability: mask.stability,
    point: mask.point,
    stage: mask.stage,
  };
}
