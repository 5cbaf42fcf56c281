// Shared by the node tests (kept outside test/, whose every file node --test runs): the golden
// vectors of tests/golden (written by scripts/make_golden.py from the Python SDK) and
// make_golden's SHA-256 of float32 little-endian bytes.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const GOLDEN_DIR = process.env.GOLDEN_DIR ?? fileURLToPath(new URL('../../tests/golden/', import.meta.url));

export function golden(name) {
  return JSON.parse(readFileSync(`${GOLDEN_DIR}/${name}`, 'utf8'));
}

export function goldenText(name) {
  return readFileSync(`${GOLDEN_DIR}/${name}`, 'utf8');
}

/** SHA-256 of float arrays as float32 little-endian bytes, one after the other. */
export function sha256Floats(arrays) {
  const hash = createHash('sha256');
  for (const values of arrays) {
    const f32 = Float32Array.from(values);
    const bytes = Buffer.alloc(4 * f32.length);
    f32.forEach((v, i) => bytes.writeFloatLE(v, 4 * i));
    hash.update(bytes);
  }
  return hash.digest('hex');
}

/** make_golden's mask_input pattern: ((7 x + 13 y + 31 seed) % 97 - 48) / 8. */
export function maskInputPattern(seed) {
  const side = 256;
  const out = new Float32Array(side * side);
  for (let k = 0; k < out.length; k++) out[k] = (((7 * (k % side) + 13 * Math.floor(k / side) + 31 * seed) % 97) - 48) / 8;
  return out;
}

/** make_golden's low_res_pattern: 8 sin(0.11 i + 0.3) cos(0.07 j) + 2 sin(0.05 (i + j)) - 1. */
export function lowResPattern() {
  const side = 256;
  const out = new Float32Array(side * side);
  for (let k = 0; k < out.length; k++) {
    const i = Math.floor(k / side);
    const j = k % side;
    out[k] = 8 * Math.sin(0.11 * i + 0.3) * Math.cos(0.07 * j) + 2 * Math.sin(0.05 * (i + j)) - 1;
  }
  return out;
}

export function assertClose(expected, actual, tolerance, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(expected[i] - actual[i]) <= tolerance)) {
      assert.fail(`${what}[${i}]: expected ${expected[i]}, got ${actual[i]}`);
    }
  }
}

/** A seeded pseudo-random generator (mulberry32) for property tests. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
