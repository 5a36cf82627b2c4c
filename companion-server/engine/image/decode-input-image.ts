import sharp, { type Metadata } from 'sharp';
import { MgieError } from '../errors.ts';
import type { ImageLimits } from './image-limits.ts';

export interface DecodedImage {
  width: number;
  height: number;
  /** RGB bytes, row-major, alpha flattened onto white. */
  rgb: Buffer;
  /** The input's own alpha channel (width*height bytes), if it had one, to put back on the result. */
  alpha: Buffer | null;
}

/**
 * Reads only the image header and checks it against the limits, so that a decompression bomb is
 * refused before its pixels are decoded (also used before an edit is queued).
 */
export async function checkImageHeaderAsync(bytes: Uint8Array, limits: ImageLimits): Promise<{ width: number; height: number }> {
  if (bytes.length === 0) throw new MgieError('MGIE_ERR_BAD_IMAGE', 'The image is empty (0 bytes). Export the frame again and send its PNG or JPEG bytes.');
  let metadata: Metadata;
  try {
    // Header only: sharp's own pixel limit is off here so that our limits give the message.
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new MgieError('MGIE_ERR_BAD_IMAGE', `The image could not be read (${shortReason(cause)}). Send a PNG, JPEG, WebP, GIF, TIFF, AVIF or SVG file.`, { cause });
  }
  const { width, height } = metadata;
  if (!width || !height) throw new MgieError('MGIE_ERR_BAD_IMAGE', 'The image has zero width or height. Export a frame with a visible size.');
  if (Math.max(width, height) > limits.maxInputSide || width * height > limits.maxInputPixels) {
    throw new MgieError(
      'MGIE_ERR_IMAGE_TOO_LARGE',
      `The image is ${width}x${height} pixels; the limit is ${limits.maxInputSide} pixels per side and ${(limits.maxInputPixels / 1e6).toFixed(0)} megapixels. Export it at a smaller scale.`,
    );
  }
  return { width, height };
}

/** Decodes an input image after checking its header against the limits. EXIF orientation is applied. */
export async function decodeInputImageAsync(bytes: Uint8Array, limits: ImageLimits): Promise<DecodedImage> {
  await checkImageHeaderAsync(bytes, limits);
  try {
    const oriented = sharp(bytes, { limitInputPixels: limits.maxInputPixels, failOn: 'truncated' }).rotate();
    const { data, info } = await oriented.clone().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const pixelCount = info.width * info.height;
    const rgb = Buffer.alloc(pixelCount * 3);
    const alpha = Buffer.alloc(pixelCount);
    let opaque = true;
    for (let i = 0; i < pixelCount; i++) {
      const a = data[i * 4 + 3];
      alpha[i] = a;
      if (a !== 255) opaque = false;
      // Flatten onto white, as a designer sees a transparent frame on the canvas.
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round((data[i * 4 + c] * a + 255 * (255 - a)) / 255);
    }
    return { width: info.width, height: info.height, rgb, alpha: opaque ? null : alpha };
  } catch (cause) {
    throw new MgieError('MGIE_ERR_BAD_IMAGE', `The image is damaged or truncated (${shortReason(cause)}). Export it again.`, { cause });
  }
}

function shortReason(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0].replace(/^Input buffer /, '');
}
