// The MLLM half of a generated bundle: vision.onnx, embed.onnx, decoder.onnx and edit_head.onnx, with
// MGIE's architecture at the config's sizes and random weights (bundle-format.md; mgie-reference.md, "Models").
import { Float16Array } from '@petamoriken/float16';
import { GraphBuilder } from '../onnx-builder/graph-builder.ts';
import type { WeightSource } from '../onnx-builder/weight-source.ts';
import { buildDecoderModel } from './build-decoder-model.ts';
import { buildEditHeadModel } from './build-edit-head-model.ts';
import { buildVisionModel } from './build-vision-model.ts';
import type { GeneratedBundleConfig } from './generated-bundle-config.ts';

export interface LlmVocab {
  vocabSize: number;
  /** Token ids of [IMG0]..[IMG{K-1}], in order. */
  imgTokenIds: number[];
}

export interface LlmModels {
  vision: GraphBuilder;
  embed: GraphBuilder;
  decoder: GraphBuilder;
  editHead: GraphBuilder;
}

/** Builds the four models in a fixed order, so the same seed always gives the same weights. */
export function buildLlmModels(config: GeneratedBundleConfig, vocab: LlmVocab, weights: WeightSource): LlmModels {
  const { vocabSize, imgTokenIds } = vocab;
  const d = config.llm.hiddenSize;
  const k = config.editHead.numImgTokens;
  if (imgTokenIds.length !== k) throw new Error(`llm: ${imgTokenIds.length} IMG token ids given, the edit head takes ${k}`);
  for (const id of imgTokenIds) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`llm: IMG token id ${id} is outside the vocabulary of ${vocabSize}`);
  }
  if (new Set(imgTokenIds).size !== k) throw new Error('llm: IMG token ids must be distinct');

  const vision = buildVisionModel(config, weights);

  // embed_tokens, std 1 so token identity is strong in the residual stream of the random decoder.
  const table = weights.normal(vocabSize * d, 1);
  // MGIE's `emb` equals the IMG rows of embed_tokens (mgie-reference.md, "Where the weights live"). When
  // either side is stored as float16, round those rows to float16 in both, so they stay bit-equal.
  const roundImgRows = config.float16Models.includes('embed') || config.float16Models.includes('editHead');
  const imgEmbedding = new Float32Array(k * d);
  imgTokenIds.forEach((id, row) => {
    const values = table.subarray(id * d, (id + 1) * d);
    if (roundImgRows) values.set(Float16Array.from(values));
    imgEmbedding.set(values, row * d);
  });
  const embed = buildEmbedModel(config, table, vocabSize);

  const decoder = buildDecoderModel(config, vocabSize, weights);
  const editHead = buildEditHeadModel(config, imgEmbedding, weights);
  return { vision, embed, decoder, editHead };
}

/** embed.onnx: input_ids int64 [1, T] -> Gather rows of embed_tokens [V, D] -> inputs_embeds [1, T, D]. */
function buildEmbedModel(config: GeneratedBundleConfig, table: Float32Array, vocabSize: number): GraphBuilder {
  const d = config.llm.hiddenSize;
  const g = new GraphBuilder('embed', { float16: config.float16Models.includes('embed') });
  const ids = g.input('input_ids', 'int64', [1, 'sequence_length']);
  const embeds = g.op('Gather', [g.weight('model.embed_tokens.weight', table, [vocabSize, d]), ids], { axis: 0 }, 'embeds');
  g.output(embeds, 'inputs_embeds', 'float32', [1, 'sequence_length', d]);
  return g;
}
