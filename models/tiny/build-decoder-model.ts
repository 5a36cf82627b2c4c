// decoder.onnx: the LLaMA decoder of LLaVA-7B (HF LlamaForCausalLM) with an explicit KV cache, per
// bundle-format.md (decoder.onnx row) and mgie-reference.md ("3. Generation", "4. Visual tokens").
import { GraphBuilder } from '../onnx-builder/graph-builder.ts';
import { linear, mergeHeads, quantizedLinear, rmsNorm, scaledDotProductAttention, silu, splitHeads, type Layers } from '../onnx-builder/layers.ts';
import type { WeightSource } from '../onnx-builder/weight-source.ts';
import type { GeneratedBundleConfig } from './generated-bundle-config.ts';

/** Value added to the scores of keys a query may not see (future keys, attention_mask 0). Finite, so a fully masked row gives a uniform softmax rather than NaN. */
export const DECODER_MASK_VALUE = -1e9;

/** Symbolic dimension names of decoder.onnx. */
export const DECODER_DIMS = { sequence: 'sequence_length', past: 'past_length', total: 'total_length' } as const;

const RMS_NORM_EPS = 1e-6;

export function buildDecoderModel(config: GeneratedBundleConfig, vocabSize: number, weights: WeightSource): GraphBuilder {
  const { hiddenSize: d, numLayers, numHeads, numKvHeads, headDim, intermediateSize, ropeTheta } = config.llm;
  if (numHeads % numKvHeads !== 0) throw new Error(`decoder: numHeads ${numHeads} is not a multiple of numKvHeads ${numKvHeads}`);
  if (headDim % 2 !== 0) throw new Error(`decoder: headDim ${headDim} must be even for rotary embeddings`);
  const g = new GraphBuilder('decoder', { float16: config.float16Models.includes('decoder') });
  const layers: Layers = { g, w: weights };
  const { sequence: T, past: P, total: L } = DECODER_DIMS;
  // Every projection of the decoder (attention, MLP and lm_head) is a bias-free linear layer: these are
  // the weights --llm-weights int4/int8 quantizes, 98% of a 7B decoder's bytes.
  const quantization = config.llmQuantization;
  const project = (x: string, inDim: number, outDim: number, name: string): string =>
    quantization ? quantizedLinear(layers, x, inDim, outDim, name, quantization) : linear(layers, x, inDim, outDim, name, false);

  let h = g.input('inputs_embeds', 'float32', [1, T, d]);
  const attentionMask = g.input('attention_mask', 'int64', [1, L]);
  const positionIds = g.input('position_ids', 'int64', [1, T]);
  const pasts = Array.from({ length: numLayers }, (_, i) => ({
    key: g.input(`past_key_values.${i}.key`, 'float32', [1, numKvHeads, P, headDim]),
    value: g.input(`past_key_values.${i}.value`, 'float32', [1, numKvHeads, P, headDim]),
  }));

  const { cos, sin } = rotaryTables(g, positionIds, headDim, ropeTheta);
  const mask = additiveMask(g, h, pasts[0].key, attentionMask);

  for (let i = 0; i < numLayers; i++) {
    const prefix = `model.layers.${i}`;
    // Self-attention block (HF LlamaAttention): no biases, rotary on q and k, cache holds rotated keys.
    const x = rmsNorm(layers, h, d, `${prefix}.input_layernorm`, RMS_NORM_EPS);
    const q = applyRotary(g, splitHeads(g, project(x, d, numHeads * headDim, `${prefix}.self_attn.q_proj`), numHeads, headDim), cos, sin, headDim);
    const k = applyRotary(g, splitHeads(g, project(x, d, numKvHeads * headDim, `${prefix}.self_attn.k_proj`), numKvHeads, headDim), cos, sin, headDim);
    const v = splitHeads(g, project(x, d, numKvHeads * headDim, `${prefix}.self_attn.v_proj`), numKvHeads, headDim);
    const presentKey = g.op('Concat', [pasts[i].key, k], { axis: 2 }, `${prefix}.present_key`);
    const presentValue = g.op('Concat', [pasts[i].value, v], { axis: 2 }, `${prefix}.present_value`);
    g.output(presentKey, `present.${i}.key`, 'float32', [1, numKvHeads, L, headDim]);
    g.output(presentValue, `present.${i}.value`, 'float32', [1, numKvHeads, L, headDim]);
    const nRep = numHeads / numKvHeads;
    const attended = scaledDotProductAttention(g, q, repeatKv(g, presentKey, nRep, numHeads, headDim), repeatKv(g, presentValue, nRep, numHeads, headDim), headDim, mask);
    h = g.op('Add', [h, project(mergeHeads(g, attended, numHeads, headDim), numHeads * headDim, d, `${prefix}.self_attn.o_proj`)], {}, `${prefix}.attn_residual`);

    // SwiGLU MLP (HF LlamaMLP): down(silu(gate(x)) * up(x)).
    const y = rmsNorm(layers, h, d, `${prefix}.post_attention_layernorm`, RMS_NORM_EPS);
    const gate = silu(g, project(y, d, intermediateSize, `${prefix}.mlp.gate_proj`));
    const up = project(y, d, intermediateSize, `${prefix}.mlp.up_proj`);
    h = g.op('Add', [h, project(g.op('Mul', [gate, up]), intermediateSize, d, `${prefix}.mlp.down_proj`)], {}, `${prefix}.mlp_residual`);
  }

  const normed = rmsNorm(layers, h, d, 'model.norm', RMS_NORM_EPS);
  g.output(normed, 'last_hidden_state', 'float32', [1, T, d]);
  // Untied lm_head, as LLaMA (and MGIE's resized lm_head.weight).
  g.output(project(normed, d, vocabSize, 'lm_head'), 'logits', 'float32', [1, T, vocabSize]);
  return g;
}

/**
 * HF LlamaRotaryEmbedding: inv_freq = 1 / theta^(2i/Dh), angles = position * inv_freq, emb = cat(angles, angles);
 * cos/sin [1, 1, T, Dh] broadcast over heads. Computed in float32 from position_ids inside the graph.
 */
function rotaryTables(g: GraphBuilder, positionIds: string, headDim: number, theta: number): { cos: string; sin: string } {
  const invFreq = Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / Math.pow(theta, (2 * i) / headDim));
  const positions = g.op('Unsqueeze', [g.op('Cast', [positionIds], { to: 1 /* FLOAT */ }, 'positions_f32'), g.int64s('rope.pos_axes', [2])]);
  const angles = g.op('Mul', [positions, g.tensor('rope.inv_freq', 'float32', invFreq, [headDim / 2])], {}, 'rope.freqs');
  const emb = g.op('Unsqueeze', [g.op('Concat', [angles, angles], { axis: -1 }), g.int64s('rope.head_axis', [1])], {}, 'rope.emb');
  return { cos: g.op('Cos', [emb], {}, 'rope.cos'), sin: g.op('Sin', [emb], {}, 'rope.sin') };
}

/** x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1) (HF apply_rotary_pos_emb). */
function applyRotary(g: GraphBuilder, x: string, cos: string, sin: string, headDim: number): string {
  const [x1, x2] = g.node('Split', [x, g.int64s('rope.split', [headDim / 2, headDim / 2])], { axis: -1 }, 'rope.half', 2);
  const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: -1 }, 'rope.rotate_half');
  return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])], {}, 'rope.applied');
}

/**
 * [1, 1, T, Past+T] additive mask: query i (absolute index Past+i in the cache) sees key j iff j <= Past+i and
 * attention_mask[j] != 0 (HF _prepare_4d_causal_attention_mask). One Where, so masked entries get exactly
 * DECODER_MASK_VALUE and never -inf.
 */
function additiveMask(g: GraphBuilder, inputsEmbeds: string, pastKey0: string, attentionMask: string): string {
  const scalar = (v: string) => g.op('Squeeze', [v, g.int64s('mask.squeeze_axes', [0])]);
  const pastLength = g.op('Shape', [pastKey0], { start: 2, end: 3 }, 'mask.past_length');
  const newLength = g.op('Shape', [inputsEmbeds], { start: 1, end: 2 }, 'mask.new_length');
  const totalLength = g.op('Add', [pastLength, newLength], {}, 'mask.total_length');
  const one = g.tensor('mask.one', 'int64', [1], []);
  const queryPositions = g.op('Range', [scalar(pastLength), scalar(totalLength), one], {}, 'mask.query_positions');
  const keyPositions = g.op('Range', [g.tensor('mask.zero', 'int64', [0], []), scalar(totalLength), one], {}, 'mask.key_positions');
  const causal = g.op('LessOrEqual', [
    g.op('Unsqueeze', [keyPositions, g.int64s('mask.key_axes', [0])]),
    g.op('Unsqueeze', [queryPositions, g.int64s('mask.query_axes', [1])]),
  ], {}, 'mask.causal');
  const keep = g.op('Unsqueeze', [g.op('Cast', [attentionMask], { to: 9 /* BOOL */ }), g.int64s('mask.pad_axes', [1, 2])], {}, 'mask.keep');
  const allowed = g.op('And', [causal, keep], {}, 'mask.allowed');
  return g.op('Where', [allowed, g.scalar('mask.zero_value', 0), g.scalar('mask.value', DECODER_MASK_VALUE)], {}, 'mask.additive');
}

/** HF repeat_kv: [1, Hkv, L, Dh] -> [1, Hkv*nRep, L, Dh], query head h uses kv head floor(h / nRep). */
function repeatKv(g: GraphBuilder, x: string, nRep: number, numHeads: number, headDim: number): string {
  if (nRep === 1) return x;
  const expanded = g.op('Expand', [g.op('Unsqueeze', [x, g.int64s('gqa.axes', [2])]), g.int64s('gqa.expand', [1, 1, nRep, 1, 1])]);
  return g.op('Reshape', [expanded, g.int64s('gqa.shape', [0, numHeads, -1, headDim])], {}, 'gqa.repeated');
}
