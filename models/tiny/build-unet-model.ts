// unet.onnx: diffusers' UNet2DConditionModel as InstructPix2Pix uses it (8 input channels: noisy latent
// then image latent; cross-attention to the edit head's output), at the config's widths
// (mgie-reference.md §6; bundle-format.md). Batch, height and width are dynamic; batch rows never mix.
import { GraphBuilder } from '../onnx-builder/graph-builder.ts';
import { groupNorm, silu, type Layers } from '../onnx-builder/layers.ts';
import type { WeightSource } from '../onnx-builder/weight-source.ts';
import type { GeneratedBundleConfig } from './generated-bundle-config.ts';
import { conv, downsample, resnetBlock, timestepEmbedding, transformer2d, upsample } from './private/diffusion-blocks.ts';

/** Resnets per down level (SD has 2; one keeps the tiny bundle cheap); up levels have one more. */
export const UNET_LAYERS_PER_BLOCK = 1;

export function buildUnetModel(config: GeneratedBundleConfig, weights: WeightSource): GraphBuilder {
  const { blockChannels: ch, timeEmbedDim, numHeads, groups, attentionLevels } = config.unet;
  const cl = config.vae.latentChannels;
  const { numQueries: q, dim: contextDim } = config.editHead;
  if (attentionLevels.length !== ch.length) throw new Error(`unet: attentionLevels has ${attentionLevels.length} entries for ${ch.length} levels`);
  const g = new GraphBuilder('unet', { float16: config.float16Models.includes('unet') });
  const layers: Layers = { g, w: weights };
  const eps = 1e-5; // diffusers UNet2DConditionModel norm_eps
  const levels = ch.length;

  const sample = g.input('sample', 'float32', ['batch', 2 * cl, 'height', 'width']);
  // Kept float32 in a float16 graph too: linspace timesteps are fractional (BUNDLE-FORMAT.md).
  const timestep = g.input('timestep', 'float32', ['batch'], { keepFloat32: true });
  const context = g.input('encoder_hidden_states', 'float32', ['batch', q, contextDim]);

  const temb = { activated: silu(g, timestepEmbedding(layers, timestep, { channels: ch[0], embedDim: timeEmbedDim, name: 'time_embedding' })), dim: timeEmbedDim };
  const resnet = (x: string, inChannels: number, outChannels: number, name: string) =>
    resnetBlock(layers, x, { inChannels, outChannels, groups, eps, name, timeEmbedding: temb });
  const transformer = (x: string, channels: number, name: string) => transformer2d(layers, x, { channels, numHeads, groups, context, contextDim, name });

  // 1. Down path; every intermediate state is kept as a skip connection.
  let x = conv(layers, sample, { inChannels: 2 * cl, outChannels: ch[0], kernel: 3, name: 'conv_in' });
  const skips: { value: string; channels: number }[] = [{ value: x, channels: ch[0] }];
  let channels = ch[0];
  for (let i = 0; i < levels; i++) {
    for (let j = 0; j < UNET_LAYERS_PER_BLOCK; j++) {
      x = resnet(x, channels, ch[i], `down_blocks.${i}.resnets.${j}`);
      channels = ch[i];
      if (attentionLevels[i]) x = transformer(x, channels, `down_blocks.${i}.attentions.${j}`);
      skips.push({ value: x, channels });
    }
    if (i < levels - 1) {
      x = downsample(layers, x, { channels, name: `down_blocks.${i}.downsamplers.0` });
      skips.push({ value: x, channels });
    }
  }

  // 2. Mid block (UNetMidBlock2DCrossAttn): always attends, so the conditioning reaches every output.
  x = resnet(x, channels, channels, 'mid_block.resnets.0');
  x = transformer(x, channels, 'mid_block.attentions.0');
  x = resnet(x, channels, channels, 'mid_block.resnets.1');

  // 3. Up path, mirroring the down path; each resnet takes the last unused skip concatenated on channels.
  for (let u = 0; u < levels; u++) {
    const level = levels - 1 - u;
    for (let j = 0; j <= UNET_LAYERS_PER_BLOCK; j++) {
      const skip = skips.pop()!;
      const joined = g.op('Concat', [x, skip.value], { axis: 1 }, `up_blocks.${u}.cat.${j}`);
      x = resnet(joined, channels + skip.channels, ch[level], `up_blocks.${u}.resnets.${j}`);
      channels = ch[level];
      if (attentionLevels[level]) x = transformer(x, channels, `up_blocks.${u}.attentions.${j}`);
    }
    if (u < levels - 1) x = upsample(layers, x, { channels, name: `up_blocks.${u}.upsamplers.0` });
  }
  if (skips.length !== 0) throw new Error('unet: skip connections left over');

  // 4. Output: epsilon prediction for the noisy latent's Cl channels.
  x = silu(g, groupNorm(layers, x, channels, groups, 'conv_norm_out', eps));
  const noisePred = conv(layers, x, { inChannels: channels, outChannels: cl, kernel: 3, name: 'conv_out' });
  g.output(noisePred, 'noise_pred', 'float32', ['batch', cl, 'height', 'width']);
  return g;
}
