// The image stages on their own (sharp only, no model): header limits at their boundaries, alpha
// flattened onto white, the edit and CLIP pixel tensors, and the result PNG, checked pixel by pixel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { checkImageHeaderAsync, decodeInputImageAsync, type DecodedImage } from '../../companion-server/engine/image/decode-input-image.ts';
import { encodeResultPngAsync, prepareEditPixels } from '../../companion-server/engine/image/edit-image-tensors.ts';
import type { EditSize } from '../../companion-server/engine/image/edit-size.ts';
import { DEFAULT_LIMITS } from '../../companion-server/engine/image/image-limits.ts';
import { prepareClipPixelsAsync } from '../../companion-server/engine/image/prepare-clip-pixels.ts';

const rgbaPng = (width: number, height: number, rgba: number[]) =>
  sharp(Buffer.from(rgba), { raw: { width, height, channels: 4 } }).png().toBuffer();

/** A canvas that is all image (no padding). */
const canvas = (width: number, height: number): EditSize => ({ width, height, region: { left: 0, top: 0, width, height } });

function image(width: number, height: number, rgb: number[], alpha: number[] | null = null): DecodedImage {
  return { width, height, rgb: Buffer.from(rgb), alpha: alpha ? Buffer.from(alpha) : null };
}

test('header limits: exactly the longest side and the pixel count allowed pass, one more is MGIE_ERR_IMAGE_TOO_LARGE with the limits', async () => {
  const limits = { ...DEFAULT_LIMITS, maxInputSide: 40, maxInputPixels: 1200 };
  const png = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: '#808080' } }).png().toBuffer();
  assert.deepEqual(await checkImageHeaderAsync(await png(40, 30), limits), { width: 40, height: 30 });
  for (const [w, h] of [[41, 10], [10, 41], [35, 35]]) {
    await assert.rejects(checkImageHeaderAsync(await png(w, h), limits), (error: any) => {
      assert.equal(error.code, 'MGIE_ERR_IMAGE_TOO_LARGE');
      assert.equal(error.message, `The image is ${w}x${h} pixels; the limit is 40 pixels per side and 0 megapixels. Export it at a smaller scale.`);
      return true;
    });
  }
  await assert.rejects(checkImageHeaderAsync(new Uint8Array(0), limits), (error: any) => error.code === 'MGIE_ERR_BAD_IMAGE' && /\(0 bytes\)/.test(error.message));
  await assert.rejects(checkImageHeaderAsync(new TextEncoder().encode('not an image'), limits), (error: any) => {
    assert.equal(error.code, 'MGIE_ERR_BAD_IMAGE');
    assert.match(error.message, /^The image could not be read \(contains unsupported image format\)\. Send a PNG, JPEG, WebP, GIF, TIFF, AVIF or SVG file\.$/);
    assert.ok(error.cause);
    return true;
  });
});

test('decoding flattens alpha onto white and keeps the alpha channel; an opaque image has none', async () => {
  const decoded = await decodeInputImageAsync(await rgbaPng(3, 1, [255, 0, 0, 255, 0, 0, 255, 0, 0, 100, 200, 128]), DEFAULT_LIMITS);
  assert.equal(decoded.width, 3);
  assert.equal(decoded.height, 1);
  const half = (c: number) => Math.round((c * 128 + 255 * 127) / 255);
  assert.deepEqual([...decoded.rgb], [255, 0, 0, 255, 255, 255, half(0), half(100), half(200)]);
  assert.deepEqual([...decoded.alpha!], [255, 0, 128]);
  const opaque = await decodeInputImageAsync(await rgbaPng(1, 1, [1, 2, 3, 255]), DEFAULT_LIMITS);
  assert.equal(opaque.alpha, null);
  assert.deepEqual([...opaque.rgb], [1, 2, 3]);
});

test('a truncated image is MGIE_ERR_BAD_IMAGE "damaged or truncated", with the cause', async () => {
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#123456' } }).png().toBuffer();
  await assert.rejects(decodeInputImageAsync(png.subarray(0, png.length - 30), DEFAULT_LIMITS), (error: any) => {
    assert.equal(error.code, 'MGIE_ERR_BAD_IMAGE');
    assert.match(error.message, /^The image is damaged or truncated \([^\n]+\)\. Export it again\.$/);
    assert.ok(error.cause);
    return true;
  });
});

test('edit pixels: NCHW planes, each value v / 255 * 2 - 1', async () => {
  const pixels = prepareEditPixels(image(2, 1, [0, 51, 255, 255, 102, 0]), canvas(2, 1));
  // in float32 at each step, as diffusers computes it: (v / 255 as float32) * 2 - 1
  const f = (v: number) => Math.fround(Math.fround(v / 255) * 2 - 1);
  assert.deepEqual([...pixels], [f(0), f(255), f(51), f(102), f(255), f(0)]);
});

test('CLIP pixels: NCHW planes normalised with the manifest mean and std', async () => {
  const pixels = await prepareClipPixelsAsync(image(2, 2, [255, 0, 51, 255, 0, 51, 255, 0, 51, 255, 0, 51]), 2, [0.5, 0.25, 0.1], [0.5, 0.25, 0.2]);
  const f = (v: number, m: number, s: number) => Math.fround((v / 255 - m) / s);
  assert.deepEqual([...pixels], [...Array(4).fill(f(255, 0.5, 0.5)), ...Array(4).fill(f(0, 0.25, 0.25)), ...Array(4).fill(f(51, 0.1, 0.2))]);
});

test('result PNG: round(clamp(x / 2 + 0.5, 0, 1) * 255) per channel, at the input size, alpha put back', async () => {
  // planes R, G, B of a 2x1 result: 1.5 clamps to 255, -3 to 0, 0 is 128 (127.5 rounds up), -0.5 is 64
  const decoded = Float32Array.from([1.5, -3, 0, -0.5, 1, -1]);
  const png = await encodeResultPngAsync(decoded, canvas(2, 1), image(2, 1, [0, 0, 0, 0, 0, 0]));
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [2, 1, 3]);
  assert.deepEqual([...data], [255, 128, 255, 0, 64, 0]);

  const withAlpha = await encodeResultPngAsync(decoded, canvas(2, 1), image(2, 1, [0, 0, 0, 0, 0, 0], [10, 250]));
  const rgba = await sharp(withAlpha).raw().toBuffer({ resolveWithObject: true });
  assert.equal(rgba.info.channels, 4);
  assert.deepEqual([...rgba.data], [255, 128, 255, 10, 0, 64, 0, 250]);
});

test('result PNG: an edit size other than the input\'s is resized back to the input size', async () => {
  const decoded = new Float32Array(3 * 4 * 2).fill(0.2);
  const png = await encodeResultPngAsync(decoded, canvas(4, 2), image(8, 3, new Array(8 * 3 * 3).fill(0)));
  const { info, data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [8, 3]);
  assert.ok([...data].every((v) => v === Math.round(0.6 * 255)), 'a flat image stays flat');
});
