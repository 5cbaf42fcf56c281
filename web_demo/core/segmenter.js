// Predictor semantics of tinysam_mobile/predictor.py over any runtime with `encode(image)`,
// `decodeCall(embeddings, call)`, `maxBatch` and `maxPoints` (core/runtime.js is LiteRT.js's):
// encode an image once, then answer point / box prompts in original pixels with the three masks
// of mask tokens 1..3 at the original size and their predicted IoUs.

import { decoderCalls } from './decoder_batches.js';
import { MASK_THRESHOLD, upscaleMask } from './mask_post.js';
import { pack, PromptError } from './prompts.js';
import { resizeBilinear } from './resize.js';
import { normalizeAndPad, PIXEL_MEAN, PIXEL_STD, preprocessShape, transformBox, transformCoords } from './transforms.js';

const now = () => globalThis.performance.now();

export class BrokenModelError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BrokenModelError';
  }
}

function checkFinite(output) {
  for (const values of [output.iou, output.lowRes]) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        throw new BrokenModelError('the model answered NaN or infinite values: its weights or programs are broken');
      }
    }
  }
}

/** Encoder input for RGB bytes (h x w x 3): {tensor, inputSize: [h', w']}. */
export function preprocess(rgb, height, width, normalization = {}) {
  const [inH, inW] = preprocessShape(height, width);
  const resized = resizeBilinear(rgb, height, width, inH, inW);
  const tensor = normalizeAndPad(resized, inH, inW, { mean: normalization.pixelMean, std: normalization.pixelStd });
  return { tensor, inputSize: [inH, inW] };
}

export class Segmenter {
  constructor(runtime, normalization = {}) {
    this.runtime = runtime;
    this.normalization = { pixelMean: normalization.pixelMean ?? PIXEL_MEAN, pixelStd: normalization.pixelStd ?? PIXEL_STD };
    this.embeddings = null;
    this.originalSize = null;
    this.inputSize = null;
  }

  get isImageSet() {
    return this.embeddings !== null;
  }

  /** Encode RGB bytes (h x w x 3, row-major): {preprocessMs, encodeMs}. */
  async setImage(rgb, height, width) {
    this.embeddings = null;
    const t0 = now();
    const { tensor, inputSize } = preprocess(rgb, height, width, this.normalization);
    const t1 = now();
    const embeddings = await this.runtime.encode(tensor);
    const t2 = now();
    for (let i = 0; i < embeddings.length; i++) {
      if (!Number.isFinite(embeddings[i])) throw new BrokenModelError('the encoder answered NaN or infinite values');
    }
    this.embeddings = embeddings;
    this.originalSize = [height, width];
    this.inputSize = inputSize;
    return { preprocessMs: t1 - t0, encodeMs: t2 - t1 };
  }

  /** Use embeddings computed elsewhere (a worker gets them from the page). */
  setEmbeddings(embeddings, height, width) {
    this.embeddings = embeddings;
    this.originalSize = [height, width];
    this.inputSize = preprocessShape(height, width);
  }

  requireImage() {
    if (this.embeddings === null) throw new Error('no image is set: call setImage first');
  }

  /**
   * One prompt in original pixels: `points` [[x, y], ...] with `labels` (1 foreground, 0
   * background) and / or `box` [x0, y0, x1, y1]; `maskInput` optional 256 x 256 logits.
   * Returns {masks: [{bits, area, box}] x 3 at the original size, iou (3), lowRes (3 x 256 x 256),
   * best (the index of the highest predicted IoU), decodeMs, postprocessMs}.
   */
  async predict({ points = null, labels = null, box = null, maskInput = null } = {}) {
    this.requireImage();
    const [height, width] = this.originalSize;
    if (points !== null && points.length === 0) {
      points = null;
      labels = null;
    }
    if (box !== null && !(box[0] < box[2] && box[1] < box[3])) {
      throw new PromptError(`box must have X0 < X1 and Y0 < Y1 (a positive area), got [${box.join(', ')}]`);
    }
    const frame = points === null ? null : transformCoords(points.flat(), height, width);
    const frameBox = box === null ? null : transformBox(box, height, width);
    const packed = pack(frame, labels, frameBox, this.runtime.maxPoints, maskInput);
    const [call] = decoderCalls([packed], this.runtime.maxPoints, this.runtime.maxBatch);
    const t0 = now();
    const [output] = await this.runtime.decodeCall(this.embeddings, call);
    const t1 = now();
    checkFinite(output);
    const plane = output.lowRes.length / 3;
    const masks = [0, 1, 2].map((k) => upscaleMask(output.lowRes, height, width, k * plane, MASK_THRESHOLD));
    let best = 0;
    for (let k = 1; k < 3; k++) if (output.iou[k] > output.iou[best]) best = k;
    return { masks, iou: output.iou, lowRes: output.lowRes, best, decodeMs: t1 - t0, postprocessMs: now() - t1 };
  }

  /** A PromptDecoder for AutoMaskGenerator over the current image's embeddings. */
  promptDecoder() {
    this.requireImage();
    const { runtime, embeddings } = this;
    return {
      maxBatch: runtime.maxBatch,
      async decode(prompts) {
        const outputs = [];
        for (const call of decoderCalls(prompts, runtime.maxPoints, runtime.maxBatch)) {
          const answer = await runtime.decodeCall(embeddings, call);
          answer.forEach(checkFinite);
          outputs.push(...answer);
        }
        return outputs;
      },
    };
  }
}
