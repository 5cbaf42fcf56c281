// Packed prompts -> decoder program calls, as the Python SDK's decoder_feeds
// (tinysam_mobile/runtimes/base.py): calls of up to decoder_batch prompts in order, the last one
// shorter (no padding rows); has_mask_input 1 for a prompt with a mask input, else zeros.

import { MASK_INPUT_SIZE } from './prompts.js';

/** Masks (and IoU predictions) per prompt: mask tokens 1..3. */
export const MASKS = 3;
export const DECODER_INPUT_NAMES = Object.freeze([
  'image_embeddings',
  'point_coords',
  'point_labels',
  'mask_input',
  'has_mask_input',
]);
export const DECODER_OUTPUT_NAMES = Object.freeze(['low_res_masks', 'iou_predictions']);

/**
 * One decoder call for `batch` prompts. `inputs` are the decoder inputs after the shared
 * image_embeddings, in contract order, as flat row-major Float32Arrays: point_coords B x N x 2,
 * point_labels B x N, mask_input B x 1 x 256 x 256, has_mask_input B.
 */
export class DecoderCall {
  constructor(batch, inputs) {
    this.batch = batch;
    this.inputs = inputs;
  }

  /** Inputs by contract name (image_embeddings left out). */
  get named() {
    return Object.fromEntries(DECODER_INPUT_NAMES.slice(1).map((name, i) => [name, this.inputs[i]]));
  }

  /** The shape of a decoder input or output spec ({name, shape}) in this call: B = batch. */
  shape(spec) {
    return spec.name === DECODER_INPUT_NAMES[0] ? [...spec.shape] : [this.batch, ...spec.shape.slice(1)];
  }

  /** low_res_masks (B x 3 x 256 x 256) and iou_predictions (B x 3) -> one {lowRes, iou} per prompt. */
  outputs(lowRes, iou) {
    const plane = MASKS * MASK_INPUT_SIZE;
    if (lowRes.length !== this.batch * plane || iou.length !== this.batch * MASKS) {
      throw new Error(
        `decoder returned ${lowRes.length} low_res_masks and ${iou.length} iou_predictions values ` +
          `for ${this.batch} prompts, expected ${this.batch * plane} and ${this.batch * MASKS}`,
      );
    }
    const out = [];
    for (let b = 0; b < this.batch; b++) {
      out.push({
        lowRes: lowRes.slice(b * plane, (b + 1) * plane),
        iou: iou.slice(b * MASKS, (b + 1) * MASKS),
      });
    }
    return out;
  }
}

/** `prompts` (PackedPrompt, each of `maxPoints` slots) -> DecoderCalls of up to `decoderBatch`. */
export function decoderCalls(prompts, maxPoints, decoderBatch) {
  if (!(decoderBatch >= 1)) throw new RangeError(`decoder_batch must be at least 1, got ${decoderBatch}`);
  prompts.forEach((prompt, i) => {
    if (prompt.labels.length !== maxPoints) {
      throw new RangeError(
        `prompt ${i} has ${prompt.labels.length} slots but the decoder takes ${maxPoints}: ` +
          `pack it with pack(..., maxPoints = ${maxPoints})`,
      );
    }
  });
  const calls = [];
  for (let start = 0; start < prompts.length; start += decoderBatch) {
    const rows = prompts.slice(start, start + decoderBatch);
    const coords = new Float32Array(rows.length * 2 * maxPoints);
    const labels = new Float32Array(rows.length * maxPoints);
    const mask = new Float32Array(rows.length * MASK_INPUT_SIZE);
    const hasMask = new Float32Array(rows.length);
    rows.forEach((prompt, r) => {
      coords.set(prompt.coords, r * 2 * maxPoints);
      labels.set(prompt.labels, r * maxPoints);
      if (prompt.maskInput !== null) {
        mask.set(prompt.maskInput, r * MASK_INPUT_SIZE);
        hasMask[r] = 1;
      }
    });
    calls.push(new DecoderCall(rows.length, [coords, labels, mask, hasMask]));
  }
  return calls;
}
