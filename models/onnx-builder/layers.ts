// Building blocks shared by the generated models: the same operations the real MGIE parts use
// (linear layers, LayerNorm/RMSNorm/GroupNorm, attention, convolutions), written as plain ONNX ops
// except where the exporter writes onnxruntime contrib ops (MatMulNBits, MultiHeadAttention).
import { type GraphBuilder, MICROSOFT_DOMAIN } from './graph-builder.ts';
import { type QuantizedBits, quantizeBlockwise } from './quantize-blockwise.ts';
import type { WeightSource } from './weight-source.ts';

export interface Layers {
  readonly g: GraphBuilder;
  readonly w: WeightSource;
}

/** y = x W + b with W [inDim, outDim] (init std 1/sqrt(inDim), so activations stay O(1)). */
export function linear({ g, w }: Layers, x: string, inDim: number, outDim: number, name: string, bias = true): string {
  const weight = g.weight(`${name}.weight`, w.normal(inDim * outDim, 1 / Math.sqrt(inDim)), [inDim, outDim]);
  const y = g.op('MatMul', [x, weight], {}, `${name}_mm`);
  if (!bias) return y;
  return g.op('Add', [y, g.weight(`${name}.bias`, w.normal(outDim, 0.02), [outDim])], {}, name);
}

/** How a projection's weight is block-quantized for MatMulNBits (quantize-blockwise.ts). */
export interface LinearQuantization {
  bits: QuantizedBits;
  blockSize: number;
  /** MatMulNBits accuracy_level: 0 computes in float32, 4 lets the CPU quantize activations to int8. */
  accuracyLevel: number;
}

/**
 * x W without bias, W drawn exactly as linear() draws it, then block-quantized into one MatMulNBits
 * node: a quantized model and a float one built from the same seed hold the same weights up to rounding.
 */
export function quantizedLinear({ g, w }: Layers, x: string, inDim: number, outDim: number, name: string, quantization: LinearQuantization): string {
  const weight = quantizeBlockwise(w.normal(inDim * outDim, 1 / Math.sqrt(inDim)), inDim, outDim, quantization.bits, quantization.blockSize);
  return g.matMulNBits(x, weight, `${name}_mm`, quantization.accuracyLevel);
}

/** Norm weights near 1 and biases near 0, but not exactly, so that a wiring mistake shows. */
function normParams({ g, w }: Layers, name: string, dim: number, shape: number[] = [dim]): { scale: string; bias: string } {
  const scale = w.normal(dim, 0.05).map((v) => v + 1);
  return { scale: g.weight(`${name}.weight`, scale, shape), bias: g.weight(`${name}.bias`, w.normal(dim, 0.02), shape) };
}

export function layerNorm(layers: Layers, x: string, dim: number, name: string, epsilon = 1e-5): string {
  const { scale, bias } = normParams(layers, name, dim);
  return layers.g.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: { float: epsilon } }, name);
}

/** LLaMA RMSNorm: x / sqrt(mean(x^2) + eps) * weight, no bias, no mean subtraction. */
export function rmsNorm({ g, w }: Layers, x: string, dim: number, name: string, epsilon = 1e-6): string {
  const meanSquare = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 }, `${name}_ms`);
  const inverse = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [meanSquare, g.scalar(`${name}.eps`, epsilon)])])]);
  const weight = g.weight(`${name}.weight`, w.normal(dim, 0.05).map((v) => v + 1), [dim]);
  return g.op('Mul', [g.op('Mul', [x, inverse]), weight], {}, name);
}

/** GroupNorm over NCHW as diffusers' VAE and UNet use it (InstanceNormalization over channel groups). */
export function groupNorm(layers: Layers, x: string, channels: number, groups: number, name: string, epsilon = 1e-6): string {
  const { g } = layers;
  if (channels % groups !== 0) throw new Error(`${name}: ${channels} channels are not divisible into ${groups} groups`);
  const grouped = g.op('Reshape', [x, g.int64s(`${name}.groups`, [0, groups, -1])]);
  const ones = g.tensor(`${name}.unit_scale`, 'float32', new Float32Array(groups).fill(1), [groups]);
  const zeros = g.tensor(`${name}.zero_bias`, 'float32', new Float32Array(groups), [groups]);
  const normed = g.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: { float: epsilon } });
  const restored = g.op('Reshape', [normed, g.op('Shape', [x])]);
  const { scale, bias } = normParams(layers, name, channels, [channels, 1, 1]);
  return g.op('Add', [g.op('Mul', [restored, scale]), bias], {}, name);
}

export function silu(g: GraphBuilder, x: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [x])], {}, 'silu');
}

/** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), as torch's default. */
export function gelu(g: GraphBuilder, x: string): string {
  const erf = g.op('Erf', [g.op('Mul', [x, g.scalar('gelu.inv_sqrt2', Math.SQRT1_2)])]);
  return g.op('Mul', [g.op('Mul', [x, g.scalar('gelu.half', 0.5)]), g.op('Add', [erf, g.scalar('gelu.one', 1)])], {}, 'gelu');
}

/** CLIP's quick_gelu: x * sigmoid(1.702 x). */
export function quickGelu(g: GraphBuilder, x: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, g.scalar('quick_gelu.k', 1.702)])])], {}, 'quick_gelu');
}

/** [B, T, H*Dh] -> [B, H, T, Dh]. */
export function splitHeads(g: GraphBuilder, x: string, numHeads: number, headDim: number): string {
  const reshaped = g.op('Reshape', [x, g.int64s('heads_shape', [0, 0, numHeads, headDim])]);
  return g.op('Transpose', [reshaped], { perm: [0, 2, 1, 3] }, 'heads');
}

/** [B, H, T, Dh] -> [B, T, H*Dh]. */
export function mergeHeads(g: GraphBuilder, x: string, numHeads: number, headDim: number): string {
  const transposed = g.op('Transpose', [x], { perm: [0, 2, 1, 3] });
  return g.op('Reshape', [transposed, g.int64s('merged_shape', [0, 0, numHeads * headDim])], {}, 'merged');
}

/** softmax(q k^T / sqrt(Dh) + mask) v on [B, H, T, Dh] tensors; `additiveMask` broadcasts to [B, H, Tq, Tk]. */
export function scaledDotProductAttention(g: GraphBuilder, q: string, k: string, v: string, headDim: number, additiveMask?: string): string {
  const kT = g.op('Transpose', [k], { perm: [0, 1, 3, 2] });
  let scores = g.op('Mul', [g.op('MatMul', [q, kT]), g.scalar('attn.scale', 1 / Math.sqrt(headDim))], {}, 'scores');
  if (additiveMask) scores = g.op('Add', [scores, additiveMask], {}, 'masked_scores');
  return g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v], {}, 'attn');
}

/**
 * Multi-head attention with separate q/k/v/out projections (torch nn.MultiheadAttention, CLIP and
 * diffusers attention all reduce to this). `context` defaults to `x` (self-attention).
 * `fused`: the attention itself as one com.microsoft MultiHeadAttention node on the [B, T, H*Dh]
 * projections, as the exporter writes the UNet and VAE (models/export/fuse_attention.py); no mask.
 */
export function multiHeadAttention(
  layers: Layers,
  x: string,
  options: { dim: number; numHeads: number; name: string; context?: string; contextDim?: number; bias?: boolean; additiveMask?: string; fused?: boolean },
): string {
  const { g } = layers;
  const { dim, numHeads, name } = options;
  const headDim = dim / numHeads;
  const context = options.context ?? x;
  const contextDim = options.contextDim ?? dim;
  const bias = options.bias ?? true;
  const q = linear(layers, x, dim, dim, `${name}.q_proj`, bias);
  const k = linear(layers, context, contextDim, dim, `${name}.k_proj`, bias);
  const v = linear(layers, context, contextDim, dim, `${name}.v_proj`, bias);
  let attended: string;
  if (options.fused) {
    if (options.additiveMask) throw new Error(`${name}: the fused attention takes no mask`);
    [attended] = g.node('MultiHeadAttention', [q, k, v], { num_heads: numHeads }, `${name}.mha`, 1, MICROSOFT_DOMAIN);
  } else {
    const heads = (t: string) => splitHeads(g, t, numHeads, headDim);
    attended = mergeHeads(g, scaledDotProductAttention(g, heads(q), heads(k), heads(v), headDim, options.additiveMask), numHeads, headDim);
  }
  return linear(layers, attended, dim, dim, `${name}.out_proj`, true);
}

/** 2-D convolution on NCHW with square kernel, He-style init. */
export function conv2d(
  { g, w }: Layers,
  x: string,
  options: { inChannels: number; outChannels: number; kernel: number; stride?: number; padding?: number; name: string },
): string {
  const { inChannels, outChannels, kernel, name } = options;
  const stride = options.stride ?? 1;
  const padding = options.padding ?? Math.floor(kernel / 2);
  const fanIn = inChannels * kernel * kernel;
  const weight = g.weight(`${name}.weight`, w.normal(outChannels * fanIn, 1 / Math.sqrt(fanIn)), [outChannels, inChannels, kernel, kernel]);
  const bias = g.weight(`${name}.bias`, w.normal(outChannels, 0.02), [outChannels]);
  return g.op('Conv', [x, weight, bias], { kernel_shape: [kernel, kernel], strides: [stride, stride], pads: [padding, padding, padding, padding] }, name);
}

/** Nearest-neighbour 2x upsampling, as diffusers' Upsample2D before its convolution. */
export function upsample2x(g: GraphBuilder, x: string): string {
  const scales = g.tensor('up.scales', 'float32', [1, 1, 2, 2], [4]);
  return g.op('Resize', [x, '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, 'upsampled');
}
