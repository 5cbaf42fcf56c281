// Prompt packing to the fixed-N decoder contract, as tinysam_mobile/prompts.py orders it: the
// points, one not-a-point token (label -1) at (0, 0) when there is no box, the two box corners
// (labels 2 and 3), then unused slots (label -2, masked out of attention) up to N.

import { LOW_RES_SIZE } from './transforms.js';

export const UNUSED = -2;
export const NOT_A_POINT = -1;
export const BACKGROUND = 0;
export const FOREGROUND = 1;
export const BOX_TOP_LEFT = 2;
export const BOX_BOTTOM_RIGHT = 3;
export const MASK_INPUT_SIZE = LOW_RES_SIZE * LOW_RES_SIZE;

/** The labels by the names of the manifest's `prompt_labels` (schema 2). */
export const MANIFEST_LABELS = Object.freeze({
  unused: UNUSED,
  not_a_point: NOT_A_POINT,
  background: BACKGROUND,
  foreground: FOREGROUND,
  box_top_left: BOX_TOP_LEFT,
  box_bottom_right: BOX_BOTTOM_RIGHT,
});

export class PromptError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PromptError';
  }
}

/** Slots one prompt takes: its points, then two box corners or, without a box, the not-a-point token. */
export function slotsFor(numPoints, hasBox) {
  return numPoints + (hasBox ? 2 : numPoints ? 1 : 0);
}

/**
 * One decoder row: `coords` Float32Array(2 N) (X, Y in the 1024 frame), `labels` Float32Array(N),
 * and an optional `maskInput` Float32Array(256 x 256) of low-res logits (fed with has_mask_input 1).
 */
export class PackedPrompt {
  constructor(coords, labels, maskInput = null) {
    if (coords.length !== 2 * labels.length) {
      throw new PromptError(`${coords.length} coordinates for ${labels.length} slots`);
    }
    if (maskInput !== null && maskInput.length !== MASK_INPUT_SIZE) {
      throw new PromptError(`mask input must be 256 x 256 = ${MASK_INPUT_SIZE} logits, got ${maskInput.length}`);
    }
    this.coords = coords;
    this.labels = labels;
    this.maskInput = maskInput;
  }
}

/**
 * `points` flat (X, Y) pairs and `box` XYXY, both already in the 1024 frame; `labels` 1 / 0 per
 * point; `maskInput` optional 256 x 256 logits. Throws a PromptError that says "prompt has S slots
 * ... at most N" when the prompt does not fit the program.
 */
export function pack(points, labels, box, maxPoints, maskInput = null) {
  if ((points == null) !== (labels == null)) throw new PromptError('points and labels must be given together');
  if (points == null && box == null) throw new PromptError('a prompt needs points or a box');
  const coords = [];
  const packed = [];
  if (points != null) {
    if (points.length !== 2 * labels.length) {
      throw new PromptError(`${points.length / 2} points but ${labels.length} labels`);
    }
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] !== 0 && labels[i] !== 1) throw new PromptError(`point labels must be 1 or 0, got ${labels[i]}`);
      if (!Number.isFinite(points[2 * i]) || !Number.isFinite(points[2 * i + 1])) {
        throw new PromptError(`point ${i} has a coordinate that is not a finite number`);
      }
      coords.push(points[2 * i], points[2 * i + 1]);
      packed.push(labels[i]);
    }
    if (box == null) {
      coords.push(0, 0);
      packed.push(NOT_A_POINT);
    }
  }
  if (box != null) {
    if (box.length !== 4) throw new PromptError('box must be 4 values XYXY');
    if (!Array.from(box).every(Number.isFinite)) throw new PromptError('box has a value that is not a finite number');
    coords.push(box[0], box[1], box[2], box[3]);
    packed.push(BOX_TOP_LEFT, BOX_BOTTOM_RIGHT);
  }
  if (packed.length > maxPoints) {
    throw new PromptError(
      `prompt has ${packed.length} slots (points, box corners and the not-a-point token included) ` +
        `but the decoder takes at most ${maxPoints}; rebuild the bundle with a larger --max-points`,
    );
  }
  while (packed.length < maxPoints) {
    coords.push(0, 0);
    packed.push(UNUSED);
  }
  return new PackedPrompt(Float32Array.from(coords), Float32Array.from(packed), maskInput);
}
