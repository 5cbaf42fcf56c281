// The everything orchestration over a fake decoder that knows a scene of rectangles (what
// AutoMaskGeneratorTest.kt and AutoMaskGeneratorTests.swift check).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AutoMaskGenerator, checkConfig, maskRecord } from '../core/everything.js';
import { threshold, upscaleLogits } from '../core/mask_post.js';
import { LOW_RES_SIZE } from '../core/transforms.js';

/** Objects as XYXY rectangles in the 1024 frame; a point on one returns its mask with high logits. */
class RectangleDecoder {
  constructor(rects, maxBatch = 1) {
    this.rects = rects;
    this.maxBatch = maxBatch;
    this.batches = [];
  }

  get prompts() {
    return this.batches.reduce((a, b) => a + b, 0);
  }

  async decode(prompts) {
    assert.ok(prompts.length >= 1 && prompts.length <= this.maxBatch, `${prompts.length} prompts, maxBatch ${this.maxBatch}`);
    this.batches.push(prompts.length);
    return prompts.map((p) => this.answer(p));
  }

  answer(prompt) {
    const size = LOW_RES_SIZE;
    const lowRes = new Float32Array(3 * size * size).fill(-16);
    const [x, y] = prompt.coords;
    const hit = this.rects.find((r) => x >= r[0] && x < r[2] && y >= r[1] && y < r[3]);
    if (hit) {
      for (let k = 0; k < 3; k++) {
        for (let r = hit[1] / 4; r < hit[3] / 4; r++) {
          for (let c = hit[0] / 4; c < hit[2] / 4; c++) lowRes[(k * size + r) * size + c] = 16;
        }
      }
    }
    return { lowRes, iou: Float32Array.from(hit ? [0.5, 0.96, 0.5] : [0.3, 0.3, 0.3]) };
  }
}

const rects = [
  [0, 0, 1024, 400],
  [100, 500, 400, 900],
  [600, 520, 1000, 1000],
];

test('hierarchical finds every object with fewer prompts', async () => {
  const grid = new RectangleDecoder(rects);
  const gridMasks = await new AutoMaskGenerator(grid, 1024, 1024, 8, { strategy: 'grid' }).generate();
  const hier = new RectangleDecoder(rects);
  const generator = new AutoMaskGenerator(hier, 1024, 1024, 8);
  const hierMasks = await generator.generate();
  assert.equal(gridMasks.length, 3);
  assert.equal(hierMasks.length, 3);
  assert.equal(grid.prompts, 1024);
  assert.equal(hier.prompts, generator.promptsDecoded);
  assert.ok(hier.prompts < 512, `hierarchical decoded ${hier.prompts}`);
  assert.equal(generator.pointsSkipped, 1024 - (hier.prompts - 64));
});

test('batches hold up to maxBatch prompts and give the same masks', async () => {
  const single = new RectangleDecoder(rects);
  const expected = await new AutoMaskGenerator(single, 1024, 1024, 8).generate();
  for (const maxBatch of [3, 64]) {
    const decoder = new RectangleDecoder(rects, maxBatch);
    const progress = [];
    const masks = await new AutoMaskGenerator(decoder, 1024, 1024, 8).generate({ progress: (done) => progress.push(done) });
    assert.equal(decoder.prompts, single.prompts);
    assert.deepEqual(
      masks.map((m) => m.point),
      expected.map((m) => m.point),
    );
    // round one: 64 sparse points; round two: the rest; each round's last call is the short one
    const roundOne = Math.ceil(64 / maxBatch);
    const sparse = decoder.batches.slice(0, roundOne);
    const dense = decoder.batches.slice(roundOne);
    assert.equal(
      sparse.reduce((a, b) => a + b, 0),
      64,
    );
    assert.ok(sparse.slice(0, -1).every((n) => n === maxBatch) && dense.slice(0, -1).every((n) => n === maxBatch));
    let done = 0;
    assert.deepEqual(
      progress,
      decoder.batches.map((n) => (done += n)),
    );
  }
});

test('grid sends full batches', async () => {
  const decoder = new RectangleDecoder([], 64);
  await new AutoMaskGenerator(decoder, 1024, 1024, 8, { strategy: 'grid' }).generate();
  assert.deepEqual(decoder.batches, Array(16).fill(64));
});

test('a fully covered image stops after the sparse round', async () => {
  const decoder = new RectangleDecoder([[0, 0, 1024, 1024]], 3);
  const masks = await new AutoMaskGenerator(decoder, 300, 300, 8).generate();
  assert.equal(masks.length, 1);
  assert.deepEqual(decoder.batches, [...Array(21).fill(3), 1]);
});

test('cancellation stops between calls', async () => {
  const decoder = new RectangleDecoder([], 4);
  const generator = new AutoMaskGenerator(decoder, 100, 100, 8);
  await generator.generate({ isCancelled: () => decoder.batches.length >= 3 });
  assert.deepEqual(decoder.batches, [4, 4, 4]);
  assert.equal(generator.promptsDecoded, 12);
});

test('a decoder that drops outputs is an error', async () => {
  const decoder = { maxBatch: 4, decode: async () => [] };
  await assert.rejects(new AutoMaskGenerator(decoder, 100, 100, 8).generate(), /0 outputs for 4 prompts/);
  assert.throws(() => new AutoMaskGenerator(new RectangleDecoder([], 0), 100, 100, 8), /maxBatch must be at least 1/);
});

test('records at the original size: area and bbox of each kept mask', async () => {
  // a 512 x 768 photo: the 1024 frame is 683 x 1024, rectangles in that frame
  const decoder = new RectangleDecoder([[100, 100, 300, 200]], 8);
  const masks = await new AutoMaskGenerator(decoder, 512, 768, 8, { strategy: 'grid', pointsPerSide: 16 }).generate();
  assert.equal(masks.length, 1);
  const record = maskRecord(masks[0], 512, 768);
  const full = threshold(upscaleLogits(masks[0].lowRes(), 512, 768));
  assert.deepEqual(Array.from(record.bits), Array.from(full));
  assert.equal(
    record.area,
    full.reduce((a, b) => a + b, 0),
  );
  // frame columns 100..299 and rows 100..199 are original 75..224 and 75..149
  assert.deepEqual(record.bbox, [75, 75, 150, 75]);
  assert.equal(record.stage, 1);
  assert.equal(record.predictedIou, Math.fround(0.96));
});

test('bad options are named', () => {
  assert.throws(() => checkConfig({ pointsPerSide: 0 }), /pointsPerSide must be an integer from 1 to 1024, got 0/);
  assert.throws(() => checkConfig({ strategy: 'crops' }), /strategy must be one of grid, hierarchical/);
  assert.throws(() => checkConfig({ boxNmsThresh: 2 }), /boxNmsThresh must be a finite number in \[0, 1\]/);
  assert.throws(() => checkConfig({ pointsPerBatch: 4 }), /unknown option\(s\) pointsPerBatch/);
});
