// The generated MLLM models (vision, embed, decoder, edit head) load in onnxruntime-node, follow the
// bundle-format.md contracts and have the semantics of the real ones (KV cache, masks, rotary, batching).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Float16Array } from '@petamoriken/float16';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import type { GraphBuilder } from '../../models/onnx-builder/graph-builder.ts';
import { WeightSource } from '../../models/onnx-builder/weight-source.ts';
import { buildLlmModels, type LlmModels } from '../../models/tiny/build-llm-models.ts';
import { EDIT_HEAD_EMB_NAME } from '../../models/tiny/build-edit-head-model.ts';
import { BENCH_BUNDLE_CONFIG, TINY_BUNDLE_CONFIG, type GeneratedBundleConfig } from '../../models/tiny/generated-bundle-config.ts';
import { float32Data } from '../../companion-server/engine/onnx-runtime.ts';
import { allFinite, maxAbs, maxDiff } from '../helpers/tensor-math.ts';

const VOCAB = { vocabSize: 1011, imgTokenIds: [1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010] };
const { llm, editHead: eh, vision: vis } = TINY_BUNDLE_CONFIG;
const D = llm.hiddenSize;

type Sessions = Record<keyof LlmModels, ort.InferenceSession>;

async function load(models: LlmModels): Promise<Sessions> {
  const entries = await Promise.all(Object.entries(models).map(async ([key, g]: [string, GraphBuilder]) => [key, await ort.InferenceSession.create(g.toModelBytes())] as const));
  return Object.fromEntries(entries) as Sessions;
}

const memo = new Map<string, Promise<{ models: LlmModels; sessions: Sessions }>>();
function tinyModels(config: GeneratedBundleConfig = TINY_BUNDLE_CONFIG) {
  const key = JSON.stringify(config);
  if (!memo.has(key)) {
    const models = buildLlmModels(config, VOCAB, new WeightSource(config.seed));
    memo.set(key, load(models).then((sessions) => ({ models, sessions })));
  }
  return memo.get(key)!;
}

// --- tensors -------------------------------------------------------------------------------------
const random = new WeightSource(7);
const floats = (data: Float32Array, dims: number[], half = false) =>
  half ? new ort.Tensor('float16', new Uint16Array(Float16Array.from(data).buffer), dims) : new ort.Tensor('float32', data, dims);
const int64s = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
const range = (start: number, end: number) => Array.from({ length: end - start }, (_, i) => start + i);
const ones = (n: number) => new Array<number>(n).fill(1);
/** Rows [from, to) of a [1, T, W] tensor's data. */
const rows = (a: Float32Array, width: number, from: number, to: number) => a.subarray(from * width, to * width);

function metadata(session: ort.InferenceSession, which: 'input' | 'output') {
  const list = which === 'input' ? session.inputMetadata : session.outputMetadata;
  return Object.fromEntries(list.map((m) => [m.name, m.isTensor ? { type: m.type, shape: [...m.shape] } : null]));
}

async function embed(s: Sessions, ids: number[]): Promise<Float32Array> {
  return float32Data((await s.embed.run({ input_ids: int64s(ids) })).inputs_embeds);
}

interface DecoderResult { logits: Float32Array; hidden: Float32Array; present: Record<string, ort.Tensor> }
async function decode(
  s: Sessions, embeds: Float32Array, opts: { past?: Record<string, ort.Tensor>; mask?: number[]; positions?: number[]; half?: boolean; numKvHeads?: number; numLayers?: number } = {},
): Promise<DecoderResult> {
  const t = embeds.length / D;
  const hkv = opts.numKvHeads ?? llm.numKvHeads;
  const feeds: Record<string, ort.Tensor> = {};
  let pastLength = 0;
  for (let i = 0; i < (opts.numLayers ?? llm.numLayers); i++) {
    for (const kind of ['key', 'value']) {
      const past = opts.past?.[`present.${i}.${kind}`] ?? floats(new Float32Array(0), [1, hkv, 0, llm.headDim], opts.half);
      pastLength = past.dims[2];
      feeds[`past_key_values.${i}.${kind}`] = past;
    }
  }
  feeds.inputs_embeds = floats(embeds, [1, t, D], opts.half);
  feeds.attention_mask = int64s(opts.mask ?? ones(pastLength + t));
  feeds.position_ids = int64s(opts.positions ?? range(pastLength, pastLength + t));
  const out = await s.decoder.run(feeds);
  const present: Record<string, ort.Tensor> = {};
  for (const [name, value] of Object.entries(out)) if (name.startsWith('present.')) present[name] = value;
  return { logits: float32Data(out.logits), hidden: float32Data(out.last_hidden_state), present };
}

const PROMPT = [1, 17, 400, 23, 999, 5, 1003, 1004, 250, 77, 31, 2];

/** Float32 initializers of a float32 graph, by name. */
function initializers(g: GraphBuilder): Map<string, Float32Array> {
  const result = new Map<string, Float32Array>();
  for (const t of onnxProto.onnx.ModelProto.decode(g.toModelBytes()).graph!.initializer!) {
    if (t.dataType !== onnxProto.onnx.TensorProto.DataType.FLOAT || !t.rawData) continue;
    const raw = t.rawData;
    result.set(t.name!, new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)));
  }
  return result;
}

/** Rows of x [R, inDim] times weight [inDim, outDim] (the builder's linear layout), plus an optional bias. */
function matmul(x: Float32Array, weight: Float32Array, inDim: number, outDim: number, bias?: Float32Array): Float32Array {
  const y = new Float32Array((x.length / inDim) * outDim);
  for (let r = 0; r < x.length / inDim; r++) {
    if (bias) y.set(bias, r * outDim);
    for (let i = 0; i < inDim; i++) {
      const xv = x[r * inDim + i];
      for (let o = 0; o < outDim; o++) y[r * outDim + o] += xv * weight[i * outDim + o];
    }
  }
  return y;
}

/**
 * An independent plain-JS HF LlamaForCausalLM forward (no cache) over the decoder's own weights: RMSNorm,
 * rotary with rotate_half, GQA head i -> kv head floor(i / nRep), causal + padding mask, SwiGLU, lm_head.
 */
function referenceDecoder(g: GraphBuilder, cfg: GeneratedBundleConfig['llm'], vocabSize: number, embeds: Float32Array, positions: number[], mask: number[]) {
  const w = initializers(g);
  const get = (name: string) => { const v = w.get(name); assert.ok(v, `weight ${name}`); return v; };
  const { hiddenSize: d, numHeads: nh, numKvHeads: nkv, headDim: dh, intermediateSize: di } = cfg;
  const t = embeds.length / d;
  const rms = (x: Float32Array, weight: Float32Array) => {
    const y = new Float32Array(x.length);
    for (let r = 0; r < t; r++) {
      let ms = 0;
      for (let i = 0; i < d; i++) ms += x[r * d + i] ** 2;
      const inv = 1 / Math.sqrt(ms / d + 1e-6);
      for (let i = 0; i < d; i++) y[r * d + i] = x[r * d + i] * inv * weight[i];
    }
    return y;
  };
  const rope = (x: Float32Array, heads: number) => {
    const half = dh / 2;
    for (let r = 0; r < t; r++) for (let h = 0; h < heads; h++) for (let i = 0; i < half; i++) {
      const angle = positions[r] / Math.pow(cfg.ropeTheta, (2 * i) / dh);
      const base = r * heads * dh + h * dh;
      const x1 = x[base + i], x2 = x[base + i + half];
      x[base + i] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
      x[base + i + half] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
    }
  };
  const h = embeds.slice();
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}`;
    const x = rms(h, get(`${p}.input_layernorm.weight`));
    const q = matmul(x, get(`${p}.self_attn.q_proj.weight`), d, nh * dh);
    const k = matmul(x, get(`${p}.self_attn.k_proj.weight`), d, nkv * dh);
    const v = matmul(x, get(`${p}.self_attn.v_proj.weight`), d, nkv * dh);
    rope(q, nh);
    rope(k, nkv);
    const attn = new Float32Array(t * nh * dh);
    for (let head = 0; head < nh; head++) {
      const kvHead = Math.floor(head / (nh / nkv));
      for (let i = 0; i < t; i++) {
        const scores = range(0, t).map((j) => {
          if (j > i || mask[j] === 0) return -Infinity;
          let s = 0;
          for (let e = 0; e < dh; e++) s += q[i * nh * dh + head * dh + e] * k[j * nkv * dh + kvHead * dh + e];
          return s / Math.sqrt(dh);
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const sum = exps.reduce((a, b) => a + b, 0);
        for (let j = 0; j < t; j++) for (let e = 0; e < dh; e++) attn[i * nh * dh + head * dh + e] += (exps[j] / sum) * v[j * nkv * dh + kvHead * dh + e];
      }
    }
    const o = matmul(attn, get(`${p}.self_attn.o_proj.weight`), nh * dh, d);
    for (let i = 0; i < h.length; i++) h[i] += o[i];
    const y = rms(h, get(`${p}.post_attention_layernorm.weight`));
    const gate = matmul(y, get(`${p}.mlp.gate_proj.weight`), d, di);
    const up = matmul(y, get(`${p}.mlp.up_proj.weight`), d, di);
    for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
    const down = matmul(gate, get(`${p}.mlp.down_proj.weight`), di, d);
    for (let i = 0; i < h.length; i++) h[i] += down[i];
  }
  const hidden = rms(h, get('model.norm.weight'));
  return { hidden, logits: matmul(hidden, get('lm_head.weight'), d, vocabSize) };
}

// --- tests ---------------------------------------------------------------------------------------
test('vision: names, shapes, and the output depends on the pixels', async () => {
  const { sessions: s } = await tinyModels();
  const S = vis.imageSize, P = (S / vis.patchSize) ** 2;
  assert.deepEqual(metadata(s.vision, 'input'), { pixel_values: { type: 'float32', shape: [1, 3, S, S] } });
  assert.deepEqual(metadata(s.vision, 'output'), { image_features: { type: 'float32', shape: [1, P, D] } });
  const pixels = random.normal(3 * S * S, 1);
  const a = (await s.vision.run({ pixel_values: floats(pixels, [1, 3, S, S]) })).image_features;
  assert.deepEqual(a.dims, [1, P, D]);
  assert.ok(allFinite(float32Data(a)) && maxAbs(float32Data(a)) > 0.1);
  const changed = pixels.slice();
  changed[5] += 1; // one pixel of the first patch
  const b = float32Data((await s.vision.run({ pixel_values: floats(changed, [1, 3, S, S]) })).image_features);
  assert.ok(maxDiff(float32Data(a), b) > 1e-4, 'changing a pixel changes the features');
  // Every patch token mixes with the others through attention: the last patch's features change too.
  assert.ok(maxDiff(rows(float32Data(a), D, P - 1, P), rows(b, D, P - 1, P)) > 1e-6);
});

test('vision: hidden_states[-2], so the last CLIP layer is not in the graph', async () => {
  const { models } = await tinyModels();
  const names = [...initializers(models.vision).keys()];
  assert.ok(names.includes(`vision_model.encoder.layers.${vis.numLayers - 2}.mlp.fc2.weight`));
  assert.ok(!names.some((n) => n.startsWith(`vision_model.encoder.layers.${vis.numLayers - 1}.`)));
  assert.ok(!names.some((n) => n.includes('post_layernorm')));
});

test('embed: gathers rows; the IMG rows equal the IMG_EMB constant baked into the edit head', async () => {
  const { models, sessions: s } = await tinyModels();
  assert.deepEqual(metadata(s.embed, 'input'), { input_ids: { type: 'int64', shape: [1, 'sequence_length'] } });
  assert.deepEqual(metadata(s.embed, 'output'), { inputs_embeds: { type: 'float32', shape: [1, 'sequence_length', D] } });
  const out = await embed(s, [5, 9, 5]);
  assert.equal(out.length, 3 * D);
  assert.deepEqual(rows(out, D, 0, 1), rows(out, D, 2, 3));
  assert.notDeepEqual(rows(out, D, 0, 1), rows(out, D, 1, 2));

  const imgRows = await embed(s, VOCAB.imgTokenIds);
  const model = onnxProto.onnx.ModelProto.decode(models.editHead.toModelBytes());
  const emb = model.graph!.initializer!.find((t) => t.name === EDIT_HEAD_EMB_NAME);
  assert.ok(emb, 'edit head has its IMG_EMB constant');
  assert.deepEqual(emb.dims!.map(Number), [1, eh.numImgTokens, D]);
  const raw = emb.rawData!;
  const baked = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  assert.deepEqual(baked, imgRows);
});

test('decoder: declares the bundle-format inputs and outputs', async () => {
  const { sessions: s } = await tinyModels();
  const inputs = metadata(s.decoder, 'input');
  const outputs = metadata(s.decoder, 'output');
  assert.deepEqual(inputs.inputs_embeds, { type: 'float32', shape: [1, 'sequence_length', D] });
  assert.deepEqual(inputs.attention_mask, { type: 'int64', shape: [1, 'total_length'] });
  assert.deepEqual(inputs.position_ids, { type: 'int64', shape: [1, 'sequence_length'] });
  assert.deepEqual(outputs.logits, { type: 'float32', shape: [1, 'sequence_length', VOCAB.vocabSize] });
  assert.deepEqual(outputs.last_hidden_state, { type: 'float32', shape: [1, 'sequence_length', D] });
  for (let i = 0; i < llm.numLayers; i++) {
    for (const kind of ['key', 'value']) {
      assert.deepEqual(inputs[`past_key_values.${i}.${kind}`], { type: 'float32', shape: [1, llm.numKvHeads, 'past_length', llm.headDim] });
      assert.deepEqual(outputs[`present.${i}.${kind}`], { type: 'float32', shape: [1, llm.numKvHeads, 'total_length', llm.headDim] });
    }
  }
  assert.equal(Object.keys(inputs).length, 3 + 2 * llm.numLayers);
  assert.equal(Object.keys(outputs).length, 2 + 2 * llm.numLayers);
});

test('decoder: KV-cache decoding equals one full pass; logits are O(1)-O(10)', async (t) => {
  const { sessions: s } = await tinyModels();
  const embeds = await embed(s, PROMPT);
  const n = PROMPT.length;
  const full = await decode(s, embeds);
  assert.equal(full.logits.length, n * VOCAB.vocabSize);
  assert.ok(allFinite(full.logits));
  const scale = maxAbs(full.logits);
  t.diagnostic(`TINY logits: max |logit| ${scale.toFixed(2)}`);
  assert.ok(scale > 1 && scale < 50, `logit scale ${scale}`);
  assert.deepEqual(full.present['present.0.key'].dims, [1, llm.numKvHeads, n, llm.headDim]);

  // Prefill 5, then a chunk of 3 with a past, then one token at a time.
  const steps: Array<[number, number]> = [[0, 5], [5, 8], ...range(8, n).map((i): [number, number] => [i, i + 1])];
  let past: Record<string, ort.Tensor> | undefined;
  for (const [from, to] of steps) {
    const step = await decode(s, rows(embeds, D, from, to).slice(), { past });
    assert.ok(maxDiff(step.logits, rows(full.logits, VOCAB.vocabSize, from, to)) < 1e-4, `logits of tokens ${from}..${to}`);
    assert.ok(maxDiff(step.hidden, rows(full.hidden, D, from, to)) < 1e-4, `hidden states of tokens ${from}..${to}`);
    past = step.present;
  }
  for (const [name, tensor] of Object.entries(full.present)) {
    assert.deepEqual(past![name].dims, tensor.dims);
    assert.ok(maxDiff(float32Data(past![name]), float32Data(tensor)) < 1e-4, name);
  }
});

test('decoder: matches a plain-JS HF LLaMA forward (rotary, mask, GQA), also with KV heads shared', async () => {
  for (const numKvHeads of [llm.numKvHeads, 2]) {
    const config: GeneratedBundleConfig = { ...TINY_BUNDLE_CONFIG, llm: { ...llm, numKvHeads } };
    const { models, sessions: s } = await tinyModels(config);
    const embeds = await embed(s, PROMPT);
    const positions = [0, 1, 2, 3, 4, 5, 6, 7, 20, 21, 22, 40];
    const mask = ones(PROMPT.length);
    mask[4] = 0;
    const out = await decode(s, embeds, { positions, mask, numKvHeads });
    const ref = referenceDecoder(models.decoder, config.llm, VOCAB.vocabSize, embeds, positions, mask);
    // Row 4 is a query whose own key is masked but that still sees 0..3: compare every row.
    assert.ok(maxDiff(out.hidden, ref.hidden) < 1e-4 * maxAbs(ref.hidden), `hidden, ${numKvHeads} kv heads: ${maxDiff(out.hidden, ref.hidden)}`);
    assert.ok(maxDiff(out.logits, ref.logits) < 1e-4 * maxAbs(ref.logits), `logits, ${numKvHeads} kv heads: ${maxDiff(out.logits, ref.logits)}`);
  }
});

/** Plain-JS MGIE EditMapper for batch 1: torch nn.Transformer(norm_first) with final encoder/decoder norms. */
function referenceEditHead(g: GraphBuilder, cfg: GeneratedBundleConfig['editHead'], d: number, imgHidden: Float32Array): Float32Array {
  const w = initializers(g);
  const get = (name: string) => { const v = w.get(name); assert.ok(v, `weight ${name}`); return v; };
  const m = cfg.dModel;
  const linear = (x: Float32Array, name: string, inDim: number, outDim: number) => matmul(x, get(`${name}.weight`), inDim, outDim, get(`${name}.bias`));
  const add = (a: Float32Array, b: Float32Array) => a.map((v, i) => v + b[i]);
  const norm = (x: Float32Array, name: string) => {
    const scale = get(`${name}.weight`), bias = get(`${name}.bias`);
    const y = new Float32Array(x.length);
    for (let r = 0; r < x.length / m; r++) {
      const row = x.subarray(r * m, (r + 1) * m);
      const mean = row.reduce((a, b) => a + b, 0) / m;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / m;
      for (let i = 0; i < m; i++) y[r * m + i] = ((row[i] - mean) / Math.sqrt(variance + 1e-5)) * scale[i] + bias[i];
    }
    return y;
  };
  const attention = (x: Float32Array, context: Float32Array, name: string) => {
    const q = linear(x, `${name}.q_proj`, m, m), k = linear(context, `${name}.k_proj`, m, m), v = linear(context, `${name}.v_proj`, m, m);
    const tq = x.length / m, tk = context.length / m, dh = m / cfg.numHeads;
    const out = new Float32Array(x.length);
    for (let h = 0; h < cfg.numHeads; h++) for (let i = 0; i < tq; i++) {
      const scores = range(0, tk).map((j) => {
        let s = 0;
        for (let e = 0; e < dh; e++) s += q[i * m + h * dh + e] * k[j * m + h * dh + e];
        return s / Math.sqrt(dh);
      });
      const max = Math.max(...scores);
      const exps = scores.map((s) => Math.exp(s - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      for (let j = 0; j < tk; j++) for (let e = 0; e < dh; e++) out[i * m + h * dh + e] += (exps[j] / sum) * v[j * m + h * dh + e];
    }
    return linear(out, `${name}.out_proj`, m, m);
  };
  const feedForward = (x: Float32Array, p: string) => linear(linear(x, `${p}.linear1`, m, cfg.feedForward).map((v) => Math.max(v, 0)), `${p}.linear2`, cfg.feedForward, m);
  let src = linear(add(imgHidden, get('edit_head.emb')), 'edit_head.llm2hid', d, m);
  for (let i = 0; i < cfg.numEncoderLayers; i++) {
    const p = `edit_head.mapper.encoder.layers.${i}`;
    const x = norm(src, `${p}.norm1`);
    src = add(src, attention(x, x, `${p}.self_attn`));
    src = add(src, feedForward(norm(src, `${p}.norm2`), p));
  }
  const memory = norm(src, 'edit_head.mapper.encoder.norm');
  let tgt = get('edit_head.query').slice();
  for (let i = 0; i < cfg.numDecoderLayers; i++) {
    const p = `edit_head.mapper.decoder.layers.${i}`;
    const x = norm(tgt, `${p}.norm1`);
    tgt = add(tgt, attention(x, x, `${p}.self_attn`));
    tgt = add(tgt, attention(norm(tgt, `${p}.norm2`), memory, `${p}.multihead_attn`));
    tgt = add(tgt, feedForward(norm(tgt, `${p}.norm3`), p));
  }
  return linear(norm(tgt, 'edit_head.mapper.decoder.norm'), 'edit_head.hid2feat', m, cfg.dim);
}

test('decoder: causal; a later token does not change earlier outputs', async () => {
  const { sessions: s } = await tinyModels();
  const a = await decode(s, await embed(s, PROMPT));
  const changed = PROMPT.slice();
  changed[7] = 300;
  const b = await decode(s, await embed(s, changed));
  const V = VOCAB.vocabSize;
  assert.ok(maxDiff(rows(a.logits, V, 0, 7), rows(b.logits, V, 0, 7)) < 1e-5);
  assert.ok(maxDiff(rows(a.hidden, D, 0, 7), rows(b.hidden, D, 0, 7)) < 1e-5);
  for (let i = 7; i < PROMPT.length; i++) assert.ok(maxDiff(rows(a.logits, V, i, i + 1), rows(b.logits, V, i, i + 1)) > 1e-4, `row ${i} changes`);
});

test('decoder: attention_mask 0 hides a key, without NaN; left padding equals the unpadded sequence', async () => {
  const { sessions: s } = await tinyModels();
  const V = VOCAB.vocabSize;
  const n = PROMPT.length;
  const embeds = await embed(s, PROMPT);
  const base = await decode(s, embeds);
  const mask = ones(n);
  mask[3] = 0;
  const masked = await decode(s, embeds, { mask });
  assert.ok(allFinite(masked.logits) && allFinite(masked.hidden));
  assert.ok(maxDiff(rows(base.logits, V, 0, 3), rows(masked.logits, V, 0, 3)) < 1e-5, 'earlier rows never saw key 3');
  assert.ok(maxDiff(rows(base.logits, V, 4, n), rows(masked.logits, V, 4, n)) > 1e-4, 'later rows lose key 3');

  // Two pad positions in front (mask 0, positions as HF's cumsum(mask)-1 clipped at 0): the real rows are
  // exactly what the unpadded sequence gives, and the fully masked pad rows are finite.
  const pad = 2;
  const padded = new Float32Array((n + pad) * D);
  padded.set(random.normal(pad * D, 1));
  padded.set(embeds, pad * D);
  const out = await decode(s, padded, { mask: [0, 0, ...ones(n)], positions: [0, 0, ...range(0, n)] });
  assert.ok(allFinite(out.logits) && allFinite(out.hidden), 'no NaN for padded positions');
  assert.ok(maxDiff(rows(out.logits, V, pad, pad + n), base.logits) < 1e-4);
  assert.ok(maxDiff(rows(out.hidden, D, pad, pad + n), base.hidden) < 1e-4);
  for (const [name, t] of Object.entries(out.present)) assert.ok(allFinite(float32Data(t)), name);
});

test('decoder: position_ids drive rotary embeddings (relative: a common shift changes nothing)', async () => {
  const { sessions: s } = await tinyModels();
  const n = PROMPT.length;
  const embeds = await embed(s, PROMPT);
  const base = await decode(s, embeds);
  const spread = await decode(s, embeds, { positions: range(0, n).map((i) => 2 * i) });
  assert.ok(maxDiff(base.logits, spread.logits) > 1e-3, 'other relative positions change the output');
  const shifted = await decode(s, embeds, { positions: range(5, 5 + n) });
  assert.ok(maxDiff(base.logits, shifted.logits) < 1e-3, 'RoPE depends on relative positions only');
  assert.ok(maxDiff(base.logits, shifted.logits) > 0, 'but the graph does read position_ids');
});

test('decoder: greedy decoding of the random model does not repeat one token', async (t) => {
  const { sessions: s } = await tinyModels();
  const V = VOCAB.vocabSize;
  const argmaxLast = (logits: Float32Array) => {
    const last = logits.subarray(logits.length - V);
    let best = 0;
    for (let i = 1; i < V; i++) if (last[i] > last[best]) best = i;
    return best;
  };
  let step = await decode(s, await embed(s, PROMPT.slice(0, 6)));
  const generated: number[] = [];
  for (let i = 0; i < 16; i++) {
    const next = argmaxLast(step.logits);
    generated.push(next);
    step = await decode(s, await embed(s, [next]), { past: step.present });
  }
  t.diagnostic(`greedy tokens: ${generated.join(' ')}`);
  assert.ok(new Set(generated).size >= 3, `greedy tokens ${generated.join(' ')}`);
});

test('decoder: grouped-query attention (numKvHeads < numHeads) keeps the KV-cache equivalence', async () => {
  const config: GeneratedBundleConfig = { ...TINY_BUNDLE_CONFIG, llm: { ...llm, numKvHeads: 2 } };
  assert.throws(() => buildLlmModels({ ...TINY_BUNDLE_CONFIG, llm: { ...llm, numKvHeads: 3 } }, VOCAB, new WeightSource(1)), /numKvHeads/);
  const { sessions: s } = await tinyModels(config);
  const embeds = await embed(s, PROMPT);
  const full = await decode(s, embeds, { numKvHeads: 2 });
  assert.deepEqual(full.present['present.1.value'].dims, [1, 2, PROMPT.length, llm.headDim]);
  const prefill = await decode(s, rows(embeds, D, 0, 9).slice(), { numKvHeads: 2 });
  const rest = await decode(s, rows(embeds, D, 9, PROMPT.length).slice(), { numKvHeads: 2, past: prefill.present });
  assert.ok(maxDiff(rest.logits, rows(full.logits, VOCAB.vocabSize, 9, PROMPT.length)) < 1e-4);
});

test('edit head: names, shapes, batch rows are independent, output depends on the input', async () => {
  const { sessions: s } = await tinyModels();
  const K = eh.numImgTokens, Q = eh.numQueries;
  assert.deepEqual(metadata(s.editHead, 'input'), { img_hidden: { type: 'float32', shape: ['batch', K, D] } });
  assert.deepEqual(metadata(s.editHead, 'output'), { prompt_embeds: { type: 'float32', shape: ['batch', Q, eh.dim] } });
  const run = async (x: Float32Array, b: number) => (await s.editHead.run({ img_hidden: floats(x, [b, K, D]) })).prompt_embeds;
  const a = random.normal(K * D, 1);
  const zeros = new Float32Array(K * D);
  const outA = await run(a, 1);
  assert.deepEqual(outA.dims, [1, Q, eh.dim]);
  const outZero = float32Data(await run(zeros, 1));
  assert.ok(allFinite(float32Data(outA)) && maxDiff(float32Data(outA), outZero) > 1e-3, 'cond differs from null');
  const both = new Float32Array(2 * K * D);
  both.set(a);
  both.set(zeros, K * D);
  const outBoth = await run(both, 2);
  assert.deepEqual(outBoth.dims, [2, Q, eh.dim]);
  assert.ok(maxDiff(float32Data(outBoth).subarray(0, Q * eh.dim), float32Data(outA)) < 1e-5);
  assert.ok(maxDiff(float32Data(outBoth).subarray(Q * eh.dim), outZero) < 1e-5);
});

test('edit head: matches a plain-JS nn.Transformer(norm_first) EditMapper', async () => {
  const { models, sessions: s } = await tinyModels();
  const K = eh.numImgTokens;
  const x = random.normal(K * D, 1);
  const out = float32Data((await s.editHead.run({ img_hidden: floats(x, [1, K, D]) })).prompt_embeds);
  const ref = referenceEditHead(models.editHead, eh, D, x);
  assert.ok(maxDiff(out, ref) < 1e-4 * maxAbs(ref), `edit head vs reference: ${maxDiff(out, ref)}`);
});

test('float16 variants load, take and return float16, and stay close to float32', async (t) => {
  const half: GeneratedBundleConfig = { ...TINY_BUNDLE_CONFIG, float16Models: ['vision', 'embed', 'decoder', 'editHead'] };
  const { sessions: h } = await tinyModels(half);
  const { sessions: f } = await tinyModels();
  assert.equal(metadata(h.decoder, 'input').inputs_embeds!.type, 'float16');
  assert.equal(metadata(h.decoder, 'input')['past_key_values.0.key']!.type, 'float16');
  assert.equal(metadata(h.decoder, 'input').attention_mask!.type, 'int64');
  assert.equal(metadata(h.editHead, 'output').prompt_embeds!.type, 'float16');
  const close = (a: Float32Array, b: Float32Array, what: string) => {
    const err = maxDiff(a, b) / maxAbs(b);
    t.diagnostic(`float16 ${what}: max error / max |value| = ${err.toExponential(2)}`);
    assert.ok(err < 0.01, `${what}: relative error ${err}`);
  };

  const K = eh.numImgTokens;
  const x = random.normal(2 * K * D, 1);
  close(float32Data((await h.editHead.run({ img_hidden: floats(x, [2, K, D], true) })).prompt_embeds),
    float32Data((await f.editHead.run({ img_hidden: floats(x, [2, K, D]) })).prompt_embeds), 'edit head');

  const embHalf = (await h.embed.run({ input_ids: int64s(VOCAB.imgTokenIds) })).inputs_embeds;
  assert.equal(embHalf.type, 'float16');
  close(float32Data(embHalf), await embed(f, VOCAB.imgTokenIds), 'embed');
  // The IMG rows stay equal to the baked float16 constant, also when only the edit head is float16.
  const halfEmb = (g: GraphBuilder) => {
    const tensor = onnxProto.onnx.ModelProto.decode(g.toModelBytes()).graph!.initializer!.find((i) => i.name === `${EDIT_HEAD_EMB_NAME}_fp16`)!;
    const raw = tensor.rawData!;
    return Float32Array.from(new Float16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)));
  };
  assert.deepEqual(halfEmb((await tinyModels(half)).models.editHead), float32Data(embHalf));
  const mixed = await tinyModels({ ...TINY_BUNDLE_CONFIG, float16Models: ['editHead'] });
  assert.deepEqual(halfEmb(mixed.models.editHead), await embed(mixed.sessions, VOCAB.imgTokenIds));

  const S = vis.imageSize;
  const pixels = random.normal(3 * S * S, 1);
  close(float32Data((await h.vision.run({ pixel_values: floats(pixels, [1, 3, S, S], true) })).image_features),
    float32Data((await f.vision.run({ pixel_values: floats(pixels, [1, 3, S, S]) })).image_features), 'vision');

  const embeds = await embed(f, PROMPT);
  const full16 = await decode(h, embeds, { half: true });
  const full32 = await decode(f, embeds);
  assert.equal(full16.present['present.0.key'].type, 'float16');
  close(full16.logits, full32.logits, 'decoder logits');
  close(full16.hidden, full32.hidden, 'decoder hidden');
  // The float16 cache feeds back in.
  const prefill = await decode(h, rows(embeds, D, 0, 8).slice(), { half: true });
  const step = await decode(h, rows(embeds, D, 8, 9).slice(), { half: true, past: prefill.present });
  close(step.logits, rows(full32.logits, VOCAB.vocabSize, 8, 9), 'decoder with float16 cache');
});

test('BENCH config: build time, sizes and decoder time per token', async (t) => {
  const started = performance.now();
  const models = buildLlmModels(BENCH_BUNDLE_CONFIG, VOCAB, new WeightSource(BENCH_BUNDLE_CONFIG.seed));
  const buildMs = performance.now() - started;
  const encodeStart = performance.now();
  const bytes = Object.fromEntries(Object.entries(models).map(([k, g]: [string, GraphBuilder]) => [k, g.toModelBytes()]));
  const encodeMs = performance.now() - encodeStart;
  for (const [k, g] of Object.entries(models) as Array<[string, GraphBuilder]>) {
    t.diagnostic(`BENCH ${k}: ${g.parameterCount} parameters, ${bytes[k].byteLength} bytes`);
  }
  t.diagnostic(`BENCH build ${buildMs.toFixed(0)} ms, encode ${encodeMs.toFixed(0)} ms`);

  const decoder = await ort.InferenceSession.create(bytes.decoder);
  const embedSession = await ort.InferenceSession.create(bytes.embed);
  const b = BENCH_BUNDLE_CONFIG.llm;
  const d = b.hiddenSize;
  const run = async (embeds: Float32Array, past?: Record<string, ort.Tensor>) => {
    const tLen = embeds.length / d;
    const feeds: Record<string, ort.Tensor> = {};
    let pastLength = 0;
    for (let i = 0; i < b.numLayers; i++) {
      for (const kind of ['key', 'value']) {
        const p = past?.[`present.${i}.${kind}`] ?? floats(new Float32Array(0), [1, b.numKvHeads, 0, b.headDim]);
        pastLength = p.dims[2];
        feeds[`past_key_values.${i}.${kind}`] = p;
      }
    }
    feeds.inputs_embeds = floats(embeds, [1, tLen, d]);
    feeds.attention_mask = int64s(ones(pastLength + tLen));
    feeds.position_ids = int64s(range(pastLength, pastLength + tLen));
    return decoder.run(feeds);
  };
  const promptLength = 300;
  const ids = range(0, promptLength).map((i) => (i * 37) % 1000);
  const embeds = float32Data((await embedSession.run({ input_ids: int64s(ids) })).inputs_embeds);
  const prefillStart = performance.now();
  let out = await run(embeds);
  const prefillMs = performance.now() - prefillStart;
  const steps = 20;
  const decodeStart = performance.now();
  for (let i = 0; i < steps; i++) {
    const next = float32Data((await embedSession.run({ input_ids: int64s([(i * 13) % 1000]) })).inputs_embeds);
    const present = Object.fromEntries(Object.entries(out).filter(([k]) => k.startsWith('present.')));
    out = await run(next, present);
  }
  const perToken = (performance.now() - decodeStart) / steps;
  assert.ok(allFinite(float32Data(out.logits)));
  t.diagnostic(`BENCH decoder: prefill ${promptLength} tokens ${prefillMs.toFixed(1)} ms, ${perToken.toFixed(2)} ms/token after it`);
});
