import type { DecodedImage } from './decode-input-image.ts';
import { pillowResize } from './pillow-resize.ts';

/**
 * CLIP preprocessing (mgie-reference.md §1) as the reference's CLIPImageProcessor does it with PIL:
 * shortest side to imageSize with Pillow's bicubic, centre crop, rescale by 1/255, normalise with the
 * manifest's mean/std, each step in float32 like numpy's. Returns NCHW [1, 3, S, S], equal bit for bit
 * to the reference's pixel_values (test/engine/clip-pixels.test.ts). Async for its callers, which run it
 * beside sharp's work.
 */
export async function prepareClipPixelsAsync(image: DecodedImage, imageSize: number, mean: readonly number[], std: readonly number[]): Promise<Float32Array> {
  const { width, height } = image;
  // transformers' get_resize_output_image_size (default_to_square=False): the short side becomes
  // imageSize, the long side imageSize * long / short, truncated.
  const portrait = width <= height;
  const [short, long] = portrait ? [width, height] : [height, width];
  const newLong = Math.trunc((imageSize * long) / short);
  const [outWidth, outHeight] = portrait ? [imageSize, newLong] : [newLong, imageSize];
  // transformers' center_crop: the offset floors ((size - crop) // 2). Only the crop is resampled.
  const window = { left: Math.floor((outWidth - imageSize) / 2), top: Math.floor((outHeight - imageSize) / 2), width: imageSize, height: imageSize };
  const { rgb } = pillowResize({ width, height, rgb: image.rgb }, outWidth, outHeight, 'bicubic', window);

  // transformers' rescale: float64 multiply by 1/255, then float32; normalize: (x - mean) / std in
  // float32 with mean and std cast to float32. Math.fround after each operation gives numpy's float32.
  const scale = 1 / 255;
  const plane = imageSize * imageSize;
  const pixels = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    // 256 possible bytes: a table per channel
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = Math.fround(Math.fround(Math.fround(v * scale) - m) / s);
    for (let i = 0; i < plane; i++) pixels[c * plane + i] = table[rgb[i * 3 + c]];
  }
  return pixels;
}
