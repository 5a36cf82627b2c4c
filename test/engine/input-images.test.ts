// Bad images: each is refused with a clear error before any model runs.
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { test } from 'node:test';
import { decodeInputImageAsync } from '../../companion-server/engine/image/decode-input-image.ts';
import { DEFAULT_LIMITS } from '../../companion-server/engine/image/image-limits.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';

function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** A PNG with the given header and (possibly absent) pixel data, written by hand. */
function pngWithHeader(width: number, height: number, idat: Buffer | null): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...(idat ? [chunk('IDAT', idat)] : []),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const decode = (bytes: Uint8Array, limits = DEFAULT_LIMITS) => decodeInputImageAsync(bytes, limits);
const refusedWith = (code: string, pattern: RegExp) => (error: any) => error.code === code && pattern.test(error.message);

test('a good PNG decodes to RGB at its size', async () => {
  const image = await decode(await samplePhotoAsync(33, 21));
  assert.deepEqual([image.width, image.height, image.rgb.length, image.alpha], [33, 21, 33 * 21 * 3, null]);
});

test('not an image', async () => {
  await assert.rejects(decode(Buffer.from('%PDF-1.4 this is not a picture')), refusedWith('MGIE_ERR_BAD_IMAGE', /could not be read.*Send a PNG, JPEG/));
});

test('empty bytes', async () => {
  await assert.rejects(decode(new Uint8Array(0)), refusedWith('MGIE_ERR_BAD_IMAGE', /empty \(0 bytes\)/));
});

test('a truncated PNG', async () => {
  const png = await samplePhotoAsync(200, 150);
  await assert.rejects(decode(png.subarray(0, Math.floor(png.length * 0.6))), refusedWith('MGIE_ERR_BAD_IMAGE', /damaged or truncated|could not be read/));
});

test('a zero-size PNG', async () => {
  await assert.rejects(decode(pngWithHeader(0, 10, deflateSync(Buffer.alloc(0)))), refusedWith('MGIE_ERR_BAD_IMAGE', /zero width or height|could not be read/));
});

test('over the side limit', async () => {
  await assert.rejects(decode(await samplePhotoAsync(300, 20), { ...DEFAULT_LIMITS, maxInputSide: 256 }), refusedWith('MGIE_ERR_IMAGE_TOO_LARGE', /300x20 pixels; the limit is 256 pixels per side/));
});

test('a decompression bomb is refused from its header, before decoding', async () => {
  // Claims 60000 x 60000 (3.6 gigapixels) with almost no data: decoding it would exhaust memory.
  const bomb = pngWithHeader(60000, 60000, deflateSync(Buffer.alloc(1000)));
  const started = performance.now();
  await assert.rejects(decode(bomb, { ...DEFAULT_LIMITS, maxInputSide: 100000 }), refusedWith('MGIE_ERR_IMAGE_TOO_LARGE', /60000x60000/));
  assert.ok(performance.now() - started < 1000);
});
