// The bundle contract written by `python -m tinysam_mobile.convert` (manifest.json, schema 2), as
// the Kotlin and Swift cores read it: the target, the two program files with their integrity data,
// the programs' I/O names, shapes and dtypes, the slots per prompt (max_points, N), the most
// prompts per decoder call (decoder_batch, B), the prompt labels and the pre/post-processing.
// Every error names the field that is wrong. `checkRunnable` adds what this page can run.

import { DECODER_INPUT_NAMES, DECODER_OUTPUT_NAMES, MASKS } from './decoder_batches.js';
import { MASK_THRESHOLD } from './mask_post.js';
import { MANIFEST_LABELS } from './prompts.js';
import { IMG_SIZE, LOW_RES_SIZE } from './transforms.js';

export const SCHEMA_VERSION = 2;
export const TARGETS = Object.freeze(['coreai', 'coreml', 'executorch', 'tflite']);
export const ENCODER_INPUT_NAMES = Object.freeze(['image']);
export const ENCODER_OUTPUT_NAMES = Object.freeze(['image_embeddings']);
const REBUILD = 'rebuild the bundle with python -m tinysam_mobile.convert';

export class ManifestError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ManifestError';
  }
}

const fail = (message) => {
  throw new ManifestError(message);
};
/** A shape as the other cores print it: [1, 8, 2]. */
export const showShape = (shape) => `[${shape.join(', ')}]`;
/** A number as the other cores print a double: -2.0, 0.5. */
const showNumber = (v) => (Number.isInteger(v) ? v.toFixed(1) : String(v));
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function object(parent, key, where) {
  const value = parent[key];
  if (!isObject(value)) fail(`${where}${key} is missing or not an object`);
  return value;
}

function string(parent, key, where) {
  const value = parent[key];
  if (typeof value !== 'string') fail(`${where}${key} is missing or not a string`);
  return value;
}

function int(parent, key, where) {
  const value = parent[key];
  if (value === undefined) fail(`${where}${key} is missing`);
  if (!Number.isInteger(value)) fail(`${where}${key} must be an integer, got ${JSON.stringify(value)}`);
  return value;
}

function artifact(artifacts, role) {
  const entry = object(artifacts, role, 'artifacts.');
  const where = `artifacts.${role}.`;
  const file = string(entry, 'file', where);
  if (!file || /[/\\]/.test(file) || file === '.' || file === '..') {
    fail(`artifacts.${role}.file must be a file name inside the bundle, got ${JSON.stringify(file)}`);
  }
  const sha256 = string(entry, 'sha256', where);
  if (!/^[0-9a-f]{64}$/.test(sha256)) fail(`artifacts.${role}.sha256 must be 64 lowercase hex digits`);
  const bytes = entry.bytes;
  if (!Number.isInteger(bytes) || bytes < 0) {
    fail(`artifacts.${role}.bytes must be a non-negative integer, got ${JSON.stringify(bytes)}`);
  }
  return { file, sha256, bytes };
}

function specs(io, key) {
  const list = io[key];
  if (!Array.isArray(list)) fail(`io.${key} is missing or not a list`);
  return list.map((item, i) => {
    if (!isObject(item)) fail(`io.${key}[${i}] must be an object`);
    const where = `io.${key}[${i}].`;
    const name = string(item, 'name', where);
    if (!Array.isArray(item.shape) || !item.shape.every((d) => Number.isInteger(d))) {
      fail(`io.${key}[${i}].shape (${name}) must be a list of integers`);
    }
    return { name, shape: [...item.shape], dtype: string(item, 'dtype', where) };
  });
}

function decoderBatch(io) {
  if (!('decoder_batch' in io)) {
    fail(`io.decoder_batch is missing (schema 2 manifests declare the most prompts per decoder call): ${REBUILD}`);
  }
  const batch = int(io, 'decoder_batch', 'io.');
  if (batch < 1) fail(`io.decoder_batch must be at least 1, got ${batch}`);
  return batch;
}

function sameNames(found, expected) {
  return found.length === expected.length && found.every((n, i) => n === expected[i]);
}

/** The decoder's shapes must be the contract's for B = decoder_batch and N = max_points. */
function checkDecoderShapes(m) {
  const b = m.decoderBatch;
  const low = LOW_RES_SIZE;
  const embeddings = m.decoderInputs[0].shape;
  if (embeddings.length !== 4 || embeddings[0] !== 1) {
    fail(`io: decoder image_embeddings has shape ${showShape(embeddings)}, expected [1, C, H, W]`);
  }
  const expected = [
    [b, m.maxPoints, 2],
    [b, m.maxPoints],
    [b, 1, low, low],
    [b],
    [b, MASKS, low, low],
    [b, MASKS],
  ];
  const all = [...m.decoderInputs.slice(1), ...m.decoderOutputs];
  all.forEach((spec, i) => {
    if (showShape(spec.shape) !== showShape(expected[i])) {
      fail(
        `io: decoder ${spec.name} has shape ${showShape(spec.shape)}, expected ${showShape(expected[i])} ` +
          `(io.decoder_batch ${m.decoderBatch}, io.max_points ${m.maxPoints})`,
      );
    }
  });
}

/** The manifest's labels must be the ones prompts.js packs (schema 2: unused slots -2). */
function checkPromptLabels(labels) {
  for (const [name, value] of Object.entries(MANIFEST_LABELS)) {
    const found = labels[name];
    if (typeof found !== 'number') {
      fail(
        `prompt_labels.${name} is missing or not a number (schema 2 labels: ${JSON.stringify(MANIFEST_LABELS)})`,
      );
    }
    if (found !== value) fail(`prompt_labels.${name} is ${showNumber(found)}, this app packs ${showNumber(value)}`);
  }
}

/** Parse and validate manifest.json (text or an already-parsed object); errors name the field. */
export function parseManifest(textOrObject) {
  let root = textOrObject;
  if (typeof textOrObject === 'string') {
    try {
      root = JSON.parse(textOrObject);
    } catch (error) {
      fail(`manifest.json is invalid JSON: ${error.message}`);
    }
  }
  if (!isObject(root)) fail('manifest.json must hold a JSON object');
  const version = root.schema_version;
  if (version !== SCHEMA_VERSION) {
    fail(`manifest schema_version ${JSON.stringify(version)} is not supported (expected ${SCHEMA_VERSION}): ${REBUILD}`);
  }
  const target = string(root, 'target', '');
  if (!TARGETS.includes(target)) fail(`unknown target '${target}'; known: ${TARGETS.join(', ')}`);
  const artifacts = object(root, 'artifacts', '');
  const io = object(root, 'io', '');
  const model = object(root, 'model', '');
  const manifest = {
    target,
    encoder: artifact(artifacts, 'encoder'),
    decoder: artifact(artifacts, 'decoder'),
    encoderInputs: specs(io, 'encoder_inputs'),
    encoderOutputs: specs(io, 'encoder_outputs'),
    decoderInputs: specs(io, 'decoder_inputs'),
    decoderOutputs: specs(io, 'decoder_outputs'),
    maxPoints: int(io, 'max_points', 'io.'),
    decoderBatch: decoderBatch(io),
    recipe: string(object(root, 'recipe', ''), 'name', 'recipe.'),
    untrained: model.untrained === true,
    modelConfig: typeof model.config === 'string' ? model.config : null,
    preprocessing: isObject(root.preprocessing) ? root.preprocessing : null,
    promptLabels: object(root, 'prompt_labels', ''),
  };
  const inputs = manifest.decoderInputs.map((s) => s.name);
  if (!sameNames(inputs, DECODER_INPUT_NAMES)) {
    fail(`decoder inputs ${showShape(inputs)}, expected ${showShape(DECODER_INPUT_NAMES)}`);
  }
  const outputs = manifest.decoderOutputs.map((s) => s.name);
  if (!sameNames(outputs, DECODER_OUTPUT_NAMES)) {
    fail(`decoder outputs ${showShape(outputs)}, expected ${showShape(DECODER_OUTPUT_NAMES)}`);
  }
  if (manifest.maxPoints < 1) fail(`io.max_points must be at least 1, got ${manifest.maxPoints}`);
  checkDecoderShapes(manifest);
  checkPromptLabels(manifest.promptLabels);
  return manifest;
}

function finiteTriple(pre, key) {
  const value = pre[key];
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    fail(`preprocessing.${key} must be 3 numbers (R, G, B), got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * What this page needs beyond a valid manifest: a LiteRT bundle, float32 programs, the encoder
 * contract (image 1 x 3 x 1024 x 1024 -> image_embeddings, the decoder's), and the
 * pre/post-processing it implements. Returns the normalization to use: {pixelMean, pixelStd}.
 */
export function checkRunnable(manifest) {
  if (manifest.target !== 'tflite') {
    fail(
      `this is a '${manifest.target}' bundle; the web demo runs LiteRT bundles (target 'tflite') only: ` +
        'convert one with python -m tinysam_mobile.convert --target tflite',
    );
  }
  for (const role of ['encoder', 'decoder']) {
    if (!manifest[role].file.endsWith('.tflite')) {
      fail(`artifacts.${role}.file is ${manifest[role].file}; a LiteRT program ends in .tflite`);
    }
  }
  const groups = [
    ['encoder_inputs', manifest.encoderInputs],
    ['encoder_outputs', manifest.encoderOutputs],
    ['decoder_inputs', manifest.decoderInputs],
    ['decoder_outputs', manifest.decoderOutputs],
  ];
  for (const [key, list] of groups) {
    for (const spec of list) {
      if (spec.dtype !== 'float32') fail(`io.${key}: ${spec.name} is ${spec.dtype}; this page feeds and reads float32`);
    }
  }
  const encIn = manifest.encoderInputs.map((s) => s.name);
  if (!sameNames(encIn, ENCODER_INPUT_NAMES)) {
    fail(`encoder inputs ${showShape(encIn)}, expected ${showShape(ENCODER_INPUT_NAMES)}`);
  }
  const encOut = manifest.encoderOutputs.map((s) => s.name);
  if (!sameNames(encOut, ENCODER_OUTPUT_NAMES)) {
    fail(`encoder outputs ${showShape(encOut)}, expected ${showShape(ENCODER_OUTPUT_NAMES)}`);
  }
  const image = manifest.encoderInputs[0].shape;
  if (showShape(image) !== showShape([1, 3, IMG_SIZE, IMG_SIZE])) {
    fail(`io: encoder image has shape ${showShape(image)}, expected [1, 3, ${IMG_SIZE}, ${IMG_SIZE}]`);
  }
  const embeddings = manifest.encoderOutputs[0].shape;
  if (showShape(embeddings) !== showShape(manifest.decoderInputs[0].shape)) {
    fail(
      `io: encoder image_embeddings has shape ${showShape(embeddings)} but the decoder takes ` +
        `${showShape(manifest.decoderInputs[0].shape)}`,
    );
  }
  const pre = manifest.preprocessing;
  if (pre === null) fail('preprocessing is missing or not an object');
  if (pre.input_size !== IMG_SIZE) {
    fail(`preprocessing.input_size is ${JSON.stringify(pre.input_size)}; this page resizes to ${IMG_SIZE}`);
  }
  if (pre.low_res_size !== LOW_RES_SIZE) {
    fail(`preprocessing.low_res_size is ${JSON.stringify(pre.low_res_size)}; this page upscales ${LOW_RES_SIZE} x ${LOW_RES_SIZE} masks`);
  }
  const pixelMean = finiteTriple(pre, 'pixel_mean');
  const pixelStd = finiteTriple(pre, 'pixel_std');
  if (!pixelStd.every((v) => v > 0)) fail(`preprocessing.pixel_std must be positive, got ${JSON.stringify(pixelStd)}`);
  if (pre.mask_threshold !== MASK_THRESHOLD) {
    fail(`preprocessing.mask_threshold is ${JSON.stringify(pre.mask_threshold)}; this page thresholds logits at ${MASK_THRESHOLD}`);
  }
  return { pixelMean, pixelStd };
}
