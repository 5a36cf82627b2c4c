import assert from 'node:assert/strict';
import { test } from 'node:test';
import { combineGuidance, GuidanceBatch, isGuidanceActive } from '../../companion-server/engine/diffusion/guidance.ts';

test('guidance is active only for guidance > 1 and image guidance >= 1 (as diffusers IP2P)', () => {
  assert.equal(isGuidanceActive({ guidanceScale: 7.5, imageGuidanceScale: 1.5 }), true);
  assert.equal(isGuidanceActive({ guidanceScale: 7.5, imageGuidanceScale: 1 }), true);
  assert.equal(isGuidanceActive({ guidanceScale: 1, imageGuidanceScale: 1.5 }), false);
  assert.equal(isGuidanceActive({ guidanceScale: 7.5, imageGuidanceScale: 0.9 }), false);
});

test('batch order: embeddings [cond, null, null], image latents [img, img, zeros], noisy half in every item', () => {
  const img = Float32Array.of(1, 2); // Cl*h*w = 2
  const cond = Float32Array.of(10, 11, 12);
  const uncond = Float32Array.of(-1, -2, -3);
  const batch = new GuidanceBatch(img, cond, uncond, true);
  batch.setScaledLatents(Float32Array.of(7, 8));
  assert.equal(batch.batchSize, 3);
  // per item: [noisy (2) | image (2)]
  assert.deepEqual(Array.from(batch.sample), [7, 8, 1, 2, 7, 8, 1, 2, 7, 8, 0, 0]);
  assert.deepEqual(Array.from(batch.encoderHiddenStates), [10, 11, 12, -1, -2, -3, -1, -2, -3]);
});

test('without guidance one conditional item runs', () => {
  const batch = new GuidanceBatch(Float32Array.of(1, 2), Float32Array.of(10, 11), Float32Array.of(0, 0), false);
  batch.setScaledLatents(Float32Array.of(7, 8));
  assert.deepEqual(Array.from(batch.sample), [7, 8, 1, 2]);
  assert.deepEqual(Array.from(batch.encoderHiddenStates), [10, 11]);
  const prediction = Float32Array.of(0.5, 0.25);
  assert.equal(combineGuidance(prediction, 1, { guidanceScale: 1, imageGuidanceScale: 1 }), prediction);
});

test('the three-way formula: e = u + g (t - i) + gi (i - u)', () => {
  const text = [1, -2];
  const image = [0.5, 3];
  const uncond = [0.25, -1];
  const out = combineGuidance(Float32Array.from([...text, ...image, ...uncond]), 3, { guidanceScale: 7.5, imageGuidanceScale: 1.5 });
  for (let i = 0; i < 2; i++) {
    const expected = uncond[i] + 7.5 * (text[i] - image[i]) + 1.5 * (image[i] - uncond[i]);
    assert.ok(Math.abs(out[i] - expected) < 1e-6, `${out[i]} vs ${expected}`);
  }
});
