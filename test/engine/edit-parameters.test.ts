// resolveEditParameters on its own: the bundle's defaults fill what is left out (within this server's
// limits), and each parameter is checked at both ends of its range, the error naming it and the range.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BundleManifest } from '../../companion-server/engine/bundle/bundle-manifest.ts';
import { type EditParameterInput, MAX_SEED, resolveEditParameters } from '../../companion-server/engine/edit-parameters.ts';
import { DEFAULT_LIMITS, type ImageLimits } from '../../companion-server/engine/image/image-limits.ts';

const manifest = {
  diffusion: {
    sizeMultiple: 64,
    scheduler: { type: 'euler' },
    defaults: { steps: 20, guidanceScale: 7.5, imageGuidanceScale: 1.5, size: 512 },
  },
} as unknown as BundleManifest;

const limits: ImageLimits = { ...DEFAULT_LIMITS, maxSteps: 50, maxEditSize: 1000 };

const resolve = (input: EditParameterInput, withLimits: ImageLimits = limits) => resolveEditParameters(input, manifest, withLimits);

function assertBad(input: EditParameterInput, message: string): void {
  assert.throws(
    () => resolve(input),
    (error: any) => error.code === 'MGIE_ERR_BAD_PARAMETER' && error.message === message,
    JSON.stringify(input),
  );
}

test('left out: the bundle defaults, the scheduler the bundle names, and a drawn seed', () => {
  const resolved = resolve({});
  assert.deepEqual({ ...resolved, seed: 0 }, { steps: 20, guidanceScale: 7.5, imageGuidanceScale: 1.5, size: 512, sizeMode: 'fit', seed: 0, scheduler: 'euler' });
  assert.ok(Number.isInteger(resolved.seed) && resolved.seed >= 0 && resolved.seed <= MAX_SEED);
  const seeds = new Set(Array.from({ length: 8 }, () => resolve({}).seed));
  assert.ok(seeds.size > 1, 'the seed is drawn anew each time');
});

test('given: every value is kept as given', () => {
  const input = { steps: 3, guidanceScale: 0, imageGuidanceScale: 100, size: 64, sizeMode: 'native' as const, seed: MAX_SEED, scheduler: 'ddim' as const };
  assert.deepEqual(resolve(input), input);
});

test('defaults beyond this server\'s limits are lowered to them: steps to maxSteps, size to the largest multiple within maxEditSize', () => {
  const tight = { ...DEFAULT_LIMITS, maxSteps: 10, maxEditSize: 300 };
  const resolved = resolve({}, tight);
  assert.equal(resolved.steps, 10);
  assert.equal(resolved.size, 256);
  assert.equal(resolve({}, { ...DEFAULT_LIMITS, maxEditSize: 256 }).size, 256);
});

test('steps: a whole number from 1 to maxSteps', () => {
  assert.equal(resolve({ steps: 1 }).steps, 1);
  assert.equal(resolve({ steps: 50 }).steps, 50);
  for (const steps of [0, 51, 2.5, -3, Number.NaN]) assertBad({ steps }, `steps must be a whole number from 1 to 50, got ${steps}.`);
});

test('guidance and image guidance: numbers from 0 to 100', () => {
  for (const value of [0, 0.5, 100]) {
    assert.equal(resolve({ guidanceScale: value }).guidanceScale, value);
    assert.equal(resolve({ imageGuidanceScale: value }).imageGuidanceScale, value);
  }
  for (const value of [-0.01, 100.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assertBad({ guidanceScale: value }, `guidance must be a number from 0 to 100, got ${value}.`);
    assertBad({ imageGuidanceScale: value }, `image guidance must be a number from 0 to 100, got ${value}.`);
  }
});

test('size: a multiple of the bundle\'s sizeMultiple from that multiple to maxEditSize', () => {
  assert.equal(resolve({ size: 64 }).size, 64);
  assert.equal(resolve({ size: 960 }).size, 960);
  for (const size of [0, 32, 1024, 500, 64.5, -64]) assertBad({ size }, `size must be a multiple of 64 from 64 to 1000, got ${size}.`);
});

test('seed: a whole number from 0 to 2^32 - 1', () => {
  assert.equal(resolve({ seed: 0 }).seed, 0);
  assert.equal(resolve({ seed: MAX_SEED }).seed, 4294967295);
  for (const seed of [-1, MAX_SEED + 1, 1.5]) assertBad({ seed }, `seed must be a whole number from 0 to 4294967295, got ${seed}.`);
});

test('scheduler: one of the three this engine has', () => {
  for (const scheduler of ['euler-ancestral', 'euler', 'ddim'] as const) assert.equal(resolve({ scheduler }).scheduler, scheduler);
  assertBad({ scheduler: 'heun' as any }, 'scheduler must be one of euler-ancestral, euler, ddim, got "heun".');
});
