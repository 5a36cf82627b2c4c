// edit_head.onnx: MGIE's EditMapper (ml-mgie mgie_llava.py; mgie-reference.md, "Models"):
// hid2feat(nn.Transformer(llm2hid(img_hidden + emb), query)), with emb baked in as a constant.
import { GraphBuilder } from '../onnx-builder/graph-builder.ts';
import { layerNorm, linear, multiHeadAttention, type Layers } from '../onnx-builder/layers.ts';
import type { WeightSource } from '../onnx-builder/weight-source.ts';
import type { GeneratedBundleConfig } from './generated-bundle-config.ts';

/** Name of the IMG_EMB constant [1, K, D] in edit_head.onnx (fp32 graphs; fp16 ones add `_fp16`). */
export const EDIT_HEAD_EMB_NAME = 'edit_head.emb';

/** `imgEmbedding`: the K rows [K * D] of the IMG tokens in the embedding table (MGIE's `emb`). */
export function buildEditHeadModel(config: GeneratedBundleConfig, imgEmbedding: Float32Array, weights: WeightSource): GraphBuilder {
  const { numImgTokens: k, dModel, numHeads, numEncoderLayers, numDecoderLayers, feedForward, numQueries: q, dim } = config.editHead;
  const d = config.llm.hiddenSize;
  if (imgEmbedding.length !== k * d) throw new Error(`editHead: IMG embedding has ${imgEmbedding.length} values, expected ${k}x${d}`);
  if (dModel % numHeads !== 0) throw new Error(`editHead: dModel ${dModel} is not divisible by ${numHeads} heads`);
  const g = new GraphBuilder('edit_head', { float16: config.float16Models.includes('editHead') });
  const layers: Layers = { g, w: weights };

  const imgHidden = g.input('img_hidden', 'float32', ['batch', k, d]);
  const withEmb = g.op('Add', [imgHidden, g.weight(EDIT_HEAD_EMB_NAME, imgEmbedding, [1, k, d])], {}, 'llm_plus_emb');
  let src = linear(layers, withEmb, d, dModel, 'edit_head.llm2hid');

  // torch nn.Transformer(norm_first=True, batch_first=True, activation relu, dropout 0), no masks.
  const feedForwardBlock = (x: string, prefix: string) =>
    linear(layers, g.op('Relu', [linear(layers, x, dModel, feedForward, `${prefix}.linear1`)]), feedForward, dModel, `${prefix}.linear2`);
  for (let i = 0; i < numEncoderLayers; i++) {
    const prefix = `edit_head.mapper.encoder.layers.${i}`;
    src = g.op('Add', [src, multiHeadAttention(layers, layerNorm(layers, src, dModel, `${prefix}.norm1`), { dim: dModel, numHeads, name: `${prefix}.self_attn` })]);
    src = g.op('Add', [src, feedForwardBlock(layerNorm(layers, src, dModel, `${prefix}.norm2`), prefix)], {}, `${prefix}.out`);
  }
  const memory = layerNorm(layers, src, dModel, 'edit_head.mapper.encoder.norm');

  // Target: the learned query (torch.randn init) repeated over the batch, as query.repeat(B, 1, 1).
  const query = g.weight('edit_head.query', weights.normal(q * dModel, 1), [1, q, dModel]);
  const batch = g.op('Shape', [imgHidden], { start: 0, end: 1 }, 'batch_size');
  let tgt = g.op('Expand', [query, g.op('Concat', [batch, g.int64s('query_tail', [1, 1])], { axis: 0 })], {}, 'tgt');
  for (let i = 0; i < numDecoderLayers; i++) {
    const prefix = `edit_head.mapper.decoder.layers.${i}`;
    tgt = g.op('Add', [tgt, multiHeadAttention(layers, layerNorm(layers, tgt, dModel, `${prefix}.norm1`), { dim: dModel, numHeads, name: `${prefix}.self_attn` })]);
    tgt = g.op('Add', [tgt, multiHeadAttention(layers, layerNorm(layers, tgt, dModel, `${prefix}.norm2`), { dim: dModel, numHeads, name: `${prefix}.multihead_attn`, context: memory })]);
    tgt = g.op('Add', [tgt, feedForwardBlock(layerNorm(layers, tgt, dModel, `${prefix}.norm3`), prefix)], {}, `${prefix}.out`);
  }
  const decoded = layerNorm(layers, tgt, dModel, 'edit_head.mapper.decoder.norm');

  g.output(linear(layers, decoded, dModel, dim, 'edit_head.hid2feat'), 'prompt_embeds', 'float32', ['batch', q, dim]);
  return g;
}
