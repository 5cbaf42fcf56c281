// What the golden vectors do not pin: the windowed mask computations equal the full ones, the
// pass order of Pillow 13's resize, RLE, the page's manifest checks, the LiteRT.js adapter (over a
// stand-in module) and the predictor flow.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { AutoMaskGenerator } from '../core/everything.js';
import { checkRunnable, parseManifest } from '../core/manifest.js';
import { frameWindow, resizeBilinear as resizeLogits, rleDecode, rleEncode, threshold, upscaleLogits, upscaleMask } from '../core/mask_post.js';
import { resizeBilinear, verticalFirst } from '../core/resize.js';
import { LiteRtRuntime } from '../core/runtime.js';
import { Segmenter } from '../core/segmenter.js';
import { verifyArtifact } from '../core/sha256.js';
import { IMG_SIZE, LOW_RES_SIZE, preprocessShape, rgbaToRgb } from '../core/transforms.js';
import { goldenText, random } from '../testing/helpers.js';

const PLANE = LOW_RES_SIZE * LOW_RES_SIZE;

/** Low-res logits with a few blobs on a negative background (what a decoder answers). */
function blobs(rand, count = 3, base = -6) {
  const out = new Float32Array(PLANE).fill(base);
  for (let b = 0; b < count; b++) {
    const cy = rand() * 256;
    const cx = rand() * 256;
    const r = 3 + rand() * 40;
    const peak = 2 + rand() * 20;
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) {
        const d = Math.hypot(y - cy, x - cx);
        if (d < 2 * r) out[y * 256 + x] = Math.max(out[y * 256 + x], peak * (1 - d / r) + (rand() - 0.5));
      }
    }
  }
  return out;
}

test('the windowed mask equals thresholding the full upscale, pixel for pixel', () => {
  const rand = random(7);
  const sizes = [
    [480, 640],
    [1024, 1024],
    [7, 10],
    [333, 2000],
    [2000, 333],
    [1, 5000],
    [641, 427],
  ];
  for (const [h, w] of sizes) {
    for (let trial = 0; trial < 3; trial++) {
      const low = blobs(rand, 1 + trial);
      const full = threshold(upscaleLogits(low, h, w));
      const { bits, area, box } = upscaleMask(low, h, w);
      assert.deepEqual(bits, full, `${h}x${w} trial ${trial}`);
      assert.equal(
        area,
        full.reduce((a, b) => a + b, 0),
      );
      if (area === 0) assert.equal(box, null);
    }
  }
  const empty = upscaleMask(new Float32Array(PLANE).fill(-1), 30, 40);
  assert.equal(empty.area, 0);
  assert.equal(empty.box, null);
});

test('everything measures stability and boxes on the window as on the whole frame', () => {
  const rand = random(11);
  for (const [h, w] of [
    [120, 160],
    [1024, 700],
    [50, 2000],
  ]) {
    const generator = new AutoMaskGenerator({ maxBatch: 1, decode: async () => [] }, h, w, 4);
    const [inH, inW] = preprocessShape(h, w);
    for (let trial = 0; trial < 4; trial++) {
      const low = blobs(rand, 2, trial % 2 ? -0.5 : -6); // -0.5: cells above t - offset everywhere
      const stats = generator.maskStats(low, 0);
      const frame = resizeLogits(low, LOW_RES_SIZE, LOW_RES_SIZE, IMG_SIZE, IMG_SIZE, { y1: inH, x1: inW });
      let inner = 0;
      let outer = 0;
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -1;
      let y1 = -1;
      frame.forEach((v, i) => {
        if (v > 1) inner++;
        if (v > -1) outer++;
        if (v > 0) {
          const y = Math.floor(i / inW);
          const x = i % inW;
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x);
          y0 = Math.min(y0, y);
          y1 = Math.max(y1, y);
        }
      });
      if (x1 < 0) {
        assert.equal(stats, null);
        continue;
      }
      assert.equal(stats.stability, inner / outer, `${h}x${w} trial ${trial}`);
      const sx = w / inW;
      const sy = h / inH;
      assert.deepEqual(stats.box, [x0 * sx, y0 * sy, (x1 + 1) * sx, (y1 + 1) * sy]);
      // the stored crop holds every cell the final mask reads
      const crop = generator.crop(low, 0);
      const mask = { crop, lowRes: () => null };
      const restored = new Float32Array(PLANE).fill(-1e4);
      for (let r = 0; r < crop.rows; r++) {
        restored.set(crop.data.subarray(r * crop.cols, (r + 1) * crop.cols), (crop.r0 + r) * 256 + crop.c0);
      }
      assert.deepEqual(upscaleMask(restored, h, w).bits, upscaleMask(low, h, w).bits);
      assert.ok(mask.crop.rows <= 256);
    }
  }
});

test('frameWindow is null when the cells above lie outside the resized image', () => {
  const low = new Float32Array(PLANE).fill(-5);
  low[255 * 256 + 10] = 5; // the last low-res row: below a 1024 x 400 image's 100 rows
  assert.equal(frameWindow(low, 400, 1024, 0), null);
  assert.equal(upscaleMask(low, 400, 1024).area, 0);
});

test("Pillow 13's pass order: vertical first for tall shrinks", () => {
  const cases = JSON.parse(readFileSync(new URL('../testing/pillow_resize.json', import.meta.url), 'utf8'));
  for (const c of cases) {
    const [h, w] = c.size;
    const [nh, nw] = c.new_size;
    assert.equal(verticalFirst(h, w, nh, nw), c.vertical_first, `${c.size} -> ${c.new_size}`);
    assert.deepEqual(Array.from(resizeBilinear(Uint8Array.from(c.pixels_hwc), h, w, nh, nw)), c.expected_hwc);
  }
  const same = Uint8Array.from([1, 2, 3, 4, 5, 6]);
  const copy = resizeBilinear(same, 1, 2, 1, 2);
  assert.deepEqual(copy, same);
  assert.notEqual(copy, same, 'a copy, not the input');
});

test('RLE round trip and RGBA to RGB', () => {
  const rand = random(3);
  for (const size of [0, 1, 7, 1000]) {
    const bits = Uint8Array.from({ length: size }, () => (rand() < 0.3 ? 1 : 0));
    const runs = rleEncode(bits);
    assert.deepEqual(rleDecode(runs, size), bits);
    assert.equal(
      runs.reduce((a, b) => a + b, 0),
      size,
    );
  }
  assert.deepEqual(rleEncode(Uint8Array.from([1, 1, 0])), [0, 2, 1]);
  assert.throws(() => rleDecode([1, 2], 4), /cover 3 pixels, expected 4/);
  assert.deepEqual(Array.from(rgbaToRgb(Uint8Array.from([1, 2, 3, 255, 4, 5, 6, 0]))), [1, 2, 3, 4, 5, 6]);
});

test('the page runs LiteRT bundles only, and says why not', () => {
  const text = goldenText('manifest.json');
  const ok = checkRunnable(parseManifest(text));
  assert.deepEqual(
    ok.pixelMean.map((v) => Math.fround(v)),
    [123.675, 116.28, 103.53].map(Math.fround),
  );
  const refuse = (bad, message) => assert.throws(() => checkRunnable(parseManifest(bad)), message);
  refuse(goldenText('manifest_executorch.json'), /'executorch' bundle; the web demo runs LiteRT bundles \(target 'tflite'\) only/);
  refuse(text.replace('"file": "encoder.tflite"', '"file": "encoder.bin"'), /artifacts\.encoder\.file is encoder\.bin/);
  refuse(text.replace('"input_size": 1024', '"input_size": 512'), /preprocessing\.input_size is 512/);
  refuse(text.replace(/"pixel_std": \[[^\]]*\]/, '"pixel_std": [1, 2]'), /preprocessing\.pixel_std must be 3 numbers/);
  refuse(text.replace('"mask_threshold": 0.0', '"mask_threshold": 0.5'), /preprocessing\.mask_threshold is 0\.5/);
  refuse(text.replace('"dtype": "float32"', '"dtype": "float16"'), /io\.encoder_inputs: image is float16/);
  const manifest = JSON.parse(text);
  delete manifest.preprocessing;
  refuse(JSON.stringify(manifest), /preprocessing is missing/);
  const shapes = JSON.parse(text);
  shapes.io.encoder_outputs[0].shape = [1, 256, 32, 32];
  refuse(JSON.stringify(shapes), /encoder image_embeddings has shape \[1, 256, 32, 32\] but the decoder takes/);
  const artifact = JSON.parse(text);
  artifact.artifacts.decoder.file = '../decoder.tflite';
  assert.throws(() => parseManifest(artifact), /artifacts\.decoder\.file must be a file name inside the bundle/);
});

test('a program that is not the one the manifest lists is refused', async () => {
  const manifest = parseManifest(goldenText('manifest.json'));
  const bytes = new TextEncoder().encode('encoder program');
  await verifyArtifact('encoder', manifest.encoder, bytes);
  await assert.rejects(verifyArtifact('encoder', manifest.encoder, new TextEncoder().encode('encoder programs')), /has 16 bytes/);
  await assert.rejects(verifyArtifact('encoder', manifest.encoder, new TextEncoder().encode('encoder Program')), /does not match its sha256/);
});

/** A LiteRT.js stand-in: compiled programs that declare the manifest's I/O and answer by formula. */
function fakeLiteRt(manifest, overrides = {}) {
  const live = new Set();
  class Tensor {
    constructor(data, shape) {
      this.data = data;
      this.shape = shape;
      this.deleted = false;
      live.add(this);
    }

    toTypedArray() {
      return Float32Array.from(this.data);
    }

    delete() {
      this.deleted = true;
      live.delete(this);
    }
  }
  const details = (specs) => specs.map((s, index) => ({ name: s.name, index, dtype: s.dtype, shape: Int32Array.from(s.shape) }));
  const program = (role) => {
    const io = role === 'encoder' ? [manifest.encoderInputs, manifest.encoderOutputs] : [manifest.decoderInputs, manifest.decoderOutputs];
    const inputs = overrides[`${role}Inputs`] ?? details(io[0]);
    return {
      runs: [],
      deleted: false,
      getInputDetails: () => inputs,
      getOutputDetails: () => details(io[1]),
      async run(feed) {
        this.runs.push(Object.fromEntries(Object.entries(feed).map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data) }])));
        if (role === 'encoder') {
          const n = manifest.encoderOutputs[0].shape.reduce((a, b) => a * b, 1);
          return { image_embeddings: new Tensor(new Float32Array(n).fill(feed.image.data[0]), manifest.encoderOutputs[0].shape) };
        }
        const b = feed.point_coords.shape[0];
        const low = new Float32Array(b * 3 * PLANE);
        const iou = new Float32Array(b * 3);
        for (let r = 0; r < b; r++) {
          const x = feed.point_coords.data[r * 2 * manifest.maxPoints] / 4;
          for (let k = 0; k < 3; k++) {
            iou[r * 3 + k] = 0.1 * (k + 1) + r;
            // columns left of the first point's low-res column are foreground, k widens it
            for (let i = 0; i < PLANE; i++) low[(r * 3 + k) * PLANE + i] = (i % 256) < x + 10 * k ? 5 : -5;
          }
        }
        return { low_res_masks: new Tensor(low, [b, 3, 256, 256]), iou_predictions: new Tensor(iou, [b, 3]) };
      },
      delete() {
        this.deleted = true;
      },
    };
  };
  return {
    live,
    Tensor,
    compiled: [],
    async loadAndCompile(source, options) {
      const role = String(source).includes('encoder') ? 'encoder' : 'decoder';
      const model = program(role);
      this.compiled.push({ source, options, model });
      return model;
    },
  };
}

test('the LiteRT.js adapter feeds contract names and frees every tensor it made', async () => {
  const manifest = parseManifest(goldenText('manifest.json'));
  const litert = fakeLiteRt(manifest);
  const runtime = await LiteRtRuntime.create(litert, manifest, { encoder: 'bundle/encoder.tflite', decoder: 'bundle/decoder.tflite' });
  assert.deepEqual(
    litert.compiled.map((c) => c.options),
    [{ accelerator: 'wasm' }, { accelerator: 'wasm' }],
  );
  const segmenter = new Segmenter(runtime, checkRunnable(manifest));
  const rgb = new Uint8Array(30 * 40 * 3).fill(200);
  const times = await segmenter.setImage(rgb, 30, 40);
  assert.ok(times.encodeMs >= 0 && times.preprocessMs >= 0);
  const encoderFeed = litert.compiled[0].model.runs[0];
  assert.deepEqual(Object.keys(encoderFeed), ['image']);
  assert.deepEqual(encoderFeed.image.shape, [1, 3, 1024, 1024]);
  assert.equal(encoderFeed.image.data[0], Math.fround(Math.fround(200 - Math.fround(123.675)) / Math.fround(58.395)));
  const answer = await segmenter.predict({ points: [[20, 15]], labels: [1] });
  const decoderFeed = litert.compiled[1].model.runs[0];
  assert.deepEqual(Object.keys(decoderFeed).sort(), ['has_mask_input', 'image_embeddings', 'mask_input', 'point_coords', 'point_labels']);
  assert.deepEqual(decoderFeed.point_coords.shape, [1, 8, 2]);
  assert.deepEqual(Array.from(decoderFeed.point_labels.data), [1, -1, -2, -2, -2, -2, -2, -2]);
  assert.deepEqual(Array.from(decoderFeed.point_coords.data.slice(0, 2)), [512, 384]); // (20, 15) * 1024 / 40
  assert.deepEqual(Array.from(answer.iou), [0.1, 0.2, 0.3].map(Math.fround));
  assert.equal(answer.best, 2);
  assert.equal(answer.masks.length, 3);
  for (let k = 0; k < 3; k++) {
    const full = threshold(upscaleLogits(answer.lowRes, 30, 40, k * PLANE));
    assert.deepEqual(answer.masks[k].bits, full);
  }
  assert.ok(answer.masks[0].area > 0 && answer.masks[0].area < answer.masks[2].area);
  // the embeddings tensor is made once and shared by every call on the same image
  await segmenter.predict({ box: [1, 1, 20, 20] });
  assert.equal(litert.live.size, 1);
  runtime.delete();
  assert.equal(litert.live.size, 0);
  assert.ok(litert.compiled.every((c) => c.model.deleted));
});

test('a batched program gets full calls; everything reads one answer per prompt', async () => {
  const json = JSON.parse(goldenText('manifest_executorch.json'));
  json.target = 'tflite';
  json.artifacts.encoder.file = 'encoder.tflite';
  json.artifacts.decoder.file = 'decoder.tflite';
  json.io.decoder_batch = 4;
  for (const spec of [...json.io.decoder_inputs.slice(1), ...json.io.decoder_outputs]) spec.shape[0] = 4;
  const manifest = parseManifest(json);
  const litert = fakeLiteRt(manifest);
  const runtime = await LiteRtRuntime.create(litert, manifest, { encoder: 'encoder', decoder: 'decoder' });
  const segmenter = new Segmenter(runtime);
  await segmenter.setImage(new Uint8Array(64 * 64 * 3), 64, 64);
  const decoder = segmenter.promptDecoder();
  assert.equal(decoder.maxBatch, 4);
  const generator = new AutoMaskGenerator(decoder, 64, 64, manifest.maxPoints, {
    strategy: 'grid',
    pointsPerSide: 3,
    predIouThresh: -1,
    stabilityScoreThresh: 0,
  });
  await generator.generate();
  const runs = litert.compiled[1].model.runs;
  assert.deepEqual(
    runs.map((r) => r.point_coords.shape[0]),
    [4, 4, 4],
    '9 prompts in calls of 4, the last one padded',
  );
  assert.equal(generator.promptsDecoded, 9);
  assert.equal(litert.live.size, 1);
});

test('programs whose inputs differ from the manifest are refused by name', async () => {
  const manifest = parseManifest(goldenText('manifest.json'));
  const renamed = fakeLiteRt(manifest, {
    decoderInputs: manifest.decoderInputs.map((s, index) => ({
      name: s.name === 'point_labels' ? 'labels' : s.name,
      index,
      dtype: 'float32',
      shape: Int32Array.from(s.shape),
    })),
  });
  await assert.rejects(
    LiteRtRuntime.create(renamed, manifest, { encoder: 'encoder', decoder: 'decoder' }),
    /decoder\.tflite \(decoder\) has inputs \[has_mask_input, image_embeddings, labels, mask_input, point_coords\] but manifest\.json lists/,
  );
  assert.ok(renamed.compiled.every((c) => c.model.deleted), 'programs loaded before the refusal are freed');
  const reshaped = fakeLiteRt(manifest, {
    decoderInputs: manifest.decoderInputs.map((s, index) => ({
      name: s.name,
      index,
      dtype: 'float32',
      shape: Int32Array.from(s.name === 'point_coords' ? [1, 4, 2] : s.shape),
    })),
  });
  await assert.rejects(
    LiteRtRuntime.create(reshaped, manifest, { encoder: 'encoder', decoder: 'decoder' }),
    /point_coords has shape \[1, 4, 2\] in the program but \[1, 8, 2\] in manifest\.json/,
  );
});

test('prompts the model cannot take are refused before decoding', async () => {
  const manifest = parseManifest(goldenText('manifest.json'));
  const runtime = await LiteRtRuntime.create(fakeLiteRt(manifest), manifest, { encoder: 'encoder', decoder: 'decoder' });
  const segmenter = new Segmenter(runtime);
  await assert.rejects(segmenter.predict({ points: [[1, 1]], labels: [1] }), /no image is set/);
  await segmenter.setImage(new Uint8Array(10 * 10 * 3), 10, 10);
  const many = Array.from({ length: 8 }, (_, i) => [i, i]);
  await assert.rejects(segmenter.predict({ points: many, labels: Array(8).fill(1) }), /prompt has 9 slots .* at most 8/);
  await assert.rejects(segmenter.predict({ box: [5, 5, 5, 9] }), /box must have X0 < X1 and Y0 < Y1/);
  await assert.rejects(segmenter.predict({ points: [[1, 1]], labels: [2] }), /point labels must be 1 or 0/);
});
