// Sizes of the bundles this project generates for itself: the tiny one the tests and the demo use,
// and a larger one whose compute dominates, for the benchmark. Both have MGIE's architecture
// (mgie-reference.md, "Models") at a smaller width and depth.

import type { LinearQuantization } from '../onnx-builder/layers.ts';

export type GeneratedModelName = 'vision' | 'embed' | 'decoder' | 'editHead' | 'vaeEncoder' | 'unet' | 'vaeDecoder';

export interface GeneratedBundleConfig {
  name: string;
  description: string;
  seed: number;
  /** CLIP ViT: patch conv, class token, learned positions, pre-LN transformer; penultimate layer is the output. */
  vision: { imageSize: number; patchSize: number; hiddenSize: number; numLayers: number; numHeads: number; mlpSize: number };
  /** LLaMA decoder: RMSNorm, rotary positions, SwiGLU MLP, untied lm_head. */
  llm: { hiddenSize: number; numLayers: number; numHeads: number; numKvHeads: number; headDim: number; intermediateSize: number; ropeTheta: number };
  /** MGIE EditMapper: llm2hid, nn.Transformer (norm_first), learned queries, hid2feat. */
  editHead: { numImgTokens: number; dModel: number; numHeads: number; numEncoderLayers: number; numDecoderLayers: number; feedForward: number; numQueries: number; dim: number };
  /** SD VAE: `blockChannels.length - 1` downsamplings (3 for the 8x factor). */
  vae: { latentChannels: number; blockChannels: number[]; groups: number; scalingFactor: number };
  /**
   * IP2P UNet: 2*latentChannels input channels, timestep embedding, cross-attention to the edit head output.
   * `attentionLevels[i]`: level i has Transformer2D blocks (diffusers CrossAttnDownBlock2D/CrossAttnUpBlock2D
   * rather than DownBlock2D/UpBlock2D); the mid block always has one. Latent sizes must be multiples of
   * 2^(blockChannels.length - 1).
   */
  unet: { blockChannels: number[]; attentionLevels: boolean[]; timeEmbedDim: number; numHeads: number; groups: number };
  /** Target base vocabulary of the generated BPE tokenizer (before MGIE's 11 added tokens). */
  baseVocabSize: number;
  /** Models written in float16 (weights and IO), to exercise the runtime's conversions. */
  float16Models: GeneratedModelName[];
  /**
   * Optional: the decoder's projections (attention, MLP, lm_head) block-quantized for onnxruntime's
   * MatMulNBits, as the exporter's `--llm-weights int4|int8` writes them. Absent: float weights.
   */
  llmQuantization?: LinearQuantization;
  defaults: { steps: number; guidanceScale: number; imageGuidanceScale: number; size: number };
  sizeMultiple: number;
}

export const TINY_BUNDLE_CONFIG: GeneratedBundleConfig = {
  name: 'mgie-tiny',
  description: 'Tiny randomly initialised MGIE-shaped bundle for tests and demos; its edits are not meaningful.',
  seed: 20240924,
  vision: { imageSize: 224, patchSize: 28, hiddenSize: 32, numLayers: 3, numHeads: 4, mlpSize: 64 },
  llm: { hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 4, headDim: 16, intermediateSize: 128, ropeTheta: 10000 },
  editHead: { numImgTokens: 8, dModel: 32, numHeads: 4, numEncoderLayers: 2, numDecoderLayers: 2, feedForward: 64, numQueries: 77, dim: 32 },
  vae: { latentChannels: 4, blockChannels: [8, 16, 16, 16], groups: 4, scalingFactor: 0.18215 },
  // 4 levels like SD; attention only at the lowest level and the mid block, where tokens are few (SD's top
  // level, 64x64 at 512 px, costs 4096^2 scores per head): about 7 ms per 512 px step, batch 3, on 2 CPU cores.
  unet: { blockChannels: [8, 8, 16, 32], attentionLevels: [false, false, false, true], timeEmbedDim: 32, numHeads: 4, groups: 4 },
  baseVocabSize: 1000,
  float16Models: [],
  defaults: { steps: 100, guidanceScale: 7.5, imageGuidanceScale: 1.5, size: 512 },
  sizeMultiple: 64,
};

/** Large enough that one edit takes seconds on a 2-core CPU, so the benchmark measures the runtime's overhead. */
export const BENCH_BUNDLE_CONFIG: GeneratedBundleConfig = {
  ...TINY_BUNDLE_CONFIG,
  name: 'mgie-bench',
  description: 'Randomly initialised MGIE-shaped bundle sized for benchmarks; its edits are not meaningful.',
  vision: { imageSize: 224, patchSize: 14, hiddenSize: 256, numLayers: 4, numHeads: 8, mlpSize: 1024 },
  llm: { hiddenSize: 512, numLayers: 8, numHeads: 8, numKvHeads: 8, headDim: 64, intermediateSize: 1408, ropeTheta: 10000 },
  editHead: { numImgTokens: 8, dModel: 256, numHeads: 4, numEncoderLayers: 4, numDecoderLayers: 4, feedForward: 1024, numQueries: 77, dim: 256 },
  vae: { latentChannels: 4, blockChannels: [32, 64, 128, 128], groups: 8, scalingFactor: 0.18215 },
  // SD 1.5's UNet layout (cross-attention on all levels but the lowest, time embedding 4x the first width)
  // at a fifth of its width: about 150 ms per step at 256 px, batch 3, on 2 CPU cores.
  unet: { blockChannels: [64, 128, 256, 256], attentionLevels: [true, true, true, false], timeEmbedDim: 256, numHeads: 8, groups: 16 },
  defaults: { steps: 20, guidanceScale: 7.5, imageGuidanceScale: 1.5, size: 256 },
};
