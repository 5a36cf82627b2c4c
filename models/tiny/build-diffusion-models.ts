// The diffusion half of a generated bundle: vae_encoder.onnx, unet.onnx and vae_decoder.onnx, with the
// architecture of SD 1.5's AutoencoderKL and InstructPix2Pix's UNet at the config's sizes and random weights.
import type { GraphBuilder } from '../onnx-builder/graph-builder.ts';
import { WeightSource } from '../onnx-builder/weight-source.ts';
import { buildUnetModel } from './build-unet-model.ts';
import { buildVaeDecoderModel } from './build-vae-decoder-model.ts';
import { buildVaeEncoderModel } from './build-vae-encoder-model.ts';
import type { GeneratedBundleConfig } from './generated-bundle-config.ts';

export interface DiffusionModels {
  vaeEncoder: GraphBuilder;
  unet: GraphBuilder;
  vaeDecoder: GraphBuilder;
}

export function buildDiffusionModels(config: GeneratedBundleConfig, weights: WeightSource): DiffusionModels {
  // One weight stream per model, drawn from `weights` first, so resizing the VAE leaves the UNet's weights as they were.
  const [encoderSeed, unetSeed, decoderSeed] = Array.from(weights.uniform(3, 0, 2 ** 24), Math.floor);
  return {
    vaeEncoder: buildVaeEncoderModel(config, new WeightSource(encoderSeed)),
    unet: buildUnetModel(config, new WeightSource(unetSeed)),
    vaeDecoder: buildVaeDecoderModel(config, new WeightSource(decoderSeed)),
  };
}
