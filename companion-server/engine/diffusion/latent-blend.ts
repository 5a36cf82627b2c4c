// Blended latent diffusion (Avrahami et al.): after every scheduler step the latents outside the mask are
// replaced by the original image's latent noised to that step's level, so only the masked area is denoised
// into something new and the rest stays the original, at the noise level the next step expects.
import type { Scheduler } from '../schedulers/scheduler.ts';
import { TorchGenerator } from '../torch-random/torch-generator.ts';

/** The blend noise's own seed, apart from the edit's: the edit's draws (initial and ancestral noise) stay as without a mask. */
export function blendNoiseSeed(seed: number): number {
  return (seed ^ 0x6d61736b) >>> 0; // "mask"
}

export class LatentBlend {
  private readonly original: Float32Array;
  private readonly generator: TorchGenerator;
  private readonly noise: Float32Array;

  /**
   * `imageLatent`: the VAE's latent mode [Cl, h, w] (unscaled, as the UNet's image conditioning); the
   * denoised latents live at scalingFactor times it. `latentMask`: [h * w] values 0..1, shared by the channels.
   */
  constructor(
    imageLatent: Float32Array,
    scalingFactor: number,
    private readonly latentMask: Float32Array,
    seed: number,
  ) {
    this.original = new Float32Array(imageLatent.length);
    for (let i = 0; i < imageLatent.length; i++) this.original[i] = imageLatent[i] * scalingFactor;
    if (imageLatent.length % latentMask.length !== 0) throw new RangeError(`the latent mask has ${latentMask.length} cells for a latent of ${imageLatent.length} values`);
    this.generator = new TorchGenerator(blendNoiseSeed(seed));
    this.noise = new Float32Array(imageLatent.length);
  }

  /** latents = m * latents + (1 - m) * noised original, in place; one fresh noise draw per step. */
  apply(latents: Float32Array, stepIndex: number, scheduler: Scheduler): Float32Array {
    const kept = scheduler.noiseToStepOutput(this.original, this.generator.fillNormal(this.noise), stepIndex);
    const cells = this.latentMask.length;
    for (let i = 0; i < latents.length; i++) {
      const m = this.latentMask[i % cells];
      // m = 1 leaves the value untouched (an all-white mask edits exactly as no mask).
      if (m !== 1) latents[i] = m * latents[i] + (1 - m) * kept[i];
    }
    return latents;
  }
}
