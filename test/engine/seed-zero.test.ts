// Seed 0 is a seed like any other (0..2^32-1): a `seed || drawSeed()` would quietly turn it into a
// random one, so the designer who fixed seed 0 could never get the same picture twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import { TorchGenerator } from '../../companion-server/engine/torch-random/torch-generator.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

let pipeline: MgiePipeline;
let photo: Buffer;

before(async () => {
  pipeline = await MgiePipeline.loadAsync(await tinyBundleDirAsync());
  photo = await samplePhotoAsync(96, 64);
});
after(() => pipeline.releaseAsync());

const quick = { steps: 3, size: 64 };

test('resolveParameters keeps seed 0 (and the other ends of the range) as given', () => {
  for (const seed of [0, 1, 0xffffffff]) assert.equal(pipeline.resolveParameters({ seed }).seed, seed);
});

test('seed 0: reported as 0, the same picture twice, another picture than seed 1 or no seed', async () => {
  const edit = (parameters: object) => pipeline.editAsync({ image: photo, instruction: 'make the frame red', parameters: { ...quick, ...parameters } });
  const first = await edit({ seed: 0 });
  const second = await edit({ seed: 0 });
  assert.equal(first.parameters.seed, 0);
  assert.equal(second.parameters.seed, 0);
  assert.ok(first.png.equals(second.png), 'seed 0 twice gives the same bytes');
  const one = await edit({ seed: 1 });
  assert.ok(!first.png.equals(one.png), 'seed 0 and seed 1 differ');
  const drawn = await edit({});
  assert.notEqual(drawn.parameters.seed, 0, 'no seed draws one (0 has a 1 in 2^32 chance)');
  assert.ok(!first.png.equals(drawn.png), 'seed 0 is not the same as "no seed"');
});

test('seed 0 starts from torch\'s seed-0 noise (with the deterministic DDIM scheduler nothing else is drawn)', async () => {
  const request = { image: photo, instruction: 'turn the day into night', parameters: { ...quick, seed: 0, scheduler: 'ddim' as const } };
  const seeded = await pipeline.editAsync(request);
  const count = 4 * (seeded.editWidth / 8) * (seeded.editHeight / 8);
  const fromZero = await pipeline.editAsync(request, { initialNoise: new TorchGenerator(0).randn(count) });
  assert.ok(seeded.png.equals(fromZero.png), 'the seed-0 edit used the seed-0 noise');
});
