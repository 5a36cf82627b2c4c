// One benchmark run on one bundle, in the process that calls it (the caller starts a fresh process per
// bundle, so the peak RSS is this bundle's): load, then one edit per edit size, with every model run
// timed. Prints nothing; returns figures.
import { readdir, stat } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import type { ModelKey } from '../../companion-server/engine/bundle/bundle-manifest.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { readProcessMemory, type ProcessMemory } from './process-memory.ts';

export interface EditFigures {
  size: number;
  steps: number;
  promptTokens: number;
  generatedTokens: number;
  /** The pipeline's stages (prepare, vision, generate, condition, encode, diffuse, decode), ms. */
  stagesMs: Record<string, number>;
  /** What the PyTorch side times too, ms: model runs only. */
  modelMs: {
    vision: number;
    prefill: number;
    /** Decoder run plus the embed run of its input token, per generated token after the first, mean. */
    decodeToken: number;
    editHead: number;
    vaeEncode: number;
    /** Median over the steps; the first step is also given alone (it sizes the buffers for the new shape). */
    unetStep: number;
    unetFirstStep: number;
    vaeDecode: number;
  };
  /** Generated tokens after the first, per second of the generate stage after the prefill (JS included). */
  tokensPerSecond: number;
  wallMs: number;
  ortMs: number;
  memoryAfter: ProcessMemory;
}

export interface BundleFigures {
  bundle: string;
  directory: string;
  llmWeights: string;
  bundleBytes: number;
  /** decoder.onnx and its external data: what one decoder run reads. */
  decoderBytes: number;
  loadMs: number;
  /** Part of loadMs spent on the manifest's sha256 checks. */
  checksumMs: number;
  threads: number | 'default';
  memoryBeforeLoad: ProcessMemory;
  memoryAfterLoad: ProcessMemory;
  edits: EditFigures[];
  peakRssMB: number;
  loadAverage: { before: number; after: number };
}

export interface MeasureOptions {
  directory: string;
  sizes: number[];
  steps: number[];
  intraOpNumThreads?: number;
  /**
   * Before measuring, one short edit per size (1 step, 2 generated tokens), not measured: every model's
   * first run at that shape sizes its buffers, and PyTorch's side is timed warm too. Default true.
   */
  warmUp?: boolean;
}

export async function measureBundleEditAsync(options: MeasureOptions): Promise<BundleFigures> {
  const loadBefore = loadavg()[0];
  const memoryBeforeLoad = readProcessMemory();
  const pipeline = await MgiePipeline.loadAsync(options.directory, { intraOpNumThreads: options.intraOpNumThreads });
  const memoryAfterLoad = readProcessMemory();
  const { sessions, manifest } = pipeline.bundle;

  // Every model run, timed by model, in order: the decoder's first run of an edit is the prefill.
  const runs: Array<{ model: ModelKey; ms: number; tokens?: number }> = [];
  for (const [model, session] of Object.entries(sessions) as [ModelKey, (typeof sessions)[ModelKey]][]) {
    const run = session.runAsync.bind(session);
    session.runAsync = async (feeds) => {
      const started = performance.now();
      try {
        return await run(feeds);
      } finally {
        runs.push({ model, ms: performance.now() - started, tokens: feeds.inputs_embeds?.dims[1] });
      }
    };
  }

  const image = await samplePhotoAsync(512, 512);
  if (options.warmUp !== false) {
    for (const size of options.sizes) {
      await pipeline.editAsync({ image, instruction: 'make it look like autumn', parameters: { seed: 13331, steps: 1, size } }, { maxNewTokens: 2 });
    }
  }
  const edits: EditFigures[] = [];
  for (const [index, size] of options.sizes.entries()) {
    const steps = options.steps[index] ?? options.steps[options.steps.length - 1];
    runs.length = 0;
    const started = performance.now();
    const result = await pipeline.editAsync({ image, instruction: 'make it look like autumn', parameters: { seed: 13331, steps, size } });
    const wallMs = performance.now() - started;
    const of = (model: ModelKey) => runs.filter((r) => r.model === model).map((r) => r.ms);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const decoder = of('decoder');
    const embed = of('embed');
    const unet = of('unet');
    const laterTokens = Math.max(1, decoder.length - 1);
    // embed runs: the prompt's, then one per token fed back (the last token is never fed back).
    const decodeToken = (sum(decoder.slice(1)) + sum(embed.slice(1))) / laterTokens;
    edits.push({
      size,
      steps,
      promptTokens: runs.find((r) => r.model === 'decoder')?.tokens ?? 0,
      generatedTokens: result.generatedTokens,
      stagesMs: result.timings,
      modelMs: {
        vision: sum(of('vision')),
        prefill: decoder[0] ?? 0,
        decodeToken,
        editHead: sum(of('editHead')),
        vaeEncode: sum(of('vaeEncoder')),
        unetStep: median(unet.length > 1 ? unet.slice(1) : unet),
        unetFirstStep: unet[0] ?? 0,
        vaeDecode: sum(of('vaeDecoder')),
      },
      tokensPerSecond: laterTokens / ((result.timings.generate - (decoder[0] ?? 0)) / 1000),
      wallMs,
      ortMs: sum(runs.map((r) => r.ms)),
      memoryAfter: readProcessMemory(),
    });
  }
  await pipeline.releaseAsync();
  return {
    bundle: manifest.name,
    directory: pipeline.bundle.directory,
    llmWeights: describeWeights(manifest.llm.weights),
    bundleBytes: pipeline.bundle.totalBytes,
    decoderBytes: await filesBytesAsync(pipeline.bundle.directory, manifest.files.decoder),
    loadMs: pipeline.bundle.loadMilliseconds,
    checksumMs: pipeline.bundle.checksumMilliseconds,
    threads: options.intraOpNumThreads ?? 'default',
    memoryBeforeLoad,
    memoryAfterLoad,
    edits,
    peakRssMB: readProcessMemory().peakRssMB,
    loadAverage: { before: loadBefore, after: loadavg()[0] },
  };
}

function describeWeights(weights: { format: string; blockSize?: number } | undefined): string {
  if (!weights) return 'not recorded';
  return weights.blockSize ? `${weights.format}, blocks of ${weights.blockSize}` : weights.format;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The model file and its external data (files named after it: decoder.onnx.data, decoder.onnx_data, ...). */
async function filesBytesAsync(directory: string, modelFile: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(directory)) {
    if (name === modelFile || name.startsWith(`${modelFile}.`) || name.startsWith(`${modelFile}_`)) total += (await stat(path.join(directory, name))).size;
  }
  return total;
}
