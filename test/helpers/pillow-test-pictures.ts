// The test pictures of test/fixtures/pillow-resize/compute-pillow-resize-golden.py, drawn again here from
// the same integer recipes (bit for bit: each golden case records the input's SHA-256), so that the
// goldens need not store their inputs.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type PictureContent = 'picture' | 'noise' | 'extremes';

/** Marsaglia's xorshift32 (13, 17, 5), as in the Python script. */
function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

/** RGB bytes, row-major, of one of the golden script's recipes. */
export function drawTestPicture(content: PictureContent, width: number, height: number, seed: number): Uint8Array {
  const next = xorshift32(seed);
  const out = new Uint8Array(width * height * 3);
  if (content === 'noise') {
    for (let i = 0; i < out.length; i++) out[i] = next() >>> 24;
    return out;
  }
  if (content === 'extremes') {
    for (let i = 0; i < out.length; i++) out[i] = next() & 0x100 ? 255 : 0;
    return out;
  }
  // picture: two gradients, a saturated disc with hard edges, dark diagonal stripes, grain
  const m = Math.min(width, height);
  const rgb = [0, 0, 0];
  let i = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = 2 * x + 1 - width;
      const dy = 2 * y + 1 - height;
      const inDisc = 9 * (dx * dx + dy * dy) < 4 * m * m;
      const stripe = Math.floor((x + 2 * y) / 5) % 4 === 0 ? 4 : 1;
      rgb[0] = Math.floor((inDisc ? 230 : Math.floor((255 * x) / Math.max(1, width - 1))) / stripe);
      rgb[1] = Math.floor((inDisc ? 40 : Math.floor((255 * y) / Math.max(1, height - 1))) / stripe);
      rgb[2] = Math.floor((inDisc ? 60 : 128) / stripe);
      for (let c = 0; c < 3; c++) {
        const v = rgb[c] + (next() % 17) - 8;
        out[i++] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return out;
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export interface PillowResizeCase {
  content: PictureContent;
  seed: number;
  width: number;
  height: number;
  outWidth: number;
  outHeight: number;
  filter: 'bicubic' | 'lanczos';
  inputSha256: string;
  outputSha256: string;
  /** The whole output (base64), for small cases. */
  output?: string;
}

export interface ClipPixelsCase {
  content: PictureContent;
  seed: number;
  width: number;
  height: number;
  inputSha256: string;
  /** Of the float32 pixel values, little-endian, [3, 224, 224]. */
  pixelValuesSha256: string;
  first: number[];
}

export interface PillowGolden {
  pillow: string;
  clipProcessor: string;
  resize: PillowResizeCase[];
  clip: ClipPixelsCase[];
}

export const pillowGolden = (): PillowGolden =>
  JSON.parse(readFileSync(new URL('../fixtures/pillow-resize/pillow-resize-golden.json', import.meta.url), 'utf8')) as PillowGolden;
