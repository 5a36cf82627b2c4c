// N variations of one edit in one job (the UNet batched over all of them, the LLM once) against N separate
// edits with seeds seed .. seed+N-1 (what a client would otherwise send), on one bundle, in this process.
import { MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';

export interface VariationOptions {
  directory: string;
  variations: number;
  size: number;
  steps: number;
  intraOpNumThreads?: number;
}

export interface VariationFigures {
  bundle: string;
  variations: number;
  size: number;
  steps: number;
  /** Wall time of the one batched job and of the N separate edits, ms. */
  batchedMs: number;
  separateMs: number;
  /** The diffuse stage alone: one batched loop against N loops. */
  batchedDiffuseMs: number;
  separateDiffuseMs: number;
}

export async function measureVariationsAsync(options: VariationOptions): Promise<VariationFigures> {
  const pipeline = await MgiePipeline.loadAsync(options.directory, { intraOpNumThreads: options.intraOpNumThreads });
  try {
    const image = await samplePhotoAsync(options.size, Math.round((options.size * 3) / 4));
    const request = { image, instruction: 'make it look like autumn', parameters: { size: options.size, steps: options.steps, seed: 13331 } };
    // Warm-up at both batch sizes, so neither side pays for sizing buffers to a new shape.
    await pipeline.editAsync({ ...request, parameters: { ...request.parameters, steps: 1 } });
    await pipeline.editAsync({ ...request, parameters: { ...request.parameters, steps: 1 }, variations: options.variations });

    let started = performance.now();
    const batched = await pipeline.editAsync({ ...request, variations: options.variations });
    const batchedMs = performance.now() - started;
    started = performance.now();
    let separateDiffuseMs = 0;
    for (let v = 0; v < options.variations; v++) {
      const single = await pipeline.editAsync({ ...request, parameters: { ...request.parameters, seed: request.parameters.seed + v } });
      separateDiffuseMs += single.timings.diffuse;
    }
    const separateMs = performance.now() - started;
    return {
      bundle: pipeline.manifest.name,
      variations: options.variations,
      size: options.size,
      steps: options.steps,
      batchedMs,
      separateMs,
      batchedDiffuseMs: batched.timings.diffuse,
      separateDiffuseMs,
    };
  } finally {
    await pipeline.releaseAsync();
  }
}

export function printVariationFigures(figures: VariationFigures): void {
  const { bundle, variations: n, size, steps } = figures;
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  console.log(
    `variations ${bundle} ${size} px, ${steps} steps: ${n} batched in one job ${s(figures.batchedMs)}, ${n} separate edits ${s(figures.separateMs)}` +
      ` (${(figures.separateMs / figures.batchedMs).toFixed(2)}x faster); diffuse stage ${s(figures.batchedDiffuseMs)} against ${s(figures.separateDiffuseMs)}` +
      ` (${(figures.separateDiffuseMs / figures.batchedDiffuseMs).toFixed(2)}x)`,
  );
}
