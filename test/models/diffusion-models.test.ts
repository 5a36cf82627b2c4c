// The generated diffusion models (VAE encoder, IP2P UNet, VAE decoder) load in onnxruntime-node, follow
// the bundle-format.md contracts, and behave like the real ones: dynamic sizes, the VAE's 8x factor,
// every input mattering (fractional timesteps included), batch rows that never mix, float16 exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Float16Array } from '@petamoriken/float16';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../models/onnx-builder/graph-builder.ts';
import { WeightSource } from '../../models/onnx-builder/weight-source.ts';
import { buildDiffusionModels, type DiffusionModels } from '../../models/tiny/build-diffusion-models.ts';
import { BENCH_BUNDLE_CONFIG, TINY_BUNDLE_CONFIG, type GeneratedBundleConfig } from '../../models/tiny/generated-bundle-config.ts';
import { timestepEmbedding } from '../../models/tiny/private/diffusion-blocks.ts';
import { float32Data } from '../../companion-server/engine/onnx-runtime.ts';
import { allFinite, maxAbs, maxDiff } from '../helpers/tensor-math.ts';

const { vae, editHead } = TINY_BUNDLE_CONFIG;
const CL = vae.latentChannels;
const Q = editHead.numQueries;
const C = editHead.dim;
const ALL_HALF: GeneratedBundleConfig = { ...TINY_BUNDLE_CONFIG, float16Models: ['vaeEncoder', 'unet', 'vaeDecoder'] };

type Sessions = Record<keyof DiffusionModels, ort.InferenceSession>;
const memo = new Map<string, Promise<{ models: DiffusionModels; sessions: Sessions }>>();
function modelsFor(config: GeneratedBundleConfig = TINY_BUNDLE_CONFIG) {
  const key = JSON.stringify(config);
  if (!memo.has(key)) {
    const models = buildDiffusionModels(config, new WeightSource(config.seed + 1));
    const load = async () => {
      const entries = await Promise.all(Object.entries(models).map(async ([name, g]: [string, GraphBuilder]) => [name, await ort.InferenceSession.create(g.toModelBytes())] as const));
      return { models, sessions: Object.fromEntries(entries) as Sessions };
    };
    memo.set(key, load());
  }
  return memo.get(key)!;
}

// --- tensors -------------------------------------------------------------------------------------
const random = new WeightSource(11);
const floats = (values: Float32Array, dims: number[], half = false) =>
  half ? new ort.Tensor('float16', new Uint16Array(Float16Array.from(values).buffer), dims) : new ort.Tensor('float32', values, dims);
const fractionWithin = (a: Float32Array, limit: number) => a.reduce((n, v) => n + (Math.abs(v) <= limit ? 1 : 0), 0) / a.length;
function std(a: Float32Array): number {
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  return Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
}
/** A smooth test image in [-1, 1] with some texture, [1, 3, h, w]. */
function testImage(h: number, w: number): Float32Array {
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    out[(c * h + y) * w + x] = 0.8 * Math.sin((x + 3 * c) / 7) * Math.cos(y / 11) + 0.1 * Math.sin(x * y / 50);
  }
  return out;
}
function metadata(session: ort.InferenceSession, which: 'input' | 'output') {
  const list = which === 'input' ? session.inputMetadata : session.outputMetadata;
  return Object.fromEntries(list.map((m) => [m.name, m.isTensor ? { type: m.type, shape: [...m.shape] } : null]));
}

interface UnetFeeds { sample: Float32Array; timestep: number[]; context: Float32Array; h: number; w: number }
function unetFeeds(batch: number, h: number, w: number, timestep = 500.5): UnetFeeds {
  return { sample: random.normal(batch * 2 * CL * h * w, 1), timestep: new Array<number>(batch).fill(timestep), context: random.normal(batch * Q * C, 1), h, w };
}
async function runUnet(s: Sessions, f: UnetFeeds, half = false): Promise<Float32Array> {
  const b = f.timestep.length;
  const out = await s.unet.run({
    sample: floats(f.sample, [b, 2 * CL, f.h, f.w], half),
    timestep: floats(Float32Array.from(f.timestep), [b]),
    encoder_hidden_states: floats(f.context, [b, Q, C], half),
  });
  assert.deepEqual(out.noise_pred.dims, [b, CL, f.h, f.w]);
  return float32Data(out.noise_pred);
}
async function encode(s: Sessions, image: Float32Array, h: number, w: number, half = false): Promise<ort.Tensor> {
  return (await s.vaeEncoder.run({ image: floats(image, [1, 3, h, w], half) })).latent;
}
async function decode(s: Sessions, latent: Float32Array, h: number, w: number, half = false): Promise<ort.Tensor> {
  return (await s.vaeDecoder.run({ latent: floats(latent, [1, CL, h, w], half) })).image;
}

// --- contracts -----------------------------------------------------------------------------------
test('each model has the bundle-format names, element types and dynamic axes', async () => {
  const { sessions: s } = await modelsFor();
  assert.deepEqual(metadata(s.vaeEncoder, 'input'), { image: { type: 'float32', shape: [1, 3, 'height', 'width'] } });
  assert.deepEqual(metadata(s.vaeEncoder, 'output'), { latent: { type: 'float32', shape: [1, CL, 'latent_height', 'latent_width'] } });
  assert.deepEqual(metadata(s.unet, 'input'), {
    sample: { type: 'float32', shape: ['batch', 2 * CL, 'height', 'width'] },
    timestep: { type: 'float32', shape: ['batch'] },
    encoder_hidden_states: { type: 'float32', shape: ['batch', Q, C] },
  });
  assert.deepEqual(metadata(s.unet, 'output'), { noise_pred: { type: 'float32', shape: ['batch', CL, 'height', 'width'] } });
  assert.deepEqual(metadata(s.vaeDecoder, 'input'), { latent: { type: 'float32', shape: [1, CL, 'latent_height', 'latent_width'] } });
  assert.deepEqual(metadata(s.vaeDecoder, 'output'), { image: { type: 'float32', shape: [1, 3, 'height', 'width'] } });
});

test('the VAE scales by 8 both ways at any size that is a multiple of 64', async () => {
  const { sessions: s } = await modelsFor();
  for (const [h, w] of [[64, 64], [128, 192]]) {
    const latent = await encode(s, testImage(h, w), h, w);
    assert.deepEqual(latent.dims, [1, CL, h / 8, w / 8]);
    assert.ok(allFinite(float32Data(latent)));
    const image = await decode(s, float32Data(latent), h / 8, w / 8);
    assert.deepEqual(image.dims, [1, 3, h, w]);
    assert.ok(allFinite(float32Data(image)));
  }
});

test('the UNet takes latents of 8x8 and 16x24 and any batch', async () => {
  const { sessions: s } = await modelsFor();
  for (const [b, h, w] of [[1, 8, 8], [3, 16, 24], [2, 8, 16]]) {
    const out = await runUnet(s, unetFeeds(b, h, w));
    assert.ok(allFinite(out));
    assert.ok(std(out) > 0.05, `noise_pred has some spread (std ${std(out)})`);
  }
});

// --- every input matters -------------------------------------------------------------------------
test('the encoder latent depends on the whole image (a change in one corner moves the opposite corner)', async () => {
  const { sessions: s } = await modelsFor();
  const [h, w] = [64, 64];
  const image = testImage(h, w);
  const base = float32Data(await encode(s, image, h, w));
  const changed = image.slice();
  for (let c = 0; c < 3; c++) for (let y = h - 8; y < h; y++) for (let x = w - 8; x < w; x++) changed[(c * h + y) * w + x] *= -1;
  const moved = float32Data(await encode(s, changed, h, w));
  // Latent pixel (0, 0) of every channel is far outside the convolutions' reach: only the mid-block attention links them.
  const corner = (a: Float32Array) => Float32Array.from({ length: CL }, (_, c) => a[c * (h / 8) * (w / 8)]);
  assert.ok(maxDiff(corner(base), corner(moved)) > 1e-4, 'the top-left latent moved');
  // Latents come out with SD's spread (std about 1 / scalingFactor), unscaled.
  const spread = std(base);
  assert.ok(spread > 0.2 / vae.scalingFactor && spread < 5 / vae.scalingFactor, `latent std ${spread}`);
});

test('noise_pred depends on the noisy half, the image half, the timestep (fractions too) and the conditioning', async () => {
  const { sessions: s } = await modelsFor();
  const f = unetFeeds(1, 8, 16, 500);
  const base = await runUnet(s, f);
  const half = 2 * CL * f.h * f.w / 2;
  const noisy = f.sample.slice();
  noisy[3] += 0.5; // one value of the noisy latent (channels 0..Cl-1)
  const imageHalf = f.sample.slice();
  imageHalf[half + f.h * f.w + 5] += 0.5; // one value of the image latent (channels Cl..2Cl-1)
  const cases: [string, UnetFeeds][] = [
    ['noisy latent', { ...f, sample: noisy }],
    ['image latent', { ...f, sample: imageHalf }],
    ['timestep 500 -> 500.5', { ...f, timestep: [500.5] }],
    ['timestep 500 -> 999', { ...f, timestep: [999] }],
    ['encoder_hidden_states', { ...f, context: f.context.map((v, i) => (i < C ? v + 0.5 : v)) }],
  ];
  for (const [what, feeds] of cases) {
    const d = maxDiff(base, await runUnet(s, feeds));
    assert.ok(d > 1e-3, `${what} changes noise_pred (max diff ${d})`);
  }
  assert.equal(maxDiff(base, await runUnet(s, f)), 0, 'same inputs, same output');
});

test('the decoder image depends on the latent everywhere', async () => {
  const { sessions: s } = await modelsFor();
  const latent = random.normal(CL * 8 * 8, 1 / vae.scalingFactor);
  const base = float32Data(await decode(s, latent, 8, 8));
  const changed = latent.slice();
  changed[CL * 64 - 1] += 2; // bottom-right latent pixel of the last channel
  const moved = float32Data(await decode(s, changed, 8, 8));
  const topLeft = (a: Float32Array) => Float32Array.from({ length: 3 }, (_, c) => a[c * 64 * 64]);
  assert.ok(maxDiff(topLeft(base), topLeft(moved)) > 1e-4, 'the top-left pixel moved');
});

// --- batching, ranges, determinism ---------------------------------------------------------------
test('UNet batch rows are independent: batch 3 equals three batch-1 runs, in order', async () => {
  const { sessions: s } = await modelsFor();
  const [h, w] = [16, 24];
  // As a CFG step: distinct conditioning rows and latents, and distinct timesteps to catch any mixing.
  const f: UnetFeeds = { ...unetFeeds(3, h, w), timestep: [981.25, 500.5, 12] };
  const batched = await runUnet(s, f);
  const sampleSize = 2 * CL * h * w;
  const outSize = CL * h * w;
  for (let b = 0; b < 3; b++) {
    const single = await runUnet(s, {
      sample: f.sample.slice(b * sampleSize, (b + 1) * sampleSize),
      timestep: [f.timestep[b]],
      context: f.context.slice(b * Q * C, (b + 1) * Q * C),
      h, w,
    });
    const d = maxDiff(batched.subarray(b * outSize, (b + 1) * outSize), single);
    assert.ok(d <= 1e-5, `row ${b} differs from its batch-1 run by ${d}`);
  }
});

test('decoded images lie mostly in [-1.5, 1.5] with visible contrast', async () => {
  const { sessions: s } = await modelsFor();
  // Two kinds of decoder input: a latent as the sampler leaves it (unit variance / scalingFactor), and an encoded image.
  const sampled = float32Data(await decode(s, random.normal(CL * 16 * 16, 1 / vae.scalingFactor), 16, 16));
  const encoded = float32Data(await decode(s, float32Data(await encode(s, testImage(128, 128), 128, 128)), 16, 16));
  for (const image of [sampled, encoded]) {
    assert.ok(fractionWithin(image, 1.5) > 0.99, `${fractionWithin(image, 1.5)} of the pixels in range`);
    assert.ok(std(image) > 0.1, `pixel std ${std(image)}`);
  }
});

test('building twice gives identical bytes', () => {
  const a = buildDiffusionModels(TINY_BUNDLE_CONFIG, new WeightSource(5));
  const b = buildDiffusionModels(TINY_BUNDLE_CONFIG, new WeightSource(5));
  for (const key of ['vaeEncoder', 'unet', 'vaeDecoder'] as const) {
    assert.deepEqual(a[key].toModelBytes(), b[key].toModelBytes(), key);
  }
  const other = buildDiffusionModels(TINY_BUNDLE_CONFIG, new WeightSource(6));
  assert.notDeepEqual(a.unet.toModelBytes(), other.unet.toModelBytes(), 'another seed, other weights');
});

// --- float16 -------------------------------------------------------------------------------------
test('float16 exports declare float16 IO (the timestep stays float32) and match float32 closely', async () => {
  const { sessions: full } = await modelsFor();
  const { sessions: half } = await modelsFor(ALL_HALF);
  assert.deepEqual(metadata(half.vaeEncoder, 'input').image?.type, 'float16');
  assert.deepEqual(metadata(half.vaeEncoder, 'output').latent?.type, 'float16');
  assert.deepEqual(metadata(half.unet, 'input').sample?.type, 'float16');
  assert.deepEqual(metadata(half.unet, 'input').timestep?.type, 'float32');
  assert.deepEqual(metadata(half.unet, 'input').encoder_hidden_states?.type, 'float16');
  assert.deepEqual(metadata(half.unet, 'output').noise_pred?.type, 'float16');
  assert.deepEqual(metadata(half.vaeDecoder, 'input').latent?.type, 'float16');
  assert.deepEqual(metadata(half.vaeDecoder, 'output').image?.type, 'float16');

  const image = testImage(64, 128);
  const latent32 = float32Data(await encode(full, image, 64, 128));
  const latent16 = await encode(half, image, 64, 128, true);
  assert.equal(latent16.type, 'float16');
  assert.ok(maxDiff(latent32, float32Data(latent16)) <= 0.01 * maxAbs(latent32), `latent: ${maxDiff(latent32, float32Data(latent16))} vs max ${maxAbs(latent32)}`);

  const f = unetFeeds(3, 8, 16, 700.25);
  const noise32 = await runUnet(full, f);
  const noise16 = await runUnet(half, f, true);
  assert.ok(maxDiff(noise32, noise16) <= 0.01 * maxAbs(noise32), `noise_pred: ${maxDiff(noise32, noise16)} vs max ${maxAbs(noise32)}`);

  const pixels32 = float32Data(await decode(full, latent32, 8, 16));
  const pixels16 = float32Data(await decode(half, latent32, 8, 16, true));
  assert.ok(maxDiff(pixels32, pixels16) <= 0.01 * maxAbs(pixels32), `image: ${maxDiff(pixels32, pixels16)} vs max ${maxAbs(pixels32)}`);
});

// --- semantics of the timestep embedding ---------------------------------------------------------
test('the timestep embedding is diffusers Timesteps(flip_sin_to_cos=True, shift 0) of the float timestep, then Linear-SiLU-Linear', async () => {
  const channels = 8;
  const embedDim = 12;
  const g = new GraphBuilder('timestep_embedding');
  const t = g.input('timestep', 'float32', ['batch']);
  g.output(timestepEmbedding({ g, w: new WeightSource(3) }, t, { channels, embedDim, name: 'te' }), 'temb', 'float32', ['batch', embedDim]);
  const weights = new Map<string, Float32Array>();
  for (const tensor of onnxProto.onnx.ModelProto.decode(g.toModelBytes()).graph!.initializer!) {
    const raw = tensor.rawData!;
    if (tensor.dataType === onnxProto.onnx.TensorProto.DataType.FLOAT) weights.set(tensor.name!, new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)));
  }
  const weight = (name: string) => { const v = weights.get(name); assert.ok(v, name); return v; };
  const linearRef = (x: number[], name: string, outDim: number) => {
    const wt = weight(`${name}.weight`), b = weight(`${name}.bias`);
    return Array.from({ length: outDim }, (_, o) => x.reduce((s, xi, i) => s + xi * wt[i * outDim + o], b[o]));
  };
  const timesteps = [0, 1, 500, 500.5, 999];
  const session = await ort.InferenceSession.create(g.toModelBytes());
  const out = float32Data((await session.run({ timestep: floats(Float32Array.from(timesteps), [timesteps.length]) })).temb);
  timesteps.forEach((ts, row) => {
    const half = channels / 2;
    const freqs = Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
    const sinusoid = [...freqs.map((f) => Math.cos(ts * f)), ...freqs.map((f) => Math.sin(ts * f))];
    const hidden = linearRef(sinusoid, 'te.linear_1', embedDim).map((v) => v / (1 + Math.exp(-v)));
    const expected = Float32Array.from(linearRef(hidden, 'te.linear_2', embedDim));
    const d = maxDiff(out.subarray(row * embedDim, (row + 1) * embedDim), expected);
    assert.ok(d < 1e-4, `t=${ts}: differs by ${d}`);
  });
});

// --- the benchmark sizes -------------------------------------------------------------------------
test('the BENCH config builds SD-shaped models that run', async () => {
  const models = buildDiffusionModels(BENCH_BUNDLE_CONFIG, new WeightSource(BENCH_BUNDLE_CONFIG.seed + 1));
  const unet = await ort.InferenceSession.create(models.unet.toModelBytes());
  const cl = BENCH_BUNDLE_CONFIG.vae.latentChannels;
  const { numQueries: q, dim: c } = BENCH_BUNDLE_CONFIG.editHead;
  const out = await unet.run({
    sample: floats(random.normal(2 * 2 * cl * 64, 1), [2, 2 * cl, 8, 8]),
    timestep: floats(Float32Array.from([999, 1]), [2]),
    encoder_hidden_states: floats(random.normal(2 * q * c, 1), [2, q, c]),
  });
  assert.deepEqual(out.noise_pred.dims, [2, cl, 8, 8]);
  assert.ok(allFinite(float32Data(out.noise_pred)));
  const encoder = await ort.InferenceSession.create(models.vaeEncoder.toModelBytes());
  const latent = (await encoder.run({ image: floats(testImage(64, 64), [1, 3, 64, 64]) })).latent;
  const decoder = await ort.InferenceSession.create(models.vaeDecoder.toModelBytes());
  const image = (await decoder.run({ latent })).image;
  assert.deepEqual(image.dims, [1, 3, 64, 64]);
  assert.ok(fractionWithin(float32Data(image), 1.5) > 0.99);
});
