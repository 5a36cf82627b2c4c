// The edit canvas keeps the input's aspect ratio exactly: scaled (fit) or at its own size (native),
// padded to the UNet's multiple, cropped back; never stretched.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import type { DecodedImage } from '../../companion-server/engine/image/decode-input-image.ts';
import { encodeResultPngAsync, prepareEditPixels } from '../../companion-server/engine/image/edit-image-tensors.ts';
import { editSize, type EditSizeOptions } from '../../companion-server/engine/image/edit-size.ts';

const fit = (size: number): EditSizeOptions => ({ mode: 'fit', size, sizeMultiple: 64, vaeScaleFactor: 8, maxEditSize: 1024 });
const native: EditSizeOptions = { mode: 'native', size: 512, sizeMultiple: 64, vaeScaleFactor: 8, maxEditSize: 1024 };

test('fit: the long side becomes the edit size, the short side keeps the ratio, the canvas pads to the multiple', () => {
  assert.deepEqual(editSize(1024, 1024, fit(512)), { width: 512, height: 512, region: { left: 0, top: 0, width: 512, height: 512 } });
  // 1920x1080 at 512: 288 high (not stretched to 320), centred on 320 with the offset on a latent cell
  assert.deepEqual(editSize(1920, 1080, fit(512)), { width: 512, height: 320, region: { left: 0, top: 16, width: 512, height: 288 } });
  assert.deepEqual(editSize(300, 1200, fit(512)), { width: 128, height: 512, region: { left: 0, top: 0, width: 128, height: 512 } });
  assert.deepEqual(editSize(100, 50, fit(512)), { width: 512, height: 256, region: { left: 0, top: 0, width: 512, height: 256 } }); // small inputs scale up
  assert.deepEqual(editSize(301, 173, fit(128)), { width: 128, height: 128, region: { left: 0, top: 24, width: 128, height: 74 } });
});

test('fit: the region has the input\'s aspect ratio up to one pixel of rounding, for many sizes', () => {
  for (let width = 1; width <= 2000; width += 37) {
    for (let height = 1; height <= 2000; height += 53) {
      for (const size of [128, 512, 1024]) {
        const { width: W, height: H, region } = editSize(width, height, fit(size));
        assert.equal(Math.max(region.width, region.height), size);
        // the short side is the exact proportional length, rounded (at least 1 px)
        if (width >= height) assert.ok(Math.abs(region.height - (height * size) / width) <= 0.5 || region.height === 1, `${width}x${height} at ${size}`);
        else assert.ok(Math.abs(region.width - (width * size) / height) <= 0.5 || region.width === 1, `${width}x${height} at ${size}`);
        assert.ok(W % 64 === 0 && H % 64 === 0 && W - region.width < 64 && H - region.height < 64);
        assert.ok(region.left % 8 === 0 && region.top % 8 === 0 && region.left + region.width <= W && region.top + region.height <= H);
      }
    }
  }
});

test('an extreme aspect ratio keeps a 1-pixel side, padded to one multiple', () => {
  assert.deepEqual(editSize(4000, 10, fit(512)), { width: 512, height: 64, region: { left: 0, top: 24, width: 512, height: 1 } });
});

test('native: the image\'s own size, each side floored to a multiple of 8 as diffusers does, padded to 64', () => {
  assert.deepEqual(editSize(512, 512, native), { width: 512, height: 512, region: { left: 0, top: 0, width: 512, height: 512 } });
  assert.deepEqual(editSize(501, 375, native), { width: 512, height: 384, region: { left: 8, top: 8, width: 496, height: 368 } });
  assert.deepEqual(editSize(300, 200, native), { width: 320, height: 256, region: { left: 8, top: 24, width: 296, height: 200 } });
  assert.deepEqual(editSize(5, 70, native), { width: 64, height: 64, region: { left: 24, top: 0, width: 5, height: 64 } }); // under 8 px: kept
  assert.deepEqual(editSize(1024, 700, native).region, { left: 0, top: 0, width: 1024, height: 696 }); // 8 px of padding: all below, on whole latent cells
});

test('native: over the edit size limit is refused, naming both ways out', () => {
  assert.throws(
    () => editSize(1100, 600, native),
    (error: any) => error.code === 'MGIE_ERR_IMAGE_TOO_LARGE' && /1100x600 pixels; size mode "native" .* 1152x640 .* limit is 1024 .* Use size mode "fit"/.test(error.message),
  );
  // the canvas, padding included, is what the limit bounds
  assert.throws(() => editSize(1000, 1000, { ...native, maxEditSize: 1000 }), /1024x1024 with padding/);
});

/** A white picture with a black disc and a 1-px grid every 16 px, to measure proportions on. */
function discPicture(width: number, height: number, radius: number): DecodedImage {
  const rgb = Buffer.alloc(width * height * 3, 255);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inDisc = (x + 0.5 - width / 2) ** 2 + (y + 0.5 - height / 2) ** 2 < radius ** 2;
      if (inDisc || x % 16 === 0 || y % 16 === 0) rgb.fill(inDisc ? 0 : 128, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return { width, height, rgb, alpha: null };
}

/** The bounding box of the disc's dark pixels (value < 64 on channel 0). */
function discBox(value: (x: number, y: number) => number, width: number, height: number): { width: number; height: number; cx: number; cy: number } {
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (value(x, y) < 64) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
  }
  return { width: x1 - x0 + 1, height: y1 - y0 + 1, cx: (x0 + x1 + 1) / 2, cy: (y0 + y1 + 1) / 2 };
}

test('a disc stays round in model space and comes back round, in place, at the input size', async () => {
  for (const [width, height, size, radius] of [
    [301, 173, 128, 60],
    [1920, 1080, 512, 400],
    [173, 301, 256, 60],
    [640, 200, 512, 80],
  ]) {
    const image = discPicture(width, height, radius);
    const canvas = editSize(width, height, fit(size));
    const pixels = prepareEditPixels(image, canvas);
    assert.equal(pixels.length, 3 * canvas.width * canvas.height);
    // 1. in model space the disc's width and height agree within a pixel, at the scaled radius
    const scale = canvas.region.width / width;
    const { left, top } = canvas.region;
    const inModel = discBox((x, y) => (pixels[(top + y) * canvas.width + left + x] + 1) * 127.5, canvas.region.width, canvas.region.height);
    assert.ok(Math.abs(inModel.width - inModel.height) <= 1, `${width}x${height}: the disc is ${inModel.width}x${inModel.height} in model space`);
    assert.ok(Math.abs(inModel.width - 2 * radius * scale) <= 2, `${width}x${height}: ${inModel.width} across, expected ${2 * radius * scale}`);
    assert.ok(Math.abs(inModel.cx - canvas.region.width / 2) <= 1 && Math.abs(inModel.cy - canvas.region.height / 2) <= 1);
    // 2. the padding mirrors the image: the row above the region repeats its first row
    if (canvas.region.top > 0) {
      const row = (y: number) => pixels.subarray(y * canvas.width, (y + 1) * canvas.width);
      assert.deepEqual(row(canvas.region.top - 1), row(canvas.region.top));
    }
    // 3. through the decoder's output format and back to the input size: round and in place
    const png = await encodeResultPngAsync(pixels, canvas, image);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [width, height]);
    const back = discBox((x, y) => data[(y * width + x) * info.channels], width, height);
    const original = discBox((x, y) => image.rgb[(y * width + x) * 3], width, height);
    for (const key of ['width', 'height', 'cx', 'cy'] as const) {
      assert.ok(Math.abs(back[key] - original[key]) <= 1 / scale + 1, `${width}x${height}: ${key} ${back[key]} after the round trip, ${original[key]} before`);
    }
  }
});

test('native at the canvas size uses the image pixel for pixel, as the reference does for the demo\'s 512x512 inputs', () => {
  const image = discPicture(512, 512, 100);
  const pixels = prepareEditPixels(image, editSize(512, 512, native));
  for (let i = 0; i < 512 * 512; i++) {
    for (let c = 0; c < 3; c++) assert.equal(pixels[c * 512 * 512 + i], Math.fround(Math.fround(image.rgb[i * 3 + c] / 255) * 2 - 1));
  }
});
