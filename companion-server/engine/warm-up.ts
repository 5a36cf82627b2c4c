// One small edit after loading, so the first designer does not pay for lazy initialisation: every model
// runs once, but with 2 generated tokens, not up to 96 (a 7B decoder on a CPU takes about a second per token).
import sharp from 'sharp';
import type { MgiePipeline } from './mgie-pipeline.ts';

export async function warmUpAsync(pipeline: MgiePipeline): Promise<void> {
  const size = pipeline.manifest.diffusion.sizeMultiple;
  const image = await sharp({ create: { width: size, height: size, channels: 3, background: '#808080' } }).png().toBuffer();
  await pipeline.editAsync({ image, instruction: 'warm up', parameters: { steps: 1, size, seed: 0 } }, { maxNewTokens: 2 });
}
