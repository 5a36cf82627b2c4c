// The manifest of a format-1 bundle (models/BUNDLE-FORMAT.md) and its validation.
import { MgieError } from '../errors.ts';
import type { SchedulerConfig } from '../schedulers/scheduler.ts';

export const BUNDLE_FORMAT = 'mgie-onnx-bundle';
export const BUNDLE_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'mgie-bundle.json';

export const MODEL_KEYS = ['vision', 'embed', 'decoder', 'editHead', 'vaeEncoder', 'unet', 'vaeDecoder'] as const;
export type ModelKey = (typeof MODEL_KEYS)[number];

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  formatVersion: number;
  name: string;
  description?: string;
  license?: string;
  files: Record<ModelKey | 'tokenizer', string>;
  sha256?: Record<string, string>;
  vision: { imageSize: number; numPatches: number; mean: [number, number, number]; std: [number, number, number] };
  llm: { hiddenSize: number; numLayers: number; numKvHeads: number; headDim: number; vocabSize: number; weights?: LlmWeights };
  tokens: { bos: string; eos: string; imPatch: string; imStart: string; imEnd: string; img: string[] };
  prompt: { template: string };
  generation: { maxNewTokens: number; noRepeatNgramSize: number };
  editHead: { numImgTokens: number; numQueries: number; dim: number };
  diffusion: {
    latentChannels: number;
    vaeScaleFactor: number;
    scalingFactor: number;
    sizeMultiple: number;
    scheduler: SchedulerConfig;
    defaults: { steps: number; guidanceScale: number; imageGuidanceScale: number; size: number };
  };
  /** Optional: the tokenizer config next to tokenizer.json (default tokenizer_config.json). */
  tokenizerConfig?: string;
  /** Optional: how the bundle was made; `precision` is what the exporter converted the weights to. */
  export?: { precision?: string };
}

/** Optional `llm.weights`: how the decoder's projection weights are stored (shown by `mgie doctor`, used by the benchmark). */
export interface LlmWeights {
  format: LlmWeightFormat;
  /** Quantized formats: values per block along the input features, with their scale and zero point. */
  blockSize?: number;
  /** Quantized formats: 'asymmetric' (a zero point per block) or 'symmetric'. */
  scheme?: string;
  /** Quantized formats: the operator that runs them, 'MatMulNBits'. */
  op?: string;
}
export const LLM_WEIGHT_FORMATS = ['fp32', 'fp16', 'int8', 'int4'] as const;
export type LlmWeightFormat = (typeof LLM_WEIGHT_FORMATS)[number];

type Json = Record<string, unknown>;

/** Checks the parsed manifest field by field; the first problem becomes one clear error. */
export function parseBundleManifest(raw: unknown, where: string): BundleManifest {
  const fail = (path: string, expected: string): never => {
    throw new MgieError('MGIE_ERR_BUNDLE_MANIFEST', `${where}: "${path}" must be ${expected}. Fix the manifest or re-export the bundle.`);
  };
  const object = (value: unknown, path: string): Json => (isObject(value) ? value : fail(path, 'an object'));
  const string = (value: unknown, path: string): string => (typeof value === 'string' && value.length > 0 ? value : fail(path, 'a non-empty string'));
  const positiveInt = (value: unknown, path: string): number => (Number.isInteger(value) && (value as number) > 0 ? (value as number) : fail(path, 'a positive integer'));
  const positive = (value: unknown, path: string): number => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fail(path, 'a positive number'));
  const numberTriple = (value: unknown, path: string): [number, number, number] =>
    Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number' && Number.isFinite(v)) ? (value as [number, number, number]) : fail(path, 'an array of 3 numbers');

  const root = object(raw, '(root)');
  if (root.format !== BUNDLE_FORMAT) fail('format', `"${BUNDLE_FORMAT}"`);
  const formatVersion = positiveInt(root.formatVersion, 'formatVersion');
  if (formatVersion > BUNDLE_FORMAT_VERSION) {
    throw new MgieError(
      'MGIE_ERR_BUNDLE_VERSION',
      `${where}: the bundle is format version ${formatVersion}, this runtime reads version ${BUNDLE_FORMAT_VERSION}. Update mgie-for-figma, or export the bundle with a matching exporter.`,
    );
  }
  if (formatVersion !== BUNDLE_FORMAT_VERSION) fail('formatVersion', String(BUNDLE_FORMAT_VERSION));

  const files = object(root.files, 'files');
  for (const key of [...MODEL_KEYS, 'tokenizer'] as const) string(files[key], `files.${key}`);
  if (root.sha256 !== undefined) {
    for (const [file, digest] of Object.entries(object(root.sha256, 'sha256'))) {
      if (typeof digest !== 'string' || !/^[0-9a-f]{64}$/i.test(digest)) fail(`sha256.${file}`, 'a 64-digit hex SHA-256');
    }
  }

  const vision = object(root.vision, 'vision');
  positiveInt(vision.imageSize, 'vision.imageSize');
  positiveInt(vision.numPatches, 'vision.numPatches');
  numberTriple(vision.mean, 'vision.mean');
  const std = numberTriple(vision.std, 'vision.std');
  if (std.some((s) => s <= 0)) fail('vision.std', 'three positive numbers');

  const llm = object(root.llm, 'llm');
  for (const key of ['hiddenSize', 'numLayers', 'numKvHeads', 'headDim', 'vocabSize']) positiveInt(llm[key], `llm.${key}`);
  if (llm.weights !== undefined) {
    const weights = object(llm.weights, 'llm.weights');
    if (!LLM_WEIGHT_FORMATS.includes(weights.format as LlmWeightFormat)) fail('llm.weights.format', `one of ${LLM_WEIGHT_FORMATS.join(', ')}`);
    if (weights.format === 'int8' || weights.format === 'int4') {
      const blockSize = positiveInt(weights.blockSize, 'llm.weights.blockSize');
      if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) fail('llm.weights.blockSize', 'a power of two, at least 16 (MatMulNBits)');
      string(weights.scheme, 'llm.weights.scheme');
      string(weights.op, 'llm.weights.op');
    }
  }

  const tokens = object(root.tokens, 'tokens');
  for (const key of ['bos', 'eos', 'imPatch', 'imStart', 'imEnd']) string(tokens[key], `tokens.${key}`);
  if (!Array.isArray(tokens.img) || tokens.img.length === 0) fail('tokens.img', 'a non-empty array of token strings');
  (tokens.img as unknown[]).forEach((t, i) => string(t, `tokens.img[${i}]`));

  const prompt = object(root.prompt, 'prompt');
  const template = string(prompt.template, 'prompt.template');
  for (const slot of ['{instruction}', '{image}']) if (!template.includes(slot)) fail('prompt.template', `a template containing ${slot}`);

  const generation = object(root.generation, 'generation');
  positiveInt(generation.maxNewTokens, 'generation.maxNewTokens');
  if (!Number.isInteger(generation.noRepeatNgramSize) || (generation.noRepeatNgramSize as number) < 0) fail('generation.noRepeatNgramSize', 'an integer >= 0');

  const editHead = object(root.editHead, 'editHead');
  const numImgTokens = positiveInt(editHead.numImgTokens, 'editHead.numImgTokens');
  positiveInt(editHead.numQueries, 'editHead.numQueries');
  positiveInt(editHead.dim, 'editHead.dim');
  if ((tokens.img as unknown[]).length !== numImgTokens) fail('tokens.img', `${numImgTokens} tokens (editHead.numImgTokens)`);

  const diffusion = object(root.diffusion, 'diffusion');
  positiveInt(diffusion.latentChannels, 'diffusion.latentChannels');
  const vaeScaleFactor = positiveInt(diffusion.vaeScaleFactor, 'diffusion.vaeScaleFactor');
  positive(diffusion.scalingFactor, 'diffusion.scalingFactor');
  const sizeMultiple = positiveInt(diffusion.sizeMultiple, 'diffusion.sizeMultiple');
  if (sizeMultiple % vaeScaleFactor !== 0) fail('diffusion.sizeMultiple', `a multiple of diffusion.vaeScaleFactor (${vaeScaleFactor})`);
  const scheduler = object(diffusion.scheduler, 'diffusion.scheduler');
  string(scheduler.type, 'diffusion.scheduler.type');
  positiveInt(scheduler.numTrainTimesteps, 'diffusion.scheduler.numTrainTimesteps');
  positive(scheduler.betaStart, 'diffusion.scheduler.betaStart');
  positive(scheduler.betaEnd, 'diffusion.scheduler.betaEnd');
  const defaults = object(diffusion.defaults, 'diffusion.defaults');
  positiveInt(defaults.steps, 'diffusion.defaults.steps');
  positive(defaults.guidanceScale, 'diffusion.defaults.guidanceScale');
  positive(defaults.imageGuidanceScale, 'diffusion.defaults.imageGuidanceScale');
  const size = positiveInt(defaults.size, 'diffusion.defaults.size');
  if (size % sizeMultiple !== 0) fail('diffusion.defaults.size', `a multiple of diffusion.sizeMultiple (${sizeMultiple})`);
  if (root.tokenizerConfig !== undefined) string(root.tokenizerConfig, 'tokenizerConfig');

  return root as unknown as BundleManifest;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
