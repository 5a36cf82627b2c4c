// A bundle whose seven models are all float16 (weights and IO, timestep excepted) edits like any other.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import { TINY_BUNDLE_CONFIG } from '../../models/tiny/generated-bundle-config.ts';
import { writeGeneratedBundleAsync } from '../../models/tiny/write-generated-bundle.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';

test('an all-float16 bundle loads and edits; feeds are converted to the declared types', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'mgie-fp16-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = path.join(root, 'bundle');
  await writeGeneratedBundleAsync(
    { ...TINY_BUNDLE_CONFIG, name: 'mgie-tiny-fp16', float16Models: ['vision', 'embed', 'decoder', 'editHead', 'vaeEncoder', 'unet', 'vaeDecoder'] },
    dir,
  );
  const pipeline = await MgiePipeline.loadAsync(dir);
  t.after(() => pipeline.releaseAsync());
  const { sessions } = pipeline.bundle;
  assert.equal(sessions.decoder.inputs.get('past_key_values.0.key')?.type, 'float16');
  assert.equal(sessions.unet.inputs.get('sample')?.type, 'float16');
  assert.equal(sessions.unet.inputs.get('timestep')?.type, 'float32');

  const image = await samplePhotoAsync(100, 140);
  const request = { image, instruction: 'make the frame red', parameters: { steps: 3, size: 128, seed: 11 } };
  const first = await pipeline.editAsync(request);
  const meta = await sharp(first.png).metadata();
  assert.deepEqual([meta.width, meta.height], [100, 140]);
  assert.ok(first.generatedTokens > 0);
  assert.ok((await pipeline.editAsync(request)).png.equals(first.png), 'float16 edits are reproducible too');
});
