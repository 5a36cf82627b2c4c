import sharp from 'sharp';
import type { DecodedImage } from './decode-input-image.ts';

/** The input resized to the edit size, as NCHW values in [-1, 1] (mgie-reference.md §6). */
export async function prepareEditPixelsAsync(image: DecodedImage, width: number, height: number): Promise<Float32Array> {
  const data = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  const plane = width * height;
  const pixels = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) pixels[c * plane + i] = (data[i * 3 + c] / 255) * 2 - 1;
  }
  return pixels;
}

/**
 * The decoded VAE output as a PNG at the input's own size: pixel = round(clamp(x/2 + 0.5, 0, 1) * 255),
 * resized back, with the input's alpha channel put back when it had one.
 */
export async function encodeResultPngAsync(decoded: Float32Array, editWidth: number, editHeight: number, original: DecodedImage): Promise<Buffer> {
  const plane = editWidth * editHeight;
  const rgb = Buffer.alloc(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.min(1, Math.max(0, decoded[c * plane + i] / 2 + 0.5));
      rgb[i * 3 + c] = Math.round(v * 255);
    }
  }
  let result = sharp(rgb, { raw: { width: editWidth, height: editHeight, channels: 3 } });
  if (editWidth !== original.width || editHeight !== original.height) {
    const resized = await result.resize(original.width, original.height, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
    result = sharp(resized, { raw: { width: original.width, height: original.height, channels: 3 } });
  }
  if (original.alpha) result = result.joinChannel(original.alpha, { raw: { width: original.width, height: original.height, channels: 1 } });
  return result.png().toBuffer();
}
