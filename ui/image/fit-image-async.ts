// Shrinks an image in the iframe (the Figma sandbox has no canvas): to at most `maxSide` px a side
// (figma.createImage takes 4096) and, for uploads, to at most `maxBytes`. Images that already fit are
// returned untouched, byte for byte.
import type { ServerLimits, WireEditParameters } from '../../companion-server/protocol/messages.ts';
import { MAX_IMAGE_SIDE } from '../../plugin/types.ts';

export interface SizedImage {
  png: Uint8Array;
  width: number;
  height: number;
}

export async function fitImageAsync(image: SizedImage, limits: { maxSide: number; maxBytes?: number }): Promise<SizedImage> {
  const maxBytes = limits.maxBytes ?? Number.POSITIVE_INFINITY;
  if (Math.max(image.width, image.height) <= limits.maxSide && image.png.length <= maxBytes) return image;
  const bitmap = await createImageBitmap(new Blob([image.png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
  try {
    let scale = Math.min(1, limits.maxSide / Math.max(bitmap.width, bitmap.height));
    // PNG size is hard to predict: shrink by steps until it fits (each step about halves the bytes).
    for (let attempt = 0; attempt < 8; attempt += 1) {
      const width = Math.max(1, Math.round(bitmap.width * scale));
      const height = Math.max(1, Math.round(bitmap.height * scale));
      const png = await drawPngAsync(bitmap, width, height);
      if (png.length <= maxBytes) return { png, width, height };
      scale *= 0.7;
    }
    throw new Error(`The image is still over ${(maxBytes / 2 ** 20).toFixed(0)} MB after downscaling. Select a smaller layer.`);
  } finally {
    bitmap.close();
  }
}

/**
 * The image at exactly `width` x `height` (a region mask, to the size its image was fitted to, so the
 * server gets the two at one size). Returned untouched when it is that size already.
 */
export async function resizeImageAsync(image: SizedImage, width: number, height: number): Promise<SizedImage> {
  if (image.width === width && image.height === height) return image;
  const bitmap = await createImageBitmap(new Blob([image.png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
  try {
    return { png: await drawPngAsync(bitmap, width, height), width, height };
  } finally {
    bitmap.close();
  }
}

async function drawPngAsync(bitmap: ImageBitmap, width: number, height: number): Promise<Uint8Array> {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  if (context === null) throw new Error('This browser cannot draw images (no 2D canvas).');
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, width, height);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (blob === null) throw new Error('The browser could not encode the image.');
  return new Uint8Array(await blob.arrayBuffer());
}

/**
 * The long side to export the selection at: within Figma's 4096 and the server's side and pixel limits
 * for the most elongated node (a long thin node can have a longer side within the same pixel count).
 * Size mode 'native' edits at the image's own size, which the server refuses over its edit size limit:
 * those exports are capped there (at a multiple of 64, as the edit canvas pads to one).
 */
export function chooseExportSide(items: ReadonlyArray<{ width: number; height: number }>, limits: ServerLimits, parameters: WireEditParameters = {}): number {
  let side = Math.min(MAX_IMAGE_SIDE, limits.maxImageSide);
  if (parameters.sizeMode === 'native') side = Math.min(side, Math.max(64, limits.maxEditSize - (limits.maxEditSize % 64)));
  for (const item of items) {
    const aspect = Math.min(item.width, item.height) / Math.max(item.width, item.height);
    side = Math.min(side, Math.floor(Math.sqrt(limits.maxImagePixels / Math.max(aspect, 1e-6))));
  }
  return Math.max(1, side);
}
