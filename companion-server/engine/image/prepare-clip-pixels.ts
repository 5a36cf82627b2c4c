import sharp from 'sharp';
import type { DecodedImage } from './decode-input-image.ts';

/**
 * CLIP preprocessing (mgie-reference.md §1): shortest side to imageSize (bicubic), centre crop,
 * scale to [0,1], normalise with the manifest's mean/std. Returns NCHW [1, 3, S, S].
 */
export async function prepareClipPixelsAsync(image: DecodedImage, imageSize: number, mean: readonly number[], std: readonly number[]): Promise<Float32Array> {
  const { data } = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(imageSize, imageSize, { fit: 'cover', position: 'centre', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = imageSize * imageSize;
  const pixels = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) pixels[c * plane + i] = (data[i * 3 + c] / 255 - mean[c]) / std[c];
  }
  return pixels;
}
