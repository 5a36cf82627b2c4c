// Region edits on the tiny bundle: a mask keeps what it marks black exactly the input's.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { isMgieError } from '../../companion-server/engine/errors.ts';
import { decodeEditMaskAsync, featherMask, latentMaskFor, MASK_FEATHER_RADIUS } from '../../companion-server/engine/image/edit-mask.ts';
import { editSize } from '../../companion-server/engine/image/edit-size.ts';
import { MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

let pipeline: MgiePipeline;

before(async () => {
  pipeline = await MgiePipeline.loadAsync(await tinyBundleDirAsync());
});
after(() => pipeline.releaseAsync());

const quick = { steps: 3, size: 128, seed: 11 };

/** A grey mask PNG: value(x, y) in 0..255. */
function maskPngAsync(width: number, height: number, value: (x: number, y: number) => number): Promise<Buffer> {
  const grey = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) grey[y * width + x] = value(x, y);
  return sharp(grey, { raw: { width, height, channels: 1 } }).png().toBuffer();
}

async function rgbaAsync(png: Uint8Array): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Pixels (x, y) where the two pictures differ in any channel. */
function differingPixels(a: { data: Buffer; width: number }, b: { data: Buffer }): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < a.data.length / 4; i++) {
    if (a.data.readUInt32LE(4 * i) !== b.data.readUInt32LE(4 * i)) out.push([i % a.width, Math.floor(i / a.width)]);
  }
  return out;
}

for (const alpha of [false, true]) {
  test(`an all-black mask gives the input back pixel for pixel (${alpha ? 'with' : 'without'} alpha, padded canvas)`, async () => {
    const photo = await samplePhotoAsync(301, 173, { alpha });
    const result = await pipeline.editAsync({ image: photo, instruction: 'make it red', parameters: quick, mask: await maskPngAsync(301, 173, () => 0) });
    assert.equal(result.masked, true);
    assert.deepEqual([result.width, result.height, result.editWidth, result.editHeight], [301, 173, 128, 128]);
    const [output, input] = await Promise.all([rgbaAsync(result.png), rgbaAsync(photo)]);
    assert.deepEqual(differingPixels(output, input), []);
    assert.equal((await sharp(result.png).metadata()).channels, alpha ? 4 : 3, 'alpha in the output only when the input has it');
  });
}

for (const scheduler of ['euler-ancestral', 'ddim'] as const) {
  test(`a half mask keeps the other half exactly and edits its own (${scheduler}, native size)`, async () => {
    const photo = await samplePhotoAsync(200, 136, { alpha: true });
    const mask = await maskPngAsync(200, 136, (x) => (x >= 100 ? 255 : 0));
    const parameters = { ...quick, scheduler, sizeMode: 'native' as const };
    const result = await pipeline.editAsync({ image: photo, instruction: 'make it red', parameters, mask });
    const [output, input] = await Promise.all([rgbaAsync(result.png), rgbaAsync(photo)]);
    const changed = differingPixels(output, input);
    assert.ok(changed.length > 0, 'the white half is edited');
    assert.deepEqual(changed.filter(([x]) => x < 100), [], 'the black half is the input exactly');
    // Past the feather the white half is the edit itself: most of its pixels moved.
    const unmasked = await rgbaAsync((await pipeline.editAsync({ image: photo, instruction: 'make it red', parameters })).png);
    const deep = changed.filter(([x]) => x >= 100 + 2 * MASK_FEATHER_RADIUS).length;
    assert.ok(deep > 0.5 * 136 * (100 - 2 * MASK_FEATHER_RADIUS), `${deep} pixels edited past the feather`);
    assert.notDeepEqual(output.data, unmasked.data, 'the kept half steers the edit: not the unmasked edit cut out');
  });
}

test('an all-white mask edits exactly as no mask', async () => {
  const photo = await samplePhotoAsync(301, 173, { alpha: true });
  const plain = await pipeline.editAsync({ image: photo, instruction: 'make it red', parameters: quick });
  const white = await pipeline.editAsync({ image: photo, instruction: 'make it red', parameters: quick, mask: await maskPngAsync(301, 173, () => 255) });
  assert.deepEqual((await rgbaAsync(white.png)).data, (await rgbaAsync(plain.png)).data);
});

test('a mask at the image\'s proportions is scaled to it; another size or unreadable bytes get a clear error', async () => {
  const photo = await samplePhotoAsync(150, 100);
  const double = await pipeline.editAsync({ image: photo, instruction: 'make it red', parameters: quick, mask: await maskPngAsync(300, 200, () => 0) });
  assert.deepEqual((await rgbaAsync(double.png)).data, (await rgbaAsync(photo)).data);
  await assert.rejects(
    pipeline.editAsync({ image: photo, instruction: 'make it red', parameters: quick, mask: await maskPngAsync(100, 100, () => 0) }),
    (error: unknown) => isMgieError(error, 'MGIE_ERR_BAD_PARAMETER') && /mask is 100x100 pixels but the image is 150x100/.test((error as Error).message),
  );
  await assert.rejects(
    pipeline.editAsync({ image: photo, instruction: 'make it red', parameters: quick, mask: Buffer.from('not a picture') }),
    (error: unknown) => isMgieError(error, 'MGIE_ERR_BAD_PARAMETER') && /^The mask: The image could not be read/.test((error as Error).message),
  );
});

test('the latent mask follows the image onto the padded canvas; the feather stays inside the mask', async () => {
  // 64x32 in fit mode at 64: the region is 64x32 at top 16 on a 64x64 canvas; the right half is white.
  const mask = await decodeEditMaskAsync(await maskPngAsync(64, 32, (x) => (x >= 32 ? 255 : 0)), { width: 64, height: 32 }, pipeline.limits);
  const canvas = editSize(64, 32, { mode: 'fit', size: 64, sizeMultiple: 64, vaeScaleFactor: 8, maxEditSize: 1024 });
  assert.deepEqual(canvas.region, { left: 0, top: 16, width: 64, height: 32 });
  const cells = latentMaskFor(mask, canvas, 8);
  assert.equal(cells.length, 64);
  for (let row = 0; row < 8; row++) {
    // the padding rows mirror the image, so they follow the same columns
    assert.deepEqual([...cells.subarray(row * 8, row * 8 + 8)].map((v) => Math.round(v)), [0, 0, 0, 0, 1, 1, 1, 1], `row ${row}`);
  }
  const alpha = featherMask(mask);
  const row = [...alpha.subarray(10 * 64, 11 * 64)];
  assert.ok(row.slice(0, 32).every((a) => a === 0), 'nothing outside the mask');
  assert.ok(row.slice(32 + 2 * MASK_FEATHER_RADIUS).every((a) => a === 255), 'the edit itself past the feather');
  assert.ok(row[32] > 0 && row[32] < 255 && row[33] > row[32], 'a ramp at the edge');
});
