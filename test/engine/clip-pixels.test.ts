// CLIP's preprocessing against the reference's own: transformers' PIL image processor (shortest side to
// 224 with Pillow's bicubic, centre crop, rescale, normalise), goldens from
// test/fixtures/pillow-resize/compute-pillow-resize-golden.py.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prepareClipPixelsAsync } from '../../companion-server/engine/image/prepare-clip-pixels.ts';
import { drawTestPicture, pillowGolden, sha256 } from '../helpers/pillow-test-pictures.ts';

const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];
const golden = pillowGolden();

test(`the CLIP pixel values equal the reference processor's, bit for bit (${golden.clip.length} cases, ${golden.clipProcessor}, Pillow ${golden.pillow})`, async () => {
  const mismatches: string[] = [];
  for (const c of golden.clip) {
    const rgb = drawTestPicture(c.content, c.width, c.height, c.seed);
    assert.equal(sha256(rgb), c.inputSha256, `the ${c.content} recipe drifted from the Python one (${c.width}x${c.height})`);
    const pixels = await prepareClipPixelsAsync({ width: c.width, height: c.height, rgb: Buffer.from(rgb), alpha: null }, 224, MEAN, STD);
    assert.equal(pixels.length, 3 * 224 * 224);
    const bytes = new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength); // little-endian, as the golden
    if (sha256(bytes) !== c.pixelValuesSha256) {
      const reference = new Float32Array(c.first);
      mismatches.push(`${c.content} ${c.width}x${c.height}: first values ${[...pixels.subarray(0, 4)].join(', ')}, reference ${[...reference].join(', ')}`);
    }
  }
  assert.deepEqual(mismatches, []);
});
