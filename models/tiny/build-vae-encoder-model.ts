// vae_encoder.onnx: the encoder half of diffusers' AutoencoderKL (SD 1.5 VAE) at the config's widths,
// returning the latent distribution's mode, unscaled (mgie-reference.md §6, "Image latent").
import { GraphBuilder } from '../onnx-builder/graph-builder.ts';
import { groupNorm, silu, type Layers } from '../onnx-builder/layers.ts';
import type { WeightSource } from '../onnx-builder/weight-source.ts';
import type { GeneratedBundleConfig } from './generated-bundle-config.ts';
import { conv, downsample, resnetBlock, vaeSelfAttention } from './private/diffusion-blocks.ts';

/** Resnets per encoder level (SD's VAE has 2; one keeps the tiny bundle cheap). */
export const VAE_ENCODER_LAYERS_PER_BLOCK = 1;

export function buildVaeEncoderModel(config: GeneratedBundleConfig, weights: WeightSource): GraphBuilder {
  const { latentChannels: cl, blockChannels: ch, groups } = config.vae;
  const g = new GraphBuilder('vae_encoder', { float16: config.float16Models.includes('vaeEncoder') });
  const layers: Layers = { g, w: weights };
  const eps = 1e-6;
  const top = ch[ch.length - 1];

  const image = g.input('image', 'float32', [1, 3, 'height', 'width']);
  let x = conv(layers, image, { inChannels: 3, outChannels: ch[0], kernel: 3, name: 'encoder.conv_in' });
  let channels = ch[0];
  ch.forEach((out, i) => {
    for (let j = 0; j < VAE_ENCODER_LAYERS_PER_BLOCK; j++) {
      x = resnetBlock(layers, x, { inChannels: channels, outChannels: out, groups, eps, name: `encoder.down_blocks.${i}.resnets.${j}` });
      channels = out;
    }
    // Every level but the last halves H and W: 2^(levels-1) in all (8 for SD's 4 levels).
    if (i < ch.length - 1) x = downsample(layers, x, { channels, name: `encoder.down_blocks.${i}.downsamplers.0`, asymmetric: true });
  });
  x = resnetBlock(layers, x, { inChannels: top, outChannels: top, groups, eps, name: 'encoder.mid_block.resnets.0' });
  x = vaeSelfAttention(layers, x, { channels: top, groups, name: 'encoder.mid_block.attentions.0' });
  x = resnetBlock(layers, x, { inChannels: top, outChannels: top, groups, eps, name: 'encoder.mid_block.resnets.1' });
  x = silu(g, groupNorm(layers, x, top, groups, 'encoder.conv_norm_out', eps));
  // double_z: mean and logvar channels, mixed by quant_conv. The gain gives latents a spread like SD's
  // (std about 1/scalingFactor, so latent * scalingFactor has about unit variance); 0.6 is the RMS of
  // SiLU of a unit normal, which this conv sees after the final GroupNorm.
  const moments = conv(layers, x, { inChannels: top, outChannels: 2 * cl, kernel: 3, name: 'encoder.conv_out', gain: 1 / (0.6 * config.vae.scalingFactor) });
  const quantized = conv(layers, moments, { inChannels: 2 * cl, outChannels: 2 * cl, kernel: 1, name: 'quant_conv' });
  // DiagonalGaussianDistribution.mode() is the mean: the first Cl channels.
  const mean = g.op('Slice', [quantized, g.int64s('mean_starts', [0]), g.int64s('mean_ends', [cl]), g.int64s('mean_axes', [1])], {}, 'latent_mean');
  g.output(mean, 'latent', 'float32', [1, cl, 'latent_height', 'latent_width']);
  return g;
}
