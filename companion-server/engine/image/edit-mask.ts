// Region edits: a grey mask (white edits, black keeps) in the three geometries an edit needs: the latent
// grid the diffusion blends on, and the input's own size for the final pixel composite.
import sharp from 'sharp';
import { MgieError } from '../errors.ts';
import { checkImageHeaderAsync } from './decode-input-image.ts';
import { mirrorIndices } from './edit-image-tensors.ts';
import type { EditSize } from './edit-size.ts';
import type { ImageLimits } from './image-limits.ts';
import { pillowResize } from './pillow-resize.ts';

/** Pixels of feather inside the mask's edge: a few, so a seam blends, and nothing outside the mask moves. */
export const MASK_FEATHER_RADIUS = 3;

/** The mask at the input image's size: one grey byte per pixel, 255 edits, 0 keeps. */
export interface EditMask {
  width: number;
  height: number;
  grey: Uint8Array;
}

/**
 * The checks on a mask that need only its header (format, limits, the image's size or proportions), so a
 * server can refuse a bad mask before its edit waits in line. Returns the mask's own size.
 */
export async function checkEditMaskHeaderAsync(bytes: Uint8Array, image: { width: number; height: number }, limits: ImageLimits): Promise<{ width: number; height: number }> {
  let header: { width: number; height: number };
  try {
    header = await checkImageHeaderAsync(bytes, limits);
  } catch (error) {
    if (error instanceof MgieError) throw new MgieError(error.code === 'MGIE_ERR_BAD_IMAGE' ? 'MGIE_ERR_BAD_PARAMETER' : error.code, `The mask: ${error.message}`, { cause: error });
    throw error;
  }
  const { width, height } = image;
  const sameSize = header.width === width && header.height === height;
  // The mask's width at the image's height, within a pixel of the image's width (and the other way round).
  const proportional = Math.abs((header.width * height) / header.height - width) <= 1 && Math.abs((header.height * width) / header.width - height) <= 1;
  if (!sameSize && !proportional) {
    throw new MgieError(
      'MGIE_ERR_BAD_PARAMETER',
      `The mask is ${header.width}x${header.height} pixels but the image is ${width}x${height}. Export the mask at the image's size (or at the same proportions), white where the edit may change the picture and black where it must not.`,
    );
  }
  return header;
}

/**
 * Decodes a mask (PNG, JPEG, WebP, ...) for an image of width x height. Transparent parts keep (the mask is
 * flattened onto black). A mask of another size must have the image's proportions (a Figma export at 2x,
 * say): it is then scaled to the image's size; anything else is refused, naming both sizes.
 */
export async function decodeEditMaskAsync(bytes: Uint8Array, image: { width: number; height: number }, limits: ImageLimits): Promise<EditMask> {
  const header = await checkEditMaskHeaderAsync(bytes, image, limits);
  const { width, height } = image;
  const sameSize = header.width === width && header.height === height;
  try {
    let pipeline = sharp(bytes, { limitInputPixels: limits.maxInputPixels, failOn: 'truncated' }).rotate().flatten({ background: { r: 0, g: 0, b: 0 } });
    if (!sameSize) pipeline = sharp(await pipeline.resize(width, height, { fit: 'fill', kernel: 'lanczos3' }).png().toBuffer());
    const { data, info } = await pipeline.toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    if (info.width !== width || info.height !== height) throw new Error(`decoded at ${info.width}x${info.height}`);
    const grey = info.channels === 1 ? new Uint8Array(data) : Uint8Array.from({ length: width * height }, (_, i) => data[i * info.channels]);
    return { width, height, grey };
  } catch (cause) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `The mask could not be read (${String((cause as Error)?.message ?? cause).split('\n')[0]}). Send it as a PNG, JPEG or WebP file.`, { cause });
  }
}

/**
 * The mask on the latent grid [h/f * w/f], values 0..1: put on the edit canvas with the image's geometry
 * (resized to the region with Pillow's Lanczos like the image, mirrored into the padding as the image is),
 * then each latent cell takes the largest value of its f x f pixels, so that every pixel the mask edits lies
 * in a cell that is free to change; the pixel composite then draws the exact edge.
 */
export function latentMaskFor(mask: EditMask, canvas: EditSize, vaeScaleFactor: number): Float32Array {
  const { region } = canvas;
  let grey = mask.grey;
  if (region.width !== mask.width || region.height !== mask.height) {
    const rgb = new Uint8Array(mask.width * mask.height * 3);
    for (let i = 0; i < mask.grey.length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = mask.grey[i];
    const resized = pillowResize({ width: mask.width, height: mask.height, rgb }, region.width, region.height, 'lanczos').rgb;
    grey = Uint8Array.from({ length: region.width * region.height }, (_, i) => resized[3 * i]);
  }
  const f = vaeScaleFactor;
  const columns = mirrorIndices(canvas.width, region.left, region.width);
  const rows = mirrorIndices(canvas.height, region.top, region.height);
  const latentWidth = canvas.width / f;
  const latentHeight = canvas.height / f;
  const out = new Float32Array(latentWidth * latentHeight);
  for (let y = 0; y < canvas.height; y++) {
    const row = rows[y] * region.width;
    const cellRow = Math.floor(y / f) * latentWidth;
    for (let x = 0; x < canvas.width; x++) {
      const cell = cellRow + Math.floor(x / f);
      const value = grey[row + columns[x]] / 255;
      if (value > out[cell]) out[cell] = value;
    }
  }
  return out;
}

/**
 * The composite's alpha at the input's size: the mask eroded by `radius` then box-blurred by it, and never
 * above the mask itself, so the edit fades in over 2 * radius pixels inside the mask's edge and every pixel
 * the mask keeps (0) stays exactly the input's. Out-of-picture pixels repeat the edge: an all-white mask stays
 * all 255, and the edit then comes back unchanged.
 */
export function featherMask(mask: EditMask, radius: number = MASK_FEATHER_RADIUS): Uint8Array {
  const { width, height, grey } = mask;
  if (radius <= 0) return grey.slice();
  const eroded = windowPasses(grey, width, height, radius, 'min');
  const blurred = windowPasses(eroded, width, height, radius, 'mean');
  const out = new Uint8Array(grey.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(grey[i], blurred[i]);
  return out;
}

/**
 * A (2 * radius + 1)-square window filter, the minimum or the rounded mean, as a horizontal then a vertical
 * pass, the edge pixel repeated beyond the picture. Plain loops over typed arrays: a 12-megapixel mask
 * takes well under a second.
 */
function windowPasses(input: Uint8Array, width: number, height: number, radius: number, kind: 'min' | 'mean'): Uint8Array {
  const size = 2 * radius + 1;
  const pass = (source: Uint8Array, length: number, lines: number, stride: number, lineStride: number): Uint8Array => {
    const out = new Uint8Array(source.length);
    const line = new Uint8Array(length + 2 * radius);
    for (let l = 0; l < lines; l++) {
      const base = l * lineStride;
      for (let k = 0; k < line.length; k++) line[k] = source[base + Math.min(length - 1, Math.max(0, k - radius)) * stride];
      if (kind === 'mean') {
        let sum = 0;
        for (let k = 0; k < size; k++) sum += line[k];
        for (let k = 0; k < length; k++) {
          out[base + k * stride] = Math.round(sum / size);
          if (k + size < line.length) sum += line[k + size] - line[k];
        }
      } else {
        for (let k = 0; k < length; k++) {
          let min = 255;
          for (let d = 0; d < size; d++) if (line[k + d] < min) min = line[k + d];
          out[base + k * stride] = min;
        }
      }
    }
    return out;
  };
  const horizontal = pass(input, width, height, 1, width);
  return pass(horizontal, height, width, width, 1);
}

/**
 * The masked result at the input's size: where alpha is 0 the input's own RGBA bytes (not flattened onto
 * white: a kept pixel is the input's pixel), where it is 255 the edit, in between a blend of the two; the
 * input's alpha channel throughout. Alpha in the output only when the input had it, as for an unmasked edit.
 */
export async function compositeMaskedResultAsync(editedRgb: Uint8Array, input: Uint8Array, alpha: Uint8Array, limits: ImageLimits): Promise<Buffer> {
  const { data, info } = await sharp(input, { limitInputPixels: limits.maxInputPixels, failOn: 'truncated' }).rotate().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const pixels = info.width * info.height;
  if (alpha.length !== pixels || editedRgb.length !== pixels * 3) throw new Error(`composite sizes differ: ${info.width}x${info.height} input, ${alpha.length} mask, ${editedRgb.length / 3} edited pixels`);
  let opaque = true;
  for (let i = 0; i < pixels; i++) if (data[4 * i + 3] !== 255) opaque = false;
  const channels = opaque ? 3 : 4;
  const out = Buffer.alloc(pixels * channels);
  for (let i = 0; i < pixels; i++) {
    const a = alpha[i] / 255;
    for (let c = 0; c < 3; c++) {
      const kept = data[4 * i + c];
      out[i * channels + c] = a === 0 ? kept : a === 1 ? editedRgb[3 * i + c] : Math.round(a * editedRgb[3 * i + c] + (1 - a) * kept);
    }
    if (!opaque) out[i * channels + 3] = data[4 * i + 3];
  }
  return sharp(out, { raw: { width: info.width, height: info.height, channels } }).png().toBuffer();
}
