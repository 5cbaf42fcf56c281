// The JavaScript core against tests/golden: what GoldenTest.kt (Kotlin) and GoldenTests.swift
// (Swift) check, on the same vectors.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decoderCalls } from '../core/decoder_batches.js';
import { AutoMaskGenerator, nms, pointGrid, roundTwoPoints, stabilityScore } from '../core/everything.js';
import { parseManifest } from '../core/manifest.js';
import { threshold, upscaleLogits } from '../core/mask_post.js';
import { pack } from '../core/prompts.js';
import { resizeBilinear } from '../core/resize.js';
import { sha256Hex } from '../core/sha256.js';
import { IMG_SIZE, LOW_RES_SIZE, normalizeAndPad, preprocessShape, transformBox, transformCoords } from '../core/transforms.js';
import { assertClose, golden, goldenText, lowResPattern, maskInputPattern, sha256Floats } from '../testing/helpers.js';

const flat = (pairs) => (pairs == null ? null : pairs.flat());

test('preprocess shapes', () => {
  for (const c of golden('transforms.json').preprocess_shape) {
    assert.deepEqual(preprocessShape(c.size[0], c.size[1]), c.expected, `size ${c.size}`);
  }
});

test('coordinate and box transforms', () => {
  const vectors = golden('transforms.json');
  for (const c of vectors.transform_coords) {
    assertClose(c.expected.flat(), transformCoords(c.points.flat(), c.size[0], c.size[1]), 1e-9, `coords ${c.size}`);
  }
  for (const c of vectors.transform_box) {
    assertClose(c.expected, transformBox(c.box, c.size[0], c.size[1]), 1e-9, `box ${c.size}`);
  }
});

test('resize matches Pillow bit for bit', () => {
  for (const c of golden('transforms.json').resize_bilinear) {
    const out = resizeBilinear(Uint8Array.from(c.pixels_hwc), c.size[0], c.size[1], c.new_size[0], c.new_size[1]);
    assert.deepEqual(Array.from(out), c.expected_hwc, `resize ${c.size} -> ${c.new_size}`);
  }
});

test('normalize and pad', () => {
  const c = golden('transforms.json').normalize;
  const h = c.height;
  const w = c.width;
  const out = normalizeAndPad(Uint8Array.from(c.pixels_hwc), h, w);
  assert.equal(out.length, 3 * IMG_SIZE * IMG_SIZE);
  const actual = c.expected_chw.map((_, i) => {
    const ch = Math.floor(i / (h * w));
    const y = Math.floor(i / w) % h;
    const x = i % w;
    return out[(ch * IMG_SIZE + y) * IMG_SIZE + x];
  });
  // exact: each step rounds to float32 as numpy does
  assertClose(c.expected_chw, actual, 0, 'normalized');
  let padSum = 0;
  for (let ch = 0; ch < 3; ch++) {
    for (let y = 0; y < IMG_SIZE; y++) {
      for (let x = 0; x < IMG_SIZE; x++) {
        if (y >= h || x >= w) padSum += Math.abs(out[(ch * IMG_SIZE + y) * IMG_SIZE + x]);
      }
    }
  }
  assert.ok(c.padding_is_zero === true && padSum === 0);
});

test('prompt packing', () => {
  for (const c of golden('prompts.json')) {
    if ('error' in c) {
      assert.throws(() => pack(flat(c.points), c.labels, c.box, c.max_points), new RegExp(`at most ${c.max_points}`));
      continue;
    }
    const packed = pack(flat(c.points), c.labels, c.box, c.max_points);
    assertClose(c.coords, packed.coords, 0, 'coords');
    assertClose(c.packed_labels, packed.labels, 0, 'labels');
  }
});

test('decoder batches match decoder_feeds', () => {
  const { cases } = golden('decoder_batches.json');
  assert.equal(cases.length, 12);
  for (const c of cases) {
    const what = `N=${c.max_points} B=${c.decoder_batch}`;
    let packed;
    try {
      packed = c.prompts.map((p) =>
        pack(flat(p.points), p.labels, p.box, c.max_points, p.mask_seed == null ? null : maskInputPattern(p.mask_seed)),
      );
    } catch (error) {
      if (!c.error) throw error;
      assert.match(error.message, new RegExp(`prompt has ${c.error.slots} slots`), what);
      assert.match(error.message, new RegExp(`at most ${c.max_points}`), what);
      continue;
    }
    assert.equal(c.error, undefined, `${what}: expected an error`);
    const calls = decoderCalls(packed, c.max_points, c.decoder_batch);
    assert.equal(calls.length, c.calls.length, `${what}: calls`);
    calls.forEach((call, k) => {
      const e = c.calls[k];
      assert.equal(call.batch, e.batch, what);
      const [coords, labels, mask, hasMask] = call.inputs;
      assertClose(e.point_coords, coords, 0, `${what}: point_coords`);
      assertClose(e.point_labels, labels, 0, `${what}: point_labels`);
      assertClose(e.has_mask_input, hasMask, 0, `${what}: has_mask_input`);
      assert.equal(sha256Floats([mask]), e.mask_input_sha256, `${what}: mask_input`);
    });
  }
});

test('decoder call shapes and outputs', () => {
  const manifest = parseManifest(goldenText('manifest_executorch.json'));
  const prompts = [0, 1, 2].map((i) => pack([i, 1], [1], null, manifest.maxPoints));
  const calls = decoderCalls(prompts, manifest.maxPoints, manifest.decoderBatch);
  assert.equal(calls.length, 1);
  const [call] = calls;
  assert.deepEqual(
    manifest.decoderInputs.map((s) => call.shape(s)),
    [manifest.decoderInputs[0].shape, [3, 8, 2], [3, 8], [3, 1, 256, 256], [3]],
  );
  assert.deepEqual(
    manifest.decoderOutputs.map((s) => call.shape(s)),
    [
      [3, 3, 256, 256],
      [3, 3],
    ],
  );
  const plane = 3 * 256 * 256;
  const lowRes = new Float32Array(3 * plane).map((_, i) => Math.floor(i / plane));
  const outputs = call.outputs(lowRes, Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8]));
  assert.deepEqual(
    outputs.map((o) => o.lowRes[plane - 1]),
    [0, 1, 2],
  );
  assert.deepEqual(Array.from(outputs[1].iou), [3, 4, 5]);
  assert.throws(() => call.outputs(new Float32Array(plane), new Float32Array(3)), /for 3 prompts/);
  assert.throws(() => decoderCalls(prompts, 3, 1), /prompt 0 has 8 slots but the decoder takes 3/);
});

test('mask upscaling and threshold', () => {
  const low = lowResPattern();
  for (const c of golden('masks.json')) {
    const [h, w] = c.size;
    const logits = upscaleLogits(low, h, w);
    assertClose(c.logits, logits, 1e-5, `logits ${c.size}`);
    const mask = threshold(logits);
    for (let k = 0; k < mask.length; k++) {
      if (Math.abs(c.logits[k]) > 1e-4) assert.equal(mask[k], c.mask[k] === '1' ? 1 : 0, `mask[${k}] ${c.size}`);
    }
  }
});

test('point grids, stability and NMS', () => {
  const vectors = golden('everything.json');
  for (const [n, grid] of Object.entries(vectors.point_grid)) assertClose(grid, pointGrid(Number(n)), 0, `grid ${n}`);
  const s = vectors.stability;
  const per = s.shape[1] * s.shape[2];
  for (let k = 0; k < s.shape[0]; k++) {
    const mask = Float32Array.from(s.logits.slice(k * per, (k + 1) * per));
    assertClose([s.expected[k]], [stabilityScore(mask, s.threshold, s.offset)], 1e-12, `stability ${k}`);
  }
  for (const c of vectors.nms) {
    assert.deepEqual(nms(c.boxes, c.order, c.threshold), c.kept, `nms at ${c.threshold}`);
  }
});

test('hierarchical skip decisions on the oracle scene', () => {
  const c = golden('everything.json').hierarchical_skip;
  const map = c.high_map;
  const high = Uint8Array.from(map.bits, (b) => (b === '1' ? 1 : 0));
  const decoded = roundTwoPoints(high, map.rows, map.cols, c.size[0], c.size[1], c.points_per_side);
  assert.deepEqual(decoded, c.decoded_in_round_two);
});

/** Answers the sparse round with the golden high map as one mask, the dense round with clutter. */
class HighMapDecoder {
  constructor(maxBatch, high, rows, cols, sparsePrompts, maxPoints) {
    this.maxBatch = maxBatch;
    this.high = high;
    this.rows = rows;
    this.cols = cols;
    this.sparsePrompts = sparsePrompts;
    this.maxPoints = maxPoints;
    this.calls = [];
    this.decoded = 0;
  }

  async decode(prompts) {
    this.calls.push(...decoderCalls(prompts, this.maxPoints, this.maxBatch));
    const side = LOW_RES_SIZE;
    return prompts.map(() => {
      const sparse = this.decoded++ < this.sparsePrompts;
      const lowRes = new Float32Array(3 * side * side);
      for (let k = 0; k < lowRes.length; k++) {
        const y = Math.floor(k / side) % side;
        const x = k % side;
        lowRes[k] = sparse && y < this.rows && x < this.cols && this.high[y * this.cols + x] ? 16 : -16;
      }
      return { lowRes, iou: sparse ? Float32Array.from([0.3, 0.96, 0.3]) : Float32Array.from([0.3, 0.3, 0.3]) };
    });
  }
}

test("batched everything sends Python's decoder calls", async () => {
  const vectors = golden('everything.json');
  const skip = vectors.hierarchical_skip;
  const map = skip.high_map;
  const high = Uint8Array.from(map.bits, (b) => (b === '1' ? 1 : 0));
  assert.equal(vectors.batched_decoding.length, 3);
  for (const c of vectors.batched_decoding) {
    const decoder = new HighMapDecoder(c.decoder_batch, high, map.rows, map.cols, 64, c.max_points);
    const progress = [];
    await new AutoMaskGenerator(decoder, skip.size[0], skip.size[1], c.max_points).generate({
      progress: (done, total) => progress.push([done, total]),
    });
    const what = `decoder_batch ${c.decoder_batch}`;
    const expectedCalls = c.rounds.flatMap((r) => r.calls);
    assert.deepEqual(
      decoder.calls.map((call) => call.batch),
      expectedCalls,
      what,
    );
    let done = 0;
    const expectedProgress = c.rounds.flatMap((r) => r.calls.map((n) => [(done += n), r.progress_total]));
    assert.deepEqual(progress, expectedProgress, what);
    assert.equal(sha256Floats(decoder.calls.map((call) => call.inputs[0])), c.point_coords_sha256, what);
    assert.equal(sha256Floats(decoder.calls.map((call) => call.inputs[1])), c.point_labels_sha256, what);
  }
});

test('manifest parsing', () => {
  const manifest = parseManifest(goldenText('manifest.json'));
  assert.equal(manifest.target, 'tflite');
  assert.equal(manifest.encoder.file, 'encoder.tflite');
  assert.equal(manifest.maxPoints, 8);
  assert.equal(manifest.decoderBatch, 1);
  assert.deepEqual(manifest.decoderInputs[1].shape, [1, 8, 2]);
  assert.equal(manifest.recipe, 'fp32');
  assert.equal(manifest.untrained, true);
  const executorch = parseManifest(goldenText('manifest_executorch.json'));
  assert.equal(executorch.decoderBatch, 64);
  assert.deepEqual(executorch.decoderInputs[1].shape, [64, 8, 2]);
});

test('bad manifests name the problem', () => {
  const text = goldenText('manifest.json');
  const cases = [
    [text.replace('"schema_version": 2', '"schema_version": 7'), 'schema_version 7'],
    [text.replace('"target": "tflite"', '"target": "onnx"'), "unknown target 'onnx'"],
    [text.replace('"point_labels"', '"labels"'), 'decoder inputs'],
    [text.replace('"decoder_batch": 1', '"decoder_batch": 0'), 'io.decoder_batch must be at least 1, got 0'],
    [text.replace('"decoder_batch": 1', '"prompt_batch": 1'), 'io.decoder_batch is missing'],
    [text.replace('"decoder_batch": 1', '"decoder_batch": 4'), 'point_coords has shape [1, 8, 2], expected [4, 8, 2]'],
    [text.replace('"max_points": 8', '"max_points": 6'), 'point_coords has shape [1, 8, 2], expected [1, 6, 2]'],
    [text.replace('"unused": -2', '"unused": -1'), 'prompt_labels.unused is -1.0, this app packs -2.0'],
    [text.replace('"unused": -2', '"padding": -2'), 'prompt_labels.unused is missing'],
    ['[1, 2', 'invalid JSON'],
  ];
  for (const [bad, message] of cases) {
    assert.notEqual(bad, text, `the replacement for '${message}' must change the manifest`);
    assert.throws(
      () => parseManifest(bad),
      (error) => error.message.includes(message) || assert.fail(`'${error.message}' should mention '${message}'`),
    );
  }
});

test('SHA-256 matches hashlib', async () => {
  for (const c of golden('integrity.json').sha256) assert.equal(await sha256Hex(c.text), c.hex);
});
