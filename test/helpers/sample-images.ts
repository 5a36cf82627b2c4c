import sharp from 'sharp';

/** A region mask as main exports one: white (edit) in a centred disc under a shape, black (keep) elsewhere. */
export async function sampleMaskAsync(width: number, height: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      pixels[y * width + x] = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (Math.min(width, height) / 4) ** 2 ? 255 : 0;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 1 } }).png().toBuffer();
}

/** A non-square test picture with structure (gradients and a disc), as PNG. */
export async function samplePhotoAsync(width: number, height: number, options: { alpha?: boolean } = {}): Promise<Buffer> {
  const channels = options.alpha ? 4 : 3;
  const pixels = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      const inDisc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (Math.min(width, height) / 3) ** 2;
      pixels[i] = inDisc ? 230 : Math.round((255 * x) / width);
      pixels[i + 1] = inDisc ? 40 : Math.round((255 * y) / height);
      pixels[i + 2] = 128;
      if (options.alpha) pixels[i + 3] = x < width / 4 ? 0 : 255;
    }
  }
  return sharp(pixels, { raw: { width, height, channels } }).png().toBuffer();
}
