// The building blocks of diffusers' AutoencoderKL and UNet2DConditionModel (ResnetBlock2D, Attention,
// Transformer2DModel, Downsample2D, Upsample2D, Timesteps), written with the shared ONNX layers.
import { gelu, groupNorm, layerNorm, linear, multiHeadAttention, silu, upsample2x, type Layers } from '../../onnx-builder/layers.ts';

export interface ConvOptions {
  inChannels: number;
  outChannels: number;
  kernel: number;
  name: string;
  stride?: number;
  /** ONNX order [top, left, bottom, right]; default: symmetric kernel/2 ("same"). */
  pads?: [number, number, number, number];
  /** Multiplies the He-style init, to set the output scale of a last layer. */
  gain?: number;
}

/** conv2d of layers.ts with asymmetric padding and an init gain (same weight stream order: weight, bias). */
export function conv({ g, w }: Layers, x: string, options: ConvOptions): string {
  const { inChannels, outChannels, kernel, name } = options;
  const stride = options.stride ?? 1;
  const p = Math.floor(kernel / 2);
  const pads = options.pads ?? [p, p, p, p];
  const fanIn = inChannels * kernel * kernel;
  const weight = g.weight(`${name}.weight`, w.normal(outChannels * fanIn, (options.gain ?? 1) / Math.sqrt(fanIn)), [outChannels, inChannels, kernel, kernel]);
  const bias = g.weight(`${name}.bias`, w.normal(outChannels, 0.02), [outChannels]);
  return g.op('Conv', [x, weight, bias], { kernel_shape: [kernel, kernel], strides: [stride, stride], pads }, name);
}

export interface ResnetOptions {
  inChannels: number;
  outChannels: number;
  groups: number;
  /** diffusers: 1e-6 in the VAE, 1e-5 (norm_eps) in the UNet. */
  eps: number;
  name: string;
  /**
   * The UNet's time embedding [B, dim] after SiLU (every resnet applies the same SiLU to the same
   * embedding, so the graph computes it once), projected and added after the first conv.
   */
  timeEmbedding?: { activated: string; dim: number };
}

/** diffusers ResnetBlock2D (default time_embedding_norm, output_scale_factor 1): x + conv2(act(norm2(conv1(act(norm1(x))) + temb))). */
export function resnetBlock(layers: Layers, x: string, options: ResnetOptions): string {
  const { g } = layers;
  const { inChannels, outChannels, groups, eps, name, timeEmbedding } = options;
  let h = silu(g, groupNorm(layers, x, inChannels, groups, `${name}.norm1`, eps));
  h = conv(layers, h, { inChannels, outChannels, kernel: 3, name: `${name}.conv1` });
  if (timeEmbedding) {
    const projected = linear(layers, timeEmbedding.activated, timeEmbedding.dim, outChannels, `${name}.time_emb_proj`);
    h = g.op('Add', [h, g.op('Unsqueeze', [projected, g.int64s(`${name}.temb_axes`, [2, 3])])], {}, `${name}.with_temb`);
  }
  h = silu(g, groupNorm(layers, h, outChannels, groups, `${name}.norm2`, eps));
  h = conv(layers, h, { inChannels: outChannels, outChannels, kernel: 3, name: `${name}.conv2` });
  const shortcut = inChannels === outChannels ? x : conv(layers, x, { inChannels, outChannels, kernel: 1, name: `${name}.conv_shortcut` });
  return g.op('Add', [shortcut, h], {}, name);
}

/** [B, C, H, W] -> [B, H*W, C]. */
function toTokens(layers: Layers, x: string, channels: number, name: string): string {
  const { g } = layers;
  const flat = g.op('Reshape', [x, g.int64s(`${name}.flat_shape`, [0, channels, -1])]);
  return g.op('Transpose', [flat], { perm: [0, 2, 1] }, `${name}.tokens`);
}

/** [B, H*W, C] -> the NCHW shape of `like`. */
function fromTokens(layers: Layers, tokens: string, like: string, name: string): string {
  const { g } = layers;
  return g.op('Reshape', [g.op('Transpose', [tokens], { perm: [0, 2, 1] }), g.op('Shape', [like])], {}, `${name}.spatial`);
}

/** The VAE mid-block attention: diffusers Attention with group_norm, one head of C dims, biases, residual. */
export function vaeSelfAttention(layers: Layers, x: string, options: { channels: number; groups: number; name: string }): string {
  const { channels, groups, name } = options;
  const normed = groupNorm(layers, x, channels, groups, `${name}.group_norm`, 1e-6);
  const attended = multiHeadAttention(layers, toTokens(layers, normed, channels, name), { dim: channels, numHeads: 1, name, bias: true, fused: true });
  return layers.g.op('Add', [fromTokens(layers, attended, x, name), x], {}, name);
}

export interface TransformerOptions {
  channels: number;
  numHeads: number;
  groups: number;
  /** encoder_hidden_states [B, Q, contextDim]. */
  context: string;
  contextDim: number;
  name: string;
}

/**
 * diffusers Transformer2DModel as SD 1.5 configures it (use_linear_projection false: 1x1 conv proj_in/out)
 * with one BasicTransformerBlock: self-attention, cross-attention (no q/k/v bias), GEGLU feed-forward.
 */
export function transformer2d(layers: Layers, x: string, options: TransformerOptions): string {
  const { g } = layers;
  const { channels: c, numHeads, groups, context, contextDim, name } = options;
  if (c % numHeads !== 0) throw new Error(`${name}: ${c} channels are not divisible into ${numHeads} heads`);
  const normed = groupNorm(layers, x, c, groups, `${name}.norm`, 1e-6);
  const projected = conv(layers, normed, { inChannels: c, outChannels: c, kernel: 1, name: `${name}.proj_in` });
  const block = `${name}.transformer_blocks.0`;
  let t = toTokens(layers, projected, c, name);
  const selfAttention = multiHeadAttention(layers, layerNorm(layers, t, c, `${block}.norm1`), { dim: c, numHeads, name: `${block}.attn1`, bias: false, fused: true });
  t = g.op('Add', [t, selfAttention]);
  const crossAttention = multiHeadAttention(layers, layerNorm(layers, t, c, `${block}.norm2`), { dim: c, numHeads, name: `${block}.attn2`, context, contextDim, bias: false, fused: true });
  t = g.op('Add', [t, crossAttention]);
  t = g.op('Add', [t, gegluFeedForward(layers, layerNorm(layers, t, c, `${block}.norm3`), c, `${block}.ff`)], {}, block);
  const spatial = fromTokens(layers, t, projected, name);
  const out = conv(layers, spatial, { inChannels: c, outChannels: c, kernel: 1, name: `${name}.proj_out` });
  return g.op('Add', [out, x], {}, name);
}

/** diffusers FeedForward with GEGLU (mult 4): proj to 2x inner, hidden * gelu(gate), back to dim. */
function gegluFeedForward(layers: Layers, x: string, dim: number, name: string): string {
  const { g } = layers;
  const inner = 4 * dim;
  const projected = linear(layers, x, dim, 2 * inner, `${name}.net.0.proj`);
  const [hidden, gate] = g.node('Split', [projected, g.int64s(`${name}.split`, [inner, inner])], { axis: -1 }, `${name}.geglu`, 2);
  return linear(layers, g.op('Mul', [hidden, gelu(g, gate)]), inner, dim, `${name}.net.2`);
}

/**
 * diffusers Downsample2D: a stride-2 3x3 conv. The UNet pads 1 on every side; the VAE encoder pads
 * (0, 1, 0, 1), i.e. only bottom and right (`asymmetric`).
 */
export function downsample(layers: Layers, x: string, options: { channels: number; name: string; asymmetric?: boolean }): string {
  const { channels, name } = options;
  const pads: [number, number, number, number] = options.asymmetric ? [0, 0, 1, 1] : [1, 1, 1, 1];
  return conv(layers, x, { inChannels: channels, outChannels: channels, kernel: 3, stride: 2, pads, name: `${name}.conv` });
}

/** diffusers Upsample2D: nearest 2x, then a 3x3 conv. */
export function upsample(layers: Layers, x: string, options: { channels: number; name: string }): string {
  return conv(layers, upsample2x(layers.g, x), { inChannels: options.channels, outChannels: options.channels, kernel: 3, name: `${options.name}.conv` });
}

/**
 * diffusers Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0) then TimestepEmbedding
 * (linear_1, SiLU, linear_2). The timestep stays float: the linspace schedule gives fractional ones.
 */
export function timestepEmbedding(layers: Layers, timestep: string, options: { channels: number; embedDim: number; name: string }): string {
  const { g } = layers;
  const { channels, embedDim, name } = options;
  if (channels % 2 !== 0) throw new Error(`${name}: the sinusoidal embedding needs an even width, got ${channels}`);
  const half = channels / 2;
  // freqs_i = exp(-ln(10000) * i / (half - shift)), in float32 like diffusers' get_timestep_embedding.
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const args = g.op('Mul', [g.op('Unsqueeze', [timestep, g.int64s(`${name}.t_axes`, [1])]), g.tensor(`${name}.freqs`, 'float32', freqs, [1, half])], {}, `${name}.args`);
  // flip_sin_to_cos: [cos, sin] rather than [sin, cos].
  const sinusoid = g.op('Concat', [g.op('Cos', [args]), g.op('Sin', [args])], { axis: 1 }, `${name}.sinusoid`);
  const hidden = silu(g, linear(layers, sinusoid, channels, embedDim, `${name}.linear_1`));
  return linear(layers, hidden, embedDim, embedDim, `${name}.linear_2`);
}
