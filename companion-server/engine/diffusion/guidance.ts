// InstructPix2Pix three-way classifier-free guidance (mgie-reference.md §6).

export interface GuidanceScales {
  guidanceScale: number;
  imageGuidanceScale: number;
}

/** As diffusers' IP2P pipeline: guidance needs guidance_scale > 1 and image_guidance_scale >= 1. */
export function isGuidanceActive({ guidanceScale, imageGuidanceScale }: GuidanceScales): boolean {
  return guidanceScale > 1 && imageGuidanceScale >= 1;
}

/**
 * The UNet's batched inputs, built once per edit. Batch order (text, image, unconditional):
 * embeddings [cond, null, null], image latents [img, img, zeros]; one item [cond], [img] without guidance.
 * Each step only writes the scaled latents into the noisy half of every item.
 */
export class GuidanceBatch {
  readonly batchSize: number;
  readonly sample: Float32Array;
  readonly encoderHiddenStates: Float32Array;
  private readonly latentSize: number;

  constructor(imageLatent: Float32Array, cond: Float32Array, uncond: Float32Array, active: boolean) {
    this.batchSize = active ? 3 : 1;
    this.latentSize = imageLatent.length;
    const itemSize = 2 * this.latentSize;
    this.sample = new Float32Array(this.batchSize * itemSize);
    // Channels: [noisy latent (Cl), image latent (Cl)]; the third item's image latent stays zero.
    this.sample.set(imageLatent, this.latentSize);
    if (active) this.sample.set(imageLatent, itemSize + this.latentSize);
    this.encoderHiddenStates = new Float32Array(this.batchSize * cond.length);
    this.encoderHiddenStates.set(cond, 0);
    if (active) {
      this.encoderHiddenStates.set(uncond, cond.length);
      this.encoderHiddenStates.set(uncond, 2 * cond.length);
    }
  }

  /** Writes scale_model_input(latents) into every item. */
  setScaledLatents(scaled: Float32Array): void {
    for (let b = 0; b < this.batchSize; b++) this.sample.set(scaled, b * 2 * this.latentSize);
  }
}

/** e = e_uncond + g * (e_text - e_image) + gi * (e_image - e_uncond); the output alone without guidance. */
export function combineGuidance(noisePred: Float32Array, batchSize: number, scales: GuidanceScales): Float32Array {
  if (batchSize === 1) return noisePred;
  const n = noisePred.length / 3;
  const { guidanceScale: g, imageGuidanceScale: gi } = scales;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const text = noisePred[i];
    const image = noisePred[n + i];
    const uncond = noisePred[2 * n + i];
    out[i] = uncond + g * (text - image) + gi * (image - uncond);
  }
  return out;
}
