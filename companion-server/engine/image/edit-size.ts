import { MgieError } from '../errors.ts';

/**
 * How the input is sized for the diffusion. 'fit' (the default): the long side scaled to the edit size.
 * 'native': the image's own size, as the reference notebook edits (diffusers floors each side to a
 * multiple of 8), within the edit size limit. In both the aspect ratio is kept: the UNet's size multiple
 * is reached by padding, never by stretching.
 */
export const SIZE_MODES = ['fit', 'native'] as const;
export type SizeMode = (typeof SIZE_MODES)[number];

export interface EditRegion {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The canvas the VAE and UNet see, and where the (scaled) image lies on it; the rest is padding. */
export interface EditSize {
  /** Multiples of the UNet's size multiple. */
  width: number;
  height: number;
  /** The image's pixels: its own aspect ratio, up to the rounding of one pixel. */
  region: EditRegion;
}

export interface EditSizeOptions {
  mode: SizeMode;
  /** 'fit': the long side of the region, in pixels (a multiple of sizeMultiple). */
  size: number;
  /** The bundle's diffusion.sizeMultiple: 64 for exported UNets (three 2x downsamplings of the latent). */
  sizeMultiple: number;
  /** The bundle's diffusion.vaeScaleFactor (8): pixels per latent cell. */
  vaeScaleFactor: number;
  /** The largest canvas side an edit may use (ImageLimits.maxEditSize). */
  maxEditSize: number;
}

/**
 * The edit canvas for an image of width x height. 'fit' scales the long side to `size` and the short one
 * in proportion (rounded, at least 1 px); 'native' keeps the image's size, each side of 8 px or more
 * floored to a multiple of vaeScaleFactor as diffusers' InstructPix2Pix pipeline does (a shorter side is
 * kept). The region is then centred on a canvas rounded up to sizeMultiple, its offset a multiple of
 * vaeScaleFactor so that the image's pixels fall on whole latent cells, as in an unpadded run.
 */
export function editSize(width: number, height: number, options: EditSizeOptions): EditSize {
  const { mode, size, sizeMultiple, vaeScaleFactor: f, maxEditSize } = options;
  let regionWidth: number;
  let regionHeight: number;
  if (mode === 'fit') {
    const long = Math.max(width, height);
    // multiply first: the long side comes out exactly `size`
    regionWidth = Math.max(1, Math.round((width * size) / long));
    regionHeight = Math.max(1, Math.round((height * size) / long));
  } else {
    regionWidth = width >= f ? width - (width % f) : width;
    regionHeight = height >= f ? height - (height % f) : height;
  }
  const canvas = (side: number): number => Math.ceil(side / sizeMultiple) * sizeMultiple;
  const canvasWidth = canvas(regionWidth);
  const canvasHeight = canvas(regionHeight);
  if (mode === 'native' && Math.max(canvasWidth, canvasHeight) > maxEditSize) {
    throw new MgieError(
      'MGIE_ERR_IMAGE_TOO_LARGE',
      `The image is ${width}x${height} pixels; size mode "native" edits at the image's own size (here ${canvasWidth}x${canvasHeight} with padding), and the edit size limit is ${maxEditSize} pixels a side. Use size mode "fit" to scale it to the edit size, or send it at most ${maxEditSize} pixels a side.`,
    );
  }
  const offset = (canvasSide: number, side: number): number => Math.floor((canvasSide - side) / 2 / f) * f;
  return {
    width: canvasWidth,
    height: canvasHeight,
    region: { left: offset(canvasWidth, regionWidth), top: offset(canvasHeight, regionHeight), width: regionWidth, height: regionHeight },
  };
}
