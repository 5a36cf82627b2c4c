import sharp from 'sharp';
import type { DecodedImage } from './decode-input-image.ts';
import type { EditSize } from './edit-size.ts';
import { pillowResize } from './pillow-resize.ts';

/**
 * The input on the edit canvas as NCHW values in [-1, 1] (mgie-reference.md §6): resized to the region
 * with Pillow's Lanczos when its size differs, as diffusers' InstructPix2Pix preprocessing resizes (so an
 * image already at its edit size, like the demo's 512x512 inputs, is used pixel for pixel), then padded
 * by mirroring to the canvas.
 *
 * Mirror padding, because the VAE encodes the padding and the UNet's convolutions and self-attention see
 * it: a mirror continues the image's colours and textures with no edge at the border (a constant colour
 * draws a hard edge the convolutions react to, and a flat band an instruction like "make the frame red"
 * may paint; repeating the edge pixel draws streaks). The padding is cut off the result.
 */
export function prepareEditPixels(image: DecodedImage, size: EditSize): Float32Array {
  const { region } = size;
  const scaled =
    region.width === image.width && region.height === image.height ? image.rgb : pillowResize({ width: image.width, height: image.height, rgb: image.rgb }, region.width, region.height, 'lanczos').rgb;
  // diffusers: np.array(image).astype(np.float32) / 255.0, then 2.0 * image - 1.0, in float32
  const toModel = new Float32Array(256);
  for (let v = 0; v < 256; v++) toModel[v] = Math.fround(Math.fround(v / 255) * 2 - 1);
  const columns = mirrorIndices(size.width, region.left, region.width);
  const rows = mirrorIndices(size.height, region.top, region.height);
  const plane = size.width * size.height;
  const pixels = new Float32Array(3 * plane);
  for (let y = 0; y < size.height; y++) {
    const row = rows[y] * region.width;
    for (let x = 0; x < size.width; x++) {
      const p = (row + columns[x]) * 3;
      const i = y * size.width + x;
      pixels[i] = toModel[scaled[p]];
      pixels[plane + i] = toModel[scaled[p + 1]];
      pixels[2 * plane + i] = toModel[scaled[p + 2]];
    }
  }
  return pixels;
}

/**
 * For each of `canvas` positions, the region's pixel it shows: itself inside [start, start + length), a
 * mirror image outside, the edge pixel repeated (numpy's 'symmetric'), repeating as far as needed (a
 * 1-pixel region fills the canvas with that pixel).
 */
export function mirrorIndices(canvas: number, start: number, length: number): Int32Array {
  const indices = new Int32Array(canvas);
  const period = 2 * length;
  for (let i = 0; i < canvas; i++) {
    const j = (((i - start) % period) + period) % period;
    indices[i] = j < length ? j : period - 1 - j;
  }
  return indices;
}

/**
 * The decoded VAE output as a PNG at the input's own size: pixel = round(clamp(x/2 + 0.5, 0, 1) * 255),
 * the padding cut off, the region resized back (sharp's Lanczos; aspect ratio unchanged) when its size
 * differs, and the input's alpha channel put back when it had one.
 */
export async function encodeResultPngAsync(decoded: Float32Array, size: EditSize, original: DecodedImage): Promise<Buffer> {
  const rgb = await resultRgbAsync(decoded, size, original);
  let result = sharp(rgb, { raw: { width: original.width, height: original.height, channels: 3 } });
  if (original.alpha) result = result.joinChannel(original.alpha, { raw: { width: original.width, height: original.height, channels: 1 } });
  return result.png().toBuffer();
}

/** The decoded VAE output as RGB bytes at the input's own size (what encodeResultPngAsync encodes). */
export async function resultRgbAsync(decoded: Float32Array, size: EditSize, original: DecodedImage): Promise<Buffer> {
  const { region } = size;
  const plane = size.width * size.height;
  const rgb = Buffer.alloc(region.width * region.height * 3);
  let o = 0;
  for (let y = region.top; y < region.top + region.height; y++) {
    for (let x = region.left; x < region.left + region.width; x++) {
      const i = y * size.width + x;
      for (let c = 0; c < 3; c++) rgb[o++] = Math.round(Math.min(1, Math.max(0, decoded[c * plane + i] / 2 + 0.5)) * 255);
    }
  }
  if (region.width === original.width && region.height === original.height) return rgb;
  return sharp(rgb, { raw: { width: region.width, height: region.height, channels: 3 } }).resize(original.width, original.height, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
}
