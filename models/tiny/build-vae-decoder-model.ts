// vae_decoder.onnx: the decoder half of diffusers' AutoencoderKL (SD 1.5 VAE) at the config's widths.
// Its input is already divided by the scaling factor (mgie-reference.md §6, "Decode"); no clamp inside.
import { GraphBuilder } from '../onnx-builder/graph-builder.ts';
import { groupNorm, silu, type Layers } from '../onnx-builder/layers.ts';
import type { WeightSource } from '../onnx-builder/weight-source.ts';
import type { GeneratedBundleConfig } from './generated-bundle-config.ts';
import { conv, resnetBlock, upsample, vaeSelfAttention } from './private/diffusion-blocks.ts';

/** Resnets per decoder level: layers_per_block + 1, as diffusers' Decoder (with the encoder's 1). */
export const VAE_DECODER_LAYERS_PER_BLOCK = 2;

/** Init gain of conv_out: random weights then give pixels with a std near 0.35, mostly inside [-1, 1]. */
const CONV_OUT_GAIN = 0.6;

export function buildVaeDecoderModel(config: GeneratedBundleConfig, weights: WeightSource): GraphBuilder {
  const { latentChannels: cl, blockChannels: ch, groups } = config.vae;
  const g = new GraphBuilder('vae_decoder', { float16: config.float16Models.includes('vaeDecoder') });
  const layers: Layers = { g, w: weights };
  const eps = 1e-6;
  const reversed = [...ch].reverse();
  const top = reversed[0];

  const latent = g.input('latent', 'float32', [1, cl, 'latent_height', 'latent_width']);
  const z = conv(layers, latent, { inChannels: cl, outChannels: cl, kernel: 1, name: 'post_quant_conv' });
  let x = conv(layers, z, { inChannels: cl, outChannels: top, kernel: 3, name: 'decoder.conv_in' });
  x = resnetBlock(layers, x, { inChannels: top, outChannels: top, groups, eps, name: 'decoder.mid_block.resnets.0' });
  x = vaeSelfAttention(layers, x, { channels: top, groups, name: 'decoder.mid_block.attentions.0' });
  x = resnetBlock(layers, x, { inChannels: top, outChannels: top, groups, eps, name: 'decoder.mid_block.resnets.1' });
  let channels = top;
  reversed.forEach((out, i) => {
    for (let j = 0; j < VAE_DECODER_LAYERS_PER_BLOCK; j++) {
      x = resnetBlock(layers, x, { inChannels: channels, outChannels: out, groups, eps, name: `decoder.up_blocks.${i}.resnets.${j}` });
      channels = out;
    }
    if (i < reversed.length - 1) x = upsample(layers, x, { channels, name: `decoder.up_blocks.${i}.upsamplers.0` });
  });
  x = silu(g, groupNorm(layers, x, channels, groups, 'decoder.conv_norm_out', eps));
  const image = conv(layers, x, { inChannels: channels, outChannels: 3, kernel: 3, name: 'decoder.conv_out', gain: CONV_OUT_GAIN });
  g.output(image, 'image', 'float32', [1, 3, 'height', 'width']);
  return g;
}
