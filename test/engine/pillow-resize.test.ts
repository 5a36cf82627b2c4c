// Pillow's resampling reproduced bit for bit: goldens computed with Debian bookworm's python3-pil (Pillow
// 9.4) by test/fixtures/pillow-resize/compute-pillow-resize-golden.py, on drawn pictures, noise and
// 0/255 extremes; down- and upscaling, odd sizes, 1-pixel strips, one pass skipped, a same-size copy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pillowResize } from '../../companion-server/engine/image/pillow-resize.ts';
import { drawTestPicture, pillowGolden, sha256 } from '../helpers/pillow-test-pictures.ts';

const golden = pillowGolden();

test(`every golden resize matches Pillow ${golden.pillow} byte for byte (${golden.resize.length} cases)`, () => {
  const mismatches: string[] = [];
  for (const c of golden.resize) {
    const rgb = drawTestPicture(c.content, c.width, c.height, c.seed);
    assert.equal(sha256(rgb), c.inputSha256, `the ${c.content} recipe drifted from the Python one (${c.width}x${c.height})`);
    const out = pillowResize({ width: c.width, height: c.height, rgb }, c.outWidth, c.outHeight, c.filter);
    assert.deepEqual([out.width, out.height, out.rgb.length], [c.outWidth, c.outHeight, c.outWidth * c.outHeight * 3]);
    if (sha256(out.rgb) === c.outputSha256) continue;
    let detail = '';
    if (c.output) {
      const expected = Buffer.from(c.output, 'base64');
      const differing = out.rgb.reduce((n, v, i) => n + (v !== expected[i] ? 1 : 0), 0);
      detail = `: ${differing} of ${expected.length} values differ`;
    }
    mismatches.push(`${c.filter} ${c.content} ${c.width}x${c.height} -> ${c.outWidth}x${c.outHeight}${detail}`);
  }
  assert.deepEqual(mismatches, []);
});

test('a window of the resized image equals the same crop of the whole (CLIP computes only its centre crop)', () => {
  for (const [width, height, outWidth, outHeight] of [
    [640, 480, 298, 224],
    [301, 173, 389, 224],
    [224, 500, 224, 96], // no horizontal pass
    [500, 224, 96, 224], // no vertical pass
    [50, 40, 50, 40], // a copy
  ]) {
    const image = { width, height, rgb: drawTestPicture('noise', width, height, width + height) };
    const whole = pillowResize(image, outWidth, outHeight, 'bicubic');
    const window = { left: Math.floor(outWidth / 3), top: Math.floor(outHeight / 4), width: Math.ceil(outWidth / 2), height: Math.ceil(outHeight / 2) };
    const part = pillowResize(image, outWidth, outHeight, 'bicubic', window);
    assert.deepEqual([part.width, part.height], [window.width, window.height]);
    for (let y = 0; y < window.height; y++) {
      const start = ((window.top + y) * outWidth + window.left) * 3;
      assert.deepEqual(part.rgb.subarray(y * window.width * 3, (y + 1) * window.width * 3), whole.rgb.subarray(start, start + window.width * 3), `${width}x${height} row ${y}`);
    }
  }
});

test('the output size and the window are checked', () => {
  const image = { width: 4, height: 4, rgb: new Uint8Array(48) };
  assert.throws(() => pillowResize(image, 0, 3, 'bicubic'), /whole output size of at least 1x1, got 0x3/);
  assert.throws(() => pillowResize(image, 3, 3, 'bicubic', { left: 1, top: 0, width: 3, height: 3 }), /not inside 3x3/);
  assert.throws(() => pillowResize({ width: 4, height: 4, rgb: new Uint8Array(47) }, 3, 3, 'bicubic'), /47 bytes is not 4x4 RGB/);
});
