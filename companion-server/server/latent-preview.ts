import sharp from 'sharp';

// Stable Diffusion 1.x latent -> RGB approximation (the linear factors ComfyUI and A1111 use for
// cheap previews): far cheaper than the VAE decoder, good enough to watch an edit develop.
const SD_LATENT_RGB = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

/**
 * A small JPEG of the current latents [1, C, h, w], of `region` (latent cells: the image without the edit
 * canvas's padding) when given; 4-channel latents use the SD factors.
 */
export async function latentPreviewJpegAsync(
  latents: Float32Array,
  shape: readonly number[],
  region?: { left: number; top: number; width: number; height: number },
): Promise<{ jpeg: Buffer; width: number; height: number }> {
  const [, channels, latentHeight, latentWidth] = shape;
  const { left, top, width, height } = region ?? { left: 0, top: 0, width: latentWidth, height: latentHeight };
  const plane = latentHeight * latentWidth;
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (top + y) * latentWidth + left + x;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        let v = 0;
        if (channels === 4) for (let k = 0; k < 4; k++) v += latents[k * plane + i] * SD_LATENT_RGB[k][c];
        else v = latents[Math.min(c, channels - 1) * plane + i];
        rgb[o + c] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
      }
    }
  }
  const scale = 2;
  const jpeg = await sharp(rgb, { raw: { width, height, channels: 3 } }).resize(width * scale, height * scale, { kernel: 'nearest' }).jpeg({ quality: 70 }).toBuffer();
  return { jpeg, width: width * scale, height: height * scale };
}
